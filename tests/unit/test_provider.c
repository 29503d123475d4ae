/* provider.c: request recognition, and model / usage / error extraction from
 * whole bodies and SSE streams. Hand-written fixtures pin each rule; the
 * shared corpus then checks every recorded exchange against `expected`. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include "provider.h"
#include "sse.h"
#include "corpus_util.h"

#define S(x) (x), sizeof(x) - 1

/* ---- request classification ---- */

struct classify_case {
	const char *name, *method, *path, *host, *body;
	int ret;
	enum llm_api api;
	const char *provider, *model;
	bool stream;
};

static const struct classify_case classify_cases[] = {
	{ "openai chat", "POST", "/v1/chat/completions", "api.openai.com",
	  "{\"model\":\"gpt-4o\",\"messages\":[]}", 0,
	  LLM_API_CHAT_COMPLETIONS, "openai", "gpt-4o", false },
	{ "chat stream", "POST", "/v1/chat/completions", "api.openai.com:443",
	  "{\"model\":\"gpt-4o\",\"stream\":true}", 0,
	  LLM_API_CHAT_COMPLETIONS, "openai", "gpt-4o", true },
	{ "stream false", "POST", "/v1/chat/completions", "api.openai.com",
	  "{\"model\":\"gpt-4o\",\"stream\":false}", 0,
	  LLM_API_CHAT_COMPLETIONS, "openai", "gpt-4o", false },
	{ "GET is not a call", "GET", "/v1/chat/completions", "api.openai.com",
	  "", -ENOENT, LLM_API_NONE, "", "", false },
	{ "lowercase method", "post", "/v1/chat/completions", "api.openai.com",
	  "", -ENOENT, LLM_API_NONE, "", "", false },
	{ "unknown host, chat shape", "POST", "/gateway/openai/v1/chat/completions?x=1",
	  "llm-gw.internal:8443", "{\"model\":\"m\"}", 0,
	  LLM_API_CHAT_COMPLETIONS, "openai", "m", false },
	{ "responses", "POST", "/v1/responses", "api.openai.com",
	  "{\"model\":\"gpt-5\",\"stream\":true}", 0,
	  LLM_API_RESPONSES, "openai", "gpt-5", true },
	{ "responses compact", "POST", "/v1/responses/compact", "api.openai.com",
	  "{\"model\":\"gpt-4.1\"}", 0, LLM_API_RESPONSES, "openai", "gpt-4.1", false },
	{ "responses input_tokens", "POST", "/v1/responses/input_tokens",
	  "api.openai.com", "{\"model\":\"gpt-5\"}", 0, LLM_API_COUNT_TOKENS, "openai",
	  "gpt-5", false },
	{ "responses GET by id", "GET", "/v1/responses/resp_123", "api.openai.com",
	  "", -ENOENT, LLM_API_NONE, "", "", false },
	{ "anthropic beta query", "POST", "/v1/messages?beta=true", "api.anthropic.com",
	  "{\"model\":\"claude-sonnet-4-5\",\"stream\":true}", 0,
	  LLM_API_MESSAGES, "anthropic", "claude-sonnet-4-5", true },
	{ "count_tokens not billed", "POST", "/v1/messages/count_tokens",
	  "api.anthropic.com", "{\"model\":\"x\"}", 0, LLM_API_COUNT_TOKENS, "anthropic",
	  "x", false },
	{ "assistants thread message", "POST", "/v1/threads/thread_1/messages",
	  "api.openai.com", "{}", -ENOENT, LLM_API_NONE, "", "", false },
	{ "messages unknown host", "POST", "/anthropic/v1/messages", "127.0.0.1:9000",
	  "{\"model\":\"claude-x\"}", 0, LLM_API_MESSAGES, "anthropic", "claude-x", false },
	{ "gemini", "POST", "/v1beta/models/gemini-2.5-pro:generateContent",
	  "generativelanguage.googleapis.com", "{\"contents\":[]}", 0,
	  LLM_API_GENERATE_CONTENT, "google", "gemini-2.5-pro", false },
	{ "gemini stream", "POST",
	  "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
	  "generativelanguage.googleapis.com", "", 0,
	  LLM_API_STREAM_GENERATE_CONTENT, "google", "gemini-2.0-flash", true },
	{ "vertex", "POST",
	  "/v1beta1/projects/p/locations/global/publishers/google/models/gemini-2.5-flash:generateContent",
	  "europe-west4-aiplatform.googleapis.com", "{}", 0,
	  LLM_API_GENERATE_CONTENT, "google", "gemini-2.5-flash", false },
	{ "gemini body model ignored", "POST", "/v1beta/models/gemini-2.0-flash:generateContent",
	  "localhost", "{\"model\":\"other\"}", 0,
	  LLM_API_GENERATE_CONTENT, "google", "gemini-2.0-flash", false },
	{ "claude on vertex", "POST",
	  "/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict",
	  "us-east5-aiplatform.googleapis.com", "{\"anthropic_version\":\"vertex-2023-10-16\"}", 0,
	  LLM_API_MESSAGES, "google", "claude-sonnet-4-5@20250929", false },
	{ "claude on vertex, stream", "POST",
	  "/v1/projects/p/locations/global/publishers/anthropic/models/claude-opus-4-1@20250805:streamRawPredict",
	  "aiplatform.googleapis.com", "{\"stream\":true}", 0,
	  LLM_API_MESSAGES, "google", "claude-opus-4-1@20250805", true },
	{ "rawPredict of another publisher", "POST",
	  "/v1/projects/p/locations/global/publishers/meta/models/llama:rawPredict",
	  "aiplatform.googleapis.com", "{}", -ENOENT, LLM_API_NONE, "", "", false },
	{ "gemini method lookalike", "POST", "/v1beta/models/gemini-2.0-flash:generateContentX",
	  "generativelanguage.googleapis.com", "{}", -ENOENT, LLM_API_NONE, "", "", false },
	{ "gemini countTokens", "POST", "/v1beta/models/gemini-2.0-flash:countTokens",
	  "generativelanguage.googleapis.com", "{}", 0, LLM_API_COUNT_TOKENS, "google",
	  "gemini-2.0-flash", false },
	{ "gemini embedContent", "POST", "/v1beta/models/gemini-embedding-001:embedContent",
	  "generativelanguage.googleapis.com", "{}", 0, LLM_API_GEMINI_EMBED, "google",
	  "gemini-embedding-001", false },
	{ "gemini batchEmbedContents", "POST",
	  "/v1beta/models/text-embedding-004:batchEmbedContents",
	  "generativelanguage.googleapis.com", "{}", 0, LLM_API_GEMINI_EMBED, "google",
	  "text-embedding-004", false },
	{ "openai embeddings", "POST", "/v1/embeddings", "api.openai.com",
	  "{\"model\":\"text-embedding-3-small\",\"input\":\"x\"}", 0, LLM_API_EMBEDDINGS,
	  "openai", "text-embedding-3-small", false },
	{ "azure embeddings", "POST",
	  "/openai/deployments/emb/embeddings?api-version=2024-10-21", "r.openai.azure.com",
	  "{\"input\":\"x\"}", 0, LLM_API_EMBEDDINGS, "azure_openai", "emb", false },
	{ "legacy completions", "POST", "/v1/completions", "api.openai.com",
	  "{\"model\":\"gpt-3.5-turbo-instruct\",\"prompt\":\"x\",\"stream\":true}", 0,
	  LLM_API_COMPLETIONS, "openai", "gpt-3.5-turbo-instruct", true },
	{ "azure legacy completions", "POST",
	  "/openai/deployments/inst/completions?api-version=2024-10-21", "r.openai.azure.com",
	  "{\"prompt\":\"x\"}", 0, LLM_API_COMPLETIONS, "azure_openai", "inst", false },
	{ "completions lookalike", "POST", "/v2/foo/completions", "api.openai.com", "{}",
	  -ENOENT, LLM_API_NONE, "", "", false },
	{ "deepseek", "POST", "/chat/completions", "api.deepseek.com",
	  "{\"model\":\"deepseek-chat\"}", 0, LLM_API_CHAT_COMPLETIONS, "openai_compatible",
	  "deepseek-chat", false },
	{ "gemini no model", "POST", "/v1beta/models/:generateContent",
	  "generativelanguage.googleapis.com", "{}", -ENOENT, LLM_API_NONE, "", "", false },
	{ "azure deployment", "POST",
	  "/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21",
	  "res.openai.azure.com", "{\"messages\":[]}", 0,
	  LLM_API_CHAT_COMPLETIONS, "azure_openai", "my-gpt4o", false },
	{ "azure v1 responses", "POST", "/openai/v1/responses",
	  "x.openai.azure.com", "{\"model\":\"gpt-5.4\"}", 0,
	  LLM_API_RESPONSES, "azure_openai", "gpt-5.4", false },
	{ "not azure lookalike", "POST", "/v1/chat/completions",
	  "evilopenai.azure.com", "{}", 0,
	  LLM_API_CHAT_COMPLETIONS, "openai", "", false },
	{ "openrouter", "POST", "/api/v1/chat/completions", "openrouter.ai",
	  "{\"model\":\"openai/gpt-4o\"}", 0,
	  LLM_API_CHAT_COMPLETIONS, "openai_compatible", "openai/gpt-4o", false },
	{ "groq", "POST", "/openai/v1/chat/completions", "API.GROQ.COM",
	  "{\"model\":\"llama\"}", 0,
	  LLM_API_CHAT_COMPLETIONS, "openai_compatible", "llama", false },
	{ "google openai endpoint", "POST", "/v1beta/openai/chat/completions",
	  "generativelanguage.googleapis.com", "{\"model\":\"gemini-2.5-pro\"}", 0,
	  LLM_API_CHAT_COMPLETIONS, "google", "gemini-2.5-pro", false },
	{ "capped body", "POST", "/v1/chat/completions", "api.openai.com",
	  "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"con", 0,
	  LLM_API_CHAT_COMPLETIONS, "openai", "", false },
	{ "not json", "POST", "/v1/messages", "api.anthropic.com", "\x1f\x8b\x08\x00", 0,
	  LLM_API_MESSAGES, "anthropic", "", false },
	{ "model not a string", "POST", "/v1/messages", "api.anthropic.com",
	  "{\"model\":42,\"stream\":\"yes\"}", 0,
	  LLM_API_MESSAGES, "anthropic", "", false },
	{ "other path", "POST", "/v1/files", "api.openai.com", "{}",
	  -ENOENT, LLM_API_NONE, "", "", false },
	{ "anthropic batch results", "GET", "/v1/messages/batches/msgbatch_01/results",
	  "api.anthropic.com", "", 0, LLM_API_BATCH_RESULTS, "anthropic", "", false },
	{ "anthropic batch results, gateway", "GET", "/v1/messages/batches/b/results?x=1",
	  "gw.local", "", 0, LLM_API_BATCH_RESULTS, "anthropic", "", false },
	{ "openai file content", "GET", "/v1/files/file-abc/content", "api.openai.com",
	  "", 0, LLM_API_BATCH_RESULTS, "openai", "", false },
	{ "azure file content", "GET", "/openai/files/file-abc/content?api-version=2024-10-21",
	  "r.openai.azure.com", "", 0, LLM_API_BATCH_RESULTS, "azure_openai", "", false },
	{ "batch status is no result", "GET", "/v1/messages/batches/msgbatch_01",
	  "api.anthropic.com", "", -ENOENT, LLM_API_NONE, "", "", false },
	{ "file metadata is no result", "GET", "/v1/files/file-abc", "api.openai.com", "",
	  -ENOENT, LLM_API_NONE, "", "", false },
	{ "nested id is no result", "GET", "/v1/files/a/b/content", "api.openai.com", "",
	  -ENOENT, LLM_API_NONE, "", "", false },
	{ "DELETE", "DELETE", "/v1/files/file-abc/content", "api.openai.com", "",
	  -ENOENT, LLM_API_NONE, "", "", false },
	{ "root path", "POST", "/", "example.com", "", -ENOENT, LLM_API_NONE, "", "", false },
	{ "suffix lookalike", "POST", "/v1/chat/completionsX", "api.openai.com", "",
	  -ENOENT, LLM_API_NONE, "", "", false },
};

static void test_classify(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(classify_cases) / sizeof(classify_cases[0]); i++) {
		const struct classify_case *c = &classify_cases[i];
		struct llm_request_info info;
		int ret;

		ret = provider_classify_request(c->method, strlen(c->method), c->path,
						strlen(c->path), c->host, strlen(c->host),
						c->body, strlen(c->body), &info);
		if (ret != c->ret || (!ret && (info.api != c->api ||
		    strcmp(info.provider, c->provider) ||
		    strcmp(info.model, c->model) || info.stream != c->stream)))
			print_message("case failed: %s\n", c->name);
		assert_int_equal(ret, c->ret);
		if (ret)
			continue;
		assert_int_equal(info.api, c->api);
		assert_string_equal(info.provider, c->provider);
		assert_string_equal(info.model, c->model);
		assert_int_equal(info.stream, c->stream);
	}
}

static void test_api_names(void **state)
{
	assert_string_equal(llm_api_name(LLM_API_CHAT_COMPLETIONS), "chat.completions");
	assert_string_equal(llm_api_name(LLM_API_RESPONSES), "responses");
	assert_string_equal(llm_api_name(LLM_API_MESSAGES), "messages");
	assert_string_equal(llm_api_name(LLM_API_GENERATE_CONTENT), "generate_content");
	assert_string_equal(llm_api_name(LLM_API_STREAM_GENERATE_CONTENT),
			    "stream_generate_content");
	assert_string_equal(llm_api_name(LLM_API_EMBEDDINGS), "embeddings");
	assert_string_equal(llm_api_name(LLM_API_GEMINI_EMBED), "embeddings");
	assert_string_equal(llm_api_name(LLM_API_COMPLETIONS), "completions");
	assert_string_equal(llm_api_name(LLM_API_COUNT_TOKENS), "count_tokens");
	assert_false(llm_api_billed(LLM_API_COUNT_TOKENS));
	assert_false(llm_api_name_billed("count_tokens"));
	assert_true(llm_api_billed(LLM_API_EMBEDDINGS));
	assert_true(llm_api_name_billed("messages"));
	assert_string_equal(llm_api_name(LLM_API__MAX), "none");
	assert_string_equal(llm_api_name((enum llm_api)-1), "none");
}

/* ---- responses: whole bodies and SSE streams ---- */

struct want {
	const char *model;
	int64_t in, cached, cw, cw1h, out, reasoning;
	bool usage_present;
	const char *error;	/* "" for none */
	bool stream_done;
};

struct body_case {
	const char *name;
	enum llm_api api;
	int status;
	const char *body;
	int ret;
	struct want w;
};

static const struct body_case body_cases[] = {
	{ "chat cached tokens are part of prompt_tokens", LLM_API_CHAT_COMPLETIONS, 200,
	  "{\"model\":\"gpt-4o-2024-08-06\",\"usage\":{\"prompt_tokens\":2006,"
	  "\"completion_tokens\":300,\"prompt_tokens_details\":{\"cached_tokens\":1920},"
	  "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}", 0,
	  { "gpt-4o-2024-08-06", 2006, 1920, 0, 0, 300, 0, true, "", false } },
	{ "chat cache writes (GPT-5.6+)", LLM_API_CHAT_COMPLETIONS, 200,
	  "{\"model\":\"gpt-5.6-sol\",\"usage\":{\"prompt_tokens\":5000,"
	  "\"completion_tokens\":10,\"prompt_tokens_details\":{\"cached_tokens\":1000,"
	  "\"cache_write_tokens\":3000}}}", 0,
	  { "gpt-5.6-sol", 5000, 1000, 3000, 0, 10, 0, true, "", false } },
	{ "chat reasoning", LLM_API_CHAT_COMPLETIONS, 200,
	  "{\"model\":\"o3-mini\",\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":500,"
	  "\"completion_tokens_details\":{\"reasoning_tokens\":448}}}", 0,
	  { "o3-mini", 10, 0, 0, 0, 500, 448, true, "", false } },
	{ "xai: reasoning outside completion_tokens", LLM_API_CHAT_COMPLETIONS, 200,
	  "{\"model\":\"grok-4\",\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,"
	  "\"total_tokens\":315,\"completion_tokens_details\":{\"reasoning_tokens\":300}}}", 0,
	  { "grok-4", 10, 0, 0, 0, 305, 300, true, "", false } },
	{ "openai: total confirms reasoning inside", LLM_API_CHAT_COMPLETIONS, 200,
	  "{\"model\":\"o3\",\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":305,"
	  "\"total_tokens\":315,\"completion_tokens_details\":{\"reasoning_tokens\":300}}}", 0,
	  { "o3", 10, 0, 0, 0, 305, 300, true, "", false } },
	{ "deepseek cache hits", LLM_API_CHAT_COMPLETIONS, 200,
	  "{\"model\":\"deepseek-chat\",\"usage\":{\"prompt_tokens\":100,"
	  "\"completion_tokens\":5,\"prompt_cache_hit_tokens\":64,"
	  "\"prompt_cache_miss_tokens\":36}}", 0,
	  { "deepseek-chat", 100, 64, 0, 0, 5, 0, true, "", false } },
	{ "deepseek hit and miss without prompt_tokens", LLM_API_CHAT_COMPLETIONS, 200,
	  "{\"model\":\"deepseek-reasoner\",\"usage\":{\"completion_tokens\":50,"
	  "\"prompt_cache_hit_tokens\":640,\"prompt_cache_miss_tokens\":12,"
	  "\"completion_tokens_details\":{\"reasoning_tokens\":30}}}", 0,
	  { "deepseek-reasoner", 652, 640, 0, 0, 50, 30, true, "", false } },
	{ "xai text tokens include the cached ones", LLM_API_CHAT_COMPLETIONS, 200,
	  "{\"model\":\"grok-3\",\"usage\":{\"prompt_tokens\":199,\"completion_tokens\":1,"
	  "\"total_tokens\":200,\"prompt_tokens_details\":{\"text_tokens\":199,"
	  "\"audio_tokens\":0,\"image_tokens\":0,\"cached_tokens\":163},"
	  "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}", 0,
	  { "grok-3", 199, 163, 0, 0, 1, 0, true, "", false } },
	{ "perplexity top-level reasoning", LLM_API_CHAT_COMPLETIONS, 200,
	  "{\"model\":\"sonar-reasoning-pro\",\"usage\":{\"prompt_tokens\":10,"
	  "\"completion_tokens\":400,\"total_tokens\":410,\"reasoning_tokens\":300,"
	  "\"citation_tokens\":20,\"num_search_queries\":1}}", 0,
	  { "sonar-reasoning-pro", 10, 0, 0, 0, 400, 300, true, "", false } },
	{ "embeddings", LLM_API_EMBEDDINGS, 200,
	  "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,"
	  "\"embedding\":[0.1,-0.2]}],\"model\":\"text-embedding-3-small\","
	  "\"usage\":{\"prompt_tokens\":8,\"total_tokens\":8}}", 0,
	  { "text-embedding-3-small", 8, 0, 0, 0, 0, 0, true, "", false } },
	{ "legacy completions", LLM_API_COMPLETIONS, 200,
	  "{\"object\":\"text_completion\",\"model\":\"gpt-3.5-turbo-instruct\","
	  "\"choices\":[{\"text\":\" yes\",\"index\":0,\"finish_reason\":\"stop\"}],"
	  "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7,\"total_tokens\":12}}", 0,
	  { "gpt-3.5-turbo-instruct", 5, 0, 0, 0, 7, 0, true, "", false } },
	{ "count_tokens is no usage", LLM_API_COUNT_TOKENS, 200,
	  "{\"input_tokens\":2095}", 0,
	  { "", 0, 0, 0, 0, 0, 0, false, "", false } },
	{ "count_tokens error", LLM_API_COUNT_TOKENS, 429,
	  "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\"}}", 0,
	  { "", 0, 0, 0, 0, 0, 0, false, "rate_limit_error", false } },
	{ "gemini countTokens error", LLM_API_COUNT_TOKENS, 400,
	  "{\"error\":{\"code\":400,\"status\":\"INVALID_ARGUMENT\"}}", 0,
	  { "", 0, 0, 0, 0, 0, 0, false, "INVALID_ARGUMENT", false } },
	{ "gemini embedContent", LLM_API_GEMINI_EMBED, 200,
	  "{\"embedding\":{\"values\":[0.1,0.2]}}", 0,
	  { "", 0, 0, 0, 0, 0, 0, false, "", false } },
	{ "gemini embed error", LLM_API_GEMINI_EMBED, 429,
	  "{\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\"}}", 0,
	  { "", 0, 0, 0, 0, 0, 0, false, "RESOURCE_EXHAUSTED", false } },
	{ "chat no usage", LLM_API_CHAT_COMPLETIONS, 200,
	  "{\"model\":\"gpt-4o\",\"choices\":[]}", 0,
	  { "gpt-4o", 0, 0, 0, 0, 0, 0, false, "", false } },
	{ "chat bad counts ignored", LLM_API_CHAT_COMPLETIONS, 200,
	  "{\"model\":\"m\",\"usage\":{\"prompt_tokens\":-5,\"completion_tokens\":\"7\"}}", 0,
	  { "m", 0, 0, 0, 0, 0, 0, false, "", false } },
	{ "chat huge count ignored", LLM_API_CHAT_COMPLETIONS, 200,
	  "{\"usage\":{\"prompt_tokens\":1e300,\"completion_tokens\":3}}", 0,
	  { "", 0, 0, 0, 0, 3, 0, true, "", false } },
	{ "openai 400 prefers code", LLM_API_CHAT_COMPLETIONS, 400,
	  "{\"error\":{\"code\":\"unsupported_value\",\"message\":\"m\","
	  "\"type\":\"invalid_request_error\"}}", 0,
	  { "", 0, 0, 0, 0, 0, 0, false, "unsupported_value", false } },
	{ "openai 400 null code", LLM_API_RESPONSES, 400,
	  "{\"error\":{\"code\":null,\"message\":\"m\",\"type\":\"invalid_request_error\"}}", 0,
	  { "", 0, 0, 0, 0, 0, 0, false, "invalid_request_error", false } },
	{ "openai 429", LLM_API_CHAT_COMPLETIONS, 429,
	  "{\"error\":{\"message\":\"Rate limit\",\"type\":\"requests\","
	  "\"code\":\"rate_limit_exceeded\"}}", 0,
	  { "", 0, 0, 0, 0, 0, 0, false, "rate_limit_exceeded", false } },
	{ "anthropic 429", LLM_API_MESSAGES, 429,
	  "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"x\"}}", 0,
	  { "", 0, 0, 0, 0, 0, 0, false, "rate_limit_error", false } },
	{ "anthropic 529 overloaded", LLM_API_MESSAGES, 529,
	  "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}", 0,
	  { "", 0, 0, 0, 0, 0, 0, false, "overloaded_error", false } },
	{ "gemini 429", LLM_API_GENERATE_CONTENT, 429,
	  "{\"error\":{\"code\":429,\"message\":\"q\",\"status\":\"RESOURCE_EXHAUSTED\"}}", 0,
	  { "", 0, 0, 0, 0, 0, 0, false, "RESOURCE_EXHAUSTED", false } },
	{ "502 html", LLM_API_CHAT_COMPLETIONS, 502, "<html>Bad gateway</html>", 0,
	  { "", 0, 0, 0, 0, 0, 0, false, "http_502", false } },
	{ "500 json without error", LLM_API_MESSAGES, 500, "{\"detail\":\"boom\"}", 0,
	  { "", 0, 0, 0, 0, 0, 0, false, "http_500", false } },
	{ "error name sanitized", LLM_API_MESSAGES, 400,
	  "{\"error\":{\"type\":\"bad type\\n\\u0001\"}}", 0,
	  { "", 0, 0, 0, 0, 0, 0, false, "bad_type__", false } },
	{ "200 error document", LLM_API_CHAT_COMPLETIONS, 200,
	  "{\"error\":{\"message\":\"upstream\",\"code\":502}}", 0,
	  { "", 0, 0, 0, 0, 0, 0, false, "error", false } },
	{ "200 string error", LLM_API_CHAT_COMPLETIONS, 200,
	  "{\"error\":\"model not found\"}", 0,
	  { "", 0, 0, 0, 0, 0, 0, false, "error", false } },
	{ "responses", LLM_API_RESPONSES, 200,
	  "{\"model\":\"gpt-5-2025-08-07\",\"error\":null,\"usage\":{\"input_tokens\":23,"
	  "\"input_tokens_details\":{\"cached_tokens\":8},\"output_tokens\":2211,"
	  "\"output_tokens_details\":{\"reasoning_tokens\":1920}}}", 0,
	  { "gpt-5-2025-08-07", 23, 8, 0, 0, 2211, 1920, true, "", false } },
	{ "responses cache writes", LLM_API_RESPONSES, 200,
	  "{\"model\":\"gpt-5.5\",\"usage\":{\"input_tokens\":5000,"
	  "\"input_tokens_details\":{\"cached_tokens\":1000,\"cache_write_tokens\":3000},"
	  "\"output_tokens\":10}}", 0,
	  { "gpt-5.5", 5000, 1000, 3000, 0, 10, 0, true, "", false } },
	{ "responses background", LLM_API_RESPONSES, 200,
	  "{\"model\":\"gpt-4o\",\"status\":\"queued\",\"error\":null,\"usage\":null}", 0,
	  { "gpt-4o", 0, 0, 0, 0, 0, 0, false, "", false } },
	{ "responses failed 200", LLM_API_RESPONSES, 200,
	  "{\"model\":\"gpt-4o\",\"status\":\"failed\",\"error\":{\"code\":\"server_error\","
	  "\"message\":\"x\"},\"usage\":null}", 0,
	  { "gpt-4o", 0, 0, 0, 0, 0, 0, false, "server_error", false } },
	{ "anthropic cache read, write and 1h", LLM_API_MESSAGES, 200,
	  "{\"model\":\"claude-sonnet-4-5-20250929\",\"type\":\"message\",\"usage\":{"
	  "\"input_tokens\":12,\"cache_creation_input_tokens\":3000,"
	  "\"cache_read_input_tokens\":1500,\"cache_creation\":{"
	  "\"ephemeral_5m_input_tokens\":1000,\"ephemeral_1h_input_tokens\":2000},"
	  "\"output_tokens\":77}}", 0,
	  { "claude-sonnet-4-5-20250929", 4512, 1500, 3000, 2000, 77, 0, true, "", false } },
	{ "anthropic thinking tokens", LLM_API_MESSAGES, 200,
	  "{\"model\":\"claude-sonnet-5\",\"usage\":{\"input_tokens\":2390,"
	  "\"output_tokens\":121,\"output_tokens_details\":{\"thinking_tokens\":28},"
	  "\"iterations\":[{\"input_tokens\":1128,\"output_tokens\":99}]}}", 0,
	  { "claude-sonnet-5", 2390, 0, 0, 0, 121, 28, true, "", false } },
	{ "gemini thoughts are output", LLM_API_GENERATE_CONTENT, 200,
	  "{\"modelVersion\":\"gemini-2.5-pro\",\"usageMetadata\":{\"promptTokenCount\":100,"
	  "\"candidatesTokenCount\":20,\"thoughtsTokenCount\":300,"
	  "\"cachedContentTokenCount\":40,\"toolUsePromptTokenCount\":999,"
	  "\"totalTokenCount\":1419}}", 0,
	  { "gemini-2.5-pro", 100, 40, 0, 0, 320, 300, true, "", false } },
	{ "gemini blocked, no counts", LLM_API_GENERATE_CONTENT, 200,
	  "{\"modelVersion\":\"gemini-2.5-flash\",\"promptFeedback\":{\"blockReason\":"
	  "\"MODEL_ARMOR\"},\"usageMetadata\":{\"trafficType\":\"ON_DEMAND\"}}", 0,
	  { "gemini-2.5-flash", 0, 0, 0, 0, 0, 0, false, "", true } },
	{ "gemini json array stream", LLM_API_STREAM_GENERATE_CONTENT, 200,
	  "[{\"modelVersion\":\"gemini-2.0-flash\",\"usageMetadata\":{}},"
	  "{\"usageMetadata\":{\"promptTokenCount\":5,\"candidatesTokenCount\":2}},"
	  "{\"candidates\":[{\"finishReason\":\"STOP\"}],\"usageMetadata\":"
	  "{\"promptTokenCount\":5,\"candidatesTokenCount\":9}}]", 0,
	  { "gemini-2.0-flash", 5, 0, 0, 0, 9, 0, true, "", true } },
	{ "truncated json", LLM_API_CHAT_COMPLETIONS, 200,
	  "{\"model\":\"gpt-4o\",\"usage\":{\"prompt_tok", -EINVAL,
	  { "", 0, 0, 0, 0, 0, 0, false, "", false } },
	{ "garbage", LLM_API_MESSAGES, 200, "\xff\xfe garbage", -EINVAL,
	  { "", 0, 0, 0, 0, 0, 0, false, "", false } },
	{ "empty 200", LLM_API_RESPONSES, 200, "", -EINVAL,
	  { "", 0, 0, 0, 0, 0, 0, false, "", false } },
	{ "json but not an object", LLM_API_CHAT_COMPLETIONS, 200, "[1,2]", -EINVAL,
	  { "", 0, 0, 0, 0, 0, 0, false, "", false } },
	{ "api none", LLM_API_NONE, 200, "{}", -EINVAL,
	  { "", 0, 0, 0, 0, 0, 0, false, "", false } },
};

static bool want_equal(const struct llm_response_info *r, const struct want *w)
{
	return !strcmp(r->model, w->model) && r->usage.input_tokens == w->in &&
	       r->usage.cached_input_tokens == w->cached &&
	       r->usage.cache_write_tokens == w->cw &&
	       r->usage.cache_write_1h_tokens == w->cw1h &&
	       r->usage.output_tokens == w->out &&
	       r->usage.reasoning_tokens == w->reasoning &&
	       r->usage_present == w->usage_present && !strcmp(r->error, w->error) &&
	       r->stream_done == w->stream_done;
}

/* Names the failing case, then lets cmocka say which field differs. */
static void check_want(const char *name, const struct llm_response_info *r,
		       const struct want *w)
{
	if (!want_equal(r, w))
		print_message("case failed: %s\n", name);
	assert_string_equal(r->model, w->model);
	assert_int_equal(r->usage.input_tokens, w->in);
	assert_int_equal(r->usage.cached_input_tokens, w->cached);
	assert_int_equal(r->usage.cache_write_tokens, w->cw);
	assert_int_equal(r->usage.cache_write_1h_tokens, w->cw1h);
	assert_int_equal(r->usage.output_tokens, w->out);
	assert_int_equal(r->usage.reasoning_tokens, w->reasoning);
	assert_int_equal(r->usage_present, w->usage_present);
	assert_string_equal(r->error, w->error);
	assert_int_equal(r->stream_done, w->stream_done);
}

static void test_parse_body(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(body_cases) / sizeof(body_cases[0]); i++) {
		const struct body_case *c = &body_cases[i];
		struct llm_response_info r;
		char *copy;
		int ret;

		/* An exact-size heap copy: ASan catches any read past the end. */
		copy = malloc(strlen(c->body) + 1);
		assert_non_null(copy);
		memcpy(copy, c->body, strlen(c->body));
		memset(&r, 0, sizeof(r));
		ret = provider_parse_body(c->api, c->status, copy, strlen(c->body), &r);
		if (ret != c->ret)
			print_message("case failed: %s\n", c->name);
		assert_int_equal(ret, c->ret);
		check_want(c->name, &r, &c->w);
		free(copy);
	}
}

struct stream_case {
	const char *name;
	enum llm_api api;
	const char *sse;
	int errors;		/* events provider_stream_event rejects */
	struct want w;
};

static const struct stream_case stream_cases[] = {
	{ "chat include_usage, trailing usage:null", LLM_API_CHAT_COMPLETIONS,
	  "data: {\"model\":\"gpt-4o-mini\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}],"
	  "\"usage\":null}\n\n"
	  "data: {\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":13,"
	  "\"completion_tokens\":11,\"prompt_tokens_details\":{\"cached_tokens\":0},"
	  "\"completion_tokens_details\":{\"reasoning_tokens\":4}}}\n\n"
	  "data: {\"model\":\"gpt-4o-mini\",\"choices\":[],\"usage\":null}\n\n"
	  "data: [DONE]\n\n", 0,
	  { "gpt-4o-mini", 13, 0, 0, 0, 11, 4, true, "", true } },
	{ "chat without usage", LLM_API_CHAT_COMPLETIONS,
	  "data: {\"model\":\"gpt-4o\",\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\r\n\r\n"
	  "data: {\"model\":\"\",\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\r\n\r\n"
	  "data: [DONE]\r\n\r\n", 0,
	  { "gpt-4o", 0, 0, 0, 0, 0, 0, false, "", true } },
	{ "groq usage under x_groq", LLM_API_CHAT_COMPLETIONS,
	  "data: {\"model\":\"llama-3.3-70b-versatile\",\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
	  "data: {\"model\":\"llama-3.3-70b-versatile\",\"choices\":[],\"x_groq\":{\"id\":\"r\","
	  "\"usage\":{\"prompt_tokens\":40,\"completion_tokens\":9,\"total_tokens\":49}}}\n\n"
	  "data: [DONE]\n\n", 0,
	  { "llama-3.3-70b-versatile", 40, 0, 0, 0, 9, 0, true, "", true } },
	{ "chat cut before DONE", LLM_API_CHAT_COMPLETIONS,
	  "data: {\"model\":\"gpt-4o\",\"choices\":[]}\n\n", 0,
	  { "gpt-4o", 0, 0, 0, 0, 0, 0, false, "", false } },
	{ "chat garbage event", LLM_API_CHAT_COMPLETIONS,
	  "data: {\"model\":\"gpt-4o\",\n\ndata: not json\n\n: comment\n\n", 2,
	  { "", 0, 0, 0, 0, 0, 0, false, "", false } },
	{ "chat mid-stream error", LLM_API_CHAT_COMPLETIONS,
	  "data: {\"model\":\"gpt-4o\",\"choices\":[]}\n\n"
	  "data: {\"error\":{\"message\":\"x\",\"type\":\"server_error\",\"code\":null}}\n\n", 0,
	  { "gpt-4o", 0, 0, 0, 0, 0, 0, false, "server_error", true } },
	{ "responses stream", LLM_API_RESPONSES,
	  "event: response.created\ndata: {\"type\":\"response.created\",\"response\":"
	  "{\"model\":\"gpt-4o-mini-2024-07-18\",\"usage\":null}}\n\n"
	  "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
	  "\"delta\":\"The\"}\n\n"
	  "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":"
	  "{\"model\":\"gpt-4o-mini-2024-07-18\",\"usage\":{\"input_tokens\":25,"
	  "\"input_tokens_details\":{\"cached_tokens\":3},\"output_tokens\":10,"
	  "\"output_tokens_details\":{\"reasoning_tokens\":2}}}}\n\n", 0,
	  { "gpt-4o-mini-2024-07-18", 25, 3, 0, 0, 10, 2, true, "", true } },
	{ "responses without event lines (openrouter)", LLM_API_RESPONSES,
	  ": OPENROUTER PROCESSING\n\n"
	  "data: {\"type\":\"response.created\",\"response\":{\"model\":\"openai/gpt-oss-20b\"}}\n\n"
	  "data: {\"type\":\"response.incomplete\",\"response\":{\"model\":\"openai/gpt-oss-20b\","
	  "\"usage\":{\"input_tokens\":78,\"output_tokens\":37,"
	  "\"output_tokens_details\":{\"reasoning_tokens\":22}}}}\n\n"
	  "data: [DONE]\n\n", 0,
	  { "openai/gpt-oss-20b", 78, 0, 0, 0, 37, 22, true, "", true } },
	{ "responses failed", LLM_API_RESPONSES,
	  "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":"
	  "{\"model\":\"gpt-5\",\"error\":{\"code\":\"server_error\"},\"usage\":null}}\n\n", 0,
	  { "gpt-5", 0, 0, 0, 0, 0, 0, false, "server_error", true } },
	{ "responses error event", LLM_API_RESPONSES,
	  "event: error\ndata: {\"type\":\"error\",\"code\":\"ERR_SOMETHING\","
	  "\"message\":\"x\"}\n\n", 0,
	  { "", 0, 0, 0, 0, 0, 0, false, "ERR_SOMETHING", true } },
	{ "anthropic: message_delta repeats and updates counts", LLM_API_MESSAGES,
	  "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{"
	  "\"model\":\"claude-sonnet-4-5-20250929\",\"usage\":{\"input_tokens\":1128,"
	  "\"cache_creation_input_tokens\":200,\"cache_read_input_tokens\":300,"
	  "\"cache_creation\":{\"ephemeral_1h_input_tokens\":150},\"output_tokens\":2}}}\n\n"
	  "event: ping\ndata: {\"type\": \"ping\"}\n\n"
	  "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":"
	  "{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n"
	  "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":"
	  "{\"output_tokens\":100}}\n\n"
	  "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":"
	  "{\"input_tokens\":2411,\"cache_creation_input_tokens\":200,"
	  "\"cache_read_input_tokens\":300,\"output_tokens\":145,"
	  "\"output_tokens_details\":{\"thinking_tokens\":47}}}\n\n"
	  "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", 0,
	  { "claude-sonnet-4-5-20250929", 2911, 300, 200, 150, 145, 47, true, "", true } },
	{ "anthropic: old-style delta with output only", LLM_API_MESSAGES,
	  "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{"
	  "\"model\":\"claude-3-5-haiku-20241022\",\"usage\":{\"input_tokens\":20,"
	  "\"cache_read_input_tokens\":5,\"output_tokens\":1}}}\n\n"
	  "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":15}}\n\n"
	  "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":15}}\n\n",
	  0, { "claude-3-5-haiku-20241022", 25, 5, 0, 0, 15, 0, true, "", false } },
	{ "anthropic error event", LLM_API_MESSAGES,
	  "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{"
	  "\"model\":\"claude-opus-4-1\",\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\n"
	  "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
	  "\"message\":\"Overloaded\"}}\n\n", 0,
	  { "claude-opus-4-1", 9, 0, 0, 0, 1, 0, true, "overloaded_error", true } },
	{ "gemini sse: last counted usage wins", LLM_API_STREAM_GENERATE_CONTENT,
	  "data: {\"candidates\":[],\"usageMetadata\":{\"trafficType\":\"ON_DEMAND\"},"
	  "\"modelVersion\":\"gemini-2.5-flash\"}\r\n\r\n"
	  "data: {\"usageMetadata\":{\"promptTokenCount\":8,\"candidatesTokenCount\":68,"
	  "\"thoughtsTokenCount\":28},\"modelVersion\":\"gemini-2.5-flash\"}\r\n\r\n"
	  "data: {\"candidates\":[{\"finishReason\":\"STOP\"}],\"usageMetadata\":"
	  "{\"promptTokenCount\":8,\"candidatesTokenCount\":102,\"thoughtsTokenCount\":28,"
	  "\"cachedContentTokenCount\":4},\"modelVersion\":\"gemini-2.5-flash\"}\r\n\r\n"
	  "data: {\"usageMetadata\":{},\"modelVersion\":\"\"}\r\n\r\n", 0,
	  { "gemini-2.5-flash", 8, 4, 0, 0, 130, 28, true, "", true } },
};

struct stream_ctx {
	enum llm_api api;
	struct llm_response_info r;
	int errors;
	int events;
};

static int on_event(void *ctx, const char *event, size_t event_len,
		    const char *data, size_t data_len, bool truncated)
{
	struct stream_ctx *s = ctx;
	int ret;

	s->events++;
	ret = provider_stream_event(s->api, event, event_len, data, data_len, &s->r);
	if (ret == -EINVAL)
		s->errors++;
	else if (ret != 0)
		return ret;
	return 0;
}

/* Feeds an SSE body through sse.c in pieces of `step` bytes (0: whole). */
static int feed_sse(struct stream_ctx *s, const char *body, size_t len, size_t step)
{
	struct sse_parser p;
	size_t off = 0;
	int err = 0;

	sse_init(&p, 0);
	if (!step)
		step = len ? len : 1;
	while (!err && off < len) {
		size_t n = len - off < step ? len - off : step;

		err = sse_feed(&p, body + off, n, on_event, s);
		off += n;
	}
	sse_free(&p);
	return err;
}

static void test_stream(void **state)
{
	static const size_t steps[] = { 0, 1, 7 };
	size_t i, k;

	for (i = 0; i < sizeof(stream_cases) / sizeof(stream_cases[0]); i++) {
		const struct stream_case *c = &stream_cases[i];

		/* Any split of the byte stream gives the same answer. */
		for (k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
			struct stream_ctx s = { .api = c->api };

			assert_int_equal(feed_sse(&s, c->sse, strlen(c->sse), steps[k]), 0);
			if (s.errors != c->errors)
				print_message("case failed: %s (step %zu)\n", c->name, steps[k]);
			assert_int_equal(s.errors, c->errors);
			check_want(c->name, &s.r, &c->w);
		}
	}
}

static void test_stream_event_edges(void **state)
{
	struct llm_response_info r = { 0 };

	/* NULL data, empty data, whitespace, and unknown api are harmless. */
	assert_int_equal(provider_stream_event(LLM_API_MESSAGES, NULL, 0, NULL, 5, &r), 0);
	assert_int_equal(provider_stream_event(LLM_API_CHAT_COMPLETIONS, "", 0, S(""), &r), 0);
	assert_int_equal(provider_stream_event(LLM_API_CHAT_COMPLETIONS, "", 0, S(" \n"), &r), 0);
	assert_int_equal(provider_stream_event(LLM_API_CHAT_COMPLETIONS, "", 0, S("[DONE] "), &r), 0);
	assert_true(r.stream_done);
	assert_int_equal(provider_stream_event(LLM_API_NONE, "", 0, S("{}"), &r), 0);
	assert_int_equal(provider_stream_event(LLM_API_RESPONSES, "", 0, S("[1]"), &r), -EINVAL);
	assert_int_equal(provider_stream_event(LLM_API_RESPONSES, "", 0, S("\"str\""), &r), -EINVAL);
	/* A named event we do not need is skipped unparsed, even if broken. */
	assert_int_equal(provider_stream_event(LLM_API_MESSAGES, S("ping"),
					       S("{broken"), &r), 0);
	assert_int_equal(provider_stream_event(LLM_API_MESSAGES, S("message_delta"),
					       S("{broken"), &r), -EINVAL);
	assert_false(r.usage_present);
}

/* Only rate-limit headers are kept, as a JSON object that stays valid
 * whatever bytes the server sent, and bounded however many it sent. */
static void test_ratelimit_headers(void **state)
{
	static const char *const hdrs[][2] = {
		{ "Authorization", "Bearer sk-secret" },
		{ "x-api-key", "sk-ant-secret" },
		{ "Set-Cookie", "session=secret" },
		{ "x-ratelimit-limit-requests", "500" },
		{ "X-RateLimit-Remaining-Tokens", "0" },
		{ "anthropic-ratelimit-tokens-reset", "2026-01-01T00:00:00Z" },
		{ "retry-after", "20" },
		{ "retry-after-ms", "19876" },
		{ "x-ratelimit-", "prefix alone is not a name" },
		{ "retry-afterx", "1" },
		{ "x-ratelimit-evil", "a\"b\\c\n\x01\xff" },
	};
	struct llm_response_info r = { 0 };
	const cJSON *it;
	cJSON *j;
	int n = 0;

	for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++)
		provider_response_header(&r, hdrs[i][0], strlen(hdrs[i][0]),
					 hdrs[i][1], strlen(hdrs[i][1]));
	assert_null(strstr(r.ratelimit, "secret"));
	j = cJSON_Parse(r.ratelimit);
	assert_non_null(j);
	cJSON_ArrayForEach(it, j)
		n++;
	assert_int_equal(n, 6);
	assert_string_equal(cJSON_GetObjectItem(j, "x-ratelimit-remaining-tokens")->valuestring, "0");
	assert_string_equal(cJSON_GetObjectItem(j, "retry-after")->valuestring, "20");
	assert_string_equal(cJSON_GetObjectItem(j, "anthropic-ratelimit-tokens-reset")->valuestring,
			    "2026-01-01T00:00:00Z");
	assert_string_equal(cJSON_GetObjectItem(j, "x-ratelimit-evil")->valuestring, "a_b_c___");
	cJSON_Delete(j);

	/* A flood of headers fills the buffer and stops, still valid JSON. */
	memset(&r, 0, sizeof(r));
	for (int i = 0; i < 200; i++) {
		char name[64], value[200];

		snprintf(name, sizeof(name), "x-ratelimit-h%d", i);
		memset(value, '7', sizeof(value) - 1);
		value[sizeof(value) - 1] = '\0';
		provider_response_header(&r, name, strlen(name), value, strlen(value));
	}
	assert_true(strlen(r.ratelimit) < sizeof(r.ratelimit));
	j = cJSON_Parse(r.ratelimit);
	assert_non_null(j);
	assert_true(cJSON_GetArraySize(j) >= 4);
	cJSON_Delete(j);
	provider_response_header(&r, NULL, 0, "x", 1);	/* harmless */
}

static void test_vendor(void **state)
{
	static const char *const cases[][2] = {
		{ "api.groq.com", "groq" }, { "api.deepseek.com:443", "deepseek" },
		{ "API.X.AI.", "xai" }, { "openrouter.ai", "openrouter" },
		{ "api.together.xyz", "together" }, { "api.fireworks.ai", "fireworks" },
		{ "api.perplexity.ai", "perplexity" }, { "api.mistral.ai", "mistral" },
		{ "api.cerebras.ai", "cerebras" }, { "r.openai.azure.com", "azure" },
		{ "us-central1-aiplatform.googleapis.com", "google" },
		{ "api.openai.com", "openai" }, { "api.anthropic.com", "anthropic" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *v = provider_vendor(cases[i][0], strlen(cases[i][0]));

		assert_non_null(v);
		assert_string_equal(v, cases[i][1]);
	}
	assert_null(provider_vendor(S("llm-gw.internal")));
	assert_null(provider_vendor(S("evilapi.groq.com")));
	assert_null(provider_vendor(NULL, 0));
}

/* Batch results: JSONL lines summed, failed results free, a file that is
 * no batch output dropped as not LLM traffic. */
static void test_batch_results(void **state)
{
	static const char anthropic[] =
		"{\"custom_id\":\"a\",\"result\":{\"type\":\"succeeded\",\"message\":"
		"{\"model\":\"claude-haiku-4-5-20251001\",\"usage\":{\"input_tokens\":10,"
		"\"cache_read_input_tokens\":5,\"output_tokens\":7}}}}\n"
		"{\"custom_id\":\"b\",\"result\":{\"type\":\"errored\",\"error\":{}}}\n"
		"{\"custom_id\":\"c\",\"result\":{\"type\":\"succeeded\",\"message\":"
		"{\"model\":\"claude-haiku-4-5-20251001\",\"usage\":{\"input_tokens\":20,"
		"\"output_tokens\":3}}}}\n";
	static const char openai[] =
		"{\"id\":\"batch_req_1\",\"custom_id\":\"r1\",\"response\":{\"status_code\":200,"
		"\"body\":{\"object\":\"chat.completion\",\"model\":\"gpt-4o-mini-2024-07-18\","
		"\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":9,"
		"\"prompt_tokens_details\":{\"cached_tokens\":64}}}},\"error\":null}\n"
		"{\"id\":\"batch_req_2\",\"custom_id\":\"r2\",\"response\":{\"status_code\":200,"
		"\"body\":{\"object\":\"response\",\"model\":\"gpt-4o-mini-2024-07-18\","
		"\"usage\":{\"input_tokens\":50,\"output_tokens\":5,"
		"\"output_tokens_details\":{\"reasoning_tokens\":0}}}},\"error\":null}\n"
		"{\"id\":\"batch_req_3\",\"custom_id\":\"r3\",\"response\":{\"status_code\":200,"
		"\"body\":{\"model\":\"gpt-4o-mini\",\"usage\":{\"prompt_tokens\":1,\"comp";
	struct llm_response_info r = { 0 };

	assert_int_equal(provider_parse_body(LLM_API_BATCH_RESULTS, 200, S(anthropic), &r), 0);
	assert_int_equal(r.batch_results, 2);
	assert_true(r.usage_present);
	assert_false(r.not_llm);
	assert_string_equal(r.model, "claude-haiku-4-5-20251001");
	assert_int_equal(r.usage.input_tokens, 35);
	assert_int_equal(r.usage.cached_input_tokens, 5);
	assert_int_equal(r.usage.output_tokens, 10);

	/* The last line cut at the body cap: the whole lines still count. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(provider_parse_body(LLM_API_BATCH_RESULTS, 200, S(openai), &r), 0);
	assert_int_equal(r.batch_results, 2);
	assert_int_equal(r.usage.input_tokens, 150);
	assert_int_equal(r.usage.cached_input_tokens, 64);
	assert_int_equal(r.usage.output_tokens, 14);

	memset(&r, 0, sizeof(r));
	assert_int_equal(provider_parse_body(LLM_API_BATCH_RESULTS, 200,
					     S("%PDF-1.7\n{\"a\":1}\n"), &r), 0);
	assert_true(r.not_llm);
	assert_false(r.usage_present);
	memset(&r, 0, sizeof(r));
	assert_int_equal(provider_parse_body(LLM_API_BATCH_RESULTS, 404,
		S("{\"error\":{\"type\":\"not_found_error\",\"message\":\"x\"}}"), &r), 0);
	assert_string_equal(r.error, "not_found_error");
	memset(&r, 0, sizeof(r));
	assert_int_equal(provider_parse_body(LLM_API_BATCH_RESULTS, 500, NULL, 0, &r), 0);
	assert_string_equal(r.error, "http_500");
}

static void test_azure_deployment(void **state)
{
	struct llm_request_info ri;
	const char path[] = "/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21";
	const char body[] = "{\"model\":\"gpt-4o\",\"messages\":[]}";

	assert_int_equal(provider_classify_request(S("POST"), S(path), S("r.openai.azure.com"),
						   S(body), &ri), 0);
	assert_string_equal(ri.deployment, "prod-4o");
	assert_string_equal(ri.model, "gpt-4o");
	assert_string_equal(ri.provider, "azure_openai");
	/* The v1 path has no deployment segment: the body names the model. */
	assert_int_equal(provider_classify_request(S("POST"), S("/openai/v1/chat/completions"),
						   S("r.openai.azure.com"), S(body), &ri), 0);
	assert_string_equal(ri.deployment, "");
}

static void test_openrouter_cost(void **state)
{
	static const char body[] =
		"{\"model\":\"openai/gpt-4o-mini\",\"usage\":{\"prompt_tokens\":78,"
		"\"completion_tokens\":37,\"total_tokens\":115,\"cost\":1.13e-05}}";
	static const char bad[] =
		"{\"model\":\"m\",\"usage\":{\"prompt_tokens\":1,\"cost\":-3}}";
	struct llm_response_info r = { 0 };

	assert_int_equal(provider_parse_body(LLM_API_CHAT_COMPLETIONS, 200, S(body), &r), 0);
	assert_true(r.provider_cost_known);
	assert_true(r.provider_cost_usd == 1.13e-05);
	memset(&r, 0, sizeof(r));
	assert_int_equal(provider_parse_body(LLM_API_CHAT_COMPLETIONS, 200, S(bad), &r), 0);
	assert_false(r.provider_cost_known);
}

/* Hostile shapes: nesting past cJSON's limit must fail cleanly, not recurse
 * the stack away. */
static void test_deep_nesting(void **state)
{
	const size_t n = 200000;
	struct llm_response_info r = { 0 };
	char *deep = malloc(n);
	size_t i;

	assert_non_null(deep);
	for (i = 0; i < n; i++)
		deep[i] = i < n / 2 ? '[' : ']';
	assert_int_equal(provider_parse_body(LLM_API_STREAM_GENERATE_CONTENT, 200, deep, n, &r),
			 -EINVAL);
	assert_int_equal(provider_stream_event(LLM_API_CHAT_COMPLETIONS, "", 0, deep, n, &r),
			 -EINVAL);
	for (i = 0; i < n; i++)
		deep[i] = i < n / 2 ? "{\"a\":"[i % 5] : '}';
	assert_int_equal(provider_parse_body(LLM_API_MESSAGES, 200, deep, n, &r), -EINVAL);
	assert_false(r.usage_present);
	free(deep);
}

/* ---- the shared corpus ---- */

struct corpus_ctx {
	int checked, mismatches, streams;
};

static const char *corpus_api_name(const char *api)
{
	/* The corpus labels POST /v1/responses/compact "other"; it returns
	 * Responses-shaped usage and we classify it as responses. */
	return strcmp(api, "other") == 0 ? "responses" : api;
}

#define MISMATCH(fmt, ...) do {						\
	fprintf(stderr, "corpus %s: " fmt "\n", id, __VA_ARGS__);		\
	cx->mismatches++;							\
	goto out;								\
} while (0)

static int64_t exp_int(const cJSON *e, const char *key)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(e, key);

	return cJSON_IsNumber(it) ? (int64_t)it->valuedouble : -1;
}

static void check_line(const cJSON *line, void *ctx)
{
	static const char *const keys[] = { "input_tokens", "cached_input_tokens",
		"cache_write_tokens", "cache_write_1h_tokens", "output_tokens",
		"reasoning_tokens" };
	struct corpus_ctx *cx = ctx;
	const char *id = corpus_str(line, "id");
	const char *method = corpus_str(line, "method"), *path = corpus_str(line, "path");
	const char *host = corpus_str(line, "host");
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(line, "expected");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(line, "status");
	unsigned char *req = NULL, *resp = NULL;
	struct llm_request_info ri;
	struct stream_ctx s = { 0 };
	int64_t got[6];
	size_t req_len, resp_len, k;
	const char *model;
	int ret;

	req = corpus_b64(line, "req_body_b64", &req_len);
	resp = corpus_b64(line, "resp_body_b64", &resp_len);
	if (!req || !resp || !cJSON_IsObject(e) || !cJSON_IsNumber(st))
		MISMATCH("%s", "line lacks bodies, status or expected");

	ret = provider_classify_request(method, strlen(method), path, strlen(path),
					host, strlen(host), (char *)req, req_len, &ri);
	if (ret)
		MISMATCH("classify %s %s returned %d", method, path, ret);
	if (strcmp(llm_api_name(ri.api), corpus_api_name(corpus_str(line, "api"))))
		MISMATCH("api %s, want %s", llm_api_name(ri.api), corpus_str(line, "api"));
	if (strcmp(ri.provider, corpus_str(line, "provider")))
		MISMATCH("provider %s, want %s", ri.provider, corpus_str(line, "provider"));
	/* A streamed request can still get a plain JSON error back. */
	if (ri.stream != corpus_bool(line, "stream") && !corpus_bool(e, "error"))
		MISMATCH("request stream %d, want %d", ri.stream, corpus_bool(line, "stream"));

	s.api = ri.api;
	if (corpus_bool(line, "stream")) {
		cx->streams++;
		if (feed_sse(&s, (char *)resp, resp_len, 0) || s.errors || !s.events)
			MISMATCH("stream: %d events, %d unparseable", s.events, s.errors);
		if (!s.r.stream_done && !corpus_bool(e, "error"))
			MISMATCH("%s", "stream end not seen");
	} else {
		ret = provider_parse_body(ri.api, st->valueint, (char *)resp, resp_len, &s.r);
		if (ret)
			MISMATCH("parse_body returned %d", ret);
	}

	/* The record's model: the response's, else the request's. */
	model = s.r.model[0] ? s.r.model : ri.model;
	if (strcmp(model, corpus_str(e, "model")))
		MISMATCH("model \"%s\", want \"%s\"", model, corpus_str(e, "model"));
	got[0] = s.r.usage.input_tokens;
	got[1] = s.r.usage.cached_input_tokens;
	got[2] = s.r.usage.cache_write_tokens;
	got[3] = s.r.usage.cache_write_1h_tokens;
	got[4] = s.r.usage.output_tokens;
	got[5] = s.r.usage.reasoning_tokens;
	for (k = 0; k < 6; k++)
		if (got[k] != exp_int(e, keys[k]))
			MISMATCH("%s %lld, want %lld", keys[k], (long long)got[k],
				 (long long)exp_int(e, keys[k]));
	if (s.r.usage_present != corpus_bool(e, "usage_present"))
		MISMATCH("usage_present %d, want %d", s.r.usage_present,
			 corpus_bool(e, "usage_present"));
	if ((s.r.error[0] != '\0') != corpus_bool(e, "error"))
		MISMATCH("error \"%s\", want error=%d", s.r.error, corpus_bool(e, "error"));
	cx->checked++;
out:
	free(req);
	free(resp);
}

static void test_corpus(void **state)
{
	struct corpus_ctx cx = { 0 };
	int n;

	if (!corpus_path()) {
		print_message("CORPUS not set or unreadable: corpus check skipped\n");
		skip();
	}
	n = corpus_foreach(check_line, &cx);
	assert_true(n > 0);
	print_message("corpus: %d exchanges, %d checked exactly (%d streams), %d mismatches\n",
		      n, cx.checked, cx.streams, cx.mismatches);
	assert_int_equal(cx.mismatches, 0);
	assert_int_equal(cx.checked, n);
}

/* Every corpus body cut at 16 points (a capped or torn capture): each call
 * returns 0 or -EINVAL, never crashes or reads past the cut (ASan). */
struct cut_ctx {
	int calls, bad;
};

static void cut_line(const cJSON *line, void *ctx)
{
	struct cut_ctx *cx = ctx;
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(line, "status");
	const char *method = corpus_str(line, "method"), *path = corpus_str(line, "path");
	const char *host = corpus_str(line, "host");
	unsigned char *req, *resp;
	struct llm_request_info ri;
	size_t req_len, resp_len, k;

	req = corpus_b64(line, "req_body_b64", &req_len);
	resp = corpus_b64(line, "resp_body_b64", &resp_len);
	for (k = 1; req && resp && k < 16; k++) {
		size_t qn = req_len * k / 16, rn = resp_len * k / 16;
		char *q = malloc(qn ? qn : 1), *r = malloc(rn ? rn : 1);
		struct stream_ctx s = { 0 };
		int ret;

		assert_true(q && r);
		memcpy(q, req, qn);
		memcpy(r, resp, rn);
		ret = provider_classify_request(method, strlen(method), path, strlen(path),
						host, strlen(host), q, qn, &ri);
		s.api = ri.api;
		if (ret)
			cx->bad++;
		if (corpus_bool(line, "stream")) {
			if (feed_sse(&s, r, rn, 0))
				cx->bad++;
		} else {
			ret = provider_parse_body(ri.api, st->valueint, r, rn, &s.r);
			if (ret != 0 && ret != -EINVAL)
				cx->bad++;
		}
		if (s.r.usage.input_tokens < 0 || s.r.usage.output_tokens < 0 ||
		    !memchr(s.r.model, '\0', sizeof(s.r.model)) ||
		    !memchr(s.r.error, '\0', sizeof(s.r.error)))
			cx->bad++;
		cx->calls++;
		free(q);
		free(r);
	}
	free(req);
	free(resp);
}

static void test_corpus_cuts(void **state)
{
	struct cut_ctx cx = { 0 };

	if (!corpus_path()) {
		print_message("CORPUS not set or unreadable: corpus check skipped\n");
		skip();
	}
	assert_true(corpus_foreach(cut_line, &cx) > 0);
	print_message("corpus cuts: %d truncated exchanges parsed\n", cx.calls);
	assert_int_equal(cx.bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_api_names),
		cmocka_unit_test(test_parse_body),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_stream_event_edges),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_ratelimit_headers),
		cmocka_unit_test(test_azure_deployment),
		cmocka_unit_test(test_batch_results),
		cmocka_unit_test(test_vendor),
		cmocka_unit_test(test_openrouter_cost),
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_corpus_cuts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
