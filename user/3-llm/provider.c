/* Recognising LLM API calls from the request line, Host and body. The path
 * decides the API whatever the host, so gateways and test servers work; the
 * host only names the provider. Responses are provider_usage.c's part. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <cjson/cJSON.h>
#include "estimate.h"
#include "provider.h"
#include "provider_json.h"

bool provider_is_gemini(enum llm_api api)
{
	return api == LLM_API_GENERATE_CONTENT ||
	       api == LLM_API_STREAM_GENERATE_CONTENT || api == LLM_API_GEMINI_EMBED;
}

/* Copies at most n bytes of s into a dst of size sz, always terminated. */
void provider_copy_n(char *dst, size_t sz, const char *s, size_t n)
{
	if (n >= sz)
		n = sz - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static bool mem_ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

static bool mem_contains(const char *s, size_t len, const char *needle)
{
	return memmem(s, len, needle, strlen(needle)) != NULL;
}

/* ---- request side ---- */

struct host_rule {
	const char *host;
	bool suffix;		/* matches host itself or any name ending so */
	const char *provider;	/* the export contract's API family */
	const char *vendor;	/* who serves it, for prices */
};

/* Known API hosts. Anything else is named from the API shape, which keeps
 * gateways and local test servers recognisable. */
static const struct host_rule host_rules[] = {
	{ "api.openai.com",			false, "openai", "openai" },
	{ "api.anthropic.com",			false, "anthropic", "anthropic" },
	{ "generativelanguage.googleapis.com",	false, "google", "google" },
	/* Vertex: aiplatform.googleapis.com, <region>-aiplatform.googleapis.com */
	{ "aiplatform.googleapis.com",		true,  "google", "google" },
	{ ".openai.azure.com",			true,  "azure_openai", "azure" },
	{ ".cognitiveservices.azure.com",	true,  "azure_openai", "azure" },
	{ ".services.ai.azure.com",		true,  "azure_openai", "azure" },
	{ "openrouter.ai",			false, "openai_compatible", "openrouter" },
	{ "api.cerebras.ai",			false, "openai_compatible", "cerebras" },
	{ "api.groq.com",			false, "openai_compatible", "groq" },
	{ "api.mistral.ai",			false, "openai_compatible", "mistral" },
	{ "api.deepseek.com",			false, "openai_compatible", "deepseek" },
	{ "api.x.ai",				false, "openai_compatible", "xai" },
	{ "api.together.xyz",			false, "openai_compatible", "together" },
	{ "api.together.ai",			false, "openai_compatible", "together" },
	{ "api.fireworks.ai",			false, "openai_compatible", "fireworks" },
	{ "api.perplexity.ai",			false, "openai_compatible", "perplexity" },
};

static const struct host_rule *host_rule(const char *host, size_t len)
{
	const char *colon;
	size_t i;

	if (!host)
		return NULL;

	/* "host:port"; a bracketed IPv6 literal never names a provider. */
	colon = memchr(host, ':', len);
	if (colon)
		len = colon - host;
	while (len && host[len - 1] == '.')	/* FQDN form "api.openai.com." */
		len--;
	for (i = 0; i < sizeof(host_rules) / sizeof(host_rules[0]); i++) {
		const struct host_rule *r = &host_rules[i];
		size_t n = strlen(r->host);

		if (len < n || strncasecmp(host + len - n, r->host, n) != 0)
			continue;
		if (len == n || r->suffix)
			return r;
	}
	return NULL;
}

static const char *provider_from_host(const char *host, size_t len)
{
	const struct host_rule *r = host_rule(host, len);

	return r ? r->provider : NULL;
}

const char *provider_vendor(const char *host, size_t host_len)
{
	const struct host_rule *r = host_rule(host, host_len);

	return r ? r->vendor : NULL;
}

static const char *provider_from_api(enum llm_api api)
{
	switch (api) {
	case LLM_API_MESSAGES:
		return "anthropic";
	case LLM_API_GENERATE_CONTENT:
	case LLM_API_STREAM_GENERATE_CONTENT:
	case LLM_API_GEMINI_EMBED:
		return "google";
	case LLM_API_OLLAMA_CHAT:
	case LLM_API_OLLAMA_GENERATE:
		return "ollama";
	default:
		return "openai";
	}
}

/* Vertex AI names the model and the method in the last path segment:
 * Gemini ".../models/<m>:generateContent" (also the Gemini API's own
 * "/v1beta/models/<m>:..."), and Claude on Vertex
 * ".../publishers/anthropic/models/<m>:rawPredict", which takes and returns
 * Messages bodies. */
static enum llm_api classify_model_path(const char *p, size_t len,
					struct llm_request_info *out)
{
	const char *seg = p, *s, *colon;
	enum llm_api api;
	size_t rest;

	while ((s = memmem(seg, len - (seg - p), "/models/", 8)) != NULL)
		seg = s + 8;
	if (seg == p || memchr(seg, '/', len - (seg - p)))
		return LLM_API_NONE;
	colon = memchr(seg, ':', len - (seg - p));
	if (!colon || colon == seg)
		return LLM_API_NONE;
	rest = len - (colon - p);
	if (rest == 16 && memcmp(colon, ":generateContent", 16) == 0) {
		api = LLM_API_GENERATE_CONTENT;
	} else if (rest == 22 && memcmp(colon, ":streamGenerateContent", 22) == 0) {
		api = LLM_API_STREAM_GENERATE_CONTENT;
		out->stream = true;
	} else if ((rest == 13 && memcmp(colon, ":embedContent", 13) == 0) ||
		   (rest == 19 && memcmp(colon, ":batchEmbedContents", 19) == 0)) {
		api = LLM_API_GEMINI_EMBED;
	} else if (rest == 12 && memcmp(colon, ":countTokens", 12) == 0) {
		api = LLM_API_COUNT_TOKENS;
	} else if (mem_contains(p, seg - p, "/publishers/anthropic/") &&
		   ((rest == 11 && memcmp(colon, ":rawPredict", 11) == 0) ||
		    (rest == 17 && memcmp(colon, ":streamRawPredict", 17) == 0))) {
		api = LLM_API_MESSAGES;
		out->stream = rest == 17;
	} else {
		return LLM_API_NONE;
	}
	provider_copy_n(out->model, sizeof(out->model), seg, colon - seg);
	return api;
}

/* "<prefix><id><suffix>" with an id of one segment, ignoring the query. */
static bool path_is(const char *path, size_t len, const char *prefix, const char *suffix)
{
	size_t p = strlen(prefix), s = strlen(suffix);
	const char *q = memchr(path, '?', len);

	if (q)
		len = q - path;
	if (len <= p + s || memcmp(path, prefix, p) || memcmp(path + len - s, suffix, s))
		return false;
	return memchr(path + p, '/', len - p - s) == NULL;
}

/* Batch results are fetched with GET: usage for calls made earlier, billed
 * at the batch price. OpenAI's come as a batch's output file, which looks
 * like any file download until its lines are read. */
static enum llm_api classify_get(const char *path, size_t len)
{
	if (path_is(path, len, "/v1/messages/batches/", "/results") ||
	    path_is(path, len, "/v1/files/", "/content") ||
	    path_is(path, len, "/openai/files/", "/content") ||
	    path_is(path, len, "/openai/v1/files/", "/content"))
		return LLM_API_BATCH_RESULTS;
	return LLM_API_NONE;
}

static enum llm_api classify_path(const char *path, size_t len,
				  struct llm_request_info *out)
{
	const char *q;

	/* Match on the path alone: "?beta=true", "?alt=sse", "?api-version=". */
	q = memchr(path, '?', len);
	if (q)
		len = q - path;
	q = memchr(path, '#', len);
	if (q)
		len = q - path;
	while (len > 1 && path[len - 1] == '/')
		len--;

	if (mem_ends_with(path, len, "/chat/completions"))
		return LLM_API_CHAT_COMPLETIONS;
	/* Ollama's own API (its OpenAI-compatible /v1/... is matched above). */
	if (len == 9 && memcmp(path, "/api/chat", 9) == 0)
		return LLM_API_OLLAMA_CHAT;
	if (len == 13 && memcmp(path, "/api/generate", 13) == 0)
		return LLM_API_OLLAMA_GENERATE;
	/* Token counting is free but still a call worth seeing (it is rate
	 * limited); recorded with cost 0. */
	if (mem_ends_with(path, len, "/messages/count_tokens") ||
	    mem_ends_with(path, len, "/responses/input_tokens"))
		return LLM_API_COUNT_TOKENS;
	if (mem_ends_with(path, len, "/embeddings"))
		return LLM_API_EMBEDDINGS;
	/* Legacy completions: "/v1/completions" or Azure's
	 * "/openai/deployments/<d>/completions", not any ".../completions". */
	if (mem_ends_with(path, len, "/v1/completions") ||
	    (mem_ends_with(path, len, "/completions") &&
	     mem_contains(path, len, "/openai/deployments/")))
		return LLM_API_COMPLETIONS;
	/* /responses/compact returns Responses-shaped usage and is billed. */
	if (mem_ends_with(path, len, "/responses") ||
	    mem_ends_with(path, len, "/responses/compact"))
		return LLM_API_RESPONSES;
	/* Assistants' /threads/<id>/messages only stores a message. */
	if (mem_ends_with(path, len, "/messages") &&
	    !mem_contains(path, len, "/threads/"))
		return LLM_API_MESSAGES;
	return classify_model_path(path, len, out);
}

/* Azure's classic path names the deployment: a name the customer chose,
 * not a model. It is recorded as such, and stands in for the request's
 * model only when the body does not say (pricing uses the response's). */
static void take_deployment(const char *path, size_t len,
			    struct llm_request_info *out)
{
	const char *s = memmem(path, len, "/deployments/", 13), *e;

	if (!s)
		return;
	s += 13;
	for (e = s; e < path + len && *e != '/' && *e != '?'; e++)
		;
	if (e > s)
		provider_copy_n(out->deployment, sizeof(out->deployment), s, e - s);
}

/* Counted now, while the body is parsed, in case the response brings no
 * usage; -1 when it cannot be (no ranks, capped or non-JSON body). */
static int64_t estimate_input(enum llm_api api, const char *provider,
			      const char *model, const cJSON *root)
{
	int64_t n;
	bool exact;

	if (!cJSON_IsObject(root) || !llm_api_billed(api))
		return -1;
	n = estimate_request_tokens(api, model, root);
	if (n < 0)
		return -1;
	estimate_encoding(model, &exact);
	return exact ? n : estimate_scale(provider, api, n, false);
}

static int classify_request(const char *method, size_t method_len,
			    const char *path, size_t path_len,
			    const char *host, size_t host_len,
			    const char *body, size_t body_len,
			    struct llm_request_info *out, bool count)
{
	const char *provider;
	enum llm_api api;
	cJSON *root, *m;

	memset(out, 0, sizeof(*out));
	if (!path || !path_len || !method)
		return -ENOENT;
	if (method_len == 3 && memcmp(method, "GET", 3) == 0)
		api = classify_get(path, path_len);
	else if (method_len == 4 && memcmp(method, "POST", 4) == 0)
		api = classify_path(path, path_len, out);
	else
		return -ENOENT;
	if (api == LLM_API_NONE) {
		memset(out, 0, sizeof(*out));
		return -ENOENT;
	}
	out->api = api;

	provider = host && host_len ? provider_from_host(host, host_len) : NULL;
	if (!provider && api == LLM_API_BATCH_RESULTS &&
	    mem_contains(path, path_len, "/messages/batches/"))
		provider = "anthropic";
	if (!provider)
		provider = provider_from_api(api);
	snprintf(out->provider, sizeof(out->provider), "%s", provider);

	/* A capped or non-JSON body still leaves a classified call. */
	root = body && body_len ? cJSON_ParseWithLength(body, body_len) : NULL;
	if (cJSON_IsObject(root)) {
		m = cJSON_GetObjectItemCaseSensitive(root, "model");
		/* Gemini's path names the model; a body "model" is not its field. */
		if (!provider_is_gemini(api) && cJSON_IsString(m) && m->valuestring[0])
			snprintf(out->model, sizeof(out->model), "%s", m->valuestring);
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "stream")))
			out->stream = true;
		/* Ollama streams unless told "stream": false. */
		if ((api == LLM_API_OLLAMA_CHAT || api == LLM_API_OLLAMA_GENERATE) &&
		    !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(root, "stream")))
			out->stream = true;
	}
	take_deployment(path, path_len, out);
	if (!out->model[0])
		snprintf(out->model, sizeof(out->model), "%s", out->deployment);
	out->est_input_tokens = count ? estimate_input(api, out->provider, out->model, root) : -1;
	cJSON_Delete(root);
	return 0;
}

int provider_classify_request(const char *method, size_t method_len,
			      const char *path, size_t path_len,
			      const char *host, size_t host_len,
			      const char *body, size_t body_len,
			      struct llm_request_info *out)
{
	return classify_request(method, method_len, path, path_len, host, host_len,
				body, body_len, out, true);
}

int provider_classify_request_uncounted(const char *method, size_t method_len,
					const char *path, size_t path_len,
					const char *host, size_t host_len,
					const char *body, size_t body_len,
					struct llm_request_info *out)
{
	return classify_request(method, method_len, path, path_len, host, host_len,
				body, body_len, out, false);
}

void provider_count_request(struct llm_request_info *req, const char *body, size_t body_len)
{
	cJSON *root = body && body_len ? cJSON_ParseWithLength(body, body_len) : NULL;

	req->est_input_tokens = estimate_input(req->api, req->provider, req->model, root);
	cJSON_Delete(root);
}
