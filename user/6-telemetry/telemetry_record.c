/* exchange_record -> telemetry record v1. Field names follow the
 * OpenTelemetry GenAI conventions where they have one (gen_ai.*, error.type)
 * and carry our prefix (llmobs.*) where they do not. The builder copies
 * only enumerations, counts, money, times rounded to a bucket, and keyed
 * hashes: it is the allow-list, so a field added to the record is not sent
 * until it is added here, to the schema and to its version. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include "telemetry_record.h"

#define BUCKET_NS	(60LL * 1000000000LL)	/* minute of the call's start */

int telemetry_new_id(char out[33])
{
	unsigned char b[16];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -EIO;
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	return 0;
}

void telemetry_host_hash(const struct telemetry_config *c, char out[33])
{
	char host[256] = "";

	if (gethostname(host, sizeof(host) - 1) < 0)
		host[0] = '\0';
	telemetry_hash(c, "host", host, out);
}

static void iso_utc(char *buf, size_t size, int64_t ns, bool ms)
{
	time_t s = (time_t)(ns / 1000000000LL);
	struct tm tm;
	size_t n;

	gmtime_r(&s, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	if (ms)
		snprintf(buf + n, size - n, ".%03dZ", (int)(ns % 1000000000LL / 1000000));
	else
		snprintf(buf + n, size - n, "Z");
}

/* The GenAI conventions' operation names for our API names. */
static const char *operation_name(const char *api)
{
	static const struct { const char *api, *op; } ops[] = {
		{ "chat.completions", "chat" }, { "messages", "chat" },
		{ "responses", "chat" }, { "generate_content", "generate_content" },
		{ "stream_generate_content", "generate_content" },
		{ "embeddings", "embeddings" }, { "completions", "text_completion" },
		{ "ollama.chat", "chat" }, { "ollama.generate", "text_completion" },
	};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(api, ops[i].api))
			return ops[i].op;
	return api;
}

static const char *status_class(int status)
{
	static const char *const classes[] = { "1xx", "2xx", "3xx", "4xx", "5xx" };

	return status >= 100 && status < 600 ? classes[status / 100 - 1] : "none";
}

static void add_str_or_null(cJSON *o, const char *name, const char *s)
{
	if (s && s[0])
		cJSON_AddStringToObject(o, name, s);
	else
		cJSON_AddNullToObject(o, name);
}

static void add_ms_or_null(cJSON *o, const char *name, int64_t ms)
{
	if (ms == RECORD_NULL_MS)
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddNumberToObject(o, name, (double)ms);
}

static void add_hash_or_null(const struct telemetry_config *c, cJSON *o, const char *name,
			     const char *domain, const char *value)
{
	char h[33];

	if (!value || !value[0]) {
		cJSON_AddNullToObject(o, name);
		return;
	}
	telemetry_hash(c, domain, value, h);
	cJSON_AddStringToObject(o, name, h);
}

/* {kind, segment, byte_offset} of each breaker: never its shape's text. */
static cJSON *breaker_kinds(const char *breakers)
{
	cJSON *in = breakers && breakers[0] ? cJSON_Parse(breakers) : NULL;
	cJSON *out = cJSON_CreateArray(), *b;

	cJSON_ArrayForEach(b, in) {
		cJSON *kind = cJSON_GetObjectItemCaseSensitive(b, "kind");
		cJSON *seg = cJSON_GetObjectItemCaseSensitive(b, "segment");
		cJSON *off = cJSON_GetObjectItemCaseSensitive(b, "byte_offset");
		cJSON *o;

		if (!cJSON_IsString(kind) || !cJSON_IsString(seg) || !cJSON_IsNumber(off))
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "kind", kind->valuestring);
		cJSON_AddStringToObject(o, "segment", seg->valuestring);
		cJSON_AddNumberToObject(o, "byte_offset", off->valuedouble);
		cJSON_AddItemToArray(out, o);
	}
	cJSON_Delete(in);
	return out;
}

static const char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

cJSON *telemetry_record_json(const struct telemetry_config *c, const struct exchange_record *r,
			     const char *id, const char *host_hash)
{
	cJSON *o = cJSON_CreateObject();
	char bucket[32];

	if (!o)
		return NULL;
	iso_utc(bucket, sizeof(bucket), r->ts_start_ns - r->ts_start_ns % BUCKET_NS, false);
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "llmobs.time_bucket", bucket);
	cJSON_AddStringToObject(o, "gen_ai.operation.name", operation_name(r->api));
	cJSON_AddStringToObject(o, "gen_ai.provider.name", r->provider);
	cJSON_AddStringToObject(o, "llmobs.api", r->api);
	add_str_or_null(o, "gen_ai.request.model", r->request_model);
	add_str_or_null(o, "gen_ai.response.model", r->model);
	cJSON_AddBoolToObject(o, "llmobs.stream", r->stream);
	cJSON_AddStringToObject(o, "llmobs.status_class", status_class(r->status));
	add_str_or_null(o, "error.type", r->error);
	cJSON_AddNumberToObject(o, "gen_ai.usage.input_tokens", (double)r->usage.input_tokens);
	cJSON_AddNumberToObject(o, "gen_ai.usage.output_tokens", (double)r->usage.output_tokens);
	cJSON_AddNumberToObject(o, "gen_ai.usage.cache_read.input_tokens",
				(double)r->usage.cached_input_tokens);
	cJSON_AddNumberToObject(o, "gen_ai.usage.cache_creation.input_tokens",
				(double)r->usage.cache_write_tokens);
	cJSON_AddNumberToObject(o, "llmobs.usage.reasoning_tokens", (double)r->usage.reasoning_tokens);
	cJSON_AddStringToObject(o, "llmobs.usage_source", usage_source_name(r->usage_source));
	cJSON_AddNumberToObject(o, "llmobs.cost_usd", r->cost_usd);
	cJSON_AddBoolToObject(o, "llmobs.priced", r->priced);
	add_ms_or_null(o, "llmobs.latency_ms", r->latency_ms);
	add_ms_or_null(o, "llmobs.ttft_ms", r->ttft_ms);
	cJSON_AddBoolToObject(o, "llmobs.complete", r->complete);
	cJSON_AddStringToObject(o, "llmobs.capture", r->capture);
	/* Prompt-cache analytics: hashes re-keyed with the organisation's key. */
	if (r->cache_analyzed) {
		add_hash_or_null(c, o, "llmobs.cache.template", "template", r->cache_template);
		add_hash_or_null(c, o, "llmobs.cache.account", "account", r->account);
		cJSON_AddNumberToObject(o, "llmobs.cache.cacheable_tokens", (double)r->cacheable_tokens);
		cJSON_AddNumberToObject(o, "llmobs.cache.missed_tokens", (double)r->missed_cache_tokens);
		cJSON_AddNumberToObject(o, "llmobs.cache.missed_usd", r->missed_cache_usd);
		add_str_or_null(o, "llmobs.cache.miss_cause", r->cache_miss_cause);
		cJSON_AddItemToObject(o, "llmobs.cache.breakers", breaker_kinds(r->breakers));
	} else {
		static const char *const nulls[] = {
			"llmobs.cache.template", "llmobs.cache.account",
			"llmobs.cache.cacheable_tokens", "llmobs.cache.missed_tokens",
			"llmobs.cache.missed_usd", "llmobs.cache.miss_cause",
			"llmobs.cache.breakers",
		};

		for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
			cJSON_AddNullToObject(o, nulls[i]);
	}
	/* Attribution, hashed: the host, the program by its file name only, its
	 * app, container, pod and project (the image and container name could
	 * be dictionary words: hashed like the rest). */
	cJSON_AddStringToObject(o, "llmobs.host", host_hash);
	add_hash_or_null(c, o, "llmobs.exe", "exe", basename_of(r->exe));
	add_hash_or_null(c, o, "llmobs.app", "app", r->app);
	add_hash_or_null(c, o, "container.id", "container", r->container_id);
	add_hash_or_null(c, o, "k8s.namespace.name", "namespace", r->k8s_namespace);
	add_hash_or_null(c, o, "k8s.pod.uid", "pod", r->k8s_pod_uid);
	add_hash_or_null(c, o, "llmobs.project", "project", r->project);
	return o;
}

cJSON *telemetry_batch_json(const char *batch_id, int64_t sent_at_ns, const char *host_hash,
			    cJSON *records)
{
	cJSON *o = cJSON_CreateObject(), *sdk;
	char sent[40];

	if (!o) {
		cJSON_Delete(records);
		return NULL;
	}
	iso_utc(sent, sizeof(sent), sent_at_ns, true);
	cJSON_AddStringToObject(o, "schema", TELEMETRY_SCHEMA);
	sdk = cJSON_AddObjectToObject(o, "sdk");
	cJSON_AddStringToObject(sdk, "name", TELEMETRY_SDK_NAME);
	cJSON_AddStringToObject(sdk, "version", TELEMETRY_SDK_VERSION);
	cJSON_AddStringToObject(o, "batch_id", batch_id);
	cJSON_AddStringToObject(o, "sent_at", sent);
	cJSON_AddStringToObject(o, "host", host_hash);
	cJSON_AddItemToObject(o, "records", records);
	return o;
}
