/* Tool calls' names in responses (user/3-llm/provider_tools.c), for the
 * agent timeline: each API's body and stream shapes, arguments never
 * read, a list that does not fit, and the shared corpus: every successful
 * non-streamed response whose body holds a tool call yields its names, in
 * order, and no other response yields any. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "corpus_util.h"
#include "provider.h"

static void body(enum llm_api api, const char *json, const char *want, int count)
{
	struct llm_response_info *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	assert_int_equal(provider_parse_body(api, 200, json, strlen(json), r), 0);
	if (strcmp(r->tool_calls, want) || r->tool_call_count != count)
		fail_msg("%s: got \"%s\" x%d, want \"%s\" x%d", json, r->tool_calls,
			 r->tool_call_count, want, count);
	free(r);
}

static void test_bodies(void **state)
{
	body(LLM_API_CHAT_COMPLETIONS,
	     "{\"model\":\"gpt-4o\",\"choices\":[{\"message\":{\"role\":\"assistant\",\"tool_calls\":["
	     "{\"id\":\"a\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
	     "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
	     "{\"id\":\"b\",\"type\":\"function\",\"function\":{\"name\":\"search\",\"arguments\":\"{}\"}}]}}],"
	     "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}", "get_weather,search", 2);
	body(LLM_API_CHAT_COMPLETIONS, "{\"choices\":[{\"message\":{\"content\":\"hi\"}}]}", "", 0);
	body(LLM_API_RESPONSES,
	     "{\"model\":\"gpt-5\",\"output\":[{\"type\":\"reasoning\"},{\"type\":\"function_call\","
	     "\"name\":\"lookup\",\"arguments\":\"{}\"},{\"type\":\"message\",\"content\":[]}]}",
	     "lookup", 1);
	body(LLM_API_MESSAGES,
	     "{\"model\":\"claude\",\"content\":[{\"type\":\"text\",\"text\":\"ok\"},{\"type\":\"tool_use\","
	     "\"id\":\"t\",\"name\":\"run_sql\",\"input\":{\"q\":\"select\"}}],\"usage\":{\"input_tokens\":1}}",
	     "run_sql", 1);
	body(LLM_API_GENERATE_CONTENT,
	     "{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f1\",\"args\":{}}},"
	     "{\"functionCall\":{\"name\":\"f2\"}}]}}]}", "f1,f2", 2);
	body(LLM_API_STREAM_GENERATE_CONTENT,	/* without alt=sse: an array of chunks */
	     "[{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"a\"}}]}}]},"
	     "{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"b\"}}]}}]}]", "a,b", 2);
	body(LLM_API_OLLAMA_CHAT,
	     "{\"model\":\"llama3.2\",\"message\":{\"role\":\"assistant\",\"tool_calls\":[{\"function\":"
	     "{\"name\":\"get_time\",\"arguments\":{}}}]},\"done\":true}", "get_time", 1);
	/* names that are not identifiers are counted, not listed */
	body(LLM_API_MESSAGES, "{\"content\":[{\"type\":\"tool_use\",\"name\":\"a,b\"}]}", "", 1);
}

static void test_list_bounded(void **state)
{
	char json[4096], want[200] = "";
	size_t n = 0;
	int i, listed = 0;

	n += (size_t)snprintf(json + n, sizeof(json) - n, "{\"content\":[");
	for (i = 0; i < 20; i++) {
		char name[16];

		snprintf(name, sizeof(name), "tool_%02d", i);
		n += (size_t)snprintf(json + n, sizeof(json) - n, "%s{\"type\":\"tool_use\",\"name\":\"%s\"}",
				      i ? "," : "", name);
		if (strlen(want) + (listed ? 1 : 0) + strlen(name) < 128) {
			strcat(want, listed ? "," : "");
			strcat(want, name);
			listed++;
		}
	}
	snprintf(json + n, sizeof(json) - n, "]}");
	body(LLM_API_MESSAGES, json, want, 20);
}

static void stream(enum llm_api api, const char *const *events, const char *want)
{
	struct llm_response_info *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	for (; events[1]; events += 2)
		provider_stream_event(api, events[0], events[0] ? strlen(events[0]) : 0, events[1],
				      strlen(events[1]), r);
	if (strcmp(r->tool_calls, want))
		fail_msg("stream: got \"%s\", want \"%s\"", r->tool_calls, want);
	free(r);
}

static void test_streams(void **state)
{
	static const char *const chat[] = {
		NULL, "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"function\":"
		      "{\"name\":\"get_weather\",\"arguments\":\"\"}}]}}]}",
		NULL, "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
		      "{\"arguments\":\"{\\\"city\\\":\"}}]}}]}",
		NULL, "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"b\",\"function\":"
		      "{\"name\":\"search\",\"arguments\":\"\"}}]}}]}",
		NULL, "[DONE]", NULL, NULL,
	};
	static const char *const messages[] = {
		"message_start", "{\"type\":\"message_start\",\"message\":{\"model\":\"claude\"}}",
		"content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
				       "{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"run_sql\",\"input\":{}}}",
		"content_block_delta", "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
				       "{\"type\":\"input_json_delta\",\"partial_json\":\"{}\"}}",
		"message_stop", "{\"type\":\"message_stop\"}", NULL, NULL,
	};
	static const char *const responses[] = {
		"response.created", "{\"type\":\"response.created\",\"response\":{\"model\":\"gpt-5\"}}",
		"response.completed", "{\"type\":\"response.completed\",\"response\":{\"model\":\"gpt-5\","
				      "\"output\":[{\"type\":\"function_call\",\"name\":\"lookup\"}],"
				      "\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}", NULL, NULL,
	};

	stream(LLM_API_CHAT_COMPLETIONS, chat, "get_weather,search");
	stream(LLM_API_MESSAGES, messages, "run_sql");
	stream(LLM_API_RESPONSES, responses, "lookup");
}

static const char *const api_names[] = {
	[LLM_API_CHAT_COMPLETIONS] = "chat.completions", [LLM_API_RESPONSES] = "responses",
	[LLM_API_MESSAGES] = "messages", [LLM_API_GENERATE_CONTENT] = "generate_content",
	[LLM_API_STREAM_GENERATE_CONTENT] = "stream_generate_content",
};

struct corpus_count {
	int with_tools, without, checked;
};

static void corpus_one(const cJSON *line, void *ctx)
{
	struct corpus_count *c = ctx;
	const char *api_name = corpus_str(line, "api");
	enum llm_api api = LLM_API_NONE;
	struct llm_response_info *r;
	unsigned char *b;
	size_t len = 0;
	bool has;

	for (int i = 0; i < (int)(sizeof(api_names) / sizeof(api_names[0])); i++)
		if (api_names[i] && !strcmp(api_names[i], api_name))
			api = (enum llm_api)i;
	if (api == LLM_API_NONE || corpus_bool(line, "stream") ||
	    cJSON_GetObjectItem(line, "status")->valueint != 200)
		return;
	b = corpus_b64(line, "resp_body_b64", &len);
	assert_non_null(b);
	/* what a reader sees in the body: a tool call of the API's shape */
	has = strstr((char *)b, "\"tool_calls\": [") || strstr((char *)b, "\"tool_calls\":[") || strstr((char *)b, "\"type\": \"tool_use\"") ||
	      strstr((char *)b, "\"type\":\"tool_use\"") || strstr((char *)b, "\"functionCall\"") ||
	      strstr((char *)b, "\"type\": \"function_call\"") ||
	      strstr((char *)b, "\"type\":\"function_call\"");
	r = calloc(1, sizeof(*r));
	assert_non_null(r);
	provider_parse_body(api, 200, (char *)b, len, r);
	if (has != (r->tool_calls[0] != 0))
		fail_msg("%s: tool call in body %d, names \"%s\"", corpus_str(line, "id"), has,
			 r->tool_calls);
	c->with_tools += has;
	c->without += !has;
	c->checked++;
	free(r);
	free(b);
}

static void test_corpus(void **state)
{
	struct corpus_count c = { 0 };
	int n = corpus_foreach(corpus_one, &c);

	if (n == -ENOENT)
		skip();
	fprintf(stderr, "corpus: %d non-streamed 200 responses, %d with tool calls\n", c.checked,
		c.with_tools);
	assert_true(c.with_tools > 20);
	assert_true(c.without > 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_list_bounded),
		cmocka_unit_test(test_streams),
		cmocka_unit_test(test_corpus),
	};

	return cmocka_run_group_tests_name("provider_tools", tests, NULL, NULL);
}
