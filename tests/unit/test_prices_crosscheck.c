/* Our cost against the source's own calculator: every corpus exchange (at
 * two dates, so price history counts) and every model id of the source's
 * data (at four times and two usages, so tiers, dated and time-of-day
 * prices count) is priced by cost.c and by @pydantic/genai-prices' calcPrice
 * (the pinned package, run with node: tools/genai-prices/reference.mjs),
 * and the two must agree to 1e-9 USD. A difference must be one we made on
 * purpose: an entry of data/prices-overrides.json, Anthropic's opt-in
 * long-context tier, or a name form the source does not know ("models/",
 * the last path segment of a vendor's name). No skip: prices are built from
 * that package, so it is there whenever the tests are. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include "cost.h"
#include "corpus_util.h"
#include "provider.h"

#define AGREE_USD	1e-9

/* One call priced by both sides. */
struct call {
	char what[200];		/* for messages */
	char model[128];
	char url[800];		/* the source finds the provider by URL... */
	char provider[40];	/* ...or is told it */
	char ts[32];
	struct llm_usage u;
	bool priced;
	double ours_usd;
	char entry[96];		/* our entry, "" if unpriced */
	bool opt_in_tier;	/* our opt-in tier left out for this call */
};

struct calls {
	struct call *v;
	size_t n, cap;
	const struct price_table *t;
	cJSON *overrides;
};

static struct call *add_call(struct calls *c)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 1024;
		c->v = realloc(c->v, c->cap * sizeof(*c->v));
		assert_non_null(c->v);
	}
	memset(&c->v[c->n], 0, sizeof(c->v[0]));
	return &c->v[c->n++];
}

static const char *const corpus_times[] = { "2025-03-01T12:00:00Z", "2026-12-07T12:00:00Z" };
static const int64_t corpus_ts_s[] = { 1740830400, 1796644800 };

static void corpus_line(const cJSON *line, void *ctx)
{
	struct calls *c = ctx;
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(line, "expected");
	size_t k;

	for (k = 0; k < 2; k++) {
		struct exchange_record r = { 0 };
		const struct price *p;
		struct call *x;

		snprintf(r.model, sizeof(r.model), "%s", corpus_str(e, "model"));
		snprintf(r.host, sizeof(r.host), "%s", corpus_str(line, "host"));
		snprintf(r.path, sizeof(r.path), "%s", corpus_str(line, "path"));
		snprintf(r.api, sizeof(r.api), "%s", corpus_str(line, "api"));
		snprintf(r.provider, sizeof(r.provider), "%s", corpus_str(line, "provider"));
		if (!r.model[0] || !llm_api_name_billed(r.api))
			return;		/* free calls: the source has no notion of them */
#define N(f) do {							\
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(e, #f);	\
	r.usage.f = cJSON_IsNumber(it) ? (int64_t)it->valuedouble : 0;	\
} while (0)
		N(input_tokens); N(cached_input_tokens); N(cache_write_tokens);
		N(cache_write_1h_tokens); N(output_tokens); N(reasoning_tokens);
#undef N
		r.ts_start_ns = corpus_ts_s[k] * 1000000000;
		p = cost_price_record(c->t, &r);
		x = add_call(c);
		snprintf(x->what, sizeof(x->what), "corpus %s at %s", corpus_str(line, "id"),
			 corpus_times[k]);
		snprintf(x->model, sizeof(x->model), "%s", r.model);
		snprintf(x->url, sizeof(x->url), "https://%s%s", r.host, r.path);
		snprintf(x->ts, sizeof(x->ts), "%s", corpus_times[k]);
		x->u = r.usage;
		x->priced = r.priced;
		x->ours_usd = r.cost_usd;
		if (p) {
			const struct price *at = price_at(p, corpus_ts_s[k]);

			snprintf(x->entry, sizeof(x->entry), "%s", p->model);
			x->opt_in_tier = at->long_context_opt_in && at->long_context_above &&
					 r.usage.input_tokens > at->long_context_above;
		}
	}
}

/* Every model id of the source, priced at its own provider. */
/* Before any history; in and out of the daily off-peak windows; today. */
static const char *const sweep_times[] = {
	"2025-01-01T02:00:00Z", "2026-09-01T03:00:00Z", "2026-09-01T20:00:00Z",
	"2026-12-07T12:00:00Z" };
static const int64_t sweep_ts_s[] = { 1735696800, 1788231600, 1788292800, 1796644800 };
#define N_SWEEP_TIMES (sizeof(sweep_ts_s) / sizeof(sweep_ts_s[0]))
static const struct llm_usage sweep_usage[] = {
	{ .input_tokens = 1200, .cached_input_tokens = 300, .cache_write_tokens = 100,
	  .output_tokens = 80, .reasoning_tokens = 20 },
	{ .input_tokens = 300000, .cached_input_tokens = 40000, .cache_write_tokens = 5000,
	  .cache_write_1h_tokens = 1000, .output_tokens = 4000, .reasoning_tokens = 1500 },
};

static void sweep(struct calls *c, const char *data_path)
{
	FILE *f = fopen(data_path, "r");
	cJSON *root, *pv, *m;
	char *buf;
	long len;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	rewind(f);
	buf = malloc(len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, len, f), (size_t)len);
	fclose(f);
	root = cJSON_ParseWithLength(buf, len);
	free(buf);
	assert_non_null(root);
	cJSON_ArrayForEach(pv, root) {
		const char *prov = cJSON_GetObjectItem(pv, "id")->valuestring;

		cJSON_ArrayForEach(m, cJSON_GetObjectItem(pv, "models")) {
			const char *id = cJSON_GetObjectItem(m, "id")->valuestring;
			const struct price *p = price_lookup_vendor(c->t, id, prov);
			size_t k, j;

			for (k = 0; k < N_SWEEP_TIMES; k++)
				for (j = 0; j < 2; j++) {
					struct call *x = add_call(c);
					const struct price *at = price_at(p, sweep_ts_s[k]);

					snprintf(x->what, sizeof(x->what), "%s model %s at %s (usage %zu)",
						 prov, id, sweep_times[k], j);
					snprintf(x->model, sizeof(x->model), "%s", id);
					snprintf(x->provider, sizeof(x->provider), "%s", prov);
					snprintf(x->ts, sizeof(x->ts), "%s", sweep_times[k]);
					x->u = sweep_usage[j];
					x->priced = p != NULL;
					x->ours_usd = p ? cost_usd(at, &x->u) : 0;
					if (p)
						snprintf(x->entry, sizeof(x->entry), "%s", p->model);
				}
		}
	}
	cJSON_Delete(root);
}

static void write_calls(const struct calls *c, const char *path)
{
	FILE *f = fopen(path, "w");
	size_t i;

	assert_non_null(f);
	for (i = 0; i < c->n; i++) {
		const struct call *x = &c->v[i];
		cJSON *o = cJSON_CreateObject(), *u = cJSON_AddObjectToObject(o, "usage");
		char *s;

		cJSON_AddStringToObject(o, "model", x->model);
		if (x->url[0])
			cJSON_AddStringToObject(o, "url", x->url);
		else
			cJSON_AddStringToObject(o, "provider", x->provider);
		cJSON_AddStringToObject(o, "ts", x->ts);
		cJSON_AddNumberToObject(u, "input_tokens", (double)x->u.input_tokens);
		cJSON_AddNumberToObject(u, "cached_input_tokens", (double)x->u.cached_input_tokens);
		cJSON_AddNumberToObject(u, "cache_write_tokens", (double)x->u.cache_write_tokens);
		cJSON_AddNumberToObject(u, "cache_write_1h_tokens",
					(double)x->u.cache_write_1h_tokens);
		cJSON_AddNumberToObject(u, "output_tokens", (double)x->u.output_tokens);
		cJSON_AddNumberToObject(u, "reasoning_tokens", (double)x->u.reasoning_tokens);
		s = cJSON_PrintUnformatted(o);
		assert_non_null(s);
		fprintf(f, "%s\n", s);
		free(s);
		cJSON_Delete(o);
	}
	assert_int_equal(fclose(f), 0);
}

/* Why we differ from the source on purpose, or NULL. */
static const char *explained(const struct calls *c, const struct call *x)
{
	if (x->entry[0] && cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItem(c->overrides, "models"), x->entry))
		return "an entry of data/prices-overrides.json";
	if (x->opt_in_tier)
		return "the long-context tier needs the 1M-context opt-in (overrides rule)";
	if (!strncmp(x->model, "models/", 7))
		return "\"models/<name>\" (Gemini's modelVersion form) is looked up as <name>";
	if (strchr(x->model, '/') && x->entry[0] && !strchr(x->entry, '/'))
		return "a vendor's \"<path>/<name>\" is looked up by its last segment";
	return NULL;
}

/* .output/tests/<binary> -> .output/prices/<file> */
static void prices_path(char *out, size_t size, const char *file)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	assert_true(n > 0);
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	assert_non_null(slash);
	*slash = '\0';
	assert_true((size_t)snprintf(out, size, "%s/../prices/%s", exe, file) < size);
}

static void test_crosscheck(void **state)
{
	char in[] = "/tmp/prices_xcheck_in_XXXXXX", out[64], cmd[PATH_MAX * 2 + 200];
	char modules[PATH_MAX], data[PATH_MAX], *line = NULL;
	struct price_table *t = NULL;
	struct calls c = { 0 };
	size_t cap = 0, i, agree = 0, both_unpriced = 0, on_purpose = 0, bad = 0;
	size_t corpus_calls = 0, corpus_agree = 0;
	FILE *f;
	int fd;

	assert_int_equal(price_table_load_default(&t), 0);
	c.t = t;
	c.overrides = cJSON_Parse(price_table_embedded_overrides());
	assert_non_null(c.overrides);
	prices_path(modules, sizeof(modules), "node_modules");
	prices_path(data, sizeof(data), "genai-prices.json");
	assert_int_equal(access(modules, R_OK), 0);
	if (corpus_path())
		assert_true(corpus_foreach(corpus_line, &c) > 0);
	else
		print_message("CORPUS not set: only the source's own models are compared\n");
	corpus_calls = c.n;
	sweep(&c, data);

	fd = mkstemp(in);
	assert_true(fd >= 0);
	close(fd);
	snprintf(out, sizeof(out), "%s.out", in);
	write_calls(&c, in);
	snprintf(cmd, sizeof(cmd), "node tools/genai-prices/reference.mjs '%s' < '%s' > '%s'",
		 modules, in, out);
	assert_int_equal(system(cmd), 0);

	f = fopen(out, "r");
	assert_non_null(f);
	for (i = 0; i < c.n; i++) {
		const struct call *x = &c.v[i];
		cJSON *r;
		const cJSON *cost;
		const char *why;
		bool same;

		assert_true(getline(&line, &cap, f) > 0);
		r = cJSON_Parse(line);
		assert_non_null(r);
		cost = cJSON_GetObjectItem(r, "cost");
		if (cJSON_GetObjectItem(r, "error")) {
			/* The source refuses the usage (a price it lists needs a
			 * parent it lacks): nothing to compare. */
			same = !x->priced || x->ours_usd >= 0;
		} else if (cJSON_IsNull(cost)) {
			same = !x->priced;
			both_unpriced += same;
		} else {
			same = x->priced && fabs(x->ours_usd - cost->valuedouble) <= AGREE_USD;
		}
		if (same) {
			agree++;
			corpus_agree += i < corpus_calls;
		} else if ((why = explained(&c, x))) {
			on_purpose++;
			if (i < corpus_calls)
				print_message("differs on purpose: %s: %s ours %s $%.9f, source $%.9f: %s\n",
					      x->what, x->model, x->entry, x->ours_usd,
					      cJSON_IsNumber(cost) ? cost->valuedouble : -1.0, why);
		} else {
			if (bad++ < 25)
				print_message("DIFFERS: %s: %s -> ours %s %s $%.9f; source %s",
					      x->what, x->model, x->entry[0] ? x->entry : "-",
					      x->priced ? "priced" : "unpriced", x->ours_usd, line);
		}
		cJSON_Delete(r);
	}
	fclose(f);
	free(line);
	print_message("cross-check: %zu calls (%zu corpus), %zu agree to $%g (%zu of the corpus's;"
		      " %zu unpriced by both), %zu differ on purpose, %zu differ unexplained\n",
		      c.n, corpus_calls, agree, AGREE_USD, corpus_agree, both_unpriced, on_purpose, bad);
	unlink(in);
	unlink(out);
	free(c.v);
	cJSON_Delete(c.overrides);
	price_table_free(t);
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crosscheck),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
