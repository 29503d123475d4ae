/* sse: a table of real and edge-case streams, each fed whole, split at every
 * byte and byte by byte; the memory bounds; every SSE body of the corpus. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "corpus_util.h"
#include "sse.h"

/* Events as one byte string, so two runs compare with memcmp:
 * event \x1f data \x1f T|F \x1e, per event. */
struct events {
	char *buf;
	size_t len, cap;
	size_t count;
	size_t fail_at;		/* > 0: the callback fails on that event */
	int all_json;		/* every data is JSON or [DONE] (corpus) */
};

static void put(struct events *e, const char *s, size_t n)
{
	if (!n)
		return;
	if (e->len + n > e->cap) {
		e->cap = (e->len + n) * 2 + 64;
		e->buf = realloc(e->buf, e->cap);
		assert_non_null(e->buf);
	}
	memcpy(e->buf + e->len, s, n);
	e->len += n;
}

static int on_event(void *ctx, const char *event, size_t event_len, const char *data,
		    size_t data_len, bool truncated)
{
	struct events *e = ctx;

	assert_int_equal(data[data_len], '\0');
	assert_int_equal(event[event_len], '\0');
	e->count++;
	if (e->fail_at && e->count == e->fail_at)
		return -ECANCELED;
	put(e, event, event_len);
	put(e, "\x1f", 1);
	put(e, data, data_len);
	put(e, truncated ? "\x1fT\x1e" : "\x1f" "F\x1e", 3);
	return 0;
}

/* Feeds in at the given cut points, each piece an exact-size copy. */
static int feed_cuts(struct sse_parser *p, const char *in, size_t len, const size_t *cuts,
		     size_t ncuts, struct events *e)
{
	size_t start = 0, i;
	int rc = 0;

	for (i = 0; i <= ncuts && !rc; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		char *b = malloc(end - start + 1);

		assert_non_null(b);
		memcpy(b, in + start, end - start);
		rc = sse_feed(p, b, end - start, on_event, e);
		free(b);
		start = end;
	}
	return rc;
}

struct want_event {
	const char *event;
	const char *data;
	bool truncated;
};

struct sse_case {
	const char *name;
	const char *in;
	size_t max;		/* max_event_bytes, 0: a roomy 4096 */
	struct want_event want[4];
	size_t n_want;
};

static const struct sse_case cases[] = {
	{ "openai chat",
	  "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n"
	  "data: {\"id\":\"chatcmpl-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":9}}\n\n"
	  "data: [DONE]\n\n", 0,
	  { { "", "{\"id\":\"chatcmpl-1\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}", false },
	    { "", "{\"id\":\"chatcmpl-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":9}}", false },
	    { "", "[DONE]", false } }, 3 },
	{ "anthropic messages",
	  "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":25}}}\n\n"
	  "event: ping\ndata: {\"type\": \"ping\"}\n\n"
	  "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":15}}\n\n", 0,
	  { { "message_start", "{\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":25}}}", false },
	    { "ping", "{\"type\": \"ping\"}", false },
	    { "message_delta", "{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":15}}", false } }, 3 },
	{ "gemini CRLF", "data: {\"usageMetadata\":{}}\r\n\r\ndata: {\"a\":1}\r\n\r\n", 0,
	  { { "", "{\"usageMetadata\":{}}", false }, { "", "{\"a\":1}", false } }, 2 },
	{ "CR only", "event: x\rdata: a\rdata: b\r\r", 0, { { "x", "a\nb", false } }, 1 },
	{ "mixed line ends", "data: a\r\ndata: b\ndata: c\r\r\ndata: d\n\n", 0,
	  { { "", "a\nb\nc", false }, { "", "d", false } }, 2 },
	{ "comments", ": ping\n\n: OPENROUTER PROCESSING\n\ndata: x\n:mid-event comment\n\n", 0,
	  { { "", "x", false } }, 1 },
	{ "multi-line data", "data: line1\ndata:line2\ndata:  two spaces\n\n", 0,
	  { { "", "line1\nline2\n two spaces", false } }, 1 },
	{ "empty data", "data\n\ndata:\n\ndata: \n\n", 0,
	  { { "", "", false }, { "", "", false }, { "", "", false } }, 3 },
	{ "empty data lines joined", "data:\ndata:\n\n", 0, { { "", "\n", false } }, 1 },
	{ "event without data", "event: foo\n\ndata: y\n\n", 0, { { "", "y", false } }, 1 },
	{ "name reset after dispatch", "event: a\ndata: 1\n\ndata: 2\n\n", 0,
	  { { "a", "1", false }, { "", "2", false } }, 2 },
	{ "last name wins", "event: a\nevent: b\ndata: 1\n\n", 0, { { "b", "1", false } }, 1 },
	{ "id and retry ignored", "id: 5\nretry: 100\ndata: z\nid\n\n", 0, { { "", "z", false } }, 1 },
	{ "unknown field", "foo: bar\ndata: z\n\n", 0, { { "", "z", false } }, 1 },
	{ "field names are case-sensitive", "Data: x\n\nEVENT: y\ndata: 1\n\n", 0,
	  { { "", "1", false } }, 1 },
	{ "colon in value", "data: a:b: c\n\n", 0, { { "", "a:b: c", false } }, 1 },
	{ "no space after colon", "event:ping\ndata:1\n\n", 0, { { "ping", "1", false } }, 1 },
	{ "only one space stripped", "data:  x \n\n", 0, { { "", " x ", false } }, 1 },
	{ "extra empty lines", "data: a\n\n\n\n\r\n\r\rdata: b\n\n", 0,
	  { { "", "a", false }, { "", "b", false } }, 2 },
	{ "BOM skipped", "\xef\xbb\xbf" "data: a\n\n", 0, { { "", "a", false } }, 1 },
	{ "BOM then comment", "\xef\xbb\xbf: hi\ndata: a\n\n", 0, { { "", "a", false } }, 1 },
	{ "BOM only at start", "\xef\xbb\xbf\xef\xbb\xbf" "data: a\n\ndata: b\n\n", 0,
	  { { "", "b", false } }, 1 },
	{ "half a BOM is line text", "\xef\xbb" "data: a\n\ndata: b\n\n", 0, { { "", "b", false } }, 1 },
	{ "unfinished event not delivered", "data: a\n\ndata: b\n", 0, { { "", "a", false } }, 1 },
	{ "unfinished line not delivered", "data: a\n\ndata: b", 0, { { "", "a", false } }, 1 },
	{ "nothing", "", 0, { { NULL, NULL, false } }, 0 },
	{ "utf-8 data", "data: {\"t\":\"caf\xc3\xa9 \xe2\x9c\x93\"}\n\n", 0,
	  { { "", "{\"t\":\"caf\xc3\xa9 \xe2\x9c\x93\"}", false } }, 1 },
	{ "cut to the cap", "data: 0123456789\n\ndata: ok\n\n", 8,
	  { { "", "01234567", true }, { "", "ok", false } }, 2 },
	{ "exactly the cap", "data: 01234567\n\n", 8, { { "", "01234567", false } }, 1 },
	{ "cap across lines", "data: 0123\ndata: 4567\ndata: 89\n\n", 8, { { "", "0123\n456", true } }, 1 },
	{ "newline fills the cap", "data: 0123456\ndata: x\n\n", 8, { { "", "0123456\n", true } }, 1 },
	{ "long event name cut",
	  "event: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
	  "data: 1\n\n", 0,
	  { { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "1", false } }, 1 },
};

static void expected(const struct sse_case *c, struct events *e, unsigned long *truncated)
{
	size_t i;

	*truncated = 0;
	for (i = 0; i < c->n_want; i++) {
		const struct want_event *w = &c->want[i];

		put(e, w->event, strlen(w->event));
		put(e, "\x1f", 1);
		put(e, w->data, strlen(w->data));
		put(e, w->truncated ? "\x1fT\x1e" : "\x1f" "F\x1e", 3);
		*truncated += w->truncated;
	}
}

static void run_case(const struct sse_case *c, const size_t *cuts, size_t ncuts,
		     const struct events *want, unsigned long want_truncated, const char *how)
{
	struct sse_parser p;
	struct events got = { 0 };

	sse_init(&p, c->max ? c->max : 4096);
	assert_int_equal(feed_cuts(&p, c->in, strlen(c->in), cuts, ncuts, &got), 0);
	if (got.len != want->len || (got.len && memcmp(got.buf, want->buf, got.len) != 0))
		fail_msg("%s (%s): got '%.*s'\nwant '%.*s'", c->name, how, (int)got.len,
			 got.buf ? got.buf : "", (int)want->len, want->buf ? want->buf : "");
	assert_int_equal(p.events, c->n_want);
	assert_int_equal(p.events_truncated, want_truncated);
	sse_free(&p);
	sse_free(&p);	/* idempotent */
	free(got.buf);
}

static void test_table(void **state)
{
	size_t i, k;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct sse_case *c = &cases[i];
		size_t len = strlen(c->in), *every = malloc((len + 1) * sizeof(size_t));
		struct events want = { 0 };
		unsigned long want_truncated;

		assert_non_null(every);
		expected(c, &want, &want_truncated);
		run_case(c, NULL, 0, &want, want_truncated, "whole");
		for (k = 0; k <= len; k++)
			run_case(c, &k, 1, &want, want_truncated, "split");
		for (k = 0; k < len; k++)
			every[k] = k;
		run_case(c, every, len, &want, want_truncated, "byte by byte");
		free(every);
		free(want.buf);
	}
}

/* A peer that never ends its line: memory stays at the cap. */
static void test_endless_line(void **state)
{
	const size_t max = 1024, piece = 64 * 1024;
	struct sse_parser p;
	struct events got = { 0 };
	char *junk = malloc(piece);
	size_t i;

	assert_non_null(junk);
	memset(junk, 'a', piece);
	sse_init(&p, max);
	assert_int_equal(sse_feed(&p, "data: ", 6, on_event, &got), 0);
	for (i = 0; i < 160; i++)	/* 10 MiB */
		assert_int_equal(sse_feed(&p, junk, piece, on_event, &got), 0);
	assert_true(p._line_cap <= max + 256);
	assert_int_equal(got.count, 0);
	assert_int_equal(sse_feed(&p, "\n\n", 2, on_event, &got), 0);
	assert_int_equal(got.count, 1);
	assert_int_equal(p.events_truncated, 1);
	/* the event holds the first max bytes of the data */
	assert_int_equal(got.len, 1 + max + 3);
	assert_int_equal(got.buf[1], 'a');
	assert_memory_equal(got.buf + 1 + max, "\x1fT\x1e", 3);

	/* same with an endless comment and an endless event name */
	assert_int_equal(sse_feed(&p, ":", 1, on_event, &got), 0);
	for (i = 0; i < 32; i++)
		assert_int_equal(sse_feed(&p, junk, piece, on_event, &got), 0);
	assert_int_equal(sse_feed(&p, "\nevent:", 7, on_event, &got), 0);
	for (i = 0; i < 32; i++)
		assert_int_equal(sse_feed(&p, junk, piece, on_event, &got), 0);
	assert_int_equal(sse_feed(&p, "\ndata: x\n\n", 10, on_event, &got), 0);
	assert_true(p._line_cap <= max + 256);
	assert_int_equal(got.count, 2);
	assert_int_equal(p.events_truncated, 1);
	sse_free(&p);
	free(junk);
	free(got.buf);
}

/* Endless data lines in one event: the data buffer stays at the cap. */
static void test_endless_data_lines(void **state)
{
	const size_t max = 4096;
	struct sse_parser p;
	struct events got = { 0 };
	size_t i;

	sse_init(&p, max);
	for (i = 0; i < 100000; i++)
		assert_int_equal(sse_feed(&p, "data: 0123456789\r\n", 18, on_event, &got), 0);
	assert_true(p._data_cap <= max + 1);
	assert_int_equal(sse_feed(&p, "\r\n", 2, on_event, &got), 0);
	assert_int_equal(got.count, 1);
	assert_int_equal(p.events_truncated, 1);
	assert_int_equal(got.len, 1 + max + 3);
	sse_free(&p);
	free(got.buf);
}

static void test_callback_error(void **state)
{
	static const char in[] = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
	struct sse_parser p;
	struct events got = { .fail_at = 2 };

	sse_init(&p, 0);
	assert_int_equal(sse_feed(&p, in, sizeof(in) - 1, on_event, &got), -ECANCELED);
	assert_int_equal(got.count, 2);
	assert_int_equal(p.events, 2);
	sse_free(&p);
	free(got.buf);
}

/* xorshift: reproducible random cut points */
static uint64_t rng_state = 0x853c49e6748fea9bULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

struct corpus_stats {
	int streams;
	int events;
};

static void random_cuts(size_t len, size_t *cuts, size_t *ncuts, size_t max_cuts)
{
	size_t i, j;

	*ncuts = len ? rng() % max_cuts : 0;
	for (i = 0; i < *ncuts; i++)
		cuts[i] = rng() % (len + 1);
	for (i = 1; i < *ncuts; i++)
		for (j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
			size_t t = cuts[j];

			cuts[j] = cuts[j - 1];
			cuts[j - 1] = t;
		}
}

static void check_json_events(const struct events *e, const char *id)
{
	const char *p = e->buf, *end = e->buf + e->len;

	while (p < end) {
		const char *data = memchr(p, '\x1f', (size_t)(end - p)) + 1;
		const char *data_end = memchr(data, '\x1f', (size_t)(end - data));
		cJSON *j;

		if (!(data_end - data == 6 && memcmp(data, "[DONE]", 6) == 0)) {
			j = cJSON_ParseWithLength(data, (size_t)(data_end - data));
			if (!j)
				fail_msg("%s: event data is not JSON: %.60s", id, data);
			cJSON_Delete(j);
		}
		p = memchr(data_end, '\x1e', (size_t)(end - data_end)) + 1;
	}
}

static void corpus_line(const cJSON *line, void *ctx)
{
	struct corpus_stats *st = ctx;
	const char *ct = corpus_header(line, "resp_headers", "content-type");
	const char *id = corpus_str(line, "id");
	struct events whole = { 0 };
	struct sse_parser p;
	unsigned char *body;
	size_t len, cuts[200], ncuts;
	int round;

	if (!corpus_bool(line, "stream") || !ct || strncasecmp(ct, "text/event-stream", 17) != 0)
		return;
	body = corpus_b64(line, "resp_body_b64", &len);
	if (!body)
		fail_msg("%s: bad resp_body_b64", id);
	st->streams++;

	sse_init(&p, 1024 * 1024);
	assert_int_equal(sse_feed(&p, (const char *)body, len, on_event, &whole), 0);
	sse_free(&p);
	if (whole.count == 0)
		fail_msg("%s: no event in a %zu-byte stream", id, len);
	st->events += (int)whole.count;
	check_json_events(&whole, id);

	for (round = 0; round < 20; round++) {
		struct events split = { 0 };

		random_cuts(len, cuts, &ncuts, round < 10 ? 8 : 200);
		sse_init(&p, 1024 * 1024);
		assert_int_equal(feed_cuts(&p, (const char *)body, len, cuts, ncuts, &split), 0);
		sse_free(&p);
		if (split.len != whole.len || memcmp(split.buf, whole.buf, whole.len) != 0)
			fail_msg("%s: %zu cuts gave other events than whole", id, ncuts);
		free(split.buf);
	}
	free(whole.buf);
	free(body);
}

static void test_corpus(void **state)
{
	struct corpus_stats st = { 0 };
	int n = corpus_foreach(corpus_line, &st);

	if (n == -ENOENT) {
		print_message("CORPUS not set or missing: corpus SSE check skipped\n");
		skip();
	}
	assert_true(n > 0);
	/* the README counts 58 streamed exchanges, nearly all SSE */
	assert_true(st.streams >= 50);
	print_message("corpus: %d SSE streams, %d events, same events at every split\n",
		      st.streams, st.events);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_endless_line),
		cmocka_unit_test(test_endless_data_lines),
		cmocka_unit_test(test_callback_error),
		cmocka_unit_test(test_corpus),
	};

	return cmocka_run_group_tests_name("sse", tests, NULL, NULL);
}
