/* Telemetry (user/6-telemetry): the switches and why they keep it off, the
 * record builder's allow-list (canaries in every field it must not send),
 * the outbox's batches, bounds and restarts, and gzip. Delivery against a
 * real HTTPS receiver is tests/telemetry/run.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <cmocka.h>
#include "telemetry_config.h"
#include "telemetry_outbox.h"
#include "telemetry_record.h"
#include "telemetry_send.h"

#define GOOD_KEY	"lok_abcd1234.s3cretS3cretS3cret_-x"

struct env { const char *k[8], *v[8]; };

static const char *env_get(const char *name, void *ctx)
{
	struct env *e = ctx;

	for (int i = 0; i < 8 && e->k[i]; i++)
		if (!strcmp(e->k[i], name))
			return e->v[i];
	return NULL;
}

static void load(struct telemetry_config *c, bool insecure, bool *key_ok, ...)
{
	struct env e;
	va_list ap;
	int i = 0;
	const char *k;

	memset(&e, 0, sizeof(e));
	va_start(ap, key_ok);
	while (i < 8 && (k = va_arg(ap, const char *))) {
		e.k[i] = k;
		e.v[i++] = va_arg(ap, const char *);
	}
	va_end(ap);
	telemetry_config_load(c, env_get, &e, insecure, key_ok);
}

static void test_switches(void **state)
{
	static const struct {
		const char *enabled, *key, *url, *flush;
		bool insecure, on;
		const char *why;	/* a piece of why_off */
	} cases[] = {
		{ NULL, GOOD_KEY, "https://t.example", NULL, false, false, "opt-in" },
		{ "1", GOOD_KEY, "https://t.example", NULL, false, false, "not \"true\"" },
		{ "TRUE", GOOD_KEY, "https://t.example", NULL, false, false, "not \"true\"" },
		{ "true", NULL, "https://t.example", NULL, false, false, "API_KEY is not set" },
		{ "true", "sk-abc", "https://t.example", NULL, false, false, "lok_<prefix>" },
		{ "true", "lok_ab.s3cretS3cretS3cret", "https://t.example", NULL, false, false, "lok_<prefix>" },
		{ "true", "lok_abcd1234.short", "https://t.example", NULL, false, false, "lok_<prefix>" },
		{ "true", "lok_abcd1234.s3cret s3cret s3cret", "https://t.example", NULL, false, false, "lok_<prefix>" },
		{ "true", GOOD_KEY, NULL, NULL, false, false, "ENDPOINT is not set" },
		{ "true", GOOD_KEY, "http://t.example", NULL, false, false, "not https" },
		{ "true", GOOD_KEY, "ftp://t.example", NULL, false, false, "not an https" },
		{ "true", GOOD_KEY, "https://", NULL, false, false, "no host" },
		{ "true", GOOD_KEY, "https://t.example/?a=1", NULL, false, false, "query" },
		{ "true", GOOD_KEY, "https://u:pw@t.example", NULL, false, false, "credentials" },
		{ "true", GOOD_KEY, "https://t.example", "0", false, false, "FLUSH_SECONDS" },
		{ "true", GOOD_KEY, "https://t.example", "5x", false, false, "FLUSH_SECONDS" },
		{ "true", GOOD_KEY, "https://t.example/", "5", false, true, "" },
		{ "true", GOOD_KEY, "http://127.0.0.1:9", NULL, true, true, "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct telemetry_config c;
		bool key_ok;

		load(&c, cases[i].insecure, &key_ok, "LLM_OBSERVER_ENABLED", cases[i].enabled,
		     "LLM_OBSERVER_API_KEY", cases[i].key, "LLM_OBSERVER_ENDPOINT", cases[i].url,
		     "LLM_OBSERVER_FLUSH_SECONDS", cases[i].flush, NULL);
		if (c.enabled != cases[i].on || !strstr(c.why_off, cases[i].why)) {
			fprintf(stderr, "case %zu: enabled %d, why '%s'\n", i, c.enabled, c.why_off);
			fail();
		}
		/* An unset variable ends the list early: those cases are off anyway. */
	}
}

static void test_key_label_and_endpoint(void **state)
{
	struct telemetry_config c;
	char label[64];
	bool key_ok;

	(void)state;
	load(&c, false, &key_ok, "LLM_OBSERVER_ENABLED", "true", "LLM_OBSERVER_API_KEY", GOOD_KEY,
	     "LLM_OBSERVER_ENDPOINT", "https://t.example/base//", "LLM_OBSERVER_FLUSH_SECONDS", "7",
	     NULL);
	assert_true(c.enabled);
	assert_true(key_ok);
	assert_string_equal(c.endpoint, "https://t.example/base");
	assert_int_equal(c.flush_seconds, 7);
	telemetry_config_key_label(&c, label, sizeof(label));
	assert_string_equal(label, "lok_abcd1234.…");
	assert_null(strstr(label, "s3cret"));
	telemetry_config_wipe(&c);
	assert_int_equal(c.api_key[0], 0);
}

/* Keyed by the organisation's key: the same value hashes apart under two keys. */
static void test_hash_keyed(void **state)
{
	struct telemetry_config a, b;
	char ha[33], hb[33], ha2[33], hd[33];
	bool ok;

	(void)state;
	load(&a, false, &ok, "LLM_OBSERVER_API_KEY", GOOD_KEY, NULL);
	load(&b, false, &ok, "LLM_OBSERVER_API_KEY", "lok_zzzz9999.s3cretS3cretS3cret_-x", NULL);
	telemetry_hash(&a, "host", "node-1", ha);
	telemetry_hash(&a, "host", "node-1", ha2);
	telemetry_hash(&b, "host", "node-1", hb);
	telemetry_hash(&a, "exe", "node-1", hd);
	assert_int_equal(strlen(ha), 32);
	assert_string_equal(ha, ha2);
	assert_string_not_equal(ha, hb);
	assert_string_not_equal(ha, hd);
}

#define CANARY_EXE	"/opt/canary-exe-dir/bin/agent-x"
#define CANARY_PATH	"/v1/chat/completions?key=canary-query"

static void fill_record(struct exchange_record *r)
{
	memset(r, 0, sizeof(*r));
	r->ts_start_ns = 1765130000123456789LL;
	r->pid = 4242;
	snprintf(r->exe, sizeof(r->exe), CANARY_EXE);
	snprintf(r->comm, sizeof(r->comm), "canary-comm");
	snprintf(r->capture, sizeof(r->capture), "uprobe");
	snprintf(r->provider, sizeof(r->provider), "openai");
	snprintf(r->api, sizeof(r->api), "chat.completions");
	snprintf(r->host, sizeof(r->host), "canary-host.internal");
	snprintf(r->method, sizeof(r->method), "POST");
	snprintf(r->path, sizeof(r->path), CANARY_PATH);
	r->status = 429;
	snprintf(r->model, sizeof(r->model), "gpt-4o-mini");
	snprintf(r->request_model, sizeof(r->request_model), "gpt-4o-mini");
	r->usage.input_tokens = 1200;
	r->usage.cached_input_tokens = 1024;
	r->usage.output_tokens = 30;
	r->usage_source = USAGE_PROVIDER;
	r->cost_usd = 0.000123;
	r->priced = true;
	r->latency_ms = 812;
	r->ttft_ms = RECORD_NULL_MS;
	snprintf(r->error, sizeof(r->error), "rate_limit_exceeded");
	snprintf(r->ratelimit, sizeof(r->ratelimit), "{\"retry-after\":\"canary-ratelimit\"}");
	snprintf(r->deployment, sizeof(r->deployment), "canary-deployment");
	r->cache_analyzed = true;
	snprintf(r->cache_template, sizeof(r->cache_template), "00112233aabbccdd");
	snprintf(r->account, sizeof(r->account), "99887766aabbccdd");
	r->cacheable_tokens = 1100;
	r->missed_cache_tokens = 76;
	r->missed_cache_usd = 0.00001;
	snprintf(r->cache_miss_cause, sizeof(r->cache_miss_cause), "prefix_changed");
	snprintf(r->breakers, sizeof(r->breakers),
		 "[{\"kind\":\"timestamp\",\"segment\":\"system[0]\",\"byte_offset\":14,"
		 "\"shape\":\"canary-shape\",\"missed_tokens\":76}]");
	snprintf(r->app, sizeof(r->app), "canary-app");
	snprintf(r->container_id, sizeof(r->container_id), "canary-container");
	snprintf(r->k8s_namespace, sizeof(r->k8s_namespace), "canary-namespace");
	snprintf(r->k8s_pod_uid, sizeof(r->k8s_pod_uid), "canary-pod");
	snprintf(r->project, sizeof(r->project), "canary-project");
	r->request_body = "{\"messages\":[{\"content\":\"canary-prompt\"}]}";
	r->request_body_len = strlen(r->request_body);
}

static void test_record_allow_list(void **state)
{
	static const char *const never[] = {
		"canary-exe-dir", "agent-x", "canary-comm", "canary-host", "canary-query",
		"/v1/", "canary-ratelimit", "canary-deployment", "canary-shape", "canary-prompt",
		"4242", "00112233aabbccdd", "99887766aabbccdd", "s3cret", "canary-app",
		"canary-container", "canary-namespace", "canary-pod", "canary-project",
	};
	struct telemetry_config c;
	struct exchange_record r;
	char host[33], *text;
	cJSON *o, *b;
	bool ok;

	(void)state;
	load(&c, false, &ok, "LLM_OBSERVER_API_KEY", GOOD_KEY, NULL);
	fill_record(&r);
	telemetry_hash(&c, "host", "canary-host-name", host);
	o = telemetry_record_json(&c, &r, "0123456789abcdef0123456789abcdef", host);
	assert_non_null(o);
	text = cJSON_PrintUnformatted(o);
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
		if (strstr(text, never[i])) {
			fprintf(stderr, "'%s' sent in %s\n", never[i], text);
			fail();
		}
	}
	assert_string_equal(cJSON_GetObjectItem(o, "llmobs.time_bucket")->valuestring,
			    "2025-12-07T17:53:00Z");
	assert_string_equal(cJSON_GetObjectItem(o, "llmobs.status_class")->valuestring, "4xx");
	assert_string_equal(cJSON_GetObjectItem(o, "gen_ai.operation.name")->valuestring, "chat");
	assert_int_equal(cJSON_GetObjectItem(o, "gen_ai.usage.cache_read.input_tokens")->valueint, 1024);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "llmobs.ttft_ms")));
	b = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "llmobs.cache.breakers"), 0);
	assert_string_equal(cJSON_GetObjectItem(b, "kind")->valuestring, "timestamp");
	assert_int_equal(cJSON_GetObjectItem(b, "byte_offset")->valueint, 14);
	assert_int_equal(cJSON_GetArraySize(b), 3);	/* kind, segment, offset: no shape */
	assert_int_equal(strlen(cJSON_GetObjectItem(o, "llmobs.project")->valuestring), 32);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "container.id")) == false);
	free(text);
	cJSON_Delete(o);
}

static char tmpdir[64];

static int make_tmp(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/llmobs-tel-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int rm_tmp(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void add_n(struct telemetry_outbox *o, int from, int n, int64_t at_ns)
{
	char idb[64][33], jb[64][48];
	const char *ids[64], *js[64];

	assert_true(n <= 64);
	for (int i = 0; i < n; i++) {
		snprintf(idb[i], sizeof(idb[i]), "%032d", from + i);
		snprintf(jb[i], sizeof(jb[i]), "{\"n\":%d}", from + i);
		ids[i] = idb[i];
		js[i] = jb[i];
	}
	assert_int_equal(telemetry_outbox_add(o, n, ids, js, at_ns), 0);
}

static void test_outbox_batches_survive_restart(void **state)
{
	char path[128], bid[33], bid2[33], *js;
	struct telemetry_outbox *o;
	struct telemetry_outbox_status st;
	int64_t now = 1765130000000000000LL;

	(void)state;
	snprintf(path, sizeof(path), "%s/outbox.db", tmpdir);
	assert_int_equal(telemetry_outbox_open(path, false, NULL, &o), 0);
	add_n(o, 0, 10, now);
	assert_int_equal(telemetry_outbox_batch(o, 4, 1 << 20, bid, &js), 4);
	assert_string_equal(js, "[{\"n\":0},{\"n\":1},{\"n\":2},{\"n\":3}]");
	free(js);
	telemetry_outbox_close(o);
	/* A restart before the batch was acknowledged: the same batch again. */
	assert_int_equal(telemetry_outbox_open(path, false, NULL, &o), 0);
	assert_int_equal(telemetry_outbox_batch(o, 2, 1 << 20, bid2, &js), 4);
	assert_string_equal(bid, bid2);
	free(js);
	assert_int_equal(telemetry_outbox_done(o, bid, true), 0);
	assert_int_equal(telemetry_outbox_batch(o, 100, 20, bid2, &js), 2);	/* by bytes */
	assert_string_not_equal(bid, bid2);
	assert_string_equal(js, "[{\"n\":4},{\"n\":5}]");
	free(js);
	assert_int_equal(telemetry_outbox_done(o, bid2, false), 0);
	assert_int_equal(telemetry_outbox_status(o, &st), 0);
	assert_int_equal(st.depth, 4);
	assert_int_equal(st.counters[TELEMETRY_SENT_RECORDS], 4);
	assert_int_equal(st.counters[TELEMETRY_SENT_BATCHES], 1);
	assert_int_equal(st.counters[TELEMETRY_DROPPED_REJECTED], 2);
	assert_int_equal(st.counters[TELEMETRY_QUEUED], 10);
	/* The same id twice is one record. */
	add_n(o, 9, 1, now);
	assert_int_equal(telemetry_outbox_status(o, &st), 0);
	assert_int_equal(st.depth, 4);
	telemetry_outbox_close(o);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

static void test_outbox_bounds(void **state)
{
	struct telemetry_outbox_limits lim = { .max_records = 5, .max_age_s = 60 };
	struct telemetry_outbox_status st;
	struct telemetry_outbox *o;
	char path[128], bid[33], *js;
	int64_t now = 1765130000000000000LL;

	(void)state;
	snprintf(path, sizeof(path), "%s/bounded.db", tmpdir);
	assert_int_equal(telemetry_outbox_open(path, false, &lim, &o), 0);
	add_n(o, 0, 8, now);
	assert_int_equal(telemetry_outbox_status(o, &st), 0);
	assert_int_equal(st.depth, 5);
	assert_int_equal(st.counters[TELEMETRY_DROPPED_FULL], 3);
	assert_int_equal(telemetry_outbox_batch(o, 1, 1 << 20, bid, &js), 1);
	assert_string_equal(js, "[{\"n\":3}]");	/* the oldest went */
	free(js);
	/* Two minutes later, the old ones are past max_age. */
	add_n(o, 100, 1, now + 120000000000LL);
	assert_int_equal(telemetry_outbox_status(o, &st), 0);
	assert_int_equal(st.depth, 1);
	assert_int_equal(st.counters[TELEMETRY_DROPPED_AGE], 5);
	telemetry_outbox_close(o);
}

static void test_gzip_round_trip(void **state)
{
	static const char text[] = "{\"schema\":\"llmobs.telemetry.v1\",\"records\":[1,2,3,4,5,6,7]}";
	unsigned char *gz, out[256];
	size_t gz_len;
	z_stream z = { 0 };

	(void)state;
	assert_int_equal(telemetry_gzip(text, sizeof(text) - 1, &gz, &gz_len), 0);
	assert_int_equal(gz[0], 0x1f);
	assert_int_equal(gz[1], 0x8b);
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = gz;
	z.avail_in = (uInt)gz_len;
	z.next_out = out;
	z.avail_out = sizeof(out);
	assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
	assert_int_equal(z.total_out, sizeof(text) - 1);
	assert_memory_equal(out, text, sizeof(text) - 1);
	inflateEnd(&z);
	free(gz);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_switches),
		cmocka_unit_test(test_key_label_and_endpoint),
		cmocka_unit_test(test_hash_keyed),
		cmocka_unit_test(test_record_allow_list),
		cmocka_unit_test(test_outbox_batches_survive_restart),
		cmocka_unit_test(test_outbox_bounds),
		cmocka_unit_test(test_gzip_round_trip),
	};

	return cmocka_run_group_tests(tests, make_tmp, rm_tmp);
}
