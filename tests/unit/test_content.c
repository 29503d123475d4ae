/* content: round trips through streams made here with zlib and libbrotlienc,
 * fed in every piece size, then corrupt input, bombs and the cleanup paths.
 * ASan's leak check covers "no leaks on any path". */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <brotli/encode.h>
#include <zlib.h>

#include "content.h"
#include "corpus_util.h"

#define SINK_PIECE_MAX	(16 * 1024)	/* what content.c promises at most */

struct sink {
	char *buf;
	size_t len, cap;
	size_t calls, biggest;
	int fail_after;		/* > 0: return -ECANCELED on that call */
};

static int sink_fn(void *ctx, const char *data, size_t len)
{
	struct sink *s = ctx;

	s->calls++;
	if (s->fail_after && s->calls == (size_t)s->fail_after)
		return -ECANCELED;
	assert_true(len > 0);
	if (len > s->biggest)
		s->biggest = len;
	if (s->len + len > s->cap) {
		s->cap = (s->len + len) * 2;
		s->buf = realloc(s->buf, s->cap);
		assert_non_null(s->buf);
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	return 0;
}

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* SSE-like text (compresses well) with some random bytes mixed in. */
static char *make_payload(size_t len)
{
	static const char line[] =
		"data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\","
		"\"choices\":[{\"delta\":{\"content\":\"Hello\"}}]}\n\n";
	char *p = malloc(len ? len : 1);
	size_t i;

	assert_non_null(p);
	for (i = 0; i < len; i++)
		p[i] = (i / 512) % 4 == 3 ? (char)rng() : line[i % (sizeof(line) - 1)];
	return p;
}

enum wrap { WRAP_GZIP, WRAP_ZLIB, WRAP_RAW };

static unsigned char *zcompress(const char *in, size_t len, enum wrap w, size_t *out_len)
{
	static const int bits[] = { 16 + MAX_WBITS, MAX_WBITS, -MAX_WBITS };
	z_stream z;
	unsigned char *out;
	size_t cap = compressBound(len) + 64;

	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, bits[w], 8, Z_DEFAULT_STRATEGY), Z_OK);
	out = malloc(cap);
	assert_non_null(out);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	*out_len = z.total_out;
	deflateEnd(&z);
	return out;
}

static unsigned char *brcompress(const char *in, size_t len, size_t *out_len)
{
	size_t cap = BrotliEncoderMaxCompressedSize(len) + 64;
	unsigned char *out = malloc(cap);

	assert_non_null(out);
	*out_len = cap;
	assert_true(BrotliEncoderCompress(5, BROTLI_DEFAULT_WINDOW, BROTLI_MODE_GENERIC, len,
					  (const uint8_t *)in, out_len, out));
	return out;
}

static unsigned char *encode(enum content_coding coding, enum wrap w, const char *in,
			     size_t len, size_t *out_len)
{
	switch (coding) {
	case CONTENT_GZIP:
		return zcompress(in, len, WRAP_GZIP, out_len);
	case CONTENT_DEFLATE:
		return zcompress(in, len, w, out_len);
	case CONTENT_BR:
		return brcompress(in, len, out_len);
	default: {
		unsigned char *c = malloc(len ? len : 1);

		assert_non_null(c);
		memcpy(c, in, len);
		*out_len = len;
		return c;
	}
	}
}

/* Feeds enc in pieces of piece bytes (0: random sizes). Each piece is a
 * separate exact-size allocation so an over-read is caught. */
static int feed_pieces(struct content_decoder *d, const unsigned char *enc, size_t len,
		       size_t piece, struct sink *s)
{
	size_t off = 0;
	int rc = 0;

	while (off < len && !rc) {
		size_t n = piece ? piece : 1 + rng() % 3000;
		char *b;

		if (n > len - off)
			n = len - off;
		b = malloc(n);
		assert_non_null(b);
		memcpy(b, enc + off, n);
		rc = content_decoder_feed(d, b, n, sink_fn, s);
		free(b);
		off += n;
	}
	return rc;
}

struct codec {
	const char *name;
	enum content_coding coding;
	enum wrap wrap;
};

static const struct codec codecs[] = {
	{ "identity", CONTENT_IDENTITY, WRAP_ZLIB },
	{ "gzip", CONTENT_GZIP, WRAP_GZIP },
	{ "deflate (zlib)", CONTENT_DEFLATE, WRAP_ZLIB },
	{ "deflate (raw)", CONTENT_DEFLATE, WRAP_RAW },
	{ "br", CONTENT_BR, WRAP_ZLIB },
};

#define N_CODECS (sizeof(codecs) / sizeof(codecs[0]))

static void decode_check(const struct codec *c, const unsigned char *enc, size_t enc_len,
			 const char *payload, size_t len, size_t piece)
{
	struct content_decoder d;
	struct sink s = { 0 };
	int rc;

	assert_int_equal(content_decoder_init(&d, c->coding, 0), 0);
	rc = feed_pieces(&d, enc, enc_len, piece, &s);
	if (rc)
		fail_msg("%s, pieces of %zu: feed returned %d", c->name, piece, rc);
	if (s.len != len || (len && memcmp(s.buf, payload, len) != 0))
		fail_msg("%s, pieces of %zu: %zu bytes back, want %zu", c->name, piece, s.len, len);
	assert_true(s.biggest <= SINK_PIECE_MAX);
	assert_int_equal(content_decoder_finished(&d), 1);
	assert_int_equal(d.in_bytes, enc_len);
	assert_int_equal(d.out_bytes, len);
	content_decoder_free(&d);
	free(s.buf);
}

static void round_trip(const struct codec *c, const char *payload, size_t len, size_t piece)
{
	size_t enc_len;
	unsigned char *enc = encode(c->coding, c->wrap, payload, len, &enc_len);

	decode_check(c, enc, enc_len, payload, len, piece);
	free(enc);
}

static void test_round_trip_every_piece_size(void **state)
{
	const size_t len = 2000;
	char *payload = make_payload(len);
	size_t i, piece;

	for (i = 0; i < N_CODECS; i++) {
		size_t enc_len;
		unsigned char *enc = encode(codecs[i].coding, codecs[i].wrap, payload, len, &enc_len);

		for (piece = 1; piece <= enc_len; piece++)
			decode_check(&codecs[i], enc, enc_len, payload, len, piece);
		free(enc);
	}
	free(payload);
}

static void test_round_trip_big_random_pieces(void **state)
{
	const size_t len = 1024 * 1024;	/* many sink pieces */
	char *payload = make_payload(len);
	size_t i;
	int round;

	for (i = 0; i < N_CODECS; i++)
		for (round = 0; round < 3; round++)
			round_trip(&codecs[i], payload, len, 0);
	free(payload);
}

static void test_empty_bodies(void **state)
{
	size_t i;

	for (i = 0; i < N_CODECS; i++)
		if (codecs[i].coding != CONTENT_IDENTITY)
			round_trip(&codecs[i], "", 0, 1);
}

/* Stream cut short: no error, no end marker, what was decoded is right. */
static void test_truncated_stream(void **state)
{
	const size_t len = 50000;
	char *payload = make_payload(len);
	size_t i;

	for (i = 1; i < N_CODECS; i++) {
		struct content_decoder d;
		struct sink s = { 0 };
		size_t enc_len;
		unsigned char *enc = encode(codecs[i].coding, codecs[i].wrap, payload, len, &enc_len);

		assert_int_equal(content_decoder_init(&d, codecs[i].coding, 0), 0);
		assert_int_equal(feed_pieces(&d, enc, enc_len / 2, 7, &s), 0);
		assert_int_equal(content_decoder_finished(&d), 0);
		assert_true(s.len < len);
		assert_true(s.len == 0 || memcmp(s.buf, payload, s.len) == 0);
		content_decoder_free(&d);
		free(enc);
		free(s.buf);
	}
	free(payload);
}

struct corrupt_case {
	const char *name;
	enum content_coding coding;
	enum wrap wrap;
	int where;		/* byte to flip: >= 0 from the start, < 0 from the end */
	const char *raw;	/* or this input as is */
};

static const struct corrupt_case corrupt_cases[] = {
	{ "gzip bad magic", CONTENT_GZIP, WRAP_GZIP, 0, NULL },
	{ "gzip bad crc", CONTENT_GZIP, WRAP_GZIP, -6, NULL },
	{ "gzip bad length", CONTENT_GZIP, WRAP_GZIP, -2, NULL },
	{ "zlib bad adler", CONTENT_DEFLATE, WRAP_ZLIB, -1, NULL },
	{ "plain text as gzip", CONTENT_GZIP, WRAP_GZIP, 0, "{\"error\":\"not gzip\"}" },
	{ "plain text as br", CONTENT_BR, WRAP_ZLIB, 0, "{\"error\":\"not brotli at all, just JSON\"}" },
	{ "plain text as deflate", CONTENT_DEFLATE, WRAP_ZLIB, 0, "\xff\xff\xff\xff not deflate" },
	{ "gzip then junk", CONTENT_GZIP, WRAP_GZIP, 0, NULL },
	{ "deflate then junk", CONTENT_DEFLATE, WRAP_ZLIB, 0, NULL },
	{ "br then junk", CONTENT_BR, WRAP_ZLIB, 0, NULL },
};

static void test_corrupt(void **state)
{
	const size_t len = 20000;
	char *payload = make_payload(len);
	size_t i;

	for (i = 0; i < sizeof(corrupt_cases) / sizeof(corrupt_cases[0]); i++) {
		const struct corrupt_case *c = &corrupt_cases[i];
		struct content_decoder d;
		struct sink s = { 0 };
		unsigned char *enc;
		size_t enc_len, piece;
		int rc;

		if (c->raw) {
			enc_len = strlen(c->raw);
			enc = (unsigned char *)strdup(c->raw);
		} else {
			enc = encode(c->coding, c->wrap, payload, len, &enc_len);
			if (strstr(c->name, "junk")) {
				enc = realloc(enc, enc_len + 4);
				memcpy(enc + enc_len, "junk", 4);
				enc_len += 4;
			} else {
				enc[c->where >= 0 ? (size_t)c->where
						  : enc_len - (size_t)-c->where] ^= 0x55;
			}
		}
		assert_non_null(enc);
		for (piece = 1; piece <= 4096; piece *= 8) {
			assert_int_equal(content_decoder_init(&d, c->coding, 0), 0);
			rc = feed_pieces(&d, enc, enc_len, piece, &s);
			if (rc != -EINVAL)
				fail_msg("%s, pieces of %zu: %d, want -EINVAL", c->name, piece, rc);
			/* the error sticks: no decoding resumes on junk */
			assert_int_equal(content_decoder_feed(&d, "x", 1, sink_fn, &s), -EINVAL);
			content_decoder_free(&d);
			content_decoder_free(&d);	/* idempotent */
		}
		free(enc);
		free(s.buf);
	}
	free(payload);
}

static void test_gzip_members(void **state)
{
	struct content_decoder d;
	struct sink s = { 0 };
	size_t l1, l2;
	unsigned char *a = zcompress("first,", 6, WRAP_GZIP, &l1);
	unsigned char *b = zcompress("second", 6, WRAP_GZIP, &l2);
	unsigned char *both = malloc(l1 + l2);

	assert_non_null(both);
	memcpy(both, a, l1);
	memcpy(both + l1, b, l2);
	assert_int_equal(content_decoder_init(&d, CONTENT_GZIP, 0), 0);
	assert_int_equal(feed_pieces(&d, both, l1 + l2, 3, &s), 0);
	assert_int_equal(s.len, 12);
	assert_memory_equal(s.buf, "first,second", 12);
	assert_int_equal(content_decoder_finished(&d), 1);
	content_decoder_free(&d);
	free(a);
	free(b);
	free(both);
	free(s.buf);
}

/* A small input that inflates to a lot: decoding stops at the bound, the
 * sink got exactly max_out_bytes, and it did not inflate everything. */
static void test_bomb(void **state)
{
	const size_t len = 16 * 1024 * 1024;
	const uint64_t max = 1024 * 1024 + 17;
	char *zeros = calloc(1, len);
	size_t i;

	assert_non_null(zeros);
	for (i = 0; i < N_CODECS; i++) {
		struct content_decoder d;
		struct sink s = { 0 };
		size_t enc_len;
		unsigned char *enc = encode(codecs[i].coding, codecs[i].wrap, zeros, len, &enc_len);

		if (codecs[i].coding != CONTENT_IDENTITY)
			assert_true(enc_len < len / 100);
		assert_int_equal(content_decoder_init(&d, codecs[i].coding, max), 0);
		assert_int_equal(feed_pieces(&d, enc, enc_len, 4096, &s), -E2BIG);
		assert_int_equal(s.len, max);
		assert_int_equal(d.out_bytes, max);
		assert_true(s.biggest <= SINK_PIECE_MAX);
		assert_int_equal(content_decoder_feed(&d, (const char *)enc, 1, sink_fn, &s), -E2BIG);
		assert_int_equal(s.len, max);
		content_decoder_free(&d);

		/* exactly at the bound is fine */
		free(s.buf);
		memset(&s, 0, sizeof(s));
		free(enc);
		enc = encode(codecs[i].coding, codecs[i].wrap, zeros, (size_t)max, &enc_len);
		assert_int_equal(content_decoder_init(&d, codecs[i].coding, max), 0);
		assert_int_equal(feed_pieces(&d, enc, enc_len, 1000, &s), 0);
		assert_int_equal(s.len, max);
		content_decoder_free(&d);
		free(enc);
		free(s.buf);
	}
	free(zeros);
}

/* A stream cut anywhere (the connection dropped) gives all the output its
 * bytes hold, whether they came in one piece or many: the decoder must not
 * keep decoded bytes back until more input comes. Brotli can report
 * NEEDS_MORE_INPUT with its output buffer full and more output pending;
 * found by tests/fuzz/fuzz_content (split and whole outputs differed). */
static void test_cut_stream_flushes(void **state)
{
	const size_t len = 400000;
	char *payload = make_payload(len);
	size_t i, cut;

	for (i = 0; i < N_CODECS; i++) {
		size_t enc_len;
		unsigned char *enc = encode(codecs[i].coding, codecs[i].wrap, payload, len,
					    &enc_len);

		for (cut = enc_len / 7; cut < enc_len; cut += enc_len / 7) {
			struct content_decoder d;
			struct sink whole = { 0 }, split = { 0 };

			assert_int_equal(content_decoder_init(&d, codecs[i].coding, 0), 0);
			assert_int_equal(feed_pieces(&d, enc, cut, cut, &whole), 0);
			content_decoder_free(&d);
			assert_int_equal(content_decoder_init(&d, codecs[i].coding, 0), 0);
			assert_int_equal(feed_pieces(&d, enc, cut, 7, &split), 0);
			content_decoder_free(&d);
			if (whole.len != split.len)
				fail_msg("%s cut at %zu of %zu: %zu bytes in one piece, %zu in pieces",
					 codecs[i].name, cut, enc_len, whole.len, split.len);
			assert_memory_equal(whole.buf, split.buf, whole.len);
			free(whole.buf);
			free(split.buf);
		}
		free(enc);
	}
	free(payload);
}

static void test_sink_error(void **state)
{
	const size_t len = 100000;
	char *payload = make_payload(len);
	size_t i;

	for (i = 0; i < N_CODECS; i++) {
		struct content_decoder d;
		struct sink s = { .fail_after = 2 };
		size_t enc_len;
		unsigned char *enc = encode(codecs[i].coding, codecs[i].wrap, payload, len, &enc_len);

		assert_int_equal(content_decoder_init(&d, codecs[i].coding, 0), 0);
		assert_int_equal(feed_pieces(&d, enc, enc_len, 500, &s), -ECANCELED);
		assert_int_equal(s.calls, 2);
		content_decoder_free(&d);
		free(enc);
		free(s.buf);
	}
	free(payload);
}

static void test_cleanup_paths(void **state)
{
	struct content_decoder d;
	struct sink s = { 0 };
	size_t i;

	assert_int_equal(content_decoder_init(&d, CONTENT_UNSUPPORTED, 0), -ENOTSUP);
	assert_int_equal(content_decoder_feed(&d, "abc", 3, sink_fn, &s), -ENOTSUP);
	content_decoder_free(&d);
	content_decoder_free(&d);

	/* freed before, after and in the middle of a stream */
	for (i = 0; i < N_CODECS; i++) {
		assert_int_equal(content_decoder_init(&d, codecs[i].coding, 0), 0);
		content_decoder_free(&d);
		content_decoder_free(&d);
		assert_int_equal(content_decoder_init(&d, codecs[i].coding, 0), 0);
		/* one byte: deflate holds it to tell zlib from raw */
		assert_int_equal(content_decoder_feed(&d, "\x78", 1, sink_fn, &s), 0);
		content_decoder_free(&d);
		content_decoder_free(&d);
	}
	/* identity is always complete */
	assert_int_equal(content_decoder_init(&d, CONTENT_IDENTITY, 0), 0);
	assert_int_equal(content_decoder_finished(&d), 1);
	content_decoder_free(&d);
	free(s.buf);
}

struct parse_case {
	const char *value;
	enum content_coding want;
};

static const struct parse_case parse_cases[] = {
	{ NULL, CONTENT_IDENTITY },
	{ "", CONTENT_IDENTITY },
	{ "  ", CONTENT_IDENTITY },
	{ "identity", CONTENT_IDENTITY },
	{ "gzip", CONTENT_GZIP },
	{ "GZip", CONTENT_GZIP },
	{ " x-gzip ", CONTENT_GZIP },
	{ "deflate", CONTENT_DEFLATE },
	{ "br", CONTENT_BR },
	{ "BR", CONTENT_BR },
	{ "gzip, identity", CONTENT_GZIP },
	{ "zstd", CONTENT_UNSUPPORTED },
	{ "compress", CONTENT_UNSUPPORTED },
	{ "gzip, br", CONTENT_UNSUPPORTED },
	{ "gzip,gzip", CONTENT_UNSUPPORTED },
	{ "gzipx", CONTENT_UNSUPPORTED },
	{ "gzi", CONTENT_UNSUPPORTED },
	{ "g zip", CONTENT_UNSUPPORTED },
};

static void test_coding_parse(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		enum content_coding got =
			content_coding_parse(c->value, c->value ? strlen(c->value) : 0);

		if (got != c->want)
			fail_msg("'%s': %d, want %d", c->value ? c->value : "(null)", got, c->want);
	}
	/* only len bytes are read: "gzip" cut to "gz" is not gzip */
	assert_int_equal(content_coding_parse("gzip", 2), CONTENT_UNSUPPORTED);
	assert_int_equal(content_coding_parse("br, gzip", 2), CONTENT_BR);
}

/* Every corpus response body, encoded each way and decoded from random
 * pieces, comes back byte for byte. */
static void corpus_line(const cJSON *line, void *ctx)
{
	size_t len, i, *count = ctx;
	unsigned char *body = corpus_b64(line, "resp_body_b64", &len);

	if (!body)
		fail_msg("%s: bad resp_body_b64", corpus_str(line, "id"));
	for (i = 0; i < N_CODECS; i++)
		round_trip(&codecs[i], (const char *)body, len, 0);
	free(body);
	(*count)++;
}

static void test_corpus(void **state)
{
	size_t count = 0;
	int n = corpus_foreach(corpus_line, &count);

	if (n == -ENOENT) {
		print_message("CORPUS not set or missing: corpus round trips skipped\n");
		skip();
	}
	assert_true(n > 0);
	assert_int_equal(count, (size_t)n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_coding_parse),
		cmocka_unit_test(test_round_trip_every_piece_size),
		cmocka_unit_test(test_round_trip_big_random_pieces),
		cmocka_unit_test(test_empty_bodies),
		cmocka_unit_test(test_truncated_stream),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_gzip_members),
		cmocka_unit_test(test_bomb),
		cmocka_unit_test(test_cut_stream_flushes),
		cmocka_unit_test(test_sink_error),
		cmocka_unit_test(test_cleanup_paths),
		cmocka_unit_test(test_corpus),
	};

	/* TEST_FILTER=name runs one test, for timing or debugging */
	if (getenv("TEST_FILTER"))
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests_name("content", tests, NULL, NULL);
}
