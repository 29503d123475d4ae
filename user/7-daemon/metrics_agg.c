/* Records -> Prometheus families (metrics_agg.h). A series is keyed by its
 * rendered label string (escaped once, when the record is observed), found
 * through a small open-addressing table; scrapes walk the series in the
 * order they appeared. Everything is in memory and counts from the
 * daemon's start, as Prometheus counters do; `llmobs export` holds the
 * history. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "metrics_agg.h"
#include "stats.h"

#define LABELS_MAX	1024
#define VALS_MAX	(9 + RS__MAX)

enum { U_EXCH, U_IN, U_OUT, U_CACHED, U_CW, U_REASON, U_COST, U_MISS_TOK, U_MISS_USD,
       U_SENSITIVE };	/* then one per enum record_sensitive_kind */

struct series {
	uint64_t hash;
	char *labels;		/* name="value",... escaped */
	double v[VALS_MAX];
};

struct family {
	const char *const *names;	/* label names */
	size_t nlabels;
	size_t cap, count, mask;
	struct series **table;		/* mask + 1 slots */
	struct series **list;		/* insertion order */
	struct series other;		/* past cap: every label "other" */
	bool other_used;
	uint64_t overflow;		/* records summed into other */
};

struct metrics_agg {
	struct family usage, errors, ratelimit;
	metrics_extra_fn extra;		/* families of other modules (budgets) */
	void *extra_ctx;
};

void metrics_agg_set_extra(struct metrics_agg *m, metrics_extra_fn fn, void *ctx)
{
	m->extra = fn;
	m->extra_ctx = ctx;
}

static const char *const usage_labels[] = { "provider", "model", "app", "namespace", "project" };
static const char *const error_labels[] = { "provider", "model", "host", "status" };
static const char *const ratelimit_labels[] = { "provider", "host", "limit" };

static int family_init(struct family *f, const char *const *names, size_t n, size_t cap)
{
	size_t slots = 4;
	char buf[LABELS_MAX];
	size_t len = 0;

	while (slots < 2 * cap)
		slots <<= 1;
	f->names = names;
	f->nlabels = n;
	f->cap = cap;
	f->mask = slots - 1;
	f->table = calloc(slots, sizeof(*f->table));
	f->list = calloc(cap ? cap : 1, sizeof(*f->list));
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s=\"other\"",
					i ? "," : "", names[i]);
	f->other.labels = strdup(buf);
	return f->table && f->list && f->other.labels ? 0 : -ENOMEM;
}

static void family_free(struct family *f)
{
	for (size_t i = 0; i < f->count; i++) {
		free(f->list[i]->labels);
		free(f->list[i]);
	}
	free(f->list);
	free(f->table);
	free(f->other.labels);
}

struct metrics_agg *metrics_agg_new(size_t max_series)
{
	struct metrics_agg *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	if (!max_series)
		max_series = METRICS_DEFAULT_MAX_SERIES;
	if (family_init(&m->usage, usage_labels, 5, max_series) ||
	    family_init(&m->errors, error_labels, 4, max_series) ||
	    family_init(&m->ratelimit, ratelimit_labels, 3, max_series)) {
		metrics_agg_free(m);
		return NULL;
	}
	return m;
}

void metrics_agg_free(struct metrics_agg *m)
{
	if (!m)
		return;
	family_free(&m->usage);
	family_free(&m->errors);
	family_free(&m->ratelimit);
	free(m);
}

/* Label value escaping of the text format: \\, \" and \n. Bytes that are
 * not UTF-8 text stay as they are except controls, which become '?'. */
static size_t put_label(char *buf, size_t len, const char *name, const char *v, bool first)
{
	if (len + 4 + strlen(name) >= LABELS_MAX)
		return len;
	len += (size_t)snprintf(buf + len, LABELS_MAX - len, "%s%s=\"", first ? "" : ",", name);
	for (; *v && len + 3 < LABELS_MAX - 1; v++) {
		unsigned char c = (unsigned char)*v;

		if (c == '\\' || c == '"') {
			buf[len++] = '\\';
			buf[len++] = (char)c;
		} else if (c == '\n') {
			buf[len++] = '\\';
			buf[len++] = 'n';
		} else {
			buf[len++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
		}
	}
	buf[len++] = '"';
	buf[len] = '\0';
	return len;
}

static uint64_t fnv(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
	return h;
}

/* The series for values[] (one per label name), created if there is room. */
static struct series *family_get(struct family *f, const char *const *values)
{
	char buf[LABELS_MAX];
	size_t len = 0, i;
	uint64_t h;
	struct series *s;

	buf[0] = '\0';
	for (i = 0; i < f->nlabels; i++)
		len = put_label(buf, len, f->names[i], values[i], i == 0);
	h = fnv(buf);
	for (i = h & f->mask; f->table[i]; i = (i + 1) & f->mask)
		if (f->table[i]->hash == h && !strcmp(f->table[i]->labels, buf))
			return f->table[i];
	if (f->count >= f->cap || !(s = calloc(1, sizeof(*s))) || !(s->labels = strdup(buf))) {
		if (f->count < f->cap)	/* out of memory: counted like a full table */
			free(s);
		f->overflow++;
		f->other_used = true;
		return &f->other;
	}
	s->hash = h;
	f->table[i] = s;
	f->list[f->count++] = s;
	return s;
}

/* The rate-limit headers kept for error responses (record.ratelimit). */
static void observe_ratelimit(struct metrics_agg *m, const struct exchange_record *r)
{
	static const struct { const char *header, *limit; } known[] = {
		{ "x-ratelimit-remaining-requests", "requests" },
		{ "x-ratelimit-remaining-tokens", "tokens" },
		{ "anthropic-ratelimit-requests-remaining", "requests" },
		{ "anthropic-ratelimit-tokens-remaining", "tokens" },
		{ "anthropic-ratelimit-input-tokens-remaining", "input_tokens" },
		{ "anthropic-ratelimit-output-tokens-remaining", "output_tokens" },
	};
	cJSON *j;

	if (!r->ratelimit[0] || !(j = cJSON_Parse(r->ratelimit)))
		return;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, known[i].header);
		char *end;
		double d;

		if (!cJSON_IsString(v))
			continue;
		d = strtod(v->valuestring, &end);
		if (end != v->valuestring && *end == '\0' && isfinite(d)) {
			const char *labels[] = { r->provider, r->host, known[i].limit };

			family_get(&m->ratelimit, labels)->v[0] = d;
		}
	}
	cJSON_Delete(j);
}

void metrics_agg_observe(struct metrics_agg *m, const struct exchange_record *r)
{
	const char *ul[] = { r->provider, r->model, r->app, r->k8s_namespace, r->project };
	struct series *s = family_get(&m->usage, ul);

	s->v[U_EXCH] += 1;
	s->v[U_IN] += (double)r->usage.input_tokens;
	s->v[U_OUT] += (double)r->usage.output_tokens;
	s->v[U_CACHED] += (double)r->usage.cached_input_tokens;
	s->v[U_CW] += (double)r->usage.cache_write_tokens;
	s->v[U_REASON] += (double)r->usage.reasoning_tokens;
	if (isfinite(r->cost_usd))
		s->v[U_COST] += r->cost_usd;
	if (r->cache_analyzed) {
		s->v[U_MISS_TOK] += (double)r->missed_cache_tokens;
		if (isfinite(r->missed_cache_usd))
			s->v[U_MISS_USD] += r->missed_cache_usd;
	}
	for (int k = 0; k < RS__MAX; k++)
		s->v[U_SENSITIVE + k] += r->sensitive[k];
	if (r->status >= 400) {
		char status[12];
		const char *el[] = { r->provider, r->model, r->host, status };

		snprintf(status, sizeof(status), "%d", r->status);
		family_get(&m->errors, el)->v[0] += 1;
	}
	observe_ratelimit(m, r);
}

static void head(FILE *out, bool om, const char *name, const char *type, const char *help)
{
	/* OpenMetrics names a counter family without its _total suffix. */
	size_t n = strlen(name);

	if (om && !strcmp(type, "counter") && n > 6 && !strcmp(name + n - 6, "_total"))
		n -= 6;
	fprintf(out, "# HELP %.*s %s\n# TYPE %.*s %s\n", (int)n, name, help, (int)n, name, type);
}

static void sample(FILE *out, const char *name, const char *labels, const char *extra, double v)
{
	fprintf(out, "%s{%s%s%s} %.17g\n", name, labels, extra && labels[0] ? "," : "",
		extra ? extra : "", v);
}

static void family_samples(FILE *out, const struct family *f, const char *name,
			   const char *extra, int idx)
{
	for (size_t i = 0; i < f->count; i++)
		sample(out, name, f->list[i]->labels, extra, f->list[i]->v[idx]);
	if (f->other_used)
		sample(out, name, f->other.labels, extra, f->other.v[idx]);
}

static void render_usage(struct metrics_agg *m, FILE *out, bool om)
{
	static const struct { int idx; const char *type; } tokens[] = {
		{ U_IN, "input" }, { U_OUT, "output" }, { U_CACHED, "cached_input" },
		{ U_CW, "cache_write" }, { U_REASON, "reasoning" },
	};

	head(out, om, "llmobs_exchanges_total", "counter",
	     "LLM API exchanges recorded, by provider, model, app, namespace and project.");
	family_samples(out, &m->usage, "llmobs_exchanges_total", NULL, U_EXCH);
	head(out, om, "llmobs_tokens_total", "counter",
	     "Tokens by type (input includes cached_input and cache_write; output includes reasoning).");
	for (size_t t = 0; t < sizeof(tokens) / sizeof(tokens[0]); t++) {
		char extra[32];

		snprintf(extra, sizeof(extra), "type=\"%s\"", tokens[t].type);
		family_samples(out, &m->usage, "llmobs_tokens_total", extra, tokens[t].idx);
	}
	head(out, om, "llmobs_cost_usd_total", "counter", "Cost in US dollars, by our price table.");
	family_samples(out, &m->usage, "llmobs_cost_usd_total", NULL, U_COST);
	head(out, om, "llmobs_cache_missed_tokens_total", "counter",
	     "Prompt tokens that a provider cache could have served but did not.");
	family_samples(out, &m->usage, "llmobs_cache_missed_tokens_total", NULL, U_MISS_TOK);
	head(out, om, "llmobs_cache_missed_usd_total", "counter",
	     "What the missed cache hits cost, net of cache writes.");
	family_samples(out, &m->usage, "llmobs_cache_missed_usd_total", NULL, U_MISS_USD);
	/* kinds and counts only; a kind never seen in a series prints nothing */
	head(out, om, "llmobs_sensitive_total", "counter",
	     "Secrets and personal data seen in requests (kinds and counts, never the text).");
	for (int k = 0; k < RS__MAX; k++) {
		char extra[32];

		snprintf(extra, sizeof(extra), "kind=\"%s\"", record_sensitive_name(k));
		for (size_t i = 0; i < m->usage.count; i++)
			if (m->usage.list[i]->v[U_SENSITIVE + k] > 0)
				sample(out, "llmobs_sensitive_total", m->usage.list[i]->labels, extra,
				       m->usage.list[i]->v[U_SENSITIVE + k]);
		if (m->usage.other_used && m->usage.other.v[U_SENSITIVE + k] > 0)
			sample(out, "llmobs_sensitive_total", m->usage.other.labels, extra,
			       m->usage.other.v[U_SENSITIVE + k]);
	}
	head(out, om, "llmobs_http_errors_total", "counter",
	     "Responses with status >= 400 (429: rate limited), by provider, model, host, status.");
	family_samples(out, &m->errors, "llmobs_http_errors_total", NULL, 0);
	head(out, om, "llmobs_ratelimit_remaining", "gauge",
	     "The last x-ratelimit-remaining-* / anthropic-ratelimit-*-remaining value seen "
	     "(kept from error responses only).");
	family_samples(out, &m->ratelimit, "llmobs_ratelimit_remaining", NULL, 0);
	head(out, om, "llmobs_metrics_series_overflow_total", "counter",
	     "Records summed into the 'other' series because a family had max_series label sets.");
	fprintf(out, "llmobs_metrics_series_overflow_total{family=\"usage\"} %llu\n"
		     "llmobs_metrics_series_overflow_total{family=\"errors\"} %llu\n"
		     "llmobs_metrics_series_overflow_total{family=\"ratelimit\"} %llu\n",
		(unsigned long long)m->usage.overflow, (unsigned long long)m->errors.overflow,
		(unsigned long long)m->ratelimit.overflow);
}

static void render_daemon(FILE *out, bool om, const struct metrics_drop *drops, size_t ndrops)
{
	static const struct { const char *cause; int events, bytes; } shim[] = {
		{ "shim_ring_full", STAT_SHIM_DROP_RING_FULL_EVENTS, STAT_SHIM_DROP_RING_FULL_BYTES },
		{ "shim_no_daemon", STAT_SHIM_DROP_NO_DAEMON_EVENTS, STAT_SHIM_DROP_NO_DAEMON_BYTES },
		{ "shim_no_slot", STAT_SHIM_DROP_NO_SLOT_EVENTS, STAT_SHIM_DROP_NO_SLOT_BYTES },
	};
	struct rusage ru;
	long rss_pages = 0;
	FILE *f;

	head(out, om, "llmobs_events_total", "counter", "Capture events read (BPF and shims).");
	fprintf(out, "llmobs_events_total %llu\n", (unsigned long long)stats[STAT_EVENTS]);
	head(out, om, "llmobs_capture_drops_total", "counter", "Capture events lost, by cause.");
	for (size_t i = 0; i < ndrops; i++)
		fprintf(out, "llmobs_capture_drops_total{cause=\"%s\"} %llu\n", drops[i].cause,
			(unsigned long long)drops[i].events);
	for (size_t i = 0; i < sizeof(shim) / sizeof(shim[0]); i++)
		fprintf(out, "llmobs_capture_drops_total{cause=\"%s\"} %llu\n", shim[i].cause,
			(unsigned long long)stats[shim[i].events]);
	head(out, om, "llmobs_capture_dropped_bytes_total", "counter", "Bytes of the events lost.");
	for (size_t i = 0; i < ndrops; i++)
		fprintf(out, "llmobs_capture_dropped_bytes_total{cause=\"%s\"} %llu\n",
			drops[i].cause, (unsigned long long)drops[i].bytes);
	for (size_t i = 0; i < sizeof(shim) / sizeof(shim[0]); i++)
		fprintf(out, "llmobs_capture_dropped_bytes_total{cause=\"%s\"} %llu\n", shim[i].cause,
			(unsigned long long)stats[shim[i].bytes]);
	head(out, om, "llmobs_daemon_stat", "gauge",
	     "Every counter of the daemon (llmobs report's), by name, since it started.");
	for (int i = 0; i < STAT__MAX; i++)
		fprintf(out, "llmobs_daemon_stat{name=\"%s\"} %llu\n", stats_names[i],
			(unsigned long long)stats[i]);
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		head(out, om, "process_cpu_seconds_total", "counter", "CPU time of the daemon.");
		fprintf(out, "process_cpu_seconds_total %.6f\n",
			(double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
			(double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	}
	if ((f = fopen("/proc/self/statm", "re"))) {
		if (fscanf(f, "%*d %ld", &rss_pages) == 1) {
			head(out, om, "process_resident_memory_bytes", "gauge", "Resident memory.");
			fprintf(out, "process_resident_memory_bytes %lld\n",
				(long long)rss_pages * sysconf(_SC_PAGESIZE));
		}
		fclose(f);
	}
}

int metrics_agg_render(struct metrics_agg *m, FILE *out, bool openmetrics,
		       const struct metrics_drop *drops, size_t ndrops)
{
	render_usage(m, out, openmetrics);
	render_daemon(out, openmetrics, drops, ndrops);
	if (m->extra)
		m->extra(out, openmetrics, m->extra_ctx);
	if (openmetrics)
		fputs("# EOF\n", out);
	return ferror(out) ? -EIO : 0;
}
