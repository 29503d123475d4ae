/* Budget alerts (budget_alert.h): exchanges in, threshold crossings out,
 * as log lines and webhook POSTs.
 *
 * The spend of each budget's current period is kept in memory, added to
 * as exchanges finish, and started from the database at launch; a
 * crossing is remembered per period (a bit per threshold), so it is told
 * once, and a period that rolls over starts at zero. The webhook runs on
 * its own thread with libcurl: the capture thread only copies an alert
 * into a bounded queue under a mutex that the sender never holds during a
 * transfer, so a dead or slow receiver costs capture nothing. */
#include <errno.h>
#include <fnmatch.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include "budget_alert.h"
#include "log.h"

#define ALERT_BODY_MAX	768

#define HOURS_KEPT	(24 * 8)	/* a week of same-hour history and today */

struct watch {
	int64_t start_s, end_s;	/* the period being counted; end 0: none yet */
	double spent_usd;
	unsigned fired;		/* bit 0: 50 %, 1: 80 %, 2: 100 % */
	/* spend per clock hour, for the anomaly rule: slot h % HOURS_KEPT
	 * holds epoch hour hour_of[slot] */
	double hour_usd[HOURS_KEPT];
	int64_t hour_of[HOURS_KEPT];
	int64_t anomaly_hour;	/* the last hour an anomaly was told, -1 none */
};

struct budget_alerts {
	struct budget_set set;
	struct watch w[BUDGET_MAX];
	char *webhook;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	bool busy;		/* the sender holds an alert */
	char queue[BUDGET_ALERT_QUEUE][ALERT_BODY_MAX];
	unsigned head, count;
	struct budget_alert_counts counts;
};

static const int thresholds[] = { 50, 80, 100 };

int budget_alerts_new(const struct budget_set *set, const char *webhook,
		      struct budget_alerts **out)
{
	struct budget_alerts *a = calloc(1, sizeof(*a));

	*out = NULL;
	if (!a)
		return -ENOMEM;
	a->set = *set;
	for (size_t i = 0; i < BUDGET_MAX; i++)
		a->w[i].anomaly_hour = -1;
	if (webhook && webhook[0] && !(a->webhook = strdup(webhook))) {
		free(a);
		return -ENOMEM;
	}
	pthread_mutex_init(&a->lock, NULL);
	pthread_cond_init(&a->cond, NULL);
	if (a->webhook)
		curl_global_init(CURL_GLOBAL_DEFAULT);	/* refcounted; before any thread */
	*out = a;
	return 0;
}

/* The record's value for the budget's scope. */
static const char *scope_value(const struct budget *b, const struct exchange_record *r)
{
	switch (b->scope) {
	case BUDGET_PROJECT:	return r->project;
	case BUDGET_NAMESPACE:	return r->k8s_namespace;
	case BUDGET_APP:	return r->app[0] ? r->app : r->comm;
	case BUDGET_ACCOUNT:	return r->account;
	case BUDGET_MODEL:	return r->model;
	default:		return "";
	}
}

static bool matches(const struct budget *b, const char *value)
{
	return b->scope == BUDGET_ALL || fnmatch(b->match, value ? value : "", 0) == 0;
}

static void json_str(char *dst, size_t n, const char *s)
{
	size_t o = 0;

	for (; *s && o + 7 < n; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			o += (size_t)snprintf(dst + o, n - o, "\\%c", c);
		else if (c < 0x20)
			o += (size_t)snprintf(dst + o, n - o, "\\u%04x", c);
		else
			dst[o++] = (char)c;
	}
	dst[o] = '\0';
}

/* Called with the lock held. */
static void enqueue(struct budget_alerts *a, const char *body)
{
	if (a->count == BUDGET_ALERT_QUEUE) {
		a->counts.dropped++;
		return;
	}
	snprintf(a->queue[(a->head + a->count) % BUDGET_ALERT_QUEUE], ALERT_BODY_MAX, "%s", body);
	a->count++;
	pthread_cond_signal(&a->cond);
}

/* The anomaly rule (budget.h) on the clock hour of t_s: this hour's spend
 * so far against the same hour on the week's previous days. */
static void check_anomaly(struct budget_alerts *a, const struct budget *b, struct watch *w,
			  int64_t hour)
{
	double now_usd = w->hour_usd[hour % HOURS_KEPT], sum = 0;
	char body[ALERT_BODY_MAX], name[160];
	int days = 0;

	if (w->anomaly_hour == hour)
		return;
	for (int d = 1; d <= 7; d++) {
		int64_t h = hour - 24 * d;

		if (w->hour_of[h % HOURS_KEPT] == h && w->hour_usd[h % HOURS_KEPT] > 0) {
			sum += w->hour_usd[h % HOURS_KEPT];
			days++;
		}
	}
	if (!budget_anomalous(now_usd, days ? sum / days : 0, days))
		return;
	w->anomaly_hour = hour;
	p_warn("budget_anomaly name=%s scope=%s match=%s hour_usd=%.4f usual_usd=%.4f days=%d",
	       b->name, budget_scope_name(b->scope), b->match[0] ? b->match : "*", now_usd,
	       sum / days, days);
	json_str(name, sizeof(name), b->name);
	snprintf(body, sizeof(body), "{\"type\":\"llmobs.spend_anomaly\",\"name\":\"%s\","
		 "\"scope\":\"%s\",\"hour_start\":%lld,\"hour_usd\":%.6f,\"usual_usd\":%.6f,"
		 "\"days\":%d}", name, budget_scope_name(b->scope), (long long)(hour * 3600),
		 now_usd, sum / days, days);
	pthread_mutex_lock(&a->lock);
	a->counts.anomalies++;
	if (a->webhook)
		enqueue(a, body);
	pthread_mutex_unlock(&a->lock);
}

static void fire(struct budget_alerts *a, const struct budget *b, const struct watch *w, int pct)
{
	char start[32], name[160], match[300], body[ALERT_BODY_MAX];
	time_t t = (time_t)w->start_s;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(start, sizeof(start), "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* key=value, one line: what log collectors parse */
	p_warn("budget_alert name=%s scope=%s match=%s period=%s period_start=%s threshold_pct=%d "
	       "spent_usd=%.4f limit_usd=%.2f", b->name, budget_scope_name(b->scope),
	       b->match[0] ? b->match : "*", budget_period_name(b->period), start, pct,
	       w->spent_usd, b->limit_usd);
	json_str(name, sizeof(name), b->name);
	json_str(match, sizeof(match), b->match);
	snprintf(body, sizeof(body), "{\"type\":\"llmobs.budget_alert\",\"name\":\"%s\","
		 "\"scope\":\"%s\",\"match\":\"%s\",\"period\":\"%s\",\"period_start\":\"%s\","
		 "\"threshold_pct\":%d,\"spent_usd\":%.6f,\"limit_usd\":%.6f}", name,
		 budget_scope_name(b->scope), match, budget_period_name(b->period), start, pct,
		 w->spent_usd, b->limit_usd);
	pthread_mutex_lock(&a->lock);
	a->counts.fired++;
	if (a->webhook)
		enqueue(a, body);
	pthread_mutex_unlock(&a->lock);
}

/* Adds usd at t_s to budget i; fire: tell crossings (false while loading,
 * when a threshold already reached counts as told). */
static void add(struct budget_alerts *a, size_t i, int64_t t_s, double usd, bool tell)
{
	const struct budget *b = &a->set.b[i];
	struct watch *w = &a->w[i];
	int64_t hour = t_s / 3600;
	int pct;

	if (w->hour_of[hour % HOURS_KEPT] != hour) {	/* a slot's new hour */
		w->hour_of[hour % HOURS_KEPT] = hour;
		w->hour_usd[hour % HOURS_KEPT] = 0;
	}
	w->hour_usd[hour % HOURS_KEPT] += usd;
	if (tell)
		check_anomaly(a, b, w, hour);

	if (t_s >= w->end_s) {	/* a new period (or the first) */
		budget_period_bounds(b->period, t_s, &w->start_s, &w->end_s);
		w->spent_usd = 0;
		w->fired = 0;
	}
	if (t_s < w->start_s)
		return;		/* late, from the period before */
	w->spent_usd += usd;
	pct = budget_threshold(w->spent_usd, b->limit_usd);
	for (int k = 0; k < 3; k++) {
		if (pct < thresholds[k] || (w->fired & (1u << k)))
			continue;
		w->fired |= 1u << k;
		if (tell)
			fire(a, b, w, thresholds[k]);
	}
}

void budget_alerts_observe(struct budget_alerts *a, const struct exchange_record *r)
{
	int64_t t_s;

	if (!a || !r->priced || !(r->cost_usd > 0))
		return;
	t_s = r->ts_start_ns / 1000000000;
	for (size_t i = 0; i < a->set.n; i++)
		if (matches(&a->set.b[i], scope_value(&a->set.b[i], r)))
			add(a, i, t_s, r->cost_usd, true);
}

int budget_alerts_load(struct budget_alerts *a, struct sqlite3 *db, int64_t now_s)
{
	sqlite3_stmt *st;
	int64_t from = now_s, s, e;
	int rc;

	if (!a || !db || !a->set.n)
		return 0;
	for (size_t i = 0; i < a->set.n; i++) {
		budget_period_bounds(a->set.b[i].period, now_s, &s, &e);
		if (s < from)
			from = s;
	}
	if (now_s - 8 * 86400 < from)	/* the anomaly rule's week of hours */
		from = now_s - 8 * 86400;
	/* Summed per clock hour and scope values: periods and the anomaly
	 * rule both count whole UTC hours, and a busy host's week is millions
	 * of rows but thousands of these. */
	rc = sqlite3_prepare_v2(db, "SELECT ts_start_ns / 3600000000000 * 3600000000000,"
				" total(cost_usd), COALESCE(project, ''), COALESCE(k8s_namespace, ''),"
				" COALESCE(app, ''), comm, COALESCE(account, ''), model FROM exchanges"
				" WHERE ts_start_ns >= ?1 AND priced AND cost_usd > 0"
				" GROUP BY 1, 3, 4, 5, 6, 7, 8 ORDER BY 1", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		p_warn("budget: cannot read this period's spend: %s", sqlite3_errmsg(db));
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, from * 1000000000LL);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct exchange_record *r = calloc(1, sizeof(*r));
		const char *const cols[] = {
			(const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3),
			(const char *)sqlite3_column_text(st, 4), (const char *)sqlite3_column_text(st, 5),
			(const char *)sqlite3_column_text(st, 6), (const char *)sqlite3_column_text(st, 7),
		};

		if (!r)
			break;
		snprintf(r->project, sizeof(r->project), "%s", cols[0] ? cols[0] : "");
		snprintf(r->k8s_namespace, sizeof(r->k8s_namespace), "%s", cols[1] ? cols[1] : "");
		snprintf(r->app, sizeof(r->app), "%s", cols[2] ? cols[2] : "");
		snprintf(r->comm, sizeof(r->comm), "%s", cols[3] ? cols[3] : "");
		snprintf(r->account, sizeof(r->account), "%s", cols[4] ? cols[4] : "");
		snprintf(r->model, sizeof(r->model), "%s", cols[5] ? cols[5] : "");
		for (size_t i = 0; i < a->set.n; i++)
			if (matches(&a->set.b[i], scope_value(&a->set.b[i], r)))
				add(a, i, sqlite3_column_int64(st, 0) / 1000000000,
				    sqlite3_column_double(st, 1), false);
		free(r);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct budget_alerts *a = ctx;

	return __atomic_load_n(&a->stop, __ATOMIC_RELAXED);	/* non-zero aborts */
}

static bool post(struct budget_alerts *a, const char *body)
{
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	CURL *c = curl_easy_init();
	long status = 0;
	CURLcode rc = CURLE_FAILED_INIT;

	if (c && h) {
		curl_easy_setopt(c, CURLOPT_URL, a->webhook);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)BUDGET_ALERT_TIMEOUT_MS);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, a);
		rc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	}
	if (rc != CURLE_OK || status < 200 || status > 299)
		p_debug("budget webhook: %s (status %ld)", curl_easy_strerror(rc), status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	return rc == CURLE_OK && status >= 200 && status <= 299;
}

/* Sleeps ms unless told to stop; returns false to stop. */
static bool pause_ms(struct budget_alerts *a, long ms)
{
	struct timespec until;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&a->lock);
	while (!a->stop && pthread_cond_timedwait(&a->cond, &a->lock, &until) != ETIMEDOUT)
		;
	stop = a->stop;
	pthread_mutex_unlock(&a->lock);
	return !stop;
}

static void *sender(void *ctx)
{
	struct budget_alerts *a = ctx;
	char body[ALERT_BODY_MAX];

	for (;;) {
		bool ok = false;

		pthread_mutex_lock(&a->lock);
		while (!a->stop && !a->count)
			pthread_cond_wait(&a->cond, &a->lock);
		if (a->stop) {
			a->counts.dropped += a->count;
			a->count = 0;
			pthread_mutex_unlock(&a->lock);
			return NULL;
		}
		memcpy(body, a->queue[a->head], sizeof(body));
		a->head = (a->head + 1) % BUDGET_ALERT_QUEUE;
		a->count--;
		a->busy = true;
		pthread_mutex_unlock(&a->lock);
		for (int k = 0; k < BUDGET_ALERT_TRIES && !ok; k++)
			ok = (k == 0 || pause_ms(a, 1000L << (k - 1))) && post(a, body);
		pthread_mutex_lock(&a->lock);
		if (ok)
			a->counts.sent++;
		else if (!a->stop)
			a->counts.failed++;
		else
			a->counts.dropped++;
		a->busy = false;
		pthread_cond_broadcast(&a->cond);	/* budget_alerts_free() may wait */
		pthread_mutex_unlock(&a->lock);
		if (!ok && !a->stop)
			p_warn("budget webhook: an alert was not delivered after %d tries",
			       BUDGET_ALERT_TRIES);
	}
}

int budget_alerts_run(struct budget_alerts *a)
{
	int err;

	if (!a || !a->webhook || a->running)
		return 0;
	err = -pthread_create(&a->thread, NULL, sender, a);
	if (err)
		p_warn("budget webhook: no thread (%s): alerts go to the log only", strerror(-err));
	a->running = !err;
	return err;
}

/* Prometheus label value: budget names come from the config file. */
static void label(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', out);
		if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

void budget_alerts_render(FILE *out, bool openmetrics, void *ctx)
{
	static const struct { const char *name, *help; } fam[] = {
		{ "llmobs_budget_limit_usd", "A budget's limit for its period (config budgets:)." },
		{ "llmobs_budget_spent_usd", "Spend counted against a budget in its current period." },
		{ "llmobs_budget_threshold_pct", "The highest of 50, 80, 100 % reached this period (0: none)." },
	};
	struct budget_alerts *a = ctx;

	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n", fam[f].name, fam[f].help, fam[f].name);
		for (size_t i = 0; a && i < a->set.n; i++) {
			const struct budget *b = &a->set.b[i];
			const struct watch *w = &a->w[i];
			int64_t now_s = (int64_t)time(NULL);
			double spent = w->end_s > now_s ? w->spent_usd : 0;	/* a period gone by: 0 */
			double v = f == 0 ? b->limit_usd : f == 1 ? spent :
				   budget_threshold(spent, b->limit_usd);

			fprintf(out, "%s{budget=\"", fam[f].name);
			label(out, b->name);
			fprintf(out, "\",scope=\"%s\",period=\"%s\"} %.17g\n",
				budget_scope_name(b->scope), budget_period_name(b->period), v);
		}
	}
	(void)openmetrics;	/* gauges read the same in both formats */
}

void budget_alerts_counts(struct budget_alerts *a, struct budget_alert_counts *c)
{
	pthread_mutex_lock(&a->lock);
	*c = a->counts;
	pthread_mutex_unlock(&a->lock);
}

void budget_alerts_free(struct budget_alerts *a)
{
	struct timespec until;

	if (!a)
		return;
	/* At exit, what is queued gets BUDGET_ALERT_DRAIN_MS to go out (a
	 * replay fires its alerts just before it ends); then the rest, and a
	 * POST in progress, are abandoned and counted. */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += BUDGET_ALERT_DRAIN_MS / 1000;
	pthread_mutex_lock(&a->lock);
	while (a->running && (a->count || a->busy) &&
	       pthread_cond_timedwait(&a->cond, &a->lock, &until) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&a->lock);
	pthread_mutex_lock(&a->lock);
	__atomic_store_n(&a->stop, true, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&a->cond);
	pthread_mutex_unlock(&a->lock);
	if (a->running)
		pthread_join(a->thread, NULL);
	if (a->webhook)
		curl_global_cleanup();
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->cond);
	free(a->webhook);
	free(a);
}
