/* Prompt-cache analysis (user/5-analysis): the segmenter, the breaker
 * lexer and the whole per-exchange analysis on hostile request bodies.
 * Input: [api selector][usage byte] then the request body. Segments must
 * lie inside the body and the text buffer, spans inside their text and in
 * order; the analysis must not crash, leak or grow without bound (its
 * index is 1 MiB here), and whatever it writes into the record is
 * NUL-terminated and a JSON array or empty. */
#include <errno.h>
#include "fuzz.h"
#include "cache_analyze.h"
#include "cache_breaker.h"
#include "cache_rules.h"
#include "cache_segment.h"
#include "prose_skip.h"

static const char *const apis[] = { "messages", "chat.completions", "responses",
				    "generate_content" };
static const char *const providers[] = { "anthropic", "openai", "openai", "google" };

static struct cache_analyzer *an;
static struct cache_rules *rules;
static struct cache_request req;
static int64_t clock_ns = 1796000000000000000LL;

static void check_spans(const char *text, size_t len)
{
	struct cache_span s[64], ref[64];
	size_t n = cache_breaker_scan(text, len, s, 64), prev = 0, nref;

	/* the prose skip (prose_skip.h) changes no span */
	prose_skip_off = true;
	nref = cache_breaker_scan(text, len, ref, 64);
	prose_skip_off = false;
	FUZZ_CHECK(nref == n, "byte-by-byte lexer: %zu spans, not %zu", nref, n);
	for (size_t i = 0; i < n && i < 64; i++)
		FUZZ_CHECK(ref[i].off == s[i].off && ref[i].len == s[i].len &&
			   ref[i].kind == s[i].kind && ref[i].shape == s[i].shape &&
			   ref[i].ivalue == s[i].ivalue, "byte-by-byte lexer differs at span %zu", i);

	for (size_t i = 0; i < n && i < 64; i++) {
		FUZZ_CHECK(s[i].off >= prev && s[i].len > 0 && (size_t)s[i].off + s[i].len <= len,
			   "span %zu at %u+%u of %zu", i, s[i].off, s[i].len, len);
		FUZZ_CHECK(s[i].kind > CB_NONE && s[i].kind < CB__MAX, "kind %u", s[i].kind);
		prev = s[i].off + s[i].len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct exchange_record *r;
	const struct cache_rule *rule;
	unsigned sel;
	char *body;
	size_t len;
	int err;

	if (size < 2)
		return 0;
	if (!an) {
		struct cache_analyzer_opts o = { .index_bytes = 1 << 20 };

		if (cache_analyzer_new(&o, &an) || cache_rules_load_default(&rules))
			abort();
	}
	sel = data[0] % 4;
	len = size - 2;
	body = malloc(len ? len : 1);	/* exact size: ASan sees a read past it */
	memcpy(body, data + 2, len);
	check_spans(body, len);
	rule = cache_rules_lookup(rules, providers[sel], NULL, "model");
	err = cache_segment_request(&req, apis[sel], body, len, rule);
	FUZZ_CHECK(err == 0 || err == -EINVAL, "segment error %d", err);
	if (!err) {
		FUZZ_CHECK(req.n_segs <= CACHE_SEG_MAX, "segments %zu", req.n_segs);
		for (size_t i = 0; i < req.n_segs; i++) {
			const struct cache_segment *sg = &req.segs[i];

			FUZZ_CHECK((size_t)sg->body_off + sg->body_len <= len, "segment %zu body", i);
			FUZZ_CHECK((size_t)sg->text_off + sg->text_len <= req.text_len, "segment %zu text", i);
			FUZZ_CHECK((size_t)sg->canon_off + sg->canon_len <= req.text_len, "segment %zu canon", i);
			FUZZ_CHECK(memchr(sg->name, 0, sizeof(sg->name)) != NULL, "name");
			check_spans(req.text + sg->text_off, sg->text_len);
		}
	}
	r = calloc(1, sizeof(*r));
	snprintf(r->provider, sizeof(r->provider), "%s", providers[sel]);
	snprintf(r->api, sizeof(r->api), "%s", apis[sel]);
	snprintf(r->model, sizeof(r->model), "%s", sel == 0 ? "claude-sonnet-4-5" :
		 sel == 3 ? "gemini-2.5-flash" : "gpt-4o");
	r->status = 200;
	r->usage_source = USAGE_PROVIDER;
	r->usage.input_tokens = (int64_t)(len / 4) + data[1];
	r->usage.cached_input_tokens = data[1] & 1 ? (int64_t)(len / 8) : 0;
	r->ts_start_ns = clock_ns += (int64_t)data[1] * 10000000000LL;
	r->account_seen = data[1] & 2;
	r->request_body = body;
	r->request_body_len = len;
	err = cache_analyze_record(an, r);
	FUZZ_CHECK(err == 0 || err == -EINVAL, "analyse error %d", err);
	if (!err) {
		FUZZ_CHECK(r->cache_analyzed, "not marked analysed");
		FUZZ_CHECK(memchr(r->breakers, 0, sizeof(r->breakers)), "breakers unterminated");
		FUZZ_CHECK(!r->breakers[0] || (r->breakers[0] == '[' &&
					       r->breakers[strlen(r->breakers) - 1] == ']'),
			   "breakers %s", r->breakers);
		FUZZ_CHECK(r->missed_cache_tokens >= 0 && r->cacheable_tokens >= r->missed_cache_tokens,
			   "tokens %lld %lld", (long long)r->cacheable_tokens,
			   (long long)r->missed_cache_tokens);
		FUZZ_CHECK(r->prefix_hashes_len <= sizeof(r->prefix_hashes), "hashes");
	}
	free(r);
	free(body);
	return 0;
}
