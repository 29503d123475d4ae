/* llmobs advise on a made-up week: a router app sending gpt-4o short,
 * uniform, non-streamed calls in bursts (a model switch and a batch
 * candidate), an agent whose deterministic calls repeat (duplicates) and
 * miss the prompt cache; each kind is advised with the dollars the same
 * arithmetic gives, the list is sorted, and 49 calls advise nothing. With
 * the analytics' templates and breakers, the cache item is llmobs cache's
 * advice instead of the coarse missed dollars. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "cli.h"
#include "cost.h"
#include "store.h"

static char dir[] = "/tmp/test_advise.XXXXXX", db[64];

static char *run(const char *const *args)
{
	char *argv[8], out[] = "/tmp/test_advise_out.XXXXXX", *buf;
	int argc = 0, fd = mkstemp(out), saved;
	long n;
	FILE *f;

	assert_true(fd >= 0);
	argv[argc++] = "llmobs";
	while (*args)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	fflush(stdout);
	saved = dup(1);
	dup2(fd, 1);
	assert_int_equal(cli_main(argc, argv), 0);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	close(fd);
	f = fopen(out, "r");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	unlink(out);
	return buf;
}

static void rec(struct exchange_record *r, int64_t ts_s, const char *app, const char *model,
		int64_t in, int64_t out, double usd)
{
	memset(r, 0, sizeof(*r));
	r->ts_start_ns = r->ts_end_ns = ts_s * 1000000000LL;
	snprintf(r->app, sizeof(r->app), "%s", app);
	snprintf(r->comm, sizeof(r->comm), "python3");
	snprintf(r->provider, sizeof(r->provider), "openai");
	snprintf(r->model, sizeof(r->model), "%s", model);
	r->usage.input_tokens = in;
	r->usage.output_tokens = out;
	r->usage_source = USAGE_PROVIDER;
	r->cost_usd = usd;
	r->priced = true;
	r->latency_ms = r->ttft_ms = RECORD_NULL_MS;
	r->uid = -1;
}

static void build(int router_calls, bool with_template)
{
	struct exchange_record r;
	struct store *s;
	int64_t now = (int64_t)time(NULL), week = now - 7 * 86400;

	week -= week % 60;	/* a burst's 10 calls in one minute, whatever the clock */

	unlink(db);
	assert_int_equal(store_open(db, false, &s), 0);
	for (int i = 0; i < router_calls; i++) {	/* bursts of 10 a minute, every 2 h */
		rec(&r, week + (i / 10) * 7200 + i % 10, "router", "gpt-4o", 500 + i % 7 * 10,
		    5 + i % 2, 0.0013);
		assert_int_equal(store_add(s, &r), 0);
	}
	for (int i = 0; i < 60; i++) {		/* an interactive agent: streams */
		rec(&r, week + 3600 + i * 5000, "agent", "claude-sonnet-4-5", 20000 + i * 977,
		    800 + i * 31, 0.07);
		r.stream = true;
		r.cache_analyzed = true;
		r.cacheable_tokens = 15000;
		r.missed_cache_tokens = 15000;
		r.missed_cache_usd = 0.0405;
		r.cache_duplicate = i % 3 == 0;		/* 20 repeats */
		if (with_template) {	/* analysed as one template, a timestamp breaking it */
			snprintf(r.cache_template, sizeof(r.cache_template), "00000000007e3a10");
			snprintf(r.cache_miss_cause, sizeof(r.cache_miss_cause), "prefix_changed");
			snprintf(r.breakers, sizeof(r.breakers),
				 "[{\"kind\":\"timestamp\",\"segment\":\"system[0]\",\"byte_offset\":14,"
				 "\"token_offset\":3,\"missed_tokens\":15000,\"missed_usd\":0.0405,"
				 "\"shape\":\"ISO-8601 timestamp\"}]");
		}
		assert_int_equal(store_add(s, &r), 0);
	}
	store_close(s);
}

static void test_advise(void **state)
{
	char *out, *cache, *dup, *sw, *batch;
	double month = 30.0 / 7;	/* the week observed, scaled to 30 days */
	char want[128];

	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/llmobs.db", dir);
	build(60, false);
	out = run((const char *const[]){ "advise", "--db", db, NULL });
	cache = strstr(out, "prompt cache: agent on claude-sonnet-4-5 missed $2.4300 over 60 calls");
	dup = strstr(out, "duplicate requests: agent repeated 20 of 60 deterministic calls");
	sw = strstr(out, "model switch: router sends gpt-4o short, uniform calls (60,");
	batch = strstr(out, "batch API: router sends gpt-4o in bursts and never streams (60 calls");
	if (!cache || !dup || !sw || !batch)
		fail_msg("advise said:\n%s", out);
	/* largest first: cache ($2.43 a week), duplicates ($1.40), then router */
	assert_true(cache < dup && dup < sw && dup < batch);
	snprintf(want, sizeof(want), "%10.2f  medium      prompt cache", 2.43 * month);
	assert_non_null(strstr(out, want));
	snprintf(want, sizeof(want), "%10.2f  high        duplicate", 20 * 0.07 * month);
	assert_non_null(strstr(out, want));
	free(out);
	/* 49 calls: the router is not advised on */
	build(49, false);
	out = run((const char *const[]){ "advise", "--db", db, NULL });
	assert_null(strstr(out, "router"));
	free(out);
	/* with the cache analytics' templates: llmobs cache's advice instead */
	build(60, true);
	out = run((const char *const[]){ "advise", "--db", db, NULL });
	if (!strstr(out, "medium      prompt cache (?, claude-sonnet-4-5): ") ||
	    strstr(out, "missed $2.4300"))
		fail_msg("advise with templates said:\n%s", out);
	free(out);
	snprintf(want, sizeof(want), "rm -rf '%s'", dir);
	assert_int_equal(system(want), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_advise),
	};

	return cmocka_run_group_tests_name("advise", tests, NULL, NULL);
}
