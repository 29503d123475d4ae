/* The OTLP export thread: queue -> batches of spans grouped by resource ->
 * gzip -> POST (telemetry_post) -> counts. The queue is a ring of record
 * copies of fixed size; the capture thread pushes, the export thread pops,
 * each holding the mutex for pointer copies only. The capture thread only
 * copies: building the JSON there cost 28 us an exchange, as much as the
 * whole pipeline (llmobsd --replay went from 37k to 17k exchanges per CPU
 * second); a copy is under a microsecond, and the JSON is built on the
 * export thread. One batch at most is held for retry: while it waits, new
 * records wait in the ring, and past its size they are dropped and counted,
 * so memory stays bounded whatever the collector does. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <unistd.h>
#include "log.h"
#include "stats.h"
#include "otlp.h"
#include "otlp_span.h"
#include "telemetry_send.h"

struct otlp {
	struct otlp_config cfg;
	char host_name[256];
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct exchange_record **ring;	/* cfg.queue_max slots */
	int head, len;
	atomic_bool stop;
	atomic_uint_fast64_t exported, dropped_queue_full, dropped_export, export_failures;
	/* The export thread's own (then otlp_stop()'s, once it is joined). */
	struct exchange_record **batch;	/* one batch's records, cfg.batch_max */
	char **res, **spans;		/* and their JSON */
	uint8_t *ids;			/* and their trace and span ids, 24 bytes each */
	unsigned char *pending;		/* a gzipped request waiting to be (re)sent */
	size_t pending_len;
	int pending_spans, tries, backoff_s;
	int64_t next_try_ns;
	bool failing;			/* logged once per outage */
};

static int64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void otlp_submit(struct otlp *o, const struct exchange_record *r)
{
	struct exchange_record *copy = malloc(sizeof(*copy));
	bool queued = false;

	if (copy) {
		*copy = *r;
		/* What the span never needs is not kept: the request body is
		 * the caller's (and gone after this call), the key's digest is
		 * the cache analyzer's. */
		copy->request_body = NULL;
		copy->request_body_len = 0;
		explicit_bzero(copy->account_digest, sizeof(copy->account_digest));
		pthread_mutex_lock(&o->lock);
		if (o->len < o->cfg.queue_max) {
			o->ring[(o->head + o->len++) % o->cfg.queue_max] = copy;
			queued = true;
			if (o->len >= o->cfg.batch_max)
				pthread_cond_signal(&o->wake);
		}
		pthread_mutex_unlock(&o->lock);
	}
	if (!queued) {
		atomic_fetch_add(&o->dropped_queue_full, 1);
		free(copy);
	}
}

/* Up to batch_max items off the ring into o->res / o->spans. */
static int take(struct otlp *o)
{
	int n;

	pthread_mutex_lock(&o->lock);
	n = o->len < o->cfg.batch_max ? o->len : o->cfg.batch_max;
	for (int i = 0; i < n; i++)
		o->batch[i] = o->ring[(o->head + i) % o->cfg.queue_max];
	o->head = (o->head + n) % o->cfg.queue_max;
	o->len -= n;
	pthread_mutex_unlock(&o->lock);
	return n;
}

/* The n taken records -> o->pending (gzipped), or counted as dropped. */
static void build(struct otlp *o, int n)
{
	size_t want = (size_t)n * 24;
	char *body = NULL;
	int i;

	/* ids: random, never all-zero (invalid in OTLP) */
	if (getrandom(o->ids, want, 0) != (ssize_t)want)
		memset(o->ids, 0x5a, want);
	for (i = 0; i < n; i++) {
		o->res[i] = otlp_resource_json(&o->cfg, o->host_name, o->batch[i]);
		o->spans[i] = otlp_span_json(o->batch[i], o->ids + 24 * i);
		free(o->batch[i]);
		if (!o->res[i] || !o->spans[i])
			break;
	}
	if (i == n)
		body = otlp_request_json((size_t)n, o->res, o->spans);
	for (int j = 0; j < n; j++) {
		if (j > i)
			free(o->batch[j]);
		else {
			free(o->res[j]);
			free(o->spans[j]);
		}
	}
	if (!body || telemetry_gzip(body, strlen(body), &o->pending, &o->pending_len) < 0) {
		atomic_fetch_add(&o->dropped_export, (uint64_t)n);
		o->pending = NULL;
	} else {
		o->pending_spans = n;
		o->tries = 0;
	}
	free(body);
}

static void drop_pending(struct otlp *o, bool lost)
{
	if (lost)
		atomic_fetch_add(&o->dropped_export, (uint64_t)o->pending_spans);
	free(o->pending);
	o->pending = NULL;
	o->pending_spans = 0;
}

/* partialSuccess.rejectedSpans of a 2xx answer (an int64: string or number). */
static int rejected_spans(const char *answer, int n)
{
	cJSON *doc = cJSON_Parse(answer), *ps, *v;
	long long k = 0;

	ps = cJSON_GetObjectItem(doc, "partialSuccess");
	v = cJSON_GetObjectItem(ps, "rejectedSpans");
	if (cJSON_IsString(v))
		k = strtoll(v->valuestring, NULL, 10);
	else if (cJSON_IsNumber(v))
		k = (long long)v->valuedouble;
	cJSON_Delete(doc);
	return k < 0 ? 0 : k > n ? n : (int)k;
}

static bool cancelled(void *ctx)
{
	struct otlp *o = ctx;

	return atomic_load(&o->stop);
}

/* One POST of o->pending. at_exit: no cancel, timeout_ms, no retry. */
static void send_pending(struct otlp *o, bool at_exit, long timeout_ms)
{
	struct telemetry_send_opts so = {
		.connect_timeout_ms = timeout_ms < 5000 ? timeout_ms : 5000,
		.total_timeout_ms = timeout_ms,
		.cancelled = at_exit ? NULL : cancelled, .cancel_ctx = o,
		.ca_pem = o->cfg.ca_pem, .ca_pem_len = o->cfg.ca_pem_len,
	};
	struct telemetry_send_result res;
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	char answer[1024];
	int rejected;

	h = curl_slist_append(h, "Content-Encoding: gzip");
	h = curl_slist_append(h, "Expect:");	/* no 100-continue round trip */
	for (int i = 0; i < o->cfg.nheaders; i++)
		h = curl_slist_append(h, o->cfg.headers[i]);
	telemetry_post(&(struct telemetry_post){
			.url = o->cfg.url, .headers = h, .body = o->pending, .len = o->pending_len,
			.protocols = "http,https", .ca_file = "",
			.answer = answer, .answer_size = sizeof(answer),
		       }, &so, &res);
	if (!at_exit && atomic_load(&o->stop) && res.verdict != TELEMETRY_SENT)
		return;		/* cut off by stop: otlp_stop() tries it once more */
	/* OTLP/HTTP retries 429, 502, 503 and 504 only (telemetry's endpoint
	 * also 408 and every 5xx): the others would fail the same again. */
	if (res.verdict == TELEMETRY_RETRY && res.status && res.status != 429 &&
	    res.status != 502 && res.status != 503 && res.status != 504)
		res.verdict = TELEMETRY_REJECTED;
	switch (res.verdict) {
	case TELEMETRY_SENT:
		rejected = rejected_spans(answer, o->pending_spans);
		atomic_fetch_add(&o->exported, (uint64_t)(o->pending_spans - rejected));
		atomic_fetch_add(&o->dropped_export, (uint64_t)rejected);
		if (rejected)
			p_warn("otlp: the collector rejected %d of %d spans", rejected,
			       o->pending_spans);
		else if (o->failing)
			p_info("otlp: exporting again");
		o->failing = false;
		o->backoff_s = 0;
		drop_pending(o, false);
		return;
	case TELEMETRY_REJECTED:
		p_warn("otlp: the collector refused a batch of %d spans (%s); dropped",
		       o->pending_spans, res.error);
		drop_pending(o, true);
		return;
	case TELEMETRY_RETRY:
		atomic_fetch_add(&o->export_failures, 1);
		if (!o->failing)
			p_warn("otlp: exporting to %s failed (%s); retrying with backoff",
			       o->cfg.url_label, res.error);
		o->failing = true;
		if (at_exit || ++o->tries >= OTLP_MAX_TRIES) {
			drop_pending(o, true);
			return;
		}
		o->next_try_ns = now_ns(CLOCK_MONOTONIC) +
				 (int64_t)telemetry_backoff_s(&o->backoff_s, res.retry_after_s) *
				 1000000000LL;
		return;
	}
}

/* Sends what is queued, a batch at a time, unless a retry is waiting. */
static void export_ready(struct otlp *o)
{
	int n;

	while (!atomic_load(&o->stop)) {
		if (!o->pending) {
			if (!(n = take(o)))
				return;
			build(o, n);
			if (!o->pending)
				continue;
		} else if (now_ns(CLOCK_MONOTONIC) < o->next_try_ns) {
			return;
		}
		send_pending(o, false, o->cfg.timeout_ms);
		if (o->pending)
			return;		/* waiting to retry */
	}
}

static void *run(void *arg)
{
	struct otlp *o = arg;

	while (!atomic_load(&o->stop)) {
		int64_t wait_ns = o->cfg.schedule_delay_ms * 1000000LL;
		struct timespec until;

		if (o->pending) {
			int64_t retry_in = o->next_try_ns - now_ns(CLOCK_MONOTONIC);

			wait_ns = retry_in < wait_ns ? retry_in : wait_ns;
		}
		wait_ns = wait_ns < 1000000 ? 1000000 : wait_ns;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)(wait_ns / 1000000000LL);
		until.tv_nsec += (long)(wait_ns % 1000000000LL);
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&o->lock);
		if (!atomic_load(&o->stop) && (o->pending || o->len < o->cfg.batch_max))
			pthread_cond_timedwait(&o->wake, &o->lock, &until);
		pthread_mutex_unlock(&o->lock);
		export_ready(o);
	}
	return NULL;
}

static void free_all(struct otlp *o)
{
	free(o->ring);
	free(o->batch);
	free(o->res);
	free(o->spans);
	free(o->ids);
	otlp_config_free(&o->cfg);
	free(o);
}

int otlp_start(struct otlp_config *c, const char *host_name, struct otlp **out)
{
	struct otlp *o = calloc(1, sizeof(*o));

	if (!o)
		return -ENOMEM;
	o->cfg = *c;
	memset(c, 0, sizeof(*c));	/* ours now: header values are freed with o */
	o->ring = calloc((size_t)o->cfg.queue_max, sizeof(*o->ring));
	o->batch = calloc((size_t)o->cfg.batch_max, sizeof(*o->batch));
	o->res = calloc((size_t)o->cfg.batch_max, sizeof(*o->res));
	o->spans = calloc((size_t)o->cfg.batch_max, sizeof(*o->spans));
	o->ids = calloc((size_t)o->cfg.batch_max, 24);
	if (!o->ring || !o->batch || !o->res || !o->spans || !o->ids ||
	    o->cfg.batch_max > o->cfg.queue_max) {
		free_all(o);
		return -ENOMEM;
	}
	if (host_name)
		snprintf(o->host_name, sizeof(o->host_name), "%s", host_name);
	curl_global_init(CURL_GLOBAL_DEFAULT);	/* refcounted; before any thread */
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->wake, NULL);
	*out = o;
	return 0;
}

int otlp_run(struct otlp *o)
{
	int err = -pthread_create(&o->thread, NULL, run, o);

	if (err)
		p_warn("otlp: cannot start its thread: %s; spans are dropped", strerror(-err));
	o->running = !err;
	return err;
}

void otlp_get_counts(struct otlp *o, struct otlp_counts *c)
{
	c->exported = atomic_load(&o->exported);
	c->dropped_queue_full = atomic_load(&o->dropped_queue_full);
	c->dropped_export = atomic_load(&o->dropped_export);
	c->export_failures = atomic_load(&o->export_failures);
}

void otlp_stop(struct otlp *o)
{
	int64_t deadline;
	int n;

	if (!o)
		return;
	pthread_mutex_lock(&o->lock);
	atomic_store(&o->stop, true);
	pthread_cond_signal(&o->wake);
	pthread_mutex_unlock(&o->lock);
	if (o->running)
		pthread_join(o->thread, NULL);
	/* The last spans (a short run's, or a replay's): one try each, within
	 * a bound, so that a dead collector cannot hold the daemon's exit. */
	deadline = now_ns(CLOCK_MONOTONIC) + OTLP_EXIT_FLUSH_MS * 1000000LL;
	for (;;) {
		long left_ms;

		if (!o->pending) {
			if (!(n = take(o)))
				break;
			build(o, n);
			continue;
		}
		left_ms = (long)((deadline - now_ns(CLOCK_MONOTONIC)) / 1000000);
		if (left_ms <= 0)
			drop_pending(o, true);
		else
			send_pending(o, true, left_ms);
	}
	otlp_sync_stats(o);
	pthread_mutex_destroy(&o->lock);
	pthread_cond_destroy(&o->wake);
	curl_global_cleanup();
	free_all(o);
}

struct otlp *otlp_open_configured(struct otlp_config *c)
{
	char host[256] = "", names[256];
	struct otlp *o = NULL;
	int err;

	if (!c->url[0])
		return NULL;
	if (c->protocol[0] && strcmp(c->protocol, "http/json"))
		p_warn("otlp: OTEL_EXPORTER_OTLP_PROTOCOL is %s, but spans go as http/json (OTLP/HTTP "
		       "with JSON, which every collector's OTLP/HTTP receiver takes)", c->protocol);
	if (gethostname(host, sizeof(host) - 1) < 0)
		host[0] = '\0';
	otlp_config_header_names(c, names, sizeof(names));
	if ((err = otlp_start(c, host, &o)) < 0) {
		p_warn("otlp: off: cannot start it: %s", strerror(-err));
		otlp_config_free(c);
		return NULL;
	}
	p_info("otlp: exporting a span per exchange to %s (OTLP/JSON, batches of %d every %ld ms, "
	       "queue %d%s%s)", o->cfg.url_label, o->cfg.batch_max, o->cfg.schedule_delay_ms,
	       o->cfg.queue_max, names[0] ? ", headers: " : "", names);
	return o;
}

void otlp_sync_stats(struct otlp *o)
{
	struct otlp_counts c;

	if (!o)
		return;
	otlp_get_counts(o, &c);
	stats[STAT_OTLP_SPANS_EXPORTED] = c.exported;
	stats[STAT_OTLP_SPANS_DROPPED_QUEUE_FULL] = c.dropped_queue_full;
	stats[STAT_OTLP_SPANS_DROPPED_EXPORT] = c.dropped_export;
	stats[STAT_OTLP_EXPORT_FAILURES] = c.export_failures;
}
