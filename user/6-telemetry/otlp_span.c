/* exchange record -> OTLP/JSON span and resource (otlp_span.h), and a batch
 * of them -> one export request. Built with cJSON, which escapes; strings
 * are first made valid UTF-8 (a collector rejects a request that is not),
 * as the export's JSON writer does. The attribute names are checked by
 * tests/otlp/ against the semantic conventions' published list. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "otlp_span.h"
#include "provider.h"
#include "telemetry_record.h"

const char *otlp_operation_name(const char *api)
{
	static const struct { const char *api, *op; } ops[] = {
		{ "chat.completions", "chat" }, { "messages", "chat" }, { "responses", "chat" },
		{ "ollama.chat", "chat" }, { "generate_content", "generate_content" },
		{ "stream_generate_content", "generate_content" }, { "embeddings", "embeddings" },
		{ "completions", "text_completion" }, { "ollama.generate", "text_completion" },
	};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(api, ops[i].api))
			return ops[i].op;
	return api[0] ? api : "chat";
}

const char *otlp_provider_name(const char *provider, const char *host)
{
	/* provider_vendor()'s names -> the convention's well-known values */
	static const struct { const char *ours, *semconv; } names[] = {
		{ "azure", "azure.ai.openai" }, { "azure_openai", "azure.ai.openai" },
		{ "mistral", "mistral_ai" }, { "xai", "x_ai" }, { "bedrock", "aws.bedrock" },
	};
	const char *v = host && host[0] ? provider_vendor(host, strlen(host)) : NULL;

	if (!strcmp(provider, "google") || (v && !strcmp(v, "google"))) {
		/* Vertex AI and the Gemini API share the wire format, not the name */
		if (host && strstr(host, "aiplatform.googleapis.com"))
			return "gcp.vertex_ai";
		return host && strstr(host, "generativelanguage.googleapis.com") ? "gcp.gemini"
										 : "gcp.gen_ai";
	}
	if (!v)
		v = provider;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(v, names[i].ours))
			return names[i].semconv;
	return strcmp(v, "openai_compatible") ? v : "openai";
}

/* s, at most max bytes of it, as valid UTF-8 in buf (bad bytes -> U+FFFD). */
static const char *utf8(const char *s, size_t max, char *buf, size_t size)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strnlen(s, max), i = 0, o = 0, len;

	while (i < n && o + 4 < size) {
		if ((len = record_utf8_seq_len(p + i, n - i)) == 0) {
			memcpy(buf + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else {
			memcpy(buf + o, p + i, len);
			o += len;
			i += len;
		}
	}
	buf[o] = '\0';
	return buf;
}

/* {"key": k, "value": {<type>: v}} appended to the array a. */
static cJSON *attr(cJSON *a, const char *k)
{
	cJSON *kv = cJSON_CreateObject(), *v = cJSON_CreateObject();

	if (!kv || !v) {	/* the cJSON_Add* that follow take NULL */
		cJSON_Delete(kv);
		cJSON_Delete(v);
		return NULL;
	}
	cJSON_AddStringToObject(kv, "key", k);
	cJSON_AddItemToObject(kv, "value", v);
	cJSON_AddItemToArray(a, kv);
	return v;
}

#define STR(a, k, field) attr_str(a, k, field, sizeof(field))

static void attr_str(cJSON *a, const char *k, const char *s, size_t max)
{
	char buf[3 * 1024 + 4];

	if (s && s[0])
		cJSON_AddStringToObject(attr(a, k), "stringValue", utf8(s, max, buf, sizeof(buf)));
}

static void attr_int(cJSON *a, const char *k, int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);	/* int64: a JSON string */
	cJSON_AddStringToObject(attr(a, k), "intValue", buf);
}

static void attr_double(cJSON *a, const char *k, double v)
{
	cJSON_AddNumberToObject(attr(a, k), "doubleValue", v);
}

static void attr_bool(cJSON *a, const char *k, bool v)
{
	cJSON_AddBoolToObject(attr(a, k), "boolValue", v);
}

static bool has_key(const cJSON *a, const char *k)
{
	const cJSON *kv;

	cJSON_ArrayForEach(kv, a)
		if (!strcmp(cJSON_GetObjectItem(kv, "key")->valuestring, k))
			return true;
	return false;
}

static char *print(cJSON *o)
{
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;

	cJSON_Delete(o);
	return s;
}

char *otlp_resource_json(const struct otlp_config *c, const char *host_name,
			 const struct exchange_record *r)
{
	cJSON *a = cJSON_CreateArray();
	char svc[160];

	if (!a)
		return NULL;
	/* service.name: the app ("gemini", not "node"); else OTEL_SERVICE_NAME;
	 * else the convention's own fallback, unknown_service:<executable>. */
	if (r->app[0])
		STR(a, "service.name", r->app);
	else if (c && c->service_name[0])
		STR(a, "service.name", c->service_name);
	else {
		snprintf(svc, sizeof(svc), "unknown_service:%s", r->comm[0] ? r->comm : "llm");
		attr_str(a, "service.name", svc, sizeof(svc));
	}
	attr_int(a, "process.pid", r->pid);
	STR(a, "process.executable.path", r->exe);
	STR(a, "process.executable.name", r->comm);
	if (r->uid >= 0)
		attr_int(a, "process.user.id", r->uid);
	STR(a, "container.id", r->container_id);
	STR(a, "container.runtime.name", r->container_runtime);
	STR(a, "container.image.name", r->container_image);
	STR(a, "k8s.pod.uid", r->k8s_pod_uid);
	STR(a, "k8s.pod.name", r->k8s_pod);
	STR(a, "k8s.namespace.name", r->k8s_namespace);
	STR(a, "k8s.container.name", r->k8s_container);
	STR(a, OTLP_ATTR_PREFIX "project", r->project);
	/* OTEL_RESOURCE_ATTRIBUTES: the operator's (k8s.cluster.name,
	 * deployment.environment, a DaemonSet's host.name=$(NODE_NAME)...);
	 * what the exchange says wins. */
	for (int i = 0; c && i < c->nres; i++)
		if (!has_key(a, c->res_keys[i]))
			attr_str(a, c->res_keys[i], c->res_values[i], OTLP_MAX_VALUE_BYTES);
	if (host_name && host_name[0] && !has_key(a, "host.name"))
		attr_str(a, "host.name", host_name, 256);
	return print(a);
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* "host" or "host:port" (not a bracketed IPv6 literal's colons). */
static void server_attrs(cJSON *a, const char *host)
{
	const char *colon = strrchr(host, ':'), *bracket = strchr(host, ']');
	char name[256];
	char *end;
	long port;

	if (!host[0])
		return;
	if (colon && (host[0] == '[' ? bracket && colon > bracket : strchr(host, ':') == colon)) {
		port = strtol(colon + 1, &end, 10);
		if (!*end && port > 0 && port < 65536) {
			snprintf(name, sizeof(name), "%.*s", (int)(colon - host), host);
			attr_str(a, "server.address", name, sizeof(name));
			attr_int(a, "server.port", port);
			return;
		}
	}
	attr_str(a, "server.address", host, 256);
}

static void usage_attrs(cJSON *a, const struct exchange_record *r)
{
	const struct llm_usage *u = &r->usage;

	if (r->usage_source == USAGE_NONE)
		return;
	attr_int(a, "gen_ai.usage.input_tokens", u->input_tokens);
	attr_int(a, "gen_ai.usage.output_tokens", u->output_tokens);
	attr_int(a, "gen_ai.usage.cache_read.input_tokens", u->cached_input_tokens);
	attr_int(a, "gen_ai.usage.cache_creation.input_tokens", u->cache_write_tokens);
	if (u->reasoning_tokens)
		attr_int(a, "gen_ai.usage.reasoning.output_tokens", u->reasoning_tokens);
	if (u->cache_write_1h_tokens)
		attr_int(a, OTLP_ATTR_PREFIX "usage.cache_creation_1h.input_tokens",
			 u->cache_write_1h_tokens);
}

/* Our own fields: cost, and the prompt-cache analysis (issue 9). */
static void llmobs_attrs(cJSON *a, const struct exchange_record *r)
{
	STR(a, OTLP_ATTR_PREFIX "api", r->api);
	STR(a, OTLP_ATTR_PREFIX "capture", r->capture);
	STR(a, OTLP_ATTR_PREFIX "protocol", r->protocol);
	STR(a, OTLP_ATTR_PREFIX "deployment", r->deployment);
	attr_str(a, OTLP_ATTR_PREFIX "usage.source", usage_source_name(r->usage_source), 16);
	attr_bool(a, OTLP_ATTR_PREFIX "complete", r->complete);
	attr_bool(a, OTLP_ATTR_PREFIX "priced", r->priced);
	if (r->priced)
		attr_double(a, OTLP_ATTR_PREFIX "cost_usd", r->cost_usd);
	if (r->provider_cost_known)
		attr_double(a, OTLP_ATTR_PREFIX "provider_cost_usd", r->provider_cost_usd);
	STR(a, OTLP_ATTR_PREFIX "account", r->account);
	if (!r->cache_analyzed)
		return;
	STR(a, OTLP_ATTR_PREFIX "cache.template", r->cache_template);
	attr_int(a, OTLP_ATTR_PREFIX "cache.cacheable_tokens", r->cacheable_tokens);
	attr_int(a, OTLP_ATTR_PREFIX "cache.missed_tokens", r->missed_cache_tokens);
	attr_double(a, OTLP_ATTR_PREFIX "cache.missed_usd", r->missed_cache_usd);
	STR(a, OTLP_ATTR_PREFIX "cache.miss_cause", r->cache_miss_cause);
}

char *otlp_span_json(const struct exchange_record *r, const uint8_t ids[24])
{
	cJSON *s = cJSON_CreateObject(), *a, *st;
	const char *op = otlp_operation_name(r->api);
	const char *model = r->request_model[0] ? r->request_model : r->model;
	char trace[33], span[17], name[200], name_utf8[600], t0[24], t1[24], err[48];

	if (!s)
		return NULL;
	hex(ids, 16, trace);
	hex(ids + 16, 8, span);
	cJSON_AddStringToObject(s, "traceId", trace);
	cJSON_AddStringToObject(s, "spanId", span);
	/* The convention's span name: "{operation} {request model}" */
	snprintf(name, sizeof(name), "%s%s%s", op, model[0] ? " " : "", model);
	cJSON_AddStringToObject(s, "name", utf8(name, sizeof(name), name_utf8, sizeof(name_utf8)));
	cJSON_AddNumberToObject(s, "kind", OTLP_SPAN_KIND_CLIENT);
	snprintf(t0, sizeof(t0), "%lld", (long long)r->ts_start_ns);
	snprintf(t1, sizeof(t1), "%lld",
		 (long long)(r->ts_end_ns >= r->ts_start_ns ? r->ts_end_ns : r->ts_start_ns));
	cJSON_AddStringToObject(s, "startTimeUnixNano", t0);
	cJSON_AddStringToObject(s, "endTimeUnixNano", t1);
	a = cJSON_AddArrayToObject(s, "attributes");
	attr_str(a, "gen_ai.operation.name", op, 64);
	attr_str(a, "gen_ai.provider.name", otlp_provider_name(r->provider, r->host), 64);
	attr_str(a, "gen_ai.request.model", model, sizeof(r->model));
	if (r->status >= 200 && r->status < 300)
		STR(a, "gen_ai.response.model", r->model);
	usage_attrs(a, r);
	if (r->stream && r->ttft_ms >= 0)
		attr_double(a, "gen_ai.response.time_to_first_chunk", (double)r->ttft_ms / 1e3);
	server_attrs(a, r->host);
	if (r->status > 0)
		attr_int(a, "http.response.status_code", r->status);
	/* error.type: the provider's error, else the HTTP status (as the HTTP
	 * conventions do); the span's status says ERROR either way. */
	err[0] = '\0';
	if (r->error[0])
		snprintf(err, sizeof(err), "%s", r->error);
	else if (r->status >= 400)
		snprintf(err, sizeof(err), "%d", r->status);
	attr_str(a, "error.type", err, sizeof(err));
	llmobs_attrs(a, r);
	if (err[0]) {
		st = cJSON_AddObjectToObject(s, "status");
		cJSON_AddNumberToObject(st, "code", OTLP_STATUS_ERROR);
	}
	return print(s);
}

char *otlp_request_json(size_t n, char *const *resources, char *const *spans)
{
	cJSON *doc = cJSON_CreateObject(), *rs = cJSON_AddArrayToObject(doc, "resourceSpans");
	bool *done = calloc(n ? n : 1, sizeof(*done));

	if (!doc || !rs || !done) {
		free(done);
		cJSON_Delete(doc);
		return NULL;
	}
	/* Groups in order of first appearance; a batch has few processes, so
	 * comparing each span's resource with each group's is cheap. */
	for (size_t i = 0; i < n; i++) {
		cJSON *g, *res, *ss, *scope, *list;

		if (done[i])
			continue;
		g = cJSON_CreateObject();
		cJSON_AddItemToArray(rs, g);
		res = cJSON_AddObjectToObject(g, "resource");
		cJSON_AddRawToObject(res, "attributes", resources[i]);
		ss = cJSON_CreateObject();
		cJSON_AddItemToArray(cJSON_AddArrayToObject(g, "scopeSpans"), ss);
		scope = cJSON_AddObjectToObject(ss, "scope");
		cJSON_AddStringToObject(scope, "name", OTLP_SCOPE_NAME);
		cJSON_AddStringToObject(scope, "version", TELEMETRY_SDK_VERSION);
		list = cJSON_AddArrayToObject(ss, "spans");
		for (size_t j = i; j < n; j++) {
			if (done[j] || strcmp(resources[j], resources[i]))
				continue;
			cJSON_AddItemToArray(list, cJSON_CreateRaw(spans[j]));
			done[j] = true;
		}
	}
	free(done);
	return print(doc);
}
