/* The OTLP exporter's pieces (user/6-telemetry/otlp*.c): its settings
 * (the OTEL_* variables, their order and their errors), the spans and
 * resources it writes (semantic-convention names, OTLP/JSON types, valid
 * UTF-8, grouping), and its queue (bounded: a full one drops and counts,
 * and stopping never waits on a dead collector). The names themselves are
 * checked against the published list by tests/otlp/run.sh. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include "otlp.h"
#include "otlp_config.h"
#include "otlp_span.h"
#include "stats.h"

/* ---- settings ---- */

static const char *env[32][2];

static const char *lookup(const char *name, void *ctx)
{
	(void)ctx;
	for (int i = 0; env[i][0]; i++)
		if (!strcmp(env[i][0], name))
			return env[i][1];
	return NULL;
}

static void set_env(const char *const *pairs)
{
	int i = 0;

	memset(env, 0, sizeof(env));
	for (; pairs[2 * i]; i++) {
		env[i][0] = pairs[2 * i];
		env[i][1] = pairs[2 * i + 1];
	}
}

static void test_kv_list(void **state)
{
	const char *p = " x-tenant = t1 ,, authorization=Bearer%20tok%2C2 ,a=";
	char k[32], v[32];

	(void)state;
	assert_int_equal(otlp_kv_next(&p, k, sizeof(k), v, sizeof(v)), 1);
	assert_string_equal(k, "x-tenant");
	assert_string_equal(v, "t1");
	assert_int_equal(otlp_kv_next(&p, k, sizeof(k), v, sizeof(v)), 1);
	assert_string_equal(k, "authorization");
	assert_string_equal(v, "Bearer tok,2");
	assert_int_equal(otlp_kv_next(&p, k, sizeof(k), v, sizeof(v)), 1);
	assert_string_equal(v, "");
	assert_int_equal(otlp_kv_next(&p, k, sizeof(k), v, sizeof(v)), 0);
	for (const char *const *bad = (const char *const[]){ "novalue", "=v", "a=%4", "a=%zz",
							      "a=%0a", "a=x\ty\x01", NULL };
	     *bad; bad++) {
		p = *bad;
		assert_int_equal(otlp_kv_next(&p, k, sizeof(k), v, sizeof(v)), -EINVAL);
	}
	p = "k=0123456789012345678901234567890123456789";	/* over the buffer */
	assert_int_equal(otlp_kv_next(&p, k, sizeof(k), v, sizeof(v)), -EINVAL);
}

static void load_ok(const char *flag, const char *const *pairs, struct otlp_config *c)
{
	char err[256];

	set_env(pairs);
	assert_int_equal(otlp_config_load(c, flag, lookup, NULL, err, sizeof(err)), 0);
}

static void load_err(const char *flag, const char *const *pairs, const char *want)
{
	struct otlp_config c;
	char err[256];

	set_env(pairs);
	assert_int_equal(otlp_config_load(&c, flag, lookup, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, want));
	assert_int_equal(c.nheaders, 0);
	assert_string_equal(c.url, "");
}

static void test_endpoints(void **state)
{
	struct otlp_config c;

	(void)state;
	load_ok(NULL, (const char *const[]){ NULL }, &c);
	assert_string_equal(c.url, "");		/* nothing asked: off */
	load_ok(NULL, (const char *const[]){ "OTEL_EXPORTER_OTLP_ENDPOINT", "http://col:4318",
					      NULL }, &c);
	assert_string_equal(c.url, "http://col:4318/v1/traces");
	assert_int_equal(c.queue_max, 2048);
	assert_int_equal(c.batch_max, 512);
	assert_int_equal(c.schedule_delay_ms, 5000);
	assert_int_equal(c.timeout_ms, 10000);
	otlp_config_free(&c);
	load_ok(NULL, (const char *const[]){ "OTEL_EXPORTER_OTLP_ENDPOINT", "https://c/base/?t=1",
					      NULL }, &c);
	assert_string_equal(c.url, "https://c/base/v1/traces?t=1");
	assert_string_equal(c.url_label, "https://c/base/v1/traces");	/* no query logged */
	otlp_config_free(&c);
	/* the signal's own endpoint is taken as it is, and wins */
	load_ok(NULL, (const char *const[]){ "OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:1",
					      "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:2/x",
					      NULL }, &c);
	assert_string_equal(c.url, "http://b:2/x");
	otlp_config_free(&c);
	/* the flag wins over both; a path already ending in /v1/traces stays */
	load_ok("http://f:3/v1/traces", (const char *const[]){
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:2/x", NULL }, &c);
	assert_string_equal(c.url, "http://f:3/v1/traces");
	otlp_config_free(&c);
	load_err("ftp://x", (const char *const[]){ NULL }, "not http:// or https://");
	load_err("not a url", (const char *const[]){ NULL }, "is not a URL");
	load_err("http://u:secret@h", (const char *const[]){ NULL }, "credentials in the URL");
}

static void test_headers_and_sizes(void **state)
{
	struct otlp_config c;
	char names[64];

	(void)state;
	load_ok("http://h", (const char *const[]){
			"OTEL_EXPORTER_OTLP_HEADERS", "a=1",
			"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "api-key=s%3Dx, X-Org = o",
			"OTEL_BSP_MAX_QUEUE_SIZE", "8", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "100",
			"OTEL_EXPORTER_OTLP_TIMEOUT", "3000", NULL }, &c);
	assert_int_equal(c.nheaders, 2);	/* the traces list only */
	assert_string_equal(c.headers[0], "api-key: s=x");
	assert_string_equal(c.headers[1], "X-Org: o");
	otlp_config_header_names(&c, names, sizeof(names));
	assert_string_equal(names, "api-key, X-Org");
	assert_int_equal(c.queue_max, 8);
	assert_int_equal(c.batch_max, 8);	/* never over the queue */
	assert_int_equal(c.timeout_ms, 3000);
	otlp_config_free(&c);
	load_err("http://h", (const char *const[]){ "OTEL_EXPORTER_OTLP_HEADERS", "tok", NULL },
		 "OTEL_EXPORTER_OTLP_HEADERS: an entry is not name=value");
	load_err("http://h", (const char *const[]){ "OTEL_EXPORTER_OTLP_HEADERS", "a b=1", NULL },
		 "'a b' is not a header name");
	load_err("http://h", (const char *const[]){ "OTEL_BSP_SCHEDULE_DELAY", "5s", NULL },
		 "OTEL_BSP_SCHEDULE_DELAY: '5s'");
	load_err("http://h", (const char *const[]){ "OTEL_RESOURCE_ATTRIBUTES", "k", NULL },
		 "OTEL_RESOURCE_ATTRIBUTES");
}

/* ---- names ---- */

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(otlp_operation_name("chat.completions"), "chat");
	assert_string_equal(otlp_operation_name("messages"), "chat");
	assert_string_equal(otlp_operation_name("stream_generate_content"), "generate_content");
	assert_string_equal(otlp_operation_name("embeddings"), "embeddings");
	assert_string_equal(otlp_operation_name("completions"), "text_completion");
	assert_string_equal(otlp_operation_name("count_tokens"), "count_tokens");
	assert_string_equal(otlp_provider_name("openai", "api.openai.com"), "openai");
	assert_string_equal(otlp_provider_name("openai", "127.0.0.1:8000"), "openai");
	assert_string_equal(otlp_provider_name("google", "generativelanguage.googleapis.com"),
			    "gcp.gemini");
	assert_string_equal(otlp_provider_name("google", "us-central1-aiplatform.googleapis.com"),
			    "gcp.vertex_ai");
	assert_string_equal(otlp_provider_name("azure_openai", "x.openai.azure.com"),
			    "azure.ai.openai");
	assert_string_equal(otlp_provider_name("openai_compatible", "api.mistral.ai"), "mistral_ai");
	assert_string_equal(otlp_provider_name("openai_compatible", "api.x.ai"), "x_ai");
	assert_string_equal(otlp_provider_name("openai_compatible", "openrouter.ai"), "openrouter");
}

/* ---- spans and resources ---- */

static void record(struct exchange_record *r)
{
	memset(r, 0, sizeof(*r));
	r->ts_start_ns = 1700000000123456789LL;
	r->ts_end_ns = r->ts_start_ns + 2500000000LL;
	r->pid = 4242;
	r->uid = 1000;
	strcpy(r->exe, "/usr/bin/node");
	strcpy(r->comm, "node");
	strcpy(r->app, "gemini");
	strcpy(r->provider, "anthropic");
	strcpy(r->api, "messages");
	strcpy(r->host, "api.anthropic.com");
	strcpy(r->model, "claude-sonnet-4-5-20250929");
	strcpy(r->request_model, "claude-sonnet-4-5");
	r->status = 200;
	r->stream = true;
	r->ttft_ms = 350;
	r->usage = (struct llm_usage){ .input_tokens = 5000, .cached_input_tokens = 4000,
				       .cache_write_tokens = 600, .output_tokens = 70 };
	r->usage_source = USAGE_PROVIDER;
	r->priced = true;
	r->cost_usd = 0.0123;
	r->complete = true;
	strcpy(r->container_id, "ab12");
	strcpy(r->container_runtime, "containerd");
	strcpy(r->k8s_pod_uid, "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9");
	strcpy(r->k8s_namespace, "research");
	strcpy(r->k8s_pod, "agent-7");
	strcpy(r->project, "devtools");
	r->cache_analyzed = true;
	r->cacheable_tokens = 4500;
	r->missed_cache_tokens = 500;
	r->missed_cache_usd = 0.0015;
	strcpy(r->cache_miss_cause, "ttl_expired");
	strcpy(r->cache_template, "0123456789abcdef");
}

/* The value object of attribute key in the array, or NULL. */
static cJSON *attr(cJSON *attrs, const char *key)
{
	cJSON *kv;

	cJSON_ArrayForEach(kv, attrs)
		if (!strcmp(cJSON_GetObjectItem(kv, "key")->valuestring, key))
			return cJSON_GetObjectItem(kv, "value");
	return NULL;
}

static const char *str_attr(cJSON *attrs, const char *key)
{
	cJSON *v = cJSON_GetObjectItem(attr(attrs, key), "stringValue");

	return v ? v->valuestring : NULL;
}

static long long int_attr(cJSON *attrs, const char *key)
{
	cJSON *v = cJSON_GetObjectItem(attr(attrs, key), "intValue");

	assert_true(cJSON_IsString(v));	/* int64 in OTLP/JSON: a string */
	return strtoll(v->valuestring, NULL, 10);
}

static void test_span(void **state)
{
	struct exchange_record r;
	uint8_t ids[24];
	cJSON *s, *a;
	char *json;

	(void)state;
	record(&r);
	for (int i = 0; i < 24; i++)
		ids[i] = (uint8_t)(0xa0 + i);
	json = otlp_span_json(&r, ids);
	s = cJSON_Parse(json);
	assert_non_null(s);
	assert_string_equal(cJSON_GetObjectItem(s, "traceId")->valuestring,
			    "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
	assert_string_equal(cJSON_GetObjectItem(s, "spanId")->valuestring, "b0b1b2b3b4b5b6b7");
	assert_string_equal(cJSON_GetObjectItem(s, "name")->valuestring, "chat claude-sonnet-4-5");
	assert_int_equal(cJSON_GetObjectItem(s, "kind")->valueint, OTLP_SPAN_KIND_CLIENT);
	assert_string_equal(cJSON_GetObjectItem(s, "startTimeUnixNano")->valuestring,
			    "1700000000123456789");
	assert_string_equal(cJSON_GetObjectItem(s, "endTimeUnixNano")->valuestring,
			    "1700000002623456789");
	assert_null(cJSON_GetObjectItem(s, "status"));
	a = cJSON_GetObjectItem(s, "attributes");
	assert_string_equal(str_attr(a, "gen_ai.operation.name"), "chat");
	assert_string_equal(str_attr(a, "gen_ai.provider.name"), "anthropic");
	assert_string_equal(str_attr(a, "gen_ai.request.model"), "claude-sonnet-4-5");
	assert_string_equal(str_attr(a, "gen_ai.response.model"), "claude-sonnet-4-5-20250929");
	assert_int_equal(int_attr(a, "gen_ai.usage.input_tokens"), 5000);
	assert_int_equal(int_attr(a, "gen_ai.usage.output_tokens"), 70);
	assert_int_equal(int_attr(a, "gen_ai.usage.cache_read.input_tokens"), 4000);
	assert_int_equal(int_attr(a, "gen_ai.usage.cache_creation.input_tokens"), 600);
	assert_null(attr(a, "gen_ai.usage.reasoning.output_tokens"));
	assert_true(cJSON_GetObjectItem(attr(a, "gen_ai.response.time_to_first_chunk"),
					"doubleValue")->valuedouble == 0.35);
	assert_string_equal(str_attr(a, "server.address"), "api.anthropic.com");
	assert_int_equal(int_attr(a, "http.response.status_code"), 200);
	assert_null(attr(a, "error.type"));
	assert_true(cJSON_GetObjectItem(attr(a, "llmobs.cost_usd"), "doubleValue")->valuedouble ==
		    0.0123);
	assert_int_equal(int_attr(a, "llmobs.cache.missed_tokens"), 500);
	assert_string_equal(str_attr(a, "llmobs.cache.miss_cause"), "ttl_expired");
	cJSON_Delete(s);
	free(json);

	/* an error, no usage, a port, bytes that are not UTF-8 */
	r.status = 429;
	strcpy(r.error, "rate_limit_error");
	r.usage_source = USAGE_NONE;
	r.cache_analyzed = false;
	strcpy(r.host, "gw.local:8443");
	strcpy(r.request_model, "m\xff\xfe");
	json = otlp_span_json(&r, ids);
	s = cJSON_Parse(json);
	assert_non_null(s);
	a = cJSON_GetObjectItem(s, "attributes");
	assert_string_equal(str_attr(a, "error.type"), "rate_limit_error");
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "status"), "code")->valueint,
			 OTLP_STATUS_ERROR);
	assert_null(attr(a, "gen_ai.usage.input_tokens"));
	assert_null(attr(a, "gen_ai.response.model"));
	assert_null(attr(a, "llmobs.cache.missed_tokens"));
	assert_string_equal(str_attr(a, "server.address"), "gw.local");
	assert_int_equal(int_attr(a, "server.port"), 8443);
	assert_string_equal(str_attr(a, "gen_ai.request.model"), "m\xef\xbf\xbd\xef\xbf\xbd");
	cJSON_Delete(s);
	free(json);
	r.error[0] = '\0';
	r.status = 503;
	json = otlp_span_json(&r, ids);
	s = cJSON_Parse(json);
	assert_string_equal(str_attr(cJSON_GetObjectItem(s, "attributes"), "error.type"), "503");
	cJSON_Delete(s);
	free(json);
}

static void test_resource_and_grouping(void **state)
{
	struct exchange_record r1, r2;
	struct otlp_config c;
	uint8_t ids[24] = { 1 };
	char *res[3], *spans[3], *json;
	cJSON *doc, *rs, *a;

	(void)state;
	load_ok("http://h", (const char *const[]){
			"OTEL_RESOURCE_ATTRIBUTES", "k8s.cluster.name=prod,k8s.pod.name=not-this",
			"OTEL_SERVICE_NAME", "fallback", NULL }, &c);
	record(&r1);
	record(&r2);
	r2.pid = 7;
	r2.app[0] = '\0';
	res[0] = otlp_resource_json(&c, "node-1", &r1);
	res[1] = otlp_resource_json(&c, "node-1", &r2);
	res[2] = otlp_resource_json(&c, "node-1", &r1);
	assert_string_equal(res[0], res[2]);	/* one process, one resource */
	for (int i = 0; i < 3; i++)
		spans[i] = otlp_span_json(i == 1 ? &r2 : &r1, ids);
	json = otlp_request_json(3, res, spans);
	doc = cJSON_Parse(json);
	assert_non_null(doc);
	rs = cJSON_GetObjectItem(doc, "resourceSpans");
	assert_int_equal(cJSON_GetArraySize(rs), 2);
	a = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(rs, 0), "resource"),
				"attributes");
	assert_string_equal(str_attr(a, "service.name"), "gemini");
	assert_int_equal(int_attr(a, "process.pid"), 4242);
	assert_string_equal(str_attr(a, "process.executable.path"), "/usr/bin/node");
	assert_int_equal(int_attr(a, "process.user.id"), 1000);
	assert_string_equal(str_attr(a, "container.id"), "ab12");
	assert_string_equal(str_attr(a, "container.runtime.name"), "containerd");
	assert_string_equal(str_attr(a, "k8s.pod.uid"), "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9");
	assert_string_equal(str_attr(a, "k8s.namespace.name"), "research");
	assert_string_equal(str_attr(a, "k8s.pod.name"), "agent-7");	/* the exchange wins */
	assert_string_equal(str_attr(a, "k8s.cluster.name"), "prod");
	assert_string_equal(str_attr(a, "llmobs.project"), "devtools");
	assert_string_equal(str_attr(a, "host.name"), "node-1");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(
		cJSON_GetObjectItem(cJSON_GetArrayItem(rs, 0), "scopeSpans"), 0), "spans")), 2);
	a = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(rs, 1), "resource"),
				"attributes");
	assert_string_equal(str_attr(a, "service.name"), "fallback");
	cJSON_Delete(doc);
	free(json);
	for (int i = 0; i < 3; i++) {
		free(res[i]);
		free(spans[i]);
	}
	otlp_config_free(&c);
}

/* ---- the queue ---- */

static void test_queue_bounded_and_stop_bounded(void **state)
{
	struct exchange_record r;
	struct otlp_config c;
	struct otlp_counts n;
	struct otlp *o;
	struct timespec t0, t1;

	(void)state;
	/* port 1 on loopback: refused at once, as a collector that is down */
	load_ok("http://127.0.0.1:1", (const char *const[]){ "OTEL_BSP_MAX_QUEUE_SIZE", "4",
							     "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2",
							     NULL }, &c);
	assert_int_equal(otlp_start(&c, "h", &o), 0);
	assert_string_equal(c.url, "");		/* taken */
	record(&r);
	for (int i = 0; i < 10; i++)		/* the thread is not started: nothing drains */
		otlp_submit(o, &r);
	otlp_get_counts(o, &n);
	assert_int_equal(n.dropped_queue_full, 6);
	assert_int_equal(n.exported, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	otlp_stop(o);		/* tries the 4 once, refused: counted as dropped */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec <= OTLP_EXIT_FLUSH_MS / 1000 + 1);
	assert_int_equal(stats[STAT_OTLP_SPANS_DROPPED_EXPORT], 4);
	assert_int_equal(stats[STAT_OTLP_SPANS_DROPPED_QUEUE_FULL], 6);
	assert_int_equal(stats[STAT_OTLP_EXPORT_FAILURES], 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kv_list),
		cmocka_unit_test(test_endpoints),
		cmocka_unit_test(test_headers_and_sizes),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_span),
		cmocka_unit_test(test_resource_and_grouping),
		cmocka_unit_test(test_queue_bounded_and_stop_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
