/* The prose skip (user/5-analysis/prose_skip.h) changes no answer: the
 * breaker lexer's spans and the secrets/PII scan's counts are the same
 * with it as byte by byte (prose_skip_off), on every corpus request body,
 * on the prompt text the segmenter makes of it, and on 20,000 generated
 * texts that put dates, ids, keys, e-mail addresses, numbers and
 * whitespace runs right after, inside and across plain words. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "cache_breaker.h"
#include "cache_segment.h"
#include "corpus_util.h"
#include "detect.h"
#include "prose_skip.h"

#define MAX_SPANS 65536

static struct cache_span spans_a[MAX_SPANS], spans_b[MAX_SPANS];

/* Both scanners, skipping and not: same spans, same counts. */
static void same_answers(const char *text, size_t len)
{
	uint16_t ca[RS__MAX] = { 0 }, cb[RS__MAX] = { 0 };
	size_t na, nb, da, db;

	prose_skip_off = true;
	na = cache_breaker_scan(text, len, spans_a, MAX_SPANS);
	da = detect_scan(text, len, ca);
	prose_skip_off = false;
	nb = cache_breaker_scan(text, len, spans_b, MAX_SPANS);
	db = detect_scan(text, len, cb);
	assert_int_equal(na, nb);
	for (size_t i = 0; i < na && i < MAX_SPANS; i++) {
		assert_int_equal(spans_a[i].off, spans_b[i].off);
		assert_int_equal(spans_a[i].len, spans_b[i].len);
		assert_int_equal(spans_a[i].kind, spans_b[i].kind);
		assert_int_equal(spans_a[i].shape, spans_b[i].shape);
		assert_int_equal(spans_a[i].ivalue, spans_b[i].ivalue);
	}
	assert_int_equal(da, db);
	assert_memory_equal(ca, cb, sizeof(ca));
}

static void test_prose_end(void **state)
{
	static const struct { const char *text; size_t stop; } cases[] = {
		{ "", 0 },
		{ "plain words, all of them. lower case", 36 },
		{ "plain words and then A capital", 21 },
		{ "two  spaces", 4 },		/* the second space */
		{ "a long run of words before the digit 7 here", 37 },
		{ "abcdefgh  ijk", 9 },		/* a pair across an 8-byte step */
		{ "abcdefg\n", 7 },
		{ "caf\xc3\xa9", 3 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *t = cases[i].text;

		assert_int_equal(prose_end(t, t + strlen(t)) - t, cases[i].stop);
	}
}

static void test_prose_resume(void **state)
{
	const char *t = "the meeting is on december 7, 2026";
	const char *stop = strchr(t, '7');

	(void)state;
	/* one word back: the month before the day */
	assert_ptr_equal(prose_resume(t, stop), strstr(t, "december"));
	/* never before from */
	assert_ptr_equal(prose_resume(t, t + 5), t);
	assert_ptr_equal(prose_resume(t + 10, t + 12), t + 10);
}

struct corpus_ctx {
	struct cache_request req;
	int bodies, segments;
};

static void corpus_line(const cJSON *line, void *arg)
{
	struct corpus_ctx *c = arg;
	size_t len;
	unsigned char *body = corpus_b64(line, "req_body_b64", &len);

	if (!body)
		return;
	same_answers((const char *)body, len);
	c->bodies++;
	if (!cache_segment_request(&c->req, corpus_str(line, "api"), (const char *)body, len, NULL))
		for (size_t s = 0; s < c->req.n_segs; s++) {
			const struct cache_segment *sg = &c->req.segs[s];

			same_answers(c->req.text + sg->text_off, sg->text_len);
			c->segments++;
		}
	free(body);
}

static void test_corpus(void **state)
{
	struct corpus_ctx c = { 0 };
	int n = corpus_foreach(corpus_line, &c);

	(void)state;
	cache_request_free(&c.req);
	if (n == -ENOENT)
		skip();
	assert_true(n > 0);
	assert_true(c.bodies > 400);
	assert_true(c.segments > 1000);
	print_message("corpus: %d bodies, %d segments alike with and without the skip\n",
		      c.bodies, c.segments);
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

/* Texts of prose words with every kind of token the scanners know mixed
 * in, glued to the words around them or not. */
static void test_generated(void **state)
{
	static const char *const words[] = {
		"the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "sk",
		"hf", "ghp", "eyj", "december", "dec", "may", "mon", "sept", "at", "on",
		"verylongwordwithoutanybreak", "abcdefabcdefabcdef", "john.smith", "x,",
		"end.", "gh", "xai", "glpat", "proj", "mail", "com", "org",
	};
	static const char *const odd[] = {
		"7", "07", "2026", "7th", ", 2026", "2026-12-07", "2026-12-07T18:12:19Z",
		"18:12", "12/07/2026", "1765130000", "1765130000123", "123", "3.14",
		"550e8400-e29b-41d4-a716-446655440000", "deadbeefdeadbeef0123",
		"AbCdEfGh0123456789xyzQ", "@", "@example.com", "-", "_", "sk-", "hf_",
		"ghp_", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc", "AKIA", "GB82WEST12345698765432",
		"4111 1111 1111 1111", "+1 415 555 0100", "(415) 555-0100", "-----BEGIN",
		"  ", "\n", "\n\n", "\t", " \n", "\\n", "\\", "\"", "Mon, 07 Dec 2026 18:12:19 GMT",
		"December 7, 2026 6:12 PM", "A", "Z", "\xc3\xa9", ".", ",", "+", "(", "/", "=",
	};
	char text[4096];

	(void)state;
	for (int t = 0; t < 20000; t++) {
		size_t len = 0, target = 16 + rnd(600);

		while (len < target) {
			const char *w = rnd(4) ? words[rnd(sizeof(words) / sizeof(words[0]))]
					       : odd[rnd(sizeof(odd) / sizeof(odd[0]))];
			size_t l = strlen(w);

			if (len + l + 1 >= sizeof(text))
				break;
			memcpy(text + len, w, l);
			len += l;
			if (rnd(5))
				text[len++] = rnd(8) ? ' ' : rnd(2) ? ',' : '.';
		}
		same_answers(text, len);
		/* every cut: matchers that end at the text's end */
		if (t % 100 == 0)
			for (size_t cut = 0; cut < len; cut++)
				same_answers(text, cut);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prose_end),
		cmocka_unit_test(test_prose_resume),
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_generated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
