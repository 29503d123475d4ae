/* llmobsd: observes the LLM API calls of every process on the host (BPF
 * uprobes on TLS libraries) and of processes run with the LD_PRELOAD shim
 * (a unix socket, no privilege needed with --no-bpf), and records tokens
 * and cost in SQLite. */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cache_hash.h"
#include "capture_file.h"
#include "conn.h"
#include "cache_analyze.h"
#include "cost.h"
#include "detect.h"
#include "find_cache.h"
#include "budget_alert.h"
#include "log.h"
#include "privsep.h"
#include "procattr.h"
#include "daemon_args.h"
#include "metrics_agg.h"
#include "metrics_http.h"
#include "otlp.h"
#include "replay.h"
#include "shim_server.h"
#include "stats.h"
#include "store.h"
#include "sandbox.h"
#include "telemetry.h"
#include "plain_capture.h"
#include "tls13_conns.h"

#define FLUSH_INTERVAL_NS	(250LL * 1000000)
#define COUNTERS_INTERVAL_NS	(2000LL * 1000000)
#define EXPIRE_INTERVAL_NS	(5000LL * 1000000)
#define STORE_RETRY_NS		(10000LL * 1000000)
#define SHIM_DRAIN_MS		10	/* ring drain tick with BPF also polled */
#define LLMOBSD_SECRET_NAME	"hash.secret"	/* beside the DB, 0600 */

struct daemon_opts {
	const char *db_path;
	const char *prices_path;
	const char *cache_rules_path;	/* --cache-rules */
	bool no_cache;			/* --no-cache-analytics */
	bool no_detect;			/* --no-sensitive-scan */
	bool telemetry_insecure;	/* --telemetry-insecure: http:// endpoints (tests) */
	size_t cache_index_bytes;	/* --cache-index-mb */
	bool json;
	size_t max_body_bytes;
	size_t max_call_bytes;
	size_t ringbuf_bytes;
	size_t max_conns;
	bool no_bpf;
	const char *socket_path;
	const char *plain_ports;	/* peer ports of plain HTTP on loopback */
	const char *record_path;	/* --record: every event appended there */
	const char *replay_path;	/* --replay: a capture file instead of capture */
	size_t replay_loops;
	const char *listen;		/* --listen: metrics and health, "off" */
	const char *host_root;		/* --host-root: the node's / (DaemonSet) */
	size_t max_series;		/* --max-series: metrics label sets */
	const char *otlp_endpoint;	/* --otlp-endpoint: OTLP/HTTP collector */
};

struct daemon {
	struct daemon_opts opts;
	struct price_table *prices;
	struct cache_analyzer *cache;	/* prompt-cache analytics, NULL: off */
	struct store *store;
	struct conn_table *conns;
	struct privsep_worker *worker;	/* BPF capture: the attacher's ring, passed */
	struct capture_ring *ring;
	struct tls13_conns *tls13;	/* rustls seen by its secrets: records decrypted */
	struct shim_server *shim;
	struct capture_file_writer *recorder;
	struct procattr_table *attr;	/* NULL in replay: those pids are not ours */
	struct cache_hash_key hash_key;	/* the per-install HMAC secret */
	bool hash_key_ok;
	struct daemon_args args;	/* argv with the config file's flags first */
	struct metrics_agg *metrics;	/* what /metrics says */
	struct metrics_http *http;	/* NULL: --listen off */
	struct budget_alerts *budgets;	/* the config's budgets, NULL: none */
	struct telemetry *telemetry;	/* opt-in (docs/telemetry.md), NULL: off */
	struct otlp_config otlp_cfg;	/* checked at start, taken by otlp_open_configured */
	struct otlp *otlp;		/* OTLP span exporter, NULL: off */
};

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	exiting = 1;
}

static int64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The config file's budgets: this period's spend from the database, then
 * alerts as exchanges finish (budget_alert.h). Budgets are an addition: a
 * failure here is logged, capture goes on. The webhook's thread (started
 * once sandboxed, or before a replay) needs the filter to let it connect
 * out, as telemetry's does. */
static void start_budgets(struct daemon *d)
{
	const struct budget_set *set = d->args.cfg.budgets;	/* validated with the config */

	if (!d->args.config_path || !set)
		return;
	if (set->n && budget_alerts_new(set, set->webhook, &d->budgets) == 0) {
		budget_alerts_load(d->budgets, d->store ? store_db(d->store) : NULL, time(NULL));
		if (set->webhook[0])
			sandbox_seccomp_allow_outbound();
		p_info("budgets: %zu, alerts to the log%s", set->n,
		       set->webhook[0] ? " and budget_webhook" : "");
	}
}

static void print_live_line(const struct exchange_record *r)
{
	char when[16];
	time_t secs = (time_t)(r->ts_end_ns / 1000000000LL);
	struct tm tm;

	localtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	printf("%s %-9s %-16s %-28s %s[%u] %d in=%lld (cached %lld) out=%lld %s$%.6f%s%s%s\n",
	       when, r->provider, r->api, r->model[0] ? r->model : "?", r->comm, r->pid,
	       r->status, (long long)r->usage.input_tokens,
	       (long long)r->usage.cached_input_tokens, (long long)r->usage.output_tokens,
	       r->priced ? "" : "unpriced ", r->cost_usd,
	       r->complete ? "" : " incomplete", r->error[0] ? " error=" : "", r->error);
	fflush(stdout);
}

/* A connection the table found to be a server side: its uprobes stop
 * copying it, which spares an HTTPS server on the host most of what being
 * observed costs it. */
static void on_ignore(void *ctx, const struct capture_event *ev)
{
	struct daemon *d = ctx;
	int err;

	if (ev->source != CAPTURE_SOURCE_UPROBE || !d->ring)
		return;
	err = capture_ring_ignore(d->ring, ev->tgid, ev->conn, ev->ts_ns);
	if (err && err != -ENOENT)
		p_debug("cannot mark connection %d/%llx ignored: %s", (int)ev->tgid,
			(unsigned long long)ev->conn, strerror(-err));
}

static void load_hash_key(struct daemon *d);

/* The prompt-cache analyser, keyed with the install's hash secret
 * (load_hash_key: beside the DB, else a key for this run only). */
static int start_cache(struct daemon *d)
{
	struct cache_analyzer_opts co = {
		.index_bytes = d->opts.cache_index_bytes,
		.rules_path = d->opts.cache_rules_path,
		.prices = d->prices,
	};
	int err;

	if (!d->hash_key_ok)
		load_hash_key(d);
	co.key = d->hash_key_ok ? &d->hash_key : NULL;
	err = cache_analyzer_new(&co, &d->cache);
	if (err)
		p_err("cannot start prompt-cache analytics (%s): %s",
		      d->opts.cache_rules_path ? d->opts.cache_rules_path : "embedded rules",
		      strerror(-err));
	return err;
}

/* Prompt-cache fields of r (issue 9); what cannot be analysed is counted. */
static void analyze_cache(struct daemon *d, struct exchange_record *r)
{
	struct cache_analyzer_stats cs;
	int err = cache_analyze_record(d->cache, r);

	if (err == -ENODATA)
		stats_inc(STAT_CACHE_NO_BODY);
	else if (err == -EINVAL)
		stats_inc(STAT_CACHE_BAD_JSON);
	cache_analyzer_get_stats(d->cache, &cs);
	stats[STAT_CACHE_TRUNCATED] = cs.truncated;
	stats[STAT_CACHE_INDEX_EVICTED] = cs.index_evicted;
}

static void on_exchange(void *ctx, struct exchange_record *r)
{
	struct daemon *d = ctx;
	const struct procattr *a = d->attr ? procattr_peek(d->attr, (pid_t)r->pid) : NULL;

	if (a)
		procattr_to_record(a, r);
	cost_price_record(d->prices, r);
	if (d->cache)
		analyze_cache(d, r);
	else	/* the account fingerprint, which budgets and reports split by */
		cache_account_fingerprint(d->hash_key_ok ? &d->hash_key : NULL, r);
	/* secrets in the prompt: kinds and counts; the text stays in memory */
	if (!d->opts.no_detect)
		detect_record(r);
	budget_alerts_observe(d->budgets, r);
	if (!r->priced)
		stats_inc(STAT_UNPRICED_EXCHANGES);
	/* store.c counts what it loses (this record, a rolled-back batch) */
	if (d->store)
		store_add(d->store, r);
	else
		stats_inc(STAT_RECORDS_DROPPED);
	if (d->telemetry)
		telemetry_submit(d->telemetry, r);
	if (d->otlp)
		otlp_submit(d->otlp, r);
	if (d->metrics)
		metrics_agg_observe(d->metrics, r);
	if (d->opts.json) {
		record_write_json(stdout, r);
		fflush(stdout);
	} else if (!d->opts.replay_path) {
		print_live_line(r);
	}
}

/* A write error ends the recording, not the capture. */
static void stop_recording(struct daemon *d, int err)
{
	p_err("recording to %s stopped: %s", d->opts.record_path, strerror(-err));
	capture_file_close(d->recorder);
	d->recorder = NULL;
}

/* --record: what the connection table is given, so that a replay sees
 * what this run saw. */
static void record_event(struct daemon *d, const struct capture_event *ev)
{
	int err = capture_file_write(d->recorder, ev);

	if (err)
		stop_recording(d, err);
}

/* Who made a call is read while the process lives: at its first event,
 * again after an exec; an exit keeps it for the exchanges it leaves. */
static void attribute_event(struct daemon *d, const struct capture_event *ev)
{
	if (!d->attr)
		return;
	if (ev->kind == CAPTURE_EXEC)
		procattr_note_exec(d->attr, (pid_t)ev->tgid);
	else if (ev->kind == CAPTURE_EXIT)
		procattr_note_exit(d->attr, (pid_t)ev->tgid);
	else if (ev->kind == CAPTURE_DATA)
		procattr_get(d->attr, (pid_t)ev->tgid);
}

/* A connection's plaintext decrypted from its records (tls13_conns.c). */
static void on_decrypted(void *ctx, const struct capture_event *ev)
{
	struct daemon *d = ctx;

	if (d->recorder)
		record_event(d, ev);
	attribute_event(d, ev);
	conn_table_event(d->conns, ev);
}

static int on_event(void *ctx, const struct capture_event *ev, size_t size)
{
	struct daemon *d = ctx;

	if (size < sizeof(*ev) || size < sizeof(*ev) + ev->data_len) {
		stats_inc(STAT_EVENTS_MALFORMED);
		return 0;
	}
	/* A process with a live shim is seen twice: its calls, closes and
	 * exit are the shim's to report, so each exchange is recorded once.
	 * Its exec still names it. */
	if (d->shim && ev->kind != CAPTURE_EXEC &&
	    shim_server_owns(d->shim, ev->tgid, ev->ts_ns)) {
		stats_inc(STAT_BPF_EVENTS_DEDUPED);
		return 0;
	}
	/* Keys and ciphertext stop here (never recorded); their plaintext
	 * comes back through on_decrypted. */
	if (d->tls13 && tls13_conns_event(d->tls13, ev, on_decrypted, d))
		return 0;
	if (d->recorder)
		record_event(d, ev);
	attribute_event(d, ev);
	conn_table_event(d->conns, ev);
	return 0;
}

static void on_shim_event(void *ctx, const struct capture_event *ev)
{
	struct daemon *d = ctx;

	if (d->recorder)
		record_event(d, ev);
	attribute_event(d, ev);
	conn_table_event(d->conns, ev);
}

/* --replay: the pipeline alone, at full speed, on this thread; records go
 * to the store only with an explicit --db. */
static int run_replay(struct daemon *d)
{
	struct capture_file_map m;
	struct replay_result r;
	int err;

	err = capture_file_open(d->opts.replay_path, &m);
	if (err) {
		p_err("cannot read capture file %s: %s", d->opts.replay_path,
		      err == -EPROTO ? "not a capture file of this version" : strerror(-err));
		return err;
	}
	err = replay_run(&m, d->opts.replay_loops ? d->opts.replay_loops : 1, d->conns, &r);
	if (err)
		p_warn("%s: cut or malformed record after %llu events", d->opts.replay_path,
		       (unsigned long long)r.events);
	replay_print(stderr, &r);
	capture_file_unmap(&m);
	return 0;
}

static void persist_counters(struct daemon *d)
{
	static const char *const drop_names[CAPTURE_DROP__MAX][2] = {
		[CAPTURE_DROP_RINGBUF_FULL] = { "bpf_drop_ringbuf_full_events",
						"bpf_drop_ringbuf_full_bytes" },
		[CAPTURE_DROP_READ_FAILED] = { "bpf_drop_read_failed_events",
					       "bpf_drop_read_failed_bytes" },
		[CAPTURE_DROP_OVER_CAP] = { "bpf_drop_over_cap_events",
					    "bpf_drop_over_cap_bytes" },
		[CAPTURE_DROP_NO_ENTRY] = { "bpf_drop_no_entry_events",
					    "bpf_drop_no_entry_bytes" },
	};
	const char *names[STAT__MAX + 2 * CAPTURE_DROP__MAX + 2];
	uint64_t values[STAT__MAX + 2 * CAPTURE_DROP__MAX + 2];
	struct capture_drop_count drops[CAPTURE_DROP__MAX] = {}, ignored = {};
	uint64_t attacher[STAT__MAX] = {};
	int n = 0;

	otlp_sync_stats(d->otlp);	/* counted by its thread */
	/* The attacher counts what it does (attaching, requests, restarts) */
	if (d->worker)
		privsep_worker_counters(d->worker, attacher);
	for (int i = 0; i < STAT__MAX; i++) {
		names[n] = stats_names[i];
		values[n++] = stats[i] + attacher[i];
	}
	if (d->ring && capture_ring_drops(d->ring, drops) == 0) {
		for (int i = 0; i < CAPTURE_DROP__MAX; i++) {
			names[n] = drop_names[i][0];
			values[n++] = drops[i].events;
			names[n] = drop_names[i][1];
			values[n++] = drops[i].bytes;
		}
	}
	if (d->ring && capture_ring_ignored(d->ring, &ignored) == 0) {
		names[n] = "bpf_ignored_calls";
		values[n++] = ignored.events;
		names[n] = "bpf_ignored_bytes";
		values[n++] = ignored.bytes;
	}
	if (d->store)
		store_put_counters(d->store, names, values, n);	/* counts its errors */
}

/* Without a database capture goes on: live output, and records dropped
 * and counted until the file can be opened (read-only or full file
 * system, permissions). Said once, not at every retry. */
static void open_store(struct daemon *d)
{
	static int last_err;
	int verbosity = log_verbosity, err;

	if (last_err)	/* a retry: store.c's reason was logged the first time */
		log_verbosity = LOG_ERROR - 1;
	err = store_open(d->opts.db_path, false, &d->store);
	log_verbosity = verbosity;
	if (!err && last_err)
		p_info("database %s open: recording again", d->opts.db_path);
	/* Once until it opens: a retry from the sandbox fails for another
	 * reason (EACCES where root saw EROFS), which is no news. */
	else if (err && !last_err)
		p_err("cannot open database %s: %s; capture goes on, records are dropped "
		      "(counted as records_dropped) until it opens", d->opts.db_path,
		      strerror(-err));
	last_err = err;
}

static void log_summary(struct daemon *d)
{
	struct capture_drop_count drops[CAPTURE_DROP__MAX] = {};
	uint64_t dropped = 0;

	if (d->ring && capture_ring_drops(d->ring, drops) == 0)
		for (int i = 0; i < CAPTURE_DROP__MAX; i++)
			dropped += drops[i].events;
	dropped += stats[STAT_SHIM_DROP_RING_FULL_EVENTS] + stats[STAT_SHIM_DROP_NO_SLOT_EVENTS];
	p_info("exit: %llu events, %llu exchanges (%llu incomplete), %llu non-LLM, "
	       "%llu dropped events, %llu stream gaps, %llu parse errors, "
	       "%llu records dropped",
	       (unsigned long long)stats[STAT_EVENTS], (unsigned long long)stats[STAT_EXCHANGES],
	       (unsigned long long)stats[STAT_EXCHANGES_INCOMPLETE],
	       (unsigned long long)stats[STAT_NON_LLM_EXCHANGES], (unsigned long long)dropped,
	       (unsigned long long)stats[STAT_STREAM_GAPS],
	       (unsigned long long)stats[STAT_HTTP_PARSE_ERRORS],
	       (unsigned long long)stats[STAT_RECORDS_DROPPED]);
}

static uint64_t hash_with_key(void *ctx, const void *data, size_t len)
{
	return cache_hash_once(ctx, data, len);
}

/* The keyed hashes (cmdline here, prompts and API keys in the cache
 * analytics) use one secret per install, kept beside the database. */
static void load_hash_key(struct daemon *d)
{
	char path[4096];
	const char *slash = d->opts.db_path ? strrchr(d->opts.db_path, '/') : NULL;
	int err = -ENOENT;

	if (slash && (size_t)(slash - d->opts.db_path) + 16 < sizeof(path)) {
		snprintf(path, sizeof(path), "%.*s/" LLMOBSD_SECRET_NAME,
			 (int)(slash - d->opts.db_path), d->opts.db_path);
		err = cache_hash_key_load(path, &d->hash_key);
		if (err)
			p_warn("cannot use the hash secret %s (%s): a key for this run only, "
			       "hashes will not match across restarts", path, strerror(-err));
	}
	if (err)
		err = cache_hash_key_random(&d->hash_key);
	d->hash_key_ok = err == 0;
}

static int start_attribution(struct daemon *d)
{
	struct procattr_opts o = {
		.host_root = d->opts.host_root ? d->opts.host_root : getenv("LLMOBS_HOST_ROOT"),
		.project = config_project,
		.project_ctx = &d->args.cfg,
	};

	if (!d->hash_key_ok)
		load_hash_key(d);
	if (d->hash_key_ok) {
		o.hash = hash_with_key;
		o.hash_ctx = &d->hash_key;
	}
	d->attr = procattr_new(&o);
	return d->attr ? 0 : -ENOMEM;
}

/* What the attacher loads the BPF side with. */
static void capture_opts(const struct daemon_opts *o, struct tls_capture_opts *t)
{
	static char finds[4096];
	const char *slash = o->db_path ? strrchr(o->db_path, '/') : NULL;

	/* The finders' cache, beside the database like the hash secret. */
	if (slash && (size_t)(slash - o->db_path) + sizeof(FIND_CACHE_NAME) + 1 < sizeof(finds)) {
		snprintf(finds, sizeof(finds), "%.*s/" FIND_CACHE_NAME, (int)(slash - o->db_path),
			 o->db_path);
		t->find_cache_path = finds;
	}
	t->ringbuf_bytes = o->ringbuf_bytes;
	t->self_pid = getpid();
	if (o->max_call_bytes) {
		size_t chunks = (o->max_call_bytes + CAPTURE_CHUNK_BYTES - 1) / CAPTURE_CHUNK_BYTES;

		t->max_chunks = chunks > CAPTURE_MAX_CHUNKS_LIMIT ? CAPTURE_MAX_CHUNKS_LIMIT
								  : (uint32_t)chunks;
	}
}

/* /metrics: what was recorded since start, the counters, the drops. */
static int render_metrics(void *ctx, FILE *out, bool openmetrics)
{
	static const char *const causes[CAPTURE_DROP__MAX] = {
		[CAPTURE_DROP_RINGBUF_FULL] = "bpf_ringbuf_full",
		[CAPTURE_DROP_READ_FAILED] = "bpf_read_failed",
		[CAPTURE_DROP_OVER_CAP] = "bpf_over_cap",
		[CAPTURE_DROP_NO_ENTRY] = "bpf_no_entry",
	};
	struct daemon *d = ctx;
	struct capture_drop_count drops[CAPTURE_DROP__MAX] = {};
	struct metrics_drop md[CAPTURE_DROP__MAX];
	size_t n = 0;

	if ((d->ring ? capture_ring_drops(d->ring, drops) : -1) == 0)
		for (int i = 0; i < CAPTURE_DROP__MAX; i++)
			md[n++] = (struct metrics_drop){ causes[i], drops[i].events, drops[i].bytes };
	otlp_sync_stats(d->otlp);
	return metrics_agg_render(d->metrics, out, openmetrics, md, n);
}

/* /readyz: capturing and recording. */
static bool metrics_ready(void *ctx, char *why, size_t size)
{
	struct daemon *d = ctx;

	if (d->opts.db_path && !d->store) {
		snprintf(why, size, "database %s not open", d->opts.db_path);
		return false;
	}
	if (!d->ring && !d->shim) {
		snprintf(why, size, "no capture running");
		return false;
	}
	return true;
}

/* Bound before the sandbox; served from the loop (metrics_http.h). */
static int start_metrics(struct daemon *d)
{
	struct metrics_http_opts o = {
		.listen = d->opts.listen ? d->opts.listen : METRICS_HTTP_DEFAULT_LISTEN,
		.render = render_metrics, .ready = metrics_ready, .ctx = d,
	};
	int err;

	d->metrics = metrics_agg_new(d->opts.max_series);
	if (!d->metrics)
		return -ENOMEM;
	if (!strcmp(o.listen, "off"))
		return 0;
	err = metrics_http_start(&o, &d->http);
	if (!err) {
		p_info("metrics and health on http://%s/metrics (/healthz, /readyz)", o.listen);
	} else if (!d->opts.listen) {
		/* The default address taken (another daemon, another exporter)
		 * must not stop capture: metrics are off, and it says so. */
		p_warn("metrics off: cannot serve on %s (%s); choose one with --listen ADDR",
		       o.listen, strerror(-err));
		err = 0;
	} else {
		p_err("cannot serve metrics on %s: %s", o.listen, strerror(-err));
	}
	return err;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: llmobsd [OPTIONS]\n"
		"Records every LLM API call made over TLS on this host (needs root), and\n"
		"those of processes run with LD_PRELOAD=libllmobs.so (any user).\n\n"
		"  --db PATH             SQLite database (default: $LLMOBS_DB, else\n"
		"                        /var/lib/llm-observer/llmobs.db as root)\n"
		"  --prices FILE         price table JSON (default: prices.json beside the\n"
		"                        database if `llmobs prices --update` installed one,\n"
		"                        else the embedded one)\n"
		"  --cache-rules FILE    prompt-cache rules JSON (default: the embedded one)\n"
		"  --cache-index-mb N    memory of the prompt-cache prefix index (default 64)\n"
		"  --no-cache-analytics  no prompt-cache analysis\n"
		"  --no-sensitive-scan   do not count secrets and personal data in prompts\n"
		"  --telemetry-insecure  let LLM_OBSERVER_ENDPOINT be plain http:// (tests);\n"
		"                        telemetry is off unless LLM_OBSERVER_ENABLED=true\n"
		"                        (docs/telemetry.md)\n"
		"  --json                print one JSON record per exchange on stdout\n"
		"  --max-body-bytes N    bytes kept per HTTP body (default 4194304)\n"
		"  --max-call-bytes N    bytes captured per TLS call (default 1048576)\n"
		"  --ringbuf-mb N        BPF ring buffer size, power of two (default 16)\n"
		"  --max-conns N         connections tracked at once (default 4096)\n"
		"  --no-bpf              no BPF, no privilege: only LD_PRELOAD shims\n"
		"  --plain-ports LIST    plain HTTP to these loopback ports is captured too\n"
		"                        (local model servers; default " PLAIN_CAPTURE_DEFAULT_PORTS ",\n"
		"                        'none' for none)\n"
		"  --socket PATH         where shims connect (default: $LLMOBS_SOCKET, else\n"
		"                        /run/llmobs/llmobs.sock as root, else\n"
		"                        $XDG_RUNTIME_DIR/llmobs.sock or /tmp/llmobs-UID/)\n"
		"  --record FILE         append every captured event to FILE (raw plaintext,\n"
		"                        credentials included: for debugging and benchmarks)\n"
		"  --replay FILE         no capture: feed FILE's events through the pipeline\n"
		"                        at full speed, print the rate (records stored only\n"
		"                        with --db)\n"
		"  --replay-loops N      replay FILE N times (default 1)\n"
		"  --config FILE         settings and project rules (YAML; default:\n"
		"                        $LLMOBS_CONFIG, else " CONFIG_DEFAULT_PATH "\n"
		"                        if it exists); flags override it\n"
		"  --check-config        validate the config file and flags, then exit\n"
		"  --listen ADDR         /metrics, /healthz, /readyz (default 127.0.0.1:9464,\n"
		"                        'off' for none)\n"
		"  --max-series N        label sets per metric before 'other' (default 500)\n"
		"  --otlp-endpoint URL   export a span per exchange, OTLP/HTTP with JSON, to\n"
		"                        this collector (/v1/traces is appended); default:\n"
		"                        $OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT (README)\n"
		"  --host-root DIR       the node's / as mounted here (DaemonSet: /host),\n"
		"                        for kubelet and container runtime files\n"
		"  -v, --verbose         debug logging\n"
		"  -q, --quiet           errors only\n"
		"  -h, --help\n");
}

static int parse_size(const char *arg, size_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || v == 0) {
		p_err("invalid number '%s'", arg);
		return -EINVAL;
	}
	*out = (size_t)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct daemon_opts *o)
{
	enum { OPT_DB = 256, OPT_PRICES, OPT_JSON, OPT_BODY, OPT_CALL, OPT_RB, OPT_CONNS,
	       OPT_NO_BPF, OPT_SOCKET, OPT_PLAIN, OPT_RECORD, OPT_REPLAY, OPT_LOOPS };
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, OPT_DB },
		{ "prices", required_argument, NULL, OPT_PRICES },
		{ "cache-rules", required_argument, NULL, 400 },
		{ "cache-index-mb", required_argument, NULL, 401 },
		{ "no-cache-analytics", no_argument, NULL, 402 },
		{ "no-sensitive-scan", no_argument, NULL, 403 },
		{ "telemetry-insecure", no_argument, NULL, 410 },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "max-body-bytes", required_argument, NULL, OPT_BODY },
		{ "max-call-bytes", required_argument, NULL, OPT_CALL },
		{ "ringbuf-mb", required_argument, NULL, OPT_RB },
		{ "max-conns", required_argument, NULL, OPT_CONNS },
		{ "no-bpf", no_argument, NULL, OPT_NO_BPF },
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "plain-ports", required_argument, NULL, OPT_PLAIN },
		{ "record", required_argument, NULL, OPT_RECORD },
		{ "replay", required_argument, NULL, OPT_REPLAY },
		{ "replay-loops", required_argument, NULL, OPT_LOOPS },
		{ "listen", required_argument, NULL, 500 },
		{ "host-root", required_argument, NULL, 501 },
		{ "max-series", required_argument, NULL, 502 },
		{ "otlp-endpoint", required_argument, NULL, 503 },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	size_t mb;
	int c;

	while ((c = getopt_long(argc, argv, "vqh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_DB: o->db_path = optarg; break;
		case OPT_PRICES: o->prices_path = optarg; break;
		case 400: o->cache_rules_path = optarg; break;
		case 401: o->cache_index_bytes = (size_t)strtoul(optarg, NULL, 10) << 20; break;
		case 402: o->no_cache = true; break;
		case 403: o->no_detect = true; break;
		case 410: o->telemetry_insecure = true; break;
		case OPT_JSON: o->json = true; break;
		case OPT_BODY:
			if (parse_size(optarg, &o->max_body_bytes))
				return -EINVAL;
			break;
		case OPT_CALL:
			if (parse_size(optarg, &o->max_call_bytes))
				return -EINVAL;
			break;
		case OPT_RB:
			if (parse_size(optarg, &mb) || (mb & (mb - 1))) {
				p_err("--ringbuf-mb must be a power of two");
				return -EINVAL;
			}
			o->ringbuf_bytes = mb << 20;
			break;
		case OPT_CONNS:
			if (parse_size(optarg, &o->max_conns))
				return -EINVAL;
			break;
		case OPT_NO_BPF: o->no_bpf = true; break;
		case OPT_SOCKET: o->socket_path = optarg; break;
		case OPT_PLAIN: {
			uint16_t ports[PLAIN_CAPTURE_MAX_PORTS];

			if (plain_capture_parse_ports(optarg, ports, PLAIN_CAPTURE_MAX_PORTS) < 0) {
				p_err("invalid --plain-ports '%s' (ports 1-65535, comma-separated, "
				      "or 'none')", optarg);
				return -EINVAL;
			}
			o->plain_ports = optarg;
			break;
		}
		case OPT_RECORD: o->record_path = optarg; break;
		case OPT_REPLAY: o->replay_path = optarg; break;
		case OPT_LOOPS:
			if (parse_size(optarg, &o->replay_loops))
				return -EINVAL;
			break;
		case 500: o->listen = optarg; break;
		case 501: o->host_root = optarg; break;
		case 502:
			if (parse_size(optarg, &o->max_series))
				return -EINVAL;
			break;
		case 503: o->otlp_endpoint = optarg; break;
		case 'v': log_verbosity = LOG_DEBUG; break;
		case 'q': log_verbosity = LOG_ERROR; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (optind < argc) {
		p_err("unexpected argument '%s'", argv[optind]);
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct daemon d = {};
	struct conn_table_opts copts = {};
	struct shim_server_opts sopts = {};
	struct sigaction sa = { .sa_handler = on_signal };
	char default_db[512];
	int64_t last_flush = 0, last_counters = 0, last_expire = 0, last_open = 0, now;
	bool shim_ran;
	int err;

	/* glibc gives a freed heap top back to the kernel past 128 KiB, so each
	 * large body (a 100 KiB prompt) faulted its pages in again, and the
	 * trim's TLB flush is dear on a VM: 90% of the replay's time with
	 * 100 KiB prompts. Keeping up to 8 MiB free, and bodies up to 1 MiB on
	 * the heap, made it 9x faster (tools/bench, docs/performance.md). */
	mallopt(M_TRIM_THRESHOLD, 8 << 20);
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	err = daemon_args_build(argc, argv, &d.args);
	if (!err)
		err = parse_args(d.args.argc, d.args.argv, &d.opts);
	if (!err) {	/* a bad OTLP setting stops the start, as a bad flag does */
		char why[512];

		err = otlp_config_load(&d.otlp_cfg, d.opts.otlp_endpoint, config_otlp_get,
				       &d.args.cfg, why, sizeof(why));
		if (err)
			p_err("otlp: %s", why);
	}
	if (err || d.args.check_config) {
		if (!err)
			printf("%s: ok (%zu project rules, %zu label keys%s%s)\n",
			       d.args.config_path ? d.args.config_path : "no config file",
			       d.args.cfg.nrules, d.args.cfg.nlabel_keys,
			       d.otlp_cfg.url[0] ? ", spans to " : "", d.otlp_cfg.url_label);
		otlp_config_free(&d.otlp_cfg);
		daemon_args_free(&d.args);
		return err ? 2 : 0;
	}
	if (!d.opts.db_path && !d.opts.replay_path)
		d.opts.db_path = store_default_path(default_db, sizeof(default_db));
	/* BPF capture: this process becomes the privileged attacher and never
	 * comes back; what follows runs in the worker it forks (and in each
	 * restarted one), as root until privsep_worker_sandbox. */
	if (!d.opts.no_bpf && !d.opts.replay_path) {
		struct privsep_opts po = { .plain_ports = d.opts.plain_ports };

		/* Who a process is takes reading other users' /proc/PID/environ,
		 * exe and root: the attacher resolves, the worker asks. */
		if (start_attribution(&d))
			return 1;
		po.attr = d.attr;
		capture_opts(&d.opts, &po.tls);
		if (privsep_start(&po, &d.worker))
			return 1;
		procattr_set_remote(d.attr, privsep_worker_procattr, d.worker);
	}

	/* --prices, else the table `llmobs prices --update` installed beside
	 * the database, else the embedded one. */
	err = price_table_load_in_force(d.opts.prices_path, d.opts.db_path, &d.prices);
	if (err) {
		p_err("cannot load the price table %s: %s",
		      d.opts.prices_path ? d.opts.prices_path : "(embedded)", strerror(-err));
		goto cleanup;
	}
	p_info("prices: %s, %zu models", price_table_origin(d.prices),
	       price_table_size(d.prices));
	if (d.opts.db_path)
		open_store(&d);
	if (!d.opts.no_cache && start_cache(&d))
		goto cleanup;
	start_budgets(&d);

	copts.max_body_bytes = d.opts.max_body_bytes;
	copts.max_conns = d.opts.max_conns;
	copts.realtime_offset_ns = now_ns(CLOCK_REALTIME) - now_ns(CLOCK_MONOTONIC);
	copts.on_ignore = on_ignore;
	copts.ignore_ctx = &d;
	d.conns = conn_table_new(&copts, on_exchange, &d);
	if (!d.conns) {
		err = -ENOMEM;
		goto cleanup;
	}
	/* Spans are built in memory; the thread starts once sandboxed (or
	 * before a replay), under a filter that lets it connect out. */
	if ((d.otlp = otlp_open_configured(&d.otlp_cfg)))
		sandbox_seccomp_allow_outbound();
	if (d.opts.replay_path) {
		budget_alerts_run(d.budgets);
		if (d.otlp)
			otlp_run(d.otlp);
		err = run_replay(&d);
		goto cleanup;
	}
	if (!d.attr && (err = start_attribution(&d)))
		goto cleanup;
	if (d.opts.record_path) {
		err = capture_file_create(d.opts.record_path, &d.recorder);
		if (err) {
			p_err("cannot record to %s: %s", d.opts.record_path,
			      err == -EPROTO ? "not a capture file of this version"
					     : strerror(-err));
			goto cleanup;
		}
		p_warn("recording every captured event to %s: raw plaintext, credentials "
		       "included", d.opts.record_path);
	}

	if ((err = start_metrics(&d)))
		goto cleanup;
	if (d.metrics && d.budgets)
		metrics_agg_set_extra(d.metrics, budget_alerts_render, d.budgets);
	/* Telemetry's outbox opens now, beside the database; its thread starts
	 * once sandboxed, under a filter that then lets it connect out. */
	if (d.opts.db_path &&
	    (d.telemetry = telemetry_open_configured(d.opts.telemetry_insecure, d.opts.db_path,
						     config_telemetry_get, &d.args.cfg)))
		sandbox_seccomp_allow_outbound();
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* The system daemon takes every user's shim (each process is told
	 * apart by SO_PEERCRED); a user's daemon only its own user's. */
	sopts.path = d.opts.socket_path;
	sopts.any_user = geteuid() == 0;
	err = shim_server_open(&sopts, on_shim_event, &d, &d.shim);
	if (err && d.opts.no_bpf) {
		p_err("cannot listen for LD_PRELOAD shims: %s", strerror(-err));
		goto cleanup;
	}
	if (err)
		p_warn("not listening for LD_PRELOAD shims (%s): BPF capture only",
		       strerror(-err));
	if (d.worker) {
		d.tls13 = tls13_conns_new();
		if (!d.tls13) {
			err = -ENOMEM;
			goto cleanup;
		}
		err = privsep_worker_capture(d.worker, on_event, &d, &d.ring);
		if (err) {
			p_err("cannot read the attacher's ring buffer: %s", strerror(-err));
			goto cleanup;
		}
	}
	/* Files and sockets open: from here on bytes off the network are
	 * parsed, in the sandbox (sandbox.h, README "Privilege separation"). */
	err = d.worker ? privsep_worker_sandbox(d.worker) : privsep_sandbox_self();
	if (err)
		goto cleanup;
	budget_alerts_run(d.budgets);
	if (d.telemetry)
		telemetry_run(d.telemetry);
	if (d.otlp)
		otlp_run(d.otlp);
	if (d.ring)
		p_info("ready: %d TLS libraries attached, recording to %s",
		       privsep_worker_attached(d.worker), d.opts.db_path);
	else
		p_info("ready: no BPF, recording to %s", d.opts.db_path);
	if (d.shim)
		p_info("LD_PRELOAD shims connect to %s", shim_server_path(d.shim));

	while (!exiting) {
		if (d.ring) {
			/* Shim rings are drained between BPF polls: short
			 * polls while shims are connected. */
			err = capture_ring_poll(d.ring, d.shim && shim_server_clients(d.shim) ?
							SHIM_DRAIN_MS : 100);
			if (err >= 0 && d.shim)
				err = shim_server_poll(d.shim, 0);
		} else {
			err = shim_server_poll(d.shim, 100);
		}
		/* SIGTERM and SIGINT set exiting; a SIGSTOP and SIGCONT
		 * (a debugger, a job control stop) make epoll_wait fail with
		 * EINTR too (signal(7)), and took the daemon down: make bench's
		 * loss part stops it to fill the ring buffer. */
		if (err == -EINTR)
			continue;
		if (err < 0) {
			p_err("polling for events: %s", strerror(-err));
			break;
		}
		metrics_http_poll(d.http);	/* scrapes wait at most one poll */
		now = now_ns(CLOCK_MONOTONIC);
		if (now - last_flush >= FLUSH_INTERVAL_NS) {
			if (d.store)
				store_flush(d.store);	/* counts its failures */
			if (d.recorder && (err = capture_file_flush(d.recorder)))
				stop_recording(&d, err);
			last_flush = now;
		}
		if (!d.store && d.opts.db_path && now - last_open >= STORE_RETRY_NS) {
			open_store(&d);
			last_open = now;
		}
		if (now - last_counters >= COUNTERS_INTERVAL_NS) {
			persist_counters(&d);
			last_counters = now;
		}
		if (now - last_expire >= EXPIRE_INTERVAL_NS) {
			conn_table_expire(d.conns, now);
			last_expire = now;
		}
	}
	err = 0;

cleanup:
	/* What the BPF ring buffer still holds goes in first (data events do
	 * not wake the poll), while live shims still claim their processes;
	 * then what the shims' rings hold; then in-flight exchanges are
	 * recorded as incomplete rather than lost. */
	if (d.ring)
		capture_ring_drain(d.ring);
	shim_ran = d.shim != NULL;
	shim_server_close(d.shim);
	conn_table_free(d.conns);
	otlp_stop(d.otlp);	/* the last spans (in-flight exchanges' too), counted */
	d.otlp = NULL;
	otlp_config_free(&d.otlp_cfg);
	tls13_conns_free(d.tls13);
	if (d.store) {
		persist_counters(&d);
		store_flush(d.store);
	}
	if (d.ring || shim_ran)
		log_summary(&d);
	if (d.recorder && capture_file_close(d.recorder))
		p_err("recording to %s: events lost at close", d.opts.record_path);
	capture_ring_close(d.ring);
	store_close(d.store);
	telemetry_stop(d.telemetry);	/* what was not sent waits in the outbox */
	budget_alerts_free(d.budgets);
	cache_analyzer_free(d.cache);
	price_table_free(d.prices);
	procattr_free(d.attr);
	daemon_args_free(&d.args);
	metrics_http_stop(d.http);
	metrics_agg_free(d.metrics);
	if (d.hash_key_ok)
		cache_hash_key_free(&d.hash_key);
	return err ? 1 : 0;
}
