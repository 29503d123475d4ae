/* Prompt-cache engine parts (issue 9): the breaker lexer and the segmenter,
 * table-driven; HMAC points against OpenSSL's one-shot HMAC; the rules
 * table; the bounded prefix index (eviction counted, second chance); and
 * the property that a million random distinct prefixes give a million
 * distinct truncated hashes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/hmac.h>

#include "cache_breaker.h"
#include "cache_hash.h"
#include "cache_index.h"
#include "cache_reorder.h"
#include "cache_rules.h"
#include "cache_tokens.h"
#include "cache_segment.h"

/* ---- lexer ---- */

struct lex_case {
	const char *text;
	const char *kind;	/* of the first span; NULL: no span at all */
	uint32_t off, len;
	const char *shape;
};

static const struct lex_case lex_cases[] = {
	{ "Current time: 2026-12-07T18:12:19Z. Be brief.", "timestamp", 14, 20, "ISO-8601 timestamp" },
	{ "now 2026-12-07 18:12:19.123+01:00 ok", "timestamp", 4, 29, "ISO-8601 timestamp" },
	{ "Today is 2026-12-07.", "date", 9, 10, "ISO-8601 date" },
	{ "Date: Mon, 07 Dec 2026 18:12:19 GMT", "timestamp", 6, 29, "RFC 1123 timestamp" },
	{ "It is December 7, 2026 and", "date", 6, 16, "written-out date" },
	{ "It is December 7, 2026 at 6:12 PM", "timestamp", 6, 27, "written-out timestamp" },
	{ "on 7 Dec 2026 we", "date", 3, 10, "written-out date" },
	{ "on 07/12/2026 we", "date", 3, 10, "numeric date (d/m/y)" },
	{ "at 18:12:19 sharp", "timestamp", 3, 8, "time of day" },
	{ "ts=1765131139 end", "epoch", 3, 10, "Unix time (seconds)" },
	{ "ts=1765131139123 end", "epoch", 3, 13, "Unix time (milliseconds)" },
	{ "req 0b7e4f3c-9a1d-4c2e-8f00-1234567890ab end", "uuid", 4, 36, "UUID v4" },
	{ "req 0190d3a5-7c4b-7e21-9f00-abcdefabcdef", "uuid", 4, 36, "UUID v7" },
	{ "req 6ba7b810-9dad-11d1-80b4-00c04fd430c8", "uuid", 4, 36, "UUID v1" },
	{ "Session e3b0c442-98fc-4c14-9afb-f4c8996fb924. Go", "uuid", 8, 36, "UUID v4" },
	{ "id=abc0c442-98fc-7c14-9afb-f4c8996fb924", "uuid", 3, 36, "UUID v7" },
	{ "cch=9f86d081884c7d65; ok", "hex_id", 4, 16, "hex id" },
	{ "sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "hex_id", 4, 64, "hex id" },
	{ "tok aGVsbG8gd29ybGQgMTIzNDU2Nzg5MA== x", "base64_id", 4, 32, "base64 id" },
	{ "session Xk9_pQ2rT7vW3yZ1aB4cD6eF end", "base64_id", 8, 24, "base64 id" },
	{ "call number 42 now", "random_number", 12, 2, "integer" },
	{ "temp 0.734 now", "random_number", 5, 5, "decimal number" },
	{ "Rules:\n\n- be brief", "whitespace", 6, 2, "whitespace run" },
	{ "two  spaces", "whitespace", 3, 2, "whitespace run" },
	/* not breakers */
	{ "You are a helpful assistant. Answer in English.", NULL, 0, 0, NULL },
	{ "deadbeef is a short hex word", NULL, 0, 0, NULL },
	{ "Supercalifragilisticexpialidocious words", NULL, 0, 0, NULL },
	{ "version v1.2.3", NULL, 0, 0, NULL },
	{ "", NULL, 0, 0, NULL },
};

static void test_lexer_table(void **state)
{
	for (size_t i = 0; i < sizeof(lex_cases) / sizeof(lex_cases[0]); i++) {
		const struct lex_case *c = &lex_cases[i];
		struct cache_span s[8];
		size_t n = cache_breaker_scan(c->text, strlen(c->text), s, 8);

		if (!c->kind) {
			if (n)
				fail_msg("case %zu \"%s\": unexpected %s at %u", i, c->text,
					 cache_breaker_kind_name(s[0].kind), s[0].off);
			continue;
		}
		if (!n)
			fail_msg("case %zu \"%s\": no span", i, c->text);
		if (strcmp(cache_breaker_kind_name(s[0].kind), c->kind) || s[0].off != c->off ||
		    s[0].len != c->len || strcmp(cache_breaker_shape_name(s[0].shape), c->shape))
			fail_msg("case %zu \"%s\": got %s (%s) at %u+%u, want %s (%s) at %u+%u", i,
				 c->text, cache_breaker_kind_name(s[0].kind),
				 cache_breaker_shape_name(s[0].shape), s[0].off, s[0].len, c->kind,
				 c->shape, c->off, c->len);
	}
}

/* Every prefix of every case: the lexer never reads past len (ASan) and
 * spans stay inside and in order. */
static void test_lexer_bounds(void **state)
{
	for (size_t i = 0; i < sizeof(lex_cases) / sizeof(lex_cases[0]); i++) {
		size_t len = strlen(lex_cases[i].text);

		for (size_t l = 0; l <= len; l++) {
			char *t = malloc(l ? l : 1);
			struct cache_span s[8];
			size_t n, prev = 0;

			memcpy(t, lex_cases[i].text, l);
			n = cache_breaker_scan(t, l, s, 8);
			for (size_t k = 0; k < n && k < 8; k++) {
				assert_true(s[k].off >= prev);
				assert_true(s[k].off + s[k].len <= l);
				prev = s[k].off + s[k].len;
			}
			free(t);
		}
	}
}

static void test_lexer_max(void **state)
{
	const char *t = "1 2 3 4 5 6 7 8 9 10";
	struct cache_span s[3];

	assert_int_equal(cache_breaker_scan(t, strlen(t), s, 3), 10);
	assert_int_equal(s[2].off, 4);
	assert_int_equal(s[2].ivalue, 3);
	assert_int_equal(cache_breaker_kind_parse("uuid"), CB_UUID);
	assert_int_equal(cache_breaker_kind_parse("nope"), CB_NONE);
}

/* ---- segmenter ---- */

struct seg_case {
	const char *api;
	const char *body;
	const char *want;	/* "name=text|name=text|..." ; "!" prefix: breakpoint */
};

static const struct seg_case seg_cases[] = {
	{ "messages",
	  "{\"model\":\"claude-sonnet-4-5\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\\n\\\"there\\\"\"}],"
	  "\"system\":[{\"type\":\"text\",\"text\":\"Be brief.\",\"cache_control\":{\"type\":\"ephemeral\"}}],"
	  "\"tools\":[{\"name\":\"b\",\"input_schema\":{\"type\":\"object\"}}]}",
	  "tools[0]={name:\"b\",input_schema:{type:\"object\"}}|!system[0]=Be brief.|messages[0]=Hi\n\"there\"" },
	{ "messages",
	  "{\"system\":\"S \\u00e9\\ud83d\\ude00\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
	  "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"data\":\"QUJD\"}}]}]}",
	  "system=S \xc3\xa9\xf0\x9f\x98\x80|messages[0].content[0]=a|messages[0].content[1]={type:\"image\",source:{type:\"base64\",data:\"QUJD\"}}" },
	{ "chat.completions",
	  "{\"messages\":[{\"role\":\"system\",\"content\":\"sys\"},{\"role\":\"assistant\",\"content\":null,"
	  "\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\"}]}],\"response_format\":{\"type\":\"json_schema\"},\"model\":\"gpt-4o\"}",
	  "response_format={type:\"json_schema\"}|messages[0]=sys|messages[1]=\ntool_calls:[{id:\"c1\",type:\"function\"}]" },
	{ "responses",
	  "{\"input\":[{\"type\":\"message\",\"role\":\"user\",\"id\":\"msg_1\",\"content\":[{\"type\":\"input_text\",\"text\":\"q\"}]},"
	  "{\"type\":\"function_call\",\"id\":\"fc_9\",\"call_id\":\"c\",\"name\":\"f\",\"arguments\":\"{}\"}],"
	  "\"instructions\":\"inst\",\"metadata\":{\"a\":1}}",
	  "instructions=inst|input[0].content[0]=q|input[1]=\ntype:\"function_call\"\ncall_id:\"c\"\nname:\"f\"\narguments:\"{}\"" },
	{ "responses", "{\"input\":\"just text\"}", "input=just text" },
	{ "generate_content",
	  "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"p1\"},{\"text\":\"p2\"}]}],"
	  "\"systemInstruction\":{\"parts\":[{\"text\":\"sys\"}]}}",
	  "systemInstruction=sys|contents[0]=p1p2" },
	{ "messages",
	  "{\"system\":[{\"type\":\"text\",\"text\":\"x-anthropic-billing-header: cc_version=2.1; cch=abc;\"},"
	  "{\"type\":\"text\",\"text\":\"real\"}],\"messages\":[],\"cache_control\":{\"type\":\"ephemeral\"}}",
	  "!system[1]=real" },
};

static void render(const struct cache_request *r, char *out, size_t size)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < r->n_segs; i++) {
		const struct cache_segment *s = &r->segs[i];

		len += (size_t)snprintf(out + len, size - len, "%s%s%s=%.*s", i ? "|" : "",
					s->breakpoint ? "!" : "", s->name, (int)s->text_len,
					r->text + s->text_off);
		assert_true(len < size);
	}
}

static void test_segment_table(void **state)
{
	struct cache_rules *rules;
	struct cache_request req = { 0 };
	char got[1024];

	assert_int_equal(cache_rules_load_default(&rules), 0);
	for (size_t i = 0; i < sizeof(seg_cases) / sizeof(seg_cases[0]); i++) {
		const struct seg_case *c = &seg_cases[i];
		const char *prov = !strcmp(c->api, "messages") ? "anthropic" :
				   !strcmp(c->api, "generate_content") ? "google" : "openai";
		const struct cache_rule *rule = cache_rules_lookup(rules, prov, NULL, "x");
		int err = cache_segment_request(&req, c->api, c->body, strlen(c->body), rule);

		if (err)
			fail_msg("case %zu: error %d", i, err);
		render(&req, got, sizeof(got));
		if (strcmp(got, c->want))
			fail_msg("case %zu:\n got  %s\n want %s", i, got, c->want);
		for (size_t k = 0; k < req.n_segs; k++)
			assert_true(req.segs[k].body_off + req.segs[k].body_len <= strlen(c->body));
	}
	cache_request_free(&req);
	cache_rules_free(rules);
}

static void test_segment_params_and_errors(void **state)
{
	struct cache_request req = { 0 };
	const char *b = "{\"model\":\"m\",\"temperature\":0,\"tool_choice\":\"auto\",\"messages\":[]}";
	const char *bad[] = { "", "[]", "{", "{\"messages\":[{]}", "{\"messages\":\"x\"", "nul" };

	assert_int_equal(cache_segment_request(&req, "chat.completions", b, strlen(b), NULL), 0);
	assert_true(req.deterministic);
	assert_string_equal(req.params, "model=\"m\";tool_choice=\"auto\";");
	assert_int_equal(cache_segment_request(&req, "embeddings", b, strlen(b), NULL), -EOPNOTSUPP);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cache_segment_request(&req, "messages", bad[i], strlen(bad[i]), NULL),
				 -EINVAL);
	cache_request_free(&req);
}

/* Nesting past the depth cap is an error, not a stack overflow. */
static void test_segment_depth(void **state)
{
	struct cache_request req = { 0 };
	size_t n = 100000, len = 0;
	char *b = malloc(2 * n + 64);

	len += (size_t)sprintf(b, "{\"messages\":[{\"role\":\"user\",\"content\":");
	for (size_t i = 0; i < n; i++)
		b[len++] = '[';
	for (size_t i = 0; i < n; i++)
		b[len++] = ']';
	len += (size_t)sprintf(b + len, "}]}");
	assert_int_equal(cache_segment_request(&req, "messages", b, len, NULL), -EINVAL);
	free(b);
	cache_request_free(&req);
}

/* ---- rules ---- */

/* The reordered run: found only when the first difference opens a
 * permutation of blocks of one group; a changed block, a move across
 * groups or a run over the bound is not one. */
static void test_reorder(void **state)
{
	struct cache_segment segs[CACHE_REORDER_MAX_BLOCKS + 8] = { 0 };
	struct cache_request req = { .segs = segs, .n_segs = 6 };
	uint64_t last[CACHE_REORDER_MAX_BLOCKS + 8] = { 1, 2, 3, 4, 5, 6 };
	uint64_t cur[CACHE_REORDER_MAX_BLOCKS + 8] = { 1, 3, 4, 2, 5, 7 };
	struct cache_reorder ro;

	for (int i = 0; i < 6; i++)
		segs[i].group = i ? CG_MESSAGES : CG_SYSTEM;
	assert_true(cache_reorder_find(&req, cur, last, 6, &ro));
	assert_int_equal(ro.first, 1);
	assert_int_equal(ro.end, 4);
	assert_int_equal(ro.matched, 5);	/* 5 agrees, 7 does not */
	cur[2] = 9;				/* a block changed, not moved */
	assert_false(cache_reorder_find(&req, cur, last, 6, &ro));
	cur[2] = 4;
	segs[2].group = CG_TOOLS;		/* tools are compared as tools */
	assert_false(cache_reorder_find(&req, cur, last, 6, &ro));
	segs[2].group = CG_MESSAGES;
	cur[0] = 2;				/* across groups: system <-> messages */
	cur[1] = 1;
	cur[3] = 3;
	assert_false(cache_reorder_find(&req, cur, last, 6, &ro));
	/* equal: nothing to find */
	assert_false(cache_reorder_find(&req, last, last, 6, &ro));
	/* a rotation longer than the bound is not searched */
	req.n_segs = CACHE_REORDER_MAX_BLOCKS + 2;
	for (int i = 0; i < CACHE_REORDER_MAX_BLOCKS + 2; i++) {
		segs[i].group = CG_MESSAGES;
		last[i] = 100 + (uint64_t)i;
		cur[i] = 100 + (uint64_t)((i + 1) % (CACHE_REORDER_MAX_BLOCKS + 1));
	}
	assert_false(cache_reorder_find(&req, cur, last, CACHE_REORDER_MAX_BLOCKS + 2, &ro));
}

/* Token positions: which models are counted with the BPE, and how a
 * position is made of message headers and the text's tokens; the end of
 * the prompt is the input reported, and nothing goes past it. */
static void test_tokens(void **state)
{
	static const char body[] =
		"{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"system\",\"content\":\"hello world\"},"
		"{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"one two\"},"
		"{\"type\":\"text\",\"text\":\"three\"}]}]}";
	struct cache_request rq = { 0 };
	struct cache_tokens t = { 0 };
	uint64_t cfp[3] = { 11, 22, 33 };

	if (!bpe_available(BPE_O200K_BASE))
		skip();
	assert_string_equal(cache_tokens_method("openai", "gpt-4o-2024-08-06"), "o200k_base");
	assert_string_equal(cache_tokens_method("azure_openai", "gpt-4-0613"), "cl100k_base");
	assert_string_equal(cache_tokens_method("anthropic", "claude-sonnet-4-5"), "apportioned");
	assert_string_equal(cache_tokens_method("openai_compatible", "gpt-oss-120b"), "apportioned");
	assert_string_equal(cache_tokens_method("openai", "my-finetune"), "apportioned");
	assert_int_equal(cache_segment_request(&rq, "chat.completions", body, sizeof(body) - 1, NULL), 0);
	assert_int_equal(rq.n_segs, 3);	/* messages[0], messages[1].content[0], [1] */
	assert_int_equal(cache_tokens_begin(&t, &rq, cfp, 11 + 7 + 5, 100, "openai", "gpt-4o"), 0);
	/* "hello world" is 2 tokens; a message opens with 3 */
	assert_int_equal(cache_tokens_at(&t, 0, 0, 0), 3);
	assert_int_equal(cache_tokens_at(&t, 0, 5, 5), 3 + 1);		/* "hello" */
	assert_int_equal(cache_tokens_at(&t, 0, 6, 6), 3 + 1);		/* " w...": not ended */
	assert_int_equal(cache_tokens_at(&t, 0, 11, 11), 3 + 2);
	/* the second message's first block: its header; the second block none */
	assert_int_equal(cache_tokens_at(&t, 1, 0, 11), 3 + 2 + 3);
	assert_int_equal(cache_tokens_at(&t, 2, 0, 18), 3 + 2 + 3 + 2);
	/* the end is what the provider reported */
	assert_int_equal(cache_tokens_at(&t, 2, 5, 23), 100);
	/* never above it */
	assert_int_equal(cache_tokens_begin(&t, &rq, cfp, 23, 6, "openai", "gpt-4o"), 0);
	assert_int_equal(cache_tokens_at(&t, 2, 0, 18), 6);
	/* apportioned elsewhere: bytes of the total times the input */
	assert_int_equal(cache_tokens_begin(&t, &rq, cfp, 23, 230, "anthropic", "claude-sonnet-4-5"), 0);
	assert_int_equal(cache_tokens_at(&t, 1, 0, 11), 110);
	cache_tokens_free(&t);
	cache_request_free(&rq);
}

static void test_rules(void **state)
{
	struct cache_rules *rules;
	const struct cache_rule *r;

	assert_int_equal(cache_rules_load_default(&rules), 0);
	r = cache_rules_lookup(rules, "anthropic", "anthropic", "claude-haiku-4-5");
	assert_non_null(r);
	assert_int_equal(r->min_tokens, 4096);
	assert_true(r->model_known);
	r = cache_rules_lookup(rules, "anthropic", NULL, "claude-unknown-9");
	assert_int_equal(r->min_tokens, 1024);
	assert_false(r->model_known);
	r = cache_rules_lookup(rules, "openai", "openai", "gpt-4o");
	assert_int_equal(r->granularity_tokens, 128);
	assert_int_equal(cache_rule_round(r, 1023), 0);
	assert_int_equal(cache_rule_round(r, 1024), 1024);
	assert_int_equal(cache_rule_round(r, 1151), 1024);
	assert_int_equal(cache_rule_round(r, 1152), 1152);
	r = cache_rules_lookup(rules, "openai_compatible", "deepseek", "deepseek-chat");
	assert_non_null(r);
	assert_true(r->units_overestimate);
	assert_null(cache_rules_lookup(rules, "ollama", NULL, "llama3"));
	assert_true(cache_rule_non_prompt(cache_rules_lookup(rules, "openai", NULL, "gpt-5"), "id", 2, true));
	assert_false(cache_rule_non_prompt(cache_rules_lookup(rules, "openai", NULL, "gpt-5"), "id", 2, false));
	cache_rules_free(rules);
	assert_int_equal(cache_rules_load_json("{}", 2, &rules), -EINVAL);
	assert_int_equal(cache_rules_load_json("{\"providers\":[{\"provider\":\"x\",\"rules\":[{\"model\":\"\",\"min_tokens\":1,\"ttl_s\":1,\"breakpoints\":\"sometimes\"}]}]}",
					       120, &rules), -EINVAL);
}

/* ---- hashes ---- */

static void test_hmac_points(void **state)
{
	uint8_t secret[32];
	struct cache_hash_key k;
	struct cache_chain c;
	const char *msg = "The quick brown fox jumps over the lazy dog, many times over.";

	for (int i = 0; i < 32; i++)
		secret[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(cache_hash_key_init(&k, secret, 32), 0);
	assert_int_equal(cache_chain_begin(&c, &k), 0);
	for (size_t n = 0; n <= strlen(msg); n++) {
		uint8_t d[32];
		unsigned int dl = 0;
		uint64_t want = 0;

		HMAC(EVP_sha256(), secret, 32, (const uint8_t *)msg, n, d, &dl);
		for (int j = 0; j < 8; j++)
			want = want << 8 | d[j];
		assert_true(cache_chain_point(&c) == want);
		assert_true(cache_hash_once(&k, msg, n) == want);
		if (n < strlen(msg))
			cache_chain_update(&c, msg + n, 1);
	}
	cache_chain_end(&c);
	cache_hash_key_free(&k);
}

static void test_key_file(void **state)
{
	char dir[] = "/tmp/llmobs-cachekey-XXXXXX", path[64];
	struct cache_hash_key a, b;
	struct stat st;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/k", dir);
	assert_int_equal(cache_hash_key_load(path, &a), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, CACHE_HASH_SECRET_BYTES);
	assert_int_equal(cache_hash_key_load(path, &b), 0);
	assert_true(cache_hash_once(&a, "x", 1) == cache_hash_once(&b, "x", 1));
	cache_hash_key_free(&b);
	chmod(path, 0644);
	assert_int_equal(cache_hash_key_load(path, &b), -EINVAL);
	cache_hash_key_free(&a);
	unlink(path);
	rmdir(dir);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* A million distinct random prefixes (a random 16-byte stem, then a
 * counter, so they are distinct by construction): no two 64-bit keyed
 * points collide. */
static void test_no_collisions(void **state)
{
	const size_t n = 1000000;
	uint64_t *h = malloc(n * sizeof(*h));
	struct cache_hash_key k;
	struct cache_chain c;
	char buf[64];

	assert_non_null(h);
	assert_int_equal(cache_hash_key_random(&k), 0);
	assert_int_equal(cache_chain_begin(&c, &k), 0);
	srand(9);
	for (size_t i = 0; i < n; i++) {
		int len = snprintf(buf, sizeof(buf), "%08x%08x|%zu", rand(), rand(), i);

		cache_chain_update(&c, buf, (size_t)len);
		h[i] = cache_chain_point(&c);
	}
	qsort(h, n, sizeof(*h), cmp_u64);
	for (size_t i = 1; i < n; i++)
		assert_true(h[i] != h[i - 1]);
	cache_chain_end(&c);
	cache_hash_key_free(&k);
	free(h);
}

/* ---- index ---- */

static void test_index(void **state)
{
	struct cache_index *ix = cache_index_new(64 * 1024);
	size_t cap;
	int fresh;

	assert_non_null(ix);
	cap = cache_index_capacity(ix);
	assert_true(cap >= 64 && cap * 56 <= 64 * 1024 + 64 * 24);
	for (uint64_t k = 1; k <= cap; k++) {
		cache_index_put(ix, k * 0x9e3779b97f4a7c15ULL, &fresh)->last_ns = (int64_t)k;
		assert_int_equal(fresh, 1);
	}
	assert_int_equal(cache_index_count(ix), cap);
	assert_int_equal(cache_index_evicted(ix), 0);
	/* key 1 gets a second chance: it was used after insertion */
	assert_non_null(cache_index_find(ix, 1 * 0x9e3779b97f4a7c15ULL));
	for (uint64_t k = 1; k <= cap; k++)
		if (k != 1)
			cache_index_find(ix, k * 0x9e3779b97f4a7c15ULL);	/* all used */
	cache_index_put(ix, 0xabcdefULL, &fresh);
	assert_int_equal(cache_index_evicted(ix), 1);
	assert_int_equal(cache_index_count(ix), cap);
	/* every hand pass cleared the marks: the oldest (key 1) went */
	assert_null(cache_index_find(ix, 1 * 0x9e3779b97f4a7c15ULL));
	assert_non_null(cache_index_find(ix, 0xabcdefULL));
	for (uint64_t k = 2; k <= cap; k++)
		assert_non_null(cache_index_find(ix, k * 0x9e3779b97f4a7c15ULL));
	/* flood: count stays at capacity, evictions counted */
	for (uint64_t k = 0; k < 10 * cap; k++)
		cache_index_put(ix, (k + 77) * 0xc2b2ae3d27d4eb4fULL, NULL);
	assert_int_equal(cache_index_count(ix), cap);
	assert_true(cache_index_evicted(ix) >= 9 * cap);
	cache_index_free(ix);
	assert_null(cache_index_new(100));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lexer_table),
		cmocka_unit_test(test_lexer_bounds),
		cmocka_unit_test(test_lexer_max),
		cmocka_unit_test(test_segment_table),
		cmocka_unit_test(test_segment_params_and_errors),
		cmocka_unit_test(test_segment_depth),
		cmocka_unit_test(test_reorder),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_hmac_points),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_no_collisions),
		cmocka_unit_test(test_index),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
