/* The telemetry thread: queue -> outbox -> batches -> endpoint, with
 * backoff. The daemon's thread only builds a record's JSON and appends a
 * pointer under a mutex that the telemetry thread holds for a pointer swap,
 * never across SQLite or the network: capture never waits for either. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include "telemetry.h"
#include "telemetry_record.h"
#include "telemetry_send.h"

struct queued {
	char id[33];
	char *json;
};

struct telemetry {
	struct telemetry_config cfg;
	struct telemetry_opts opts;
	char host_hash[33];
	struct telemetry_outbox *ob;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct queued *q;		/* queue_max slots, q_len used */
	int q_len;
	struct queued *q_spare;		/* the thread's, swapped with q */
	const char **ids, **jsons;	/* the thread's: one outbox insert */
	atomic_bool stop;
	atomic_int dropped;		/* queue full, not yet counted in the outbox */
	/* The thread's own. */
	int backoff_s;
	int64_t next_try_ns;
	bool failing;			/* logged once per outage */
	bool running;			/* the thread was started */
	char *ca_pem;			/* LLM_OBSERVER_CA_FILE, read at start */
	size_t ca_pem_len;
};

/* The CA file, read now: the sandboxed worker may not read it later. */
static int read_ca(struct telemetry *t)
{
	if (!t->cfg.ca_file[0])
		return 0;
	return telemetry_read_ca(t->cfg.ca_file, &t->ca_pem, &t->ca_pem_len);
}

static int64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void telemetry_submit(struct telemetry *t, const struct exchange_record *r)
{
	struct queued item;
	cJSON *o;

	if (telemetry_new_id(item.id) < 0)
		return;
	o = telemetry_record_json(&t->cfg, r, item.id, t->host_hash);
	item.json = o ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	if (!item.json)
		return;
	pthread_mutex_lock(&t->lock);
	if (t->q_len < t->opts.queue_max) {
		t->q[t->q_len++] = item;
		item.json = NULL;
		if (t->q_len * 2 >= t->opts.queue_max)
			pthread_cond_signal(&t->wake);
	}
	pthread_mutex_unlock(&t->lock);
	if (item.json) {
		atomic_fetch_add(&t->dropped, 1);
		free(item.json);
	}
}

/* Queue -> outbox, in one transaction. The two queue arrays are swapped
 * under the lock, so the daemon's thread waits for a pointer swap only. */
static void drain_queue(struct telemetry *t)
{
	const char **ids = t->ids, **jsons = t->jsons;
	struct queued *taken;
	int n, dropped;

	pthread_mutex_lock(&t->lock);
	taken = t->q;
	n = t->q_len;
	t->q = t->q_spare;
	t->q_spare = taken;
	t->q_len = 0;
	pthread_mutex_unlock(&t->lock);
	dropped = atomic_exchange(&t->dropped, 0);
	if (dropped)
		telemetry_outbox_count(t->ob, TELEMETRY_DROPPED_QUEUE_FULL, dropped);
	if (!n)
		return;
	for (int i = 0; i < n; i++) {
		ids[i] = taken[i].id;
		jsons[i] = taken[i].json;
	}
	if (telemetry_outbox_add(t->ob, n, ids, jsons, now_ns(CLOCK_REALTIME)) < 0)
		telemetry_outbox_count(t->ob, TELEMETRY_ERRORS, 1);
	for (int i = 0; i < n; i++)
		free(taken[i].json);
}

static bool cancelled(void *ctx)
{
	struct telemetry *t = ctx;

	return atomic_load(&t->stop);
}

static void set_time_state(struct telemetry *t, const char *key)
{
	char buf[40];
	time_t s = time(NULL);
	struct tm tm;

	gmtime_r(&s, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	telemetry_outbox_set(t->ob, key, buf);
}

static void after_failure(struct telemetry *t, const struct telemetry_send_result *res)
{
	int delay = telemetry_backoff_s(&t->backoff_s, res->retry_after_s);

	t->next_try_ns = now_ns(CLOCK_MONOTONIC) + (int64_t)delay * 1000000000LL;
	telemetry_outbox_count(t->ob, TELEMETRY_RETRIES, 1);
	telemetry_outbox_set(t->ob, "last_error", res->error);
	set_time_state(t, "last_error_at");
	if (!t->failing)
		p_warn("telemetry: sending failed (%s); retrying with backoff, records wait in the outbox",
		       res->error);
	t->failing = true;
}

/* Sends one batch if one is due. Returns whether another may follow at once. */
static bool send_due(struct telemetry *t)
{
	struct telemetry_outbox_status st;
	struct telemetry_send_opts so = {
		.connect_timeout_ms = t->opts.connect_timeout_ms,
		.total_timeout_ms = t->opts.total_timeout_ms,
		.cancelled = cancelled, .cancel_ctx = t,
		.ca_pem = t->ca_pem, .ca_pem_len = t->ca_pem_len,
	};
	struct telemetry_send_result res;
	char batch_id[33], *records = NULL, *body;
	cJSON *arr, *doc;
	int n;

	if (now_ns(CLOCK_MONOTONIC) < t->next_try_ns)
		return false;
	if (telemetry_outbox_status(t->ob, &st) < 0 || !st.depth)
		return false;
	if (st.depth < t->opts.batch_max_records &&
	    now_ns(CLOCK_REALTIME) - st.oldest_ns < (int64_t)t->cfg.flush_seconds * 1000000000LL)
		return false;
	n = telemetry_outbox_batch(t->ob, t->opts.batch_max_records, t->opts.batch_max_bytes,
				   batch_id, &records);
	if (n <= 0)
		return false;
	arr = cJSON_Parse(records);
	free(records);
	doc = arr ? telemetry_batch_json(batch_id, now_ns(CLOCK_REALTIME), t->host_hash, arr) : NULL;
	body = doc ? cJSON_PrintUnformatted(doc) : NULL;
	cJSON_Delete(doc);
	if (!body) {
		/* A record the outbox holds but cannot be read back: drop it. */
		telemetry_outbox_done(t->ob, batch_id, false);
		telemetry_outbox_count(t->ob, TELEMETRY_ERRORS, 1);
		return false;
	}
	telemetry_send(&t->cfg, &so, batch_id, body, strlen(body), &res);
	free(body);
	if (atomic_load(&t->stop) && res.verdict != TELEMETRY_SENT)
		return false;	/* cut off by stop: the batch is retried next start */
	switch (res.verdict) {
	case TELEMETRY_SENT:
		telemetry_outbox_done(t->ob, batch_id, true);
		set_time_state(t, "last_success");
		if (t->failing)
			p_info("telemetry: delivering again");
		t->failing = false;
		t->backoff_s = 0;
		return true;
	case TELEMETRY_REJECTED:
		/* Retrying a refusal would only repeat it: dropped, with why. */
		telemetry_outbox_done(t->ob, batch_id, false);
		telemetry_outbox_set(t->ob, "last_error", res.error);
		set_time_state(t, "last_error_at");
		p_warn("telemetry: endpoint refused a batch of %d records (%s); dropped", n, res.error);
		return true;
	case TELEMETRY_RETRY:
		after_failure(t, &res);
		return false;
	}
	return false;
}

static void *run(void *arg)
{
	struct telemetry *t = arg;

	while (!atomic_load(&t->stop)) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_mutex_lock(&t->lock);
		if (t->q_len * 2 < t->opts.queue_max && !atomic_load(&t->stop))
			pthread_cond_timedwait(&t->wake, &t->lock, &until);
		pthread_mutex_unlock(&t->lock);
		drain_queue(t);
		while (!atomic_load(&t->stop) && send_due(t))
			drain_queue(t);
	}
	return NULL;
}

static void free_arrays(struct telemetry *t)
{
	free(t->q);
	free(t->q_spare);
	free(t->ids);
	free(t->jsons);
	free(t->ca_pem);
}

int telemetry_start(const struct telemetry_config *c, const struct telemetry_opts *opts,
		    const char *outbox_path, struct telemetry **out)
{
	struct telemetry *t = calloc(1, sizeof(*t));
	char label[64];
	int err;

	if (!t)
		return -ENOMEM;
	t->cfg = *c;
	if (opts)
		t->opts = *opts;
	if (!t->opts.batch_max_records)
		t->opts.batch_max_records = 500;
	if (!t->opts.batch_max_bytes)
		t->opts.batch_max_bytes = 4u << 20;
	if (!t->opts.queue_max)
		t->opts.queue_max = 8192;
	t->q = calloc((size_t)t->opts.queue_max, sizeof(*t->q));
	t->q_spare = calloc((size_t)t->opts.queue_max, sizeof(*t->q_spare));
	t->ids = calloc((size_t)t->opts.queue_max, sizeof(*t->ids));
	t->jsons = calloc((size_t)t->opts.queue_max, sizeof(*t->jsons));
	err = t->q && t->q_spare && t->ids && t->jsons ? read_ca(t) : -ENOMEM;
	if (err == -EINVAL || err == -EIO)
		p_warn("telemetry: LLM_OBSERVER_CA_FILE %s is empty, unreadable or over 4 MiB",
		       t->cfg.ca_file);
	if (!err)
		err = telemetry_outbox_open(outbox_path, false, &t->opts.limits, &t->ob);
	if (err) {
		free_arrays(t);
		free(t);
		return err;
	}
	telemetry_host_hash(&t->cfg, t->host_hash);
	telemetry_outbox_set(t->ob, "enabled", "true");
	telemetry_outbox_set(t->ob, "why_off", "");
	telemetry_outbox_set(t->ob, "endpoint", t->cfg.endpoint);
	telemetry_outbox_set(t->ob, "key", telemetry_config_key_label(&t->cfg, label, sizeof(label)));
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->wake, NULL);
	*out = t;
	return 0;
}

int telemetry_run(struct telemetry *t)
{
	int err = -pthread_create(&t->thread, NULL, run, t);

	if (err)
		p_warn("telemetry: cannot start its thread: %s; records wait in the outbox",
		       strerror(-err));
	t->running = !err;
	return err;
}

void telemetry_stop(struct telemetry *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	atomic_store(&t->stop, true);
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
	if (t->running)
		pthread_join(t->thread, NULL);
	drain_queue(t);		/* what came in last is kept for the next start */
	telemetry_outbox_close(t->ob);
	free_arrays(t);
	telemetry_config_wipe(&t->cfg);
	free(t);
}

void telemetry_note_off(const struct telemetry_config *c, const char *outbox_path)
{
	struct telemetry_outbox *ob;

	if (access(outbox_path, F_OK) < 0 || telemetry_outbox_open(outbox_path, false, NULL, &ob) < 0)
		return;
	telemetry_outbox_set(ob, "enabled", "false");
	telemetry_outbox_set(ob, "why_off", c->why_off);
	telemetry_outbox_close(ob);
}

struct telemetry *telemetry_open_configured(bool insecure, const char *db_path,
					    const char *(*get)(const char *name, void *ctx),
					    void *ctx)
{
	struct telemetry_config c;
	struct telemetry *t = NULL;
	char outbox[PATH_MAX], label[64];
	bool key_ok;
	int err;

	telemetry_config_load(&c, get, ctx, insecure, &key_ok);
	telemetry_outbox_path(db_path, outbox, sizeof(outbox));
	if (!c.enabled) {
		/* Set but wrong is worth a warning; simply not asked for is not. */
		log_msg(get("LLM_OBSERVER_ENABLED", ctx) ? LOG_WARN : LOG_INFO, "telemetry: off: %s",
			c.why_off);
		telemetry_note_off(&c, outbox);
	} else if ((err = telemetry_start(&c, NULL, outbox, &t)) < 0) {
		p_warn("telemetry: off: cannot start it (outbox %s%s%s): %s", outbox,
		       c.ca_file[0] ? ", CA file " : "", c.ca_file, strerror(-err));
	} else {
		p_info("telemetry: on, sending to %s as %s, within %d s (outbox %s)", c.endpoint,
		       telemetry_config_key_label(&c, label, sizeof(label)), c.flush_seconds, outbox);
	}
	telemetry_config_wipe(&c);
	return t;
}
