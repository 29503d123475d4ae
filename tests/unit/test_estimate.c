/* estimate.c: usage estimated from the captured text, measured against
 * every shared-corpus exchange that carries usage (the estimate is made
 * for all of them, as if the usage were missing), plus the rules for when
 * an estimate replaces missing usage. Prints the error distribution. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include "estimate.h"
#include "provider.h"
#include "sse.h"
#include "corpus_util.h"

#define S(x) (x), sizeof(x) - 1

static int skip_unavailable(void)
{
	if (bpe_available(BPE_O200K_BASE))
		return 0;
	print_message("BPE ranks not built in: estimation tests skipped\n");
	skip();
	return 1;
}

static void test_encoding(void **state)
{
	static const struct { const char *model; enum bpe_encoding enc; bool exact; } cases[] = {
		{ "gpt-4o-2024-08-06", BPE_O200K_BASE, true },
		{ "gpt-5-mini", BPE_O200K_BASE, true }, { "o3-mini", BPE_O200K_BASE, true },
		{ "openai/gpt-oss-20b", BPE_O200K_BASE, true },
		{ "gpt-4-turbo", BPE_CL100K_BASE, true }, { "gpt-3.5-turbo", BPE_CL100K_BASE, true },
		{ "text-embedding-3-small", BPE_CL100K_BASE, true },
		{ "claude-sonnet-4-5", BPE_O200K_BASE, false },
		{ "gemini-2.5-flash", BPE_O200K_BASE, false }, { "", BPE_O200K_BASE, false },
	};
	bool exact;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(estimate_encoding(cases[i].model, &exact), cases[i].enc);
		if (exact != cases[i].exact)
			fail_msg("%s: exact %d", cases[i].model, exact);
	}
	assert_int_equal(estimate_encoding(NULL, &exact), BPE_O200K_BASE);
	assert_false(exact);
}

/* OpenAI's chat format, counted by hand: "You are terse." is 4 tokens,
 * "Hi" 1, the roles 1 each; 3 per message, 1 for a name, 3 for the reply. */
static void test_chat_overhead(void **state)
{
	static const char body[] =
		"{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"system\",\"content\":\"You are terse.\"},"
		"{\"role\":\"user\",\"name\":\"bob\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"},"
		"{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,AAAA\"}}]}]}";
	cJSON *root;

	if (skip_unavailable())
		return;
	root = cJSON_Parse(body);
	assert_non_null(root);
	/* system 3+1+4, user 3+1+1(name)+1(bob)+1(Hi)+765(image), reply 3 */
	assert_int_equal(estimate_request_tokens(LLM_API_CHAT_COMPLETIONS, "gpt-4o", root),
			 3 + 1 + 4 + 3 + 1 + 1 + 1 + 1 + 765 + 3);
	cJSON_Delete(root);

	/* Function tools in OpenAI's cookbook formula: 7 per function, its
	 * "name:description" (final period dropped), 3 for properties, 3 and
	 * "key:type:description" per property, 12 at the end. */
	root = cJSON_Parse("{\"messages\":[],\"tools\":[{\"type\":\"function\",\"function\":"
			   "{\"name\":\"get_weather\",\"description\":\"Get the weather.\","
			   "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":"
			   "{\"type\":\"string\",\"description\":\"City name.\"}}}}}]}");
	assert_non_null(root);
	assert_int_equal(estimate_request_tokens(LLM_API_CHAT_COMPLETIONS, "gpt-4o", root),
			 7 + bpe_count(BPE_O200K_BASE, S("get_weather:Get the weather")) + 3 + 3 +
			 bpe_count(BPE_O200K_BASE, S("city:string:City name")) + 12 + 3);
	cJSON_Delete(root);
	root = cJSON_Parse("{\"input\":[[1,2,3],[4,5]]}");
	assert_int_equal(estimate_request_tokens(LLM_API_EMBEDDINGS, "text-embedding-3-small",
						 root), 5);
	cJSON_Delete(root);
	root = cJSON_Parse("[1]");
	assert_int_equal(estimate_request_tokens(LLM_API_CHAT_COMPLETIONS, "gpt-4o", root), 0);
	cJSON_Delete(root);
}

/* When an estimate replaces missing usage, and when it must not. */
static void test_when(void **state)
{
	static const char stream[] =
		"data: {\"model\":\"gpt-4o-mini\",\"choices\":[{\"delta\":{\"content\":\"Hello\"}}]}\n\n"
		"data: {\"model\":\"gpt-4o-mini\",\"choices\":[{\"delta\":{\"content\":\" world\"}}]}\n\n"
		"data: [DONE]\n\n";
	static const char req[] =
		"{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":\"user\","
		"\"content\":\"Say hello world\"}]}";
	struct llm_request_info ri;
	struct llm_response_info r;
	const char *p, *e;

	if (skip_unavailable())
		return;
	assert_int_equal(provider_classify_request(S("POST"), S("/v1/chat/completions"),
						   S("api.openai.com"), S(req), &ri), 0);
	/* 3 + 1 (user) + 3 ("Say hello world") + 3 */
	assert_int_equal(ri.est_input_tokens, 10);
	memset(&r, 0, sizeof(r));
	for (p = stream; (e = strstr(p, "\n\n")); p = e + 2)
		assert_int_equal(provider_stream_event(ri.api, "", 0, p + 6, e - p - 6, &r), 0);
	assert_false(r.usage_present);
	assert_false(estimate_usage(&ri, &r, 500));	/* not a success */
	assert_true(estimate_usage(&ri, &r, 200));
	assert_true(r.usage_estimated);
	assert_int_equal(r.usage.input_tokens, 10);
	assert_int_equal(r.usage.output_tokens, 3);	/* "Hello", " world", end */

	/* Provider usage, errors, free calls and background responses: never. */
	memset(&r, 0, sizeof(r));
	r.usage_present = true;
	assert_false(estimate_usage(&ri, &r, 200));
	memset(&r, 0, sizeof(r));
	snprintf(r.error, sizeof(r.error), "server_error");
	assert_false(estimate_usage(&ri, &r, 200));
	memset(&r, 0, sizeof(r));
	assert_int_equal(provider_parse_body(LLM_API_RESPONSES, 200,
		S("{\"model\":\"gpt-4o\",\"status\":\"queued\",\"usage\":null}"), &r), 0);
	assert_false(estimate_usage(&ri, &r, 200));
	memset(&r, 0, sizeof(r));
	ri.api = LLM_API_COUNT_TOKENS;
	assert_false(estimate_usage(&ri, &r, 200));
	ri.api = LLM_API_CHAT_COMPLETIONS;
	ri.est_input_tokens = -1;	/* capped request body: no estimate */
	assert_false(estimate_usage(&ri, &r, 200));
}

/* A Claude stream cut after message_start: its input counts stay, its
 * placeholder output becomes the output seen (o200k x 1.27); once a
 * message_delta came, the provider's counts stand. */
static void test_cut_claude_stream(void **state)
{
	static const char start[] =
		"{\"type\":\"message_start\",\"message\":{\"model\":\"claude-haiku-4-5\","
		"\"usage\":{\"input_tokens\":50,\"cache_read_input_tokens\":200,\"output_tokens\":1}}}";
	static const char delta[] =
		"{\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\","
		"\"text\":\"The quick brown fox jumps over the lazy dog.\"}}";
	static const char final[] =
		"{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":12}}";
	struct llm_request_info ri = { .api = LLM_API_MESSAGES, .est_input_tokens = 9 };
	struct llm_response_info r = { 0 };
	long text;

	if (skip_unavailable())
		return;
	snprintf(ri.provider, sizeof(ri.provider), "anthropic");
	text = bpe_count(BPE_O200K_BASE, S("The quick brown fox jumps over the lazy dog."));
	assert_int_equal(provider_stream_event(ri.api, S("message_start"), S(start), &r), 0);
	assert_int_equal(provider_stream_event(ri.api, S("content_block_delta"), S(delta), &r), 0);
	assert_true(r.usage_present && r.usage_partial);
	assert_true(estimate_usage(&ri, &r, 200));
	assert_int_equal(r.usage.input_tokens, 250);	/* the provider's, not 9 */
	assert_int_equal(r.usage.cached_input_tokens, 200);
	assert_int_equal(r.usage.output_tokens, (int64_t)(text * 1.27 + 0.5));

	memset(&r, 0, sizeof(r));
	assert_int_equal(provider_stream_event(ri.api, S("message_start"), S(start), &r), 0);
	assert_int_equal(provider_stream_event(ri.api, S("content_block_delta"), S(delta), &r), 0);
	assert_int_equal(provider_stream_event(ri.api, S("message_delta"), S(final), &r), 0);
	assert_false(r.usage_partial);
	assert_false(estimate_usage(&ri, &r, 200));
	assert_int_equal(r.usage.output_tokens, 12);
}

/* ---- the corpus: estimate vs actual ---- */

enum { FAM_OPENAI, FAM_ANTHROPIC, FAM_GOOGLE, FAM_OTHER, FAM_HIDDEN, FAM__MAX };
static const char *const fam_names[FAM__MAX] = { "openai (exact BPE)", "anthropic",
						 "google", "compatible",
						 "server-side context" };

/* Whether the model reads text the request does not hold: server-side
 * tools (web search, code execution, MCP), context kept by the provider
 * (previous_response_id, conversations, encrypted reasoning), files and
 * documents it fetches or parses itself. No estimate from the captured
 * text can see that: such exchanges are reported apart. */
static bool server_side_context(const cJSON *j, int depth)
{
	static const char *const keys[] = { "previous_response_id", "conversation",
		"mcp_servers", "container", "fileData", "file_data", "file_id", "file_url",
		"encrypted_content", "googleSearch", "google_search", "urlContext",
		"url_context", "codeExecution", "code_execution", "fileSearch",
		"googleSearchRetrieval", "googleMaps", NULL };
	static const char *const types[] = { "function", "custom", "text", "input_text",
		"output_text", "message", "function_call", "function_call_output",
		"tool_use", "tool_result", "image", "image_url", "input_image", "thinking",
		"redacted_thinking", "json_schema", "json_object", "object", "string",
		"number", "integer", "boolean", "array", "null", "enabled", "disabled",
		"auto", "any", "tool", "none", "ephemeral", "base64", "url", "adaptive", NULL };
	const cJSON *it;

	if (depth > 64)
		return false;
	cJSON_ArrayForEach(it, j) {
		const char *const *k;

		for (k = keys; it->string && *k; k++)
			if (!strcmp(it->string, *k) && !cJSON_IsNull(it))
				return true;
		if (it->string && !strcmp(it->string, "type") && cJSON_IsString(it)) {
			for (k = types; *k; k++)
				if (!strcmp(it->valuestring, *k))
					break;
			if (!*k)
				return true;	/* a server tool or item */
		}
		if (server_side_context(it, depth + 1))
			return true;
	}
	return false;
}

struct samples {
	double *v;
	size_t n, cap;
};

static void add(struct samples *s, double x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		assert_non_null(s->v);
	}
	s->v[s->n++] = x;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(struct samples *s, double q)
{
	if (!s->n)
		return NAN;
	qsort(s->v, s->n, sizeof(*s->v), cmp_d);
	return s->v[(size_t)(q * (s->n - 1) + 0.5)];
}

struct corpus_est {
	/* |estimate - actual| / actual, and actual / raw o200k count */
	struct samples in_err[FAM__MAX], out_err[FAM__MAX], in_ratio[FAM__MAX],
		       out_ratio[FAM__MAX];
	int in_exact[FAM__MAX];
	int skipped;
};

struct feed_ctx {
	enum llm_api api;
	struct llm_response_info *r;
};

static int on_event(void *ctx, const char *ev, size_t ev_len, const char *data,
		    size_t len, bool truncated)
{
	struct feed_ctx *f = ctx;

	provider_stream_event(f->api, ev, ev_len, data, len, f->r);
	return 0;
}

static int family(const char *provider, const char *model)
{
	bool exact;

	estimate_encoding(model, &exact);
	if (exact)
		return FAM_OPENAI;
	if (!strcmp(provider, "anthropic"))
		return FAM_ANTHROPIC;
	if (!strcmp(provider, "google"))
		return FAM_GOOGLE;
	return FAM_OTHER;
}

static void est_line(const cJSON *line, void *ctx)
{
	struct corpus_est *ce = ctx;
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(line, "expected");
	const char *method = corpus_str(line, "method"), *path = corpus_str(line, "path");
	const char *host = corpus_str(line, "host");
	int64_t in = (int64_t)cJSON_GetObjectItem(e, "input_tokens")->valuedouble;
	int64_t out = (int64_t)cJSON_GetObjectItem(e, "output_tokens")->valuedouble;
	int64_t reasoning = (int64_t)cJSON_GetObjectItem(e, "reasoning_tokens")->valuedouble;
	struct llm_request_info ri;
	struct llm_response_info r = { 0 };
	unsigned char *req, *resp;
	size_t req_len, resp_len;
	int64_t raw_in, visible;
	long raw_out;
	cJSON *root;
	int fam;

	if (!corpus_bool(e, "usage_present") || corpus_bool(e, "error") || in <= 0) {
		ce->skipped++;
		return;
	}
	req = corpus_b64(line, "req_body_b64", &req_len);
	resp = corpus_b64(line, "resp_body_b64", &resp_len);
	assert_true(req && resp);
	assert_int_equal(provider_classify_request(method, strlen(method), path, strlen(path),
						   host, strlen(host), (char *)req, req_len,
						   &ri), 0);
	fam = family(ri.provider, ri.model);
	root = cJSON_ParseWithLength((char *)req, req_len);
	if (server_side_context(root, 0))
		fam = FAM_HIDDEN;
	raw_in = estimate_request_tokens(ri.api, ri.model, root);
	cJSON_Delete(root);
	assert_true(ri.est_input_tokens >= 0 && raw_in >= 0);
	if (corpus_bool(line, "stream")) {
		struct feed_ctx f = { ri.api, &r };
		struct sse_parser p;

		sse_init(&p, 0);
		sse_feed(&p, (char *)resp, resp_len, on_event, &f);
		sse_free(&p);
	} else {
		provider_parse_body(ri.api, 200, (char *)resp, resp_len, &r);
	}
	raw_out = bpe_stream_finish(&r.est_output, (enum bpe_encoding)r.est_enc);
	assert_true(raw_out >= 0);

	if (getenv("EST_DEBUG"))
		fprintf(stderr, "EST %s fam=%d in=%lld est=%lld raw=%lld out=%lld vis=%lld rawout=%ld %s\n",
			corpus_str(line, "id"), fam, (long long)in, (long long)ri.est_input_tokens,
			(long long)raw_in, (long long)out, (long long)(out - reasoning), raw_out, ri.model);
	add(&ce->in_err[fam], fabs((double)(ri.est_input_tokens - in)) / (double)in);
	add(&ce->in_ratio[fam], raw_in ? (double)in / (double)raw_in : 1);
	ce->in_exact[fam] += ri.est_input_tokens == in;
	/* Hidden reasoning is not in the text; Anthropic's thinking is. */
	visible = fam == FAM_ANTHROPIC ? out : out - reasoning;
	if (visible > 0 && raw_out > 0) {
		int64_t est = r.est_exact ? raw_out + 1 :
			      estimate_scale(ri.provider, ri.api, raw_out, true);

		add(&ce->out_err[fam], fabs((double)(est - visible)) / (double)visible);
		add(&ce->out_ratio[fam], (double)visible / (double)raw_out);
	}
	free(req);
	free(resp);
}

static void test_corpus_accuracy(void **state)
{
	struct corpus_est ce = { 0 };
	FILE *report;
	int n;

	if (skip_unavailable())
		return;
	if (!corpus_path()) {
		print_message("CORPUS not set or unreadable: accuracy not measured\n");
		skip();
	}
	n = corpus_foreach(est_line, &ce);
	assert_true(n > 0);
	report = stderr;
	fprintf(report, "estimate vs provider usage over %d corpus exchanges (%d without usage "
		"or with errors skipped); abs error as %% of actual:\n", n, ce.skipped);
	fprintf(report, "  %-20s %5s %7s %7s %7s %6s | %5s %7s %7s %7s | actual/o200k in, out\n",
		"family", "in n", "median", "p90", "max", "exact", "out n", "median", "p90", "max");
	for (int f = 0; f < FAM__MAX; f++) {
		if (!ce.in_err[f].n)
			continue;
		fprintf(report, "  %-20s %5zu %6.1f%% %6.1f%% %6.1f%% %6d | %5zu %6.1f%% %6.1f%% "
			"%6.1f%% | %.3f, %.3f\n", fam_names[f], ce.in_err[f].n,
			100 * pct(&ce.in_err[f], 0.5), 100 * pct(&ce.in_err[f], 0.9),
			100 * pct(&ce.in_err[f], 1), ce.in_exact[f], ce.out_err[f].n,
			100 * pct(&ce.out_err[f], 0.5), 100 * pct(&ce.out_err[f], 0.9),
			100 * pct(&ce.out_err[f], 1), pct(&ce.in_ratio[f], 0.5),
			pct(&ce.out_ratio[f], 0.5));
	}
	/* Bounds on the median, near what the corpus gives (README): OpenAI
	 * is counted with its own BPE, the rest scaled o200k_base. */
	assert_true(pct(&ce.in_err[FAM_OPENAI], 0.5) < 0.10);
	assert_true(pct(&ce.out_err[FAM_OPENAI], 0.5) < 0.25);
	assert_true(pct(&ce.in_err[FAM_ANTHROPIC], 0.5) < 0.30);
	assert_true(pct(&ce.out_err[FAM_ANTHROPIC], 0.5) < 0.50);
	assert_true(pct(&ce.in_err[FAM_GOOGLE], 0.5) < 0.20);
	assert_true(pct(&ce.out_err[FAM_GOOGLE], 0.5) < 0.20);
	for (int f = 0; f < FAM__MAX; f++) {
		free(ce.in_err[f].v);
		free(ce.out_err[f].v);
		free(ce.in_ratio[f].v);
		free(ce.out_ratio[f].v);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encoding),
		cmocka_unit_test(test_chat_overhead),
		cmocka_unit_test(test_when),
		cmocka_unit_test(test_cut_claude_stream),
		cmocka_unit_test(test_corpus_accuracy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
