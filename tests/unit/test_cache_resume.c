/* The prompt-cache analysis gives the same answers however much of a
 * request it takes from earlier ones: two analysers with one key see the
 * same calls, one resuming (after a repeat's bytes, or a prompt that
 * differs only in breakers: "norm resume", cache_prefix.c; and taking the
 * spans of segments its call site sent unchanged last time), the other
 * with no_resume, lexing and hashing every request whole. Every field it
 * writes must agree: template, cacheable, missed tokens and dollars,
 * cause, breakers, stored prefix hashes, duplicate. Workloads: a
 * timestamp at the top of a system prompt (alone, with turns appended,
 * with the turns then cut), a UUID in the middle of a long message, a
 * real edit, Anthropic tools in shuffled order with breakpoints, repeats,
 * a random mix of all of them; then the corpus, twice as sent and once
 * with its digits changed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include "cache_analyze.h"
#include "cache_hash.h"
#include "corpus_util.h"
#include "cost.h"
#include "record.h"

#define MIN_NS	(60LL * 1000000000LL)

struct pair {
	struct cache_hash_key key;
	struct price_table *prices;
	struct cache_analyzer *fast, *ref;
	int calls;
};

static void pair_open(struct pair *x)
{
	static const uint8_t secret[32] = "test_cache_resume key, 32 bytes";
	struct cache_analyzer_opts o = { 0 };

	memset(x, 0, sizeof(*x));
	assert_int_equal(cache_hash_key_init(&x->key, secret, sizeof(secret)), 0);
	assert_int_equal(price_table_load_default(&x->prices), 0);
	o.key = &x->key;
	o.prices = x->prices;
	o.index_bytes = 8 << 20;
	assert_int_equal(cache_analyzer_new(&o, &x->fast), 0);
	o.no_resume = true;
	assert_int_equal(cache_analyzer_new(&o, &x->ref), 0);
}

static void pair_close(struct pair *x, uint64_t min_resumed, uint64_t min_norm)
{
	struct cache_analyzer_stats f, r;

	cache_analyzer_get_stats(x->fast, &f);
	cache_analyzer_get_stats(x->ref, &r);
	print_message("%d calls alike: %llu resumed, %llu norm-resumed\n", x->calls,
		      (unsigned long long)f.resumed, (unsigned long long)f.norm_resumed);
	assert_true(f.resumed >= min_resumed);
	assert_true(f.norm_resumed >= min_norm);
	assert_int_equal(r.resumed, 0);
	assert_int_equal(r.norm_resumed, 0);
	cache_analyzer_free(x->fast);
	cache_analyzer_free(x->ref);
	price_table_free(x->prices);
	cache_hash_key_free(&x->key);
}

/* One call through both; every field the analysis writes must agree. */
static void both(struct pair *x, const struct exchange_record *in)
{
	struct exchange_record a = *in, b = *in;
	int ea = cache_analyze_record(x->fast, &a), eb = cache_analyze_record(x->ref, &b);

	x->calls++;
	assert_int_equal(ea, eb);
	assert_int_equal(a.cache_analyzed, b.cache_analyzed);
	assert_string_equal(a.cache_template, b.cache_template);
	assert_string_equal(a.account, b.account);
	assert_int_equal(a.cacheable_tokens, b.cacheable_tokens);
	assert_int_equal(a.missed_cache_tokens, b.missed_cache_tokens);
	assert_true(a.missed_cache_usd == b.missed_cache_usd);
	assert_string_equal(a.cache_miss_cause, b.cache_miss_cause);
	assert_string_equal(a.breakers, b.breakers);
	assert_int_equal(a.prefix_hashes_len, b.prefix_hashes_len);
	assert_memory_equal(a.prefix_hashes, b.prefix_hashes, a.prefix_hashes_len);
	assert_int_equal(a.cache_duplicate, b.cache_duplicate);
	assert_int_equal(cache_analyzer_last_prediction(x->fast),
			 cache_analyzer_last_prediction(x->ref));
}

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

/* Prose with a number, a newline or a capital now and then. */
static void prose(char *out, size_t n, unsigned seed)
{
	static const char *const words[] = {
		"the", "agent", "reads", "files", "and", "answers", "questions", "about",
		"code", "carefully", "with", "short", "clear", "sentences,", "never",
		"guessing.", "When", "unsure", "it", "asks", "42", "\\n\\n", "step", "3",
	};
	size_t len = 0;

	while (len + 12 < n) {
		seed = seed * 1103515245u + 12345u;
		len += (size_t)sprintf(out + len, "%s ", words[(seed >> 16) % 24]);
	}
	out[len] = '\0';
}

/* A request of the shapes above, in the provider's JSON. */
struct shape {
	bool anthropic, tools, shuffle, breakpoint;
	int turns;		/* user/assistant turns after the system prompt */
	int stamp;		/* -1: no timestamp; else seconds, at the top */
	int uuid;		/* -1: none; else a UUID in the first turn */
	int edit;		/* a word changed in the system prompt */
	unsigned seed;
};

static char *body_of(const struct shape *s)
{
	static char sys[12000], turn[3000];
	size_t cap = 64 << 10, len = 0;
	char *b = malloc(cap);

	prose(sys, sizeof(sys) - 200, s->seed);
	if (s->edit)
		memcpy(sys + 5000, "EDITED", 6);
	if (s->anthropic) {
		len += (size_t)sprintf(b + len, "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":100,");
		if (s->tools) {
			int order[3] = { 0, 1, 2 };

			if (s->shuffle) {
				order[0] = 2;
				order[2] = 0;
			}
			len += (size_t)sprintf(b + len, "\"tools\":[");
			for (int i = 0; i < 3; i++)
				len += (size_t)sprintf(b + len, "%s{\"name\":\"tool%d\",\"description\":"
						       "\"does thing %d well\",\"input_schema\":{\"type\":"
						       "\"object\",\"properties\":{\"p%d\":{\"type\":\"string\"}}}}",
						       i ? "," : "", order[i], order[i], order[i]);
			len += (size_t)sprintf(b + len, "],");
		}
		len += (size_t)sprintf(b + len, "\"system\":[{\"type\":\"text\",\"text\":\"");
	} else {
		len += (size_t)sprintf(b + len, "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":"
					       "\"system\",\"content\":\"");
	}
	if (s->stamp >= 0)
		len += (size_t)sprintf(b + len, "Current time: 2026-12-07T%02d:%02d:%02dZ. ",
				       10 + s->stamp / 3600 % 12, s->stamp / 60 % 60, s->stamp % 60);
	len += (size_t)sprintf(b + len, "%s\"", sys);
	if (s->anthropic)
		len += (size_t)sprintf(b + len, "%s}],\"messages\":[",
				       s->breakpoint ? ",\"cache_control\":{\"type\":\"ephemeral\"}" : "");
	else
		len += (size_t)sprintf(b + len, "}");
	for (int t = 0; t < s->turns; t++) {
		prose(turn, 300 + 97 * (size_t)t, s->seed + 7 * (unsigned)t);
		len += (size_t)sprintf(b + len, "%s{\"role\":\"%s\",\"content\":\"%s",
				       t || !s->anthropic ? "," : "", t % 2 ? "assistant" : "user", turn);
		if (t == 0 && s->uuid >= 0)	/* a UUID in the middle of the first turn */
			len += (size_t)sprintf(b + len, " request %08x-1234-4abc-9def-%012x %s",
					       (unsigned)s->uuid, (unsigned)s->uuid * 7u, turn);
		len += (size_t)sprintf(b + len, "\"}");
	}
	len += (size_t)sprintf(b + len, "]}");
	assert_true(len < cap);
	return b;
}

static void call(struct pair *x, const struct shape *s, int64_t now, const char *exe, int account)
{
	struct exchange_record r;
	char *body = body_of(s);

	memset(&r, 0, sizeof(r));
	r.ts_start_ns = now;
	r.status = 200;
	r.usage_source = USAGE_PROVIDER;
	snprintf(r.exe, sizeof(r.exe), "%s", exe);
	if (s->anthropic) {
		strcpy(r.provider, "anthropic");
		strcpy(r.api, "messages");
		strcpy(r.host, "api.anthropic.com");
		strcpy(r.model, "claude-sonnet-4-5-20250929");
	} else {
		strcpy(r.provider, "openai");
		strcpy(r.api, "chat.completions");
		strcpy(r.host, "api.openai.com");
		strcpy(r.model, "gpt-4o-2024-08-06");
	}
	r.account_seen = true;
	memset(r.account_digest, account + 1, 32);
	r.request_body = body;
	r.request_body_len = strlen(body);
	r.usage.input_tokens = (int64_t)r.request_body_len / 4;
	r.usage.output_tokens = 10;
	/* what a provider might have cached: nothing, some, or all but a bit */
	r.usage.cached_input_tokens = rnd(3) == 0 ? 0 : rnd(2) ? r.usage.input_tokens / 2 / 128 * 128
							     : r.usage.input_tokens - 200;
	both(x, &r);
	free(body);
}

static void test_top_timestamp(void **state)
{
	struct pair x;

	(void)state;
	pair_open(&x);
	for (int i = 0; i < 12; i++) {
		struct shape s = { .stamp = i * 61, .uuid = -1, .seed = 1, .turns = 1 };

		call(&x, &s, i * MIN_NS, "/usr/bin/agent", 0);
	}
	/* with turns appended, then cut back (no resume can take all) */
	for (int i = 0; i < 12; i++) {
		struct shape s = { .stamp = 5000 + i, .uuid = -1, .seed = 2, .turns = i < 8 ? 1 + i : 2 };

		call(&x, &s, (20 + i) * MIN_NS, "/usr/bin/agent", 0);
	}
	pair_close(&x, 0, 15);
}

static void test_uuid_edit_repeat(void **state)
{
	struct pair x;

	(void)state;
	pair_open(&x);
	for (int i = 0; i < 20; i++) {
		struct shape s = { .stamp = -1, .uuid = i % 5 == 4 ? -1 : 1000 + i, .seed = 3,
				   .turns = 3, .edit = i % 7 == 6 };

		call(&x, &s, i * MIN_NS, "/usr/bin/agent", 0);
		call(&x, &s, i * MIN_NS + 1000, "/usr/bin/agent", 0);	/* a repeat */
	}
	pair_close(&x, 10, 5);
}

static void test_anthropic_tools(void **state)
{
	struct pair x;

	(void)state;
	pair_open(&x);
	for (int i = 0; i < 24; i++) {
		struct shape s = { .anthropic = true, .tools = true, .shuffle = i % 3 == 1,
				   .breakpoint = i % 4 != 3, .stamp = i % 2 ? i : -1, .uuid = -1,
				   .seed = 4, .turns = 1 + i % 3 };

		call(&x, &s, i * MIN_NS / 2, "/usr/bin/claude", 0);
	}
	pair_close(&x, 0, 3);
}

static void test_random_mix(void **state)
{
	static const char *const exes[] = { "/usr/bin/a", "/usr/bin/b" };
	struct pair x;

	(void)state;
	pair_open(&x);
	for (int i = 0; i < 400; i++) {
		struct shape s = {
			.anthropic = rnd(3) == 0, .tools = rnd(2), .shuffle = rnd(4) == 0,
			.breakpoint = rnd(3) != 0, .turns = (int)rnd(6),
			.stamp = rnd(3) ? (int)rnd(100000) : -1, .uuid = rnd(4) ? -1 : (int)rnd(50),
			.edit = rnd(8) == 0, .seed = 10 + rnd(3),
		};

		call(&x, &s, (int64_t)i * MIN_NS / (1 + (int)rnd(8)) + (int64_t)rnd(20) * MIN_NS,
		     exes[rnd(2)], (int)rnd(2));
	}
	pair_close(&x, 1, 1);
}

/* ---- the corpus ---- */

struct corpus_ctx {
	struct pair *x;
	int pass;
	int64_t now;
};

static void corpus_line(const cJSON *line, void *arg)
{
	struct corpus_ctx *c = arg;
	struct exchange_record r;
	size_t len;
	unsigned char *body = corpus_b64(line, "req_body_b64", &len);
	cJSON *json = body ? cJSON_ParseWithLength((const char *)body, len) : NULL;
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(json, "model");

	memset(&r, 0, sizeof(r));
	if (body && c->pass == 2)	/* numbers change: breakers, same masked text */
		for (size_t i = 0; i < len; i++)
			if (body[i] == '7')
				body[i] = '8';
	r.ts_start_ns = c->now += 1000000000LL;
	r.status = 200;
	r.usage_source = USAGE_PROVIDER;
	strcpy(r.exe, "/usr/bin/corpus");
	snprintf(r.provider, sizeof(r.provider), "%s", corpus_str(line, "provider"));
	snprintf(r.api, sizeof(r.api), "%s", corpus_str(line, "api"));
	snprintf(r.host, sizeof(r.host), "%s", corpus_str(line, "host"));
	snprintf(r.model, sizeof(r.model), "%s",
		 cJSON_IsString(model) ? model->valuestring : "unknown");
	r.request_body = (char *)body;
	r.request_body_len = len;
	r.usage.input_tokens = (int64_t)len / 4 + 1;
	r.usage.cached_input_tokens = c->pass ? (int64_t)len / 8 : 0;
	if (body)
		both(c->x, &r);
	cJSON_Delete(json);
	free(body);
}

static void test_corpus(void **state)
{
	struct pair x;
	struct corpus_ctx c = { .x = &x };
	int n = 0;

	(void)state;
	if (!corpus_path())
		skip();
	pair_open(&x);
	for (c.pass = 0; c.pass < 3; c.pass++)
		n = corpus_foreach(corpus_line, &c);
	assert_true(n > 400);
	pair_close(&x, 100, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_top_timestamp),
		cmocka_unit_test(test_uuid_edit_repeat),
		cmocka_unit_test(test_anthropic_tools),
		cmocka_unit_test(test_random_mix),
		cmocka_unit_test(test_corpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
