/* tls13_decrypt: record streams made by another implementation (Python's
 * `cryptography`, tests/unit/make_tls13_vectors.py) for each TLS 1.3
 * suite: a plaintext handshake record, a CCS, a record under a handshake
 * key, application data at sequence 0 and 1, a KeyUpdate, data under the
 * next secret. The secret derived from the probe's arguments must be the
 * generator's; the stream, cut anywhere, must come out as the data sent;
 * records seen before their secret must come out once it arrives; a
 * wrong secret, a flipped bit, a bad header must give nothing but a count. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tls13_decrypt.h"
#include "tls13_vectors.h"

struct vec {
	const char *name;
	const uint8_t *parent, *info, *secret, *stream, *plain;
	size_t hash_len, info_len, stream_len, plain_len;
};

#define VEC(n, h) { #n, n##_parent, n##_info, n##_secret, n##_stream, n##_plain, h, \
		    sizeof(n##_info), sizeof(n##_stream), sizeof(n##_plain) }
static const struct vec vecs[] = { VEC(aes128, 32), VEC(chacha, 32), VEC(aes256, 48) };

struct sink {
	uint8_t buf[4096];
	size_t len;
};

static void collect(void *ctx, const uint8_t *data, size_t len)
{
	struct sink *s = ctx;

	assert_true(s->len + len <= sizeof(s->buf));
	memcpy(s->buf + s->len, data, len);
	s->len += len;
}

static struct tls13_secret secret_of(const struct vec *v)
{
	struct tls13_secret s;

	assert_int_equal(tls13_secret_from_expand(v->parent, v->hash_len, v->info, v->info_len, &s), 1);
	return s;
}

static void test_secret(void **state)
{
	struct tls13_secret s;
	uint8_t info[96];

	(void)state;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct vec *v = &vecs[i];

		s = secret_of(v);
		assert_int_equal(s.len, v->hash_len);
		assert_int_equal(s.side, TLS13_CLIENT);
		assert_memory_equal(s.bytes, v->secret, v->hash_len);
		/* The server's label: its side. Another label: not a secret. */
		memcpy(info, v->info, v->info_len);
		info[9] = 's';
		assert_int_equal(tls13_secret_from_expand(v->parent, v->hash_len, info, v->info_len, &s), 1);
		assert_int_equal(s.side, TLS13_SERVER);
		info[10] = 'h';
		assert_int_equal(tls13_secret_from_expand(v->parent, v->hash_len, info, v->info_len, &s), 0);
		/* Lengths that disagree, or fit no hash. */
		assert_int_equal(tls13_secret_from_expand(v->parent, v->hash_len, v->info, v->info_len - 1, &s),
				 -EINVAL);
		assert_int_equal(tls13_secret_from_expand(v->parent, 20, v->info, v->info_len, &s), -EINVAL);
		assert_int_equal(tls13_secret_from_expand(v->parent, v->hash_len, v->info, 3, &s), -EINVAL);
	}
}

/* The whole stream in pieces of `cut` bytes, a wrong candidate first. */
static void run_cut(const struct vec *v, size_t cut)
{
	struct tls13_secret c[2];
	struct tls13_dir *d = tls13_dir_new();
	struct sink out = { .len = 0 };

	assert_non_null(d);
	memset(&c[0], 0x5a, sizeof(c[0]));
	c[0].len = v->hash_len;
	c[1] = secret_of(v);
	for (size_t at = 0; at < v->stream_len; at += cut) {
		size_t n = v->stream_len - at < cut ? v->stream_len - at : cut;

		assert_int_equal(tls13_dir_feed(d, v->stream + at, n, c, 2, collect, &out), 0);
	}
	assert_int_equal(out.len, v->plain_len);
	assert_memory_equal(out.buf, v->plain, v->plain_len);
	assert_int_equal(tls13_dir_state(d), 1);
	assert_int_equal(tls13_dir_stats(d)->records, 4);
	assert_int_equal(tls13_dir_stats(d)->key_updates, 1);
	assert_int_equal(tls13_dir_stats(d)->skipped, 3);	/* hello, CCS, Finished */
	assert_int_equal(tls13_dir_stats(d)->failed, 0);
	tls13_dir_free(d);
}

static void test_stream(void **state)
{
	static const size_t cuts[] = { 1, 2, 5, 7, 64, 100000 };

	(void)state;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++)
		for (size_t k = 0; k < sizeof(cuts) / sizeof(cuts[0]); k++)
			run_cut(&vecs[i], cuts[k]);
}

/* The records before the secret: kept, then decrypted on retry. */
static void test_secret_late(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct vec *v = &vecs[i];
		struct tls13_secret s = secret_of(v);
		struct tls13_dir *d = tls13_dir_new();
		struct sink out = { .len = 0 };

		assert_int_equal(tls13_dir_feed(d, v->stream, v->stream_len, NULL, 0, collect, &out), 0);
		assert_int_equal(out.len, 0);
		assert_int_equal(tls13_dir_state(d), 0);
		assert_int_equal(tls13_dir_retry(d, &s, 1, collect, &out), 0);
		assert_int_equal(out.len, v->plain_len);
		assert_memory_equal(out.buf, v->plain, v->plain_len);
		assert_int_equal(tls13_dir_stats(d)->skipped, 3);
		tls13_dir_free(d);
	}
}

static void test_damage(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct vec *v = &vecs[i];
		struct tls13_secret s = secret_of(v);
		uint8_t *copy = malloc(v->stream_len);
		struct tls13_dir *d;
		struct sink out = { .len = 0 };

		assert_non_null(copy);
		/* A bit flipped in the last record: what came before is out,
		 * then the direction ends, counted. */
		memcpy(copy, v->stream, v->stream_len);
		copy[v->stream_len - 20] ^= 1;
		d = tls13_dir_new();
		assert_int_equal(tls13_dir_feed(d, copy, v->stream_len, &s, 1, collect, &out), -EPROTO);
		assert_int_equal(out.len, v->plain_len - strlen("after the key update"));
		assert_int_equal(tls13_dir_stats(d)->failed, 1);
		assert_int_equal(tls13_dir_state(d), -1);
		assert_int_equal(tls13_dir_feed(d, v->stream, 5, &s, 1, collect, &out), -EPROTO);
		tls13_dir_free(d);
		/* A header no record has. */
		memcpy(copy, v->stream, v->stream_len);
		copy[0] = 99;
		d = tls13_dir_new();
		out.len = 0;
		assert_int_equal(tls13_dir_feed(d, copy, v->stream_len, &s, 1, collect, &out), -EPROTO);
		assert_int_equal(out.len, 0);
		assert_int_equal(tls13_dir_stats(d)->malformed, 1);
		tls13_dir_free(d);
		/* Only wrong secrets: nothing out, at most the last records kept. */
		memset(&s, 0x33, sizeof(s));
		s.len = v->hash_len;
		d = tls13_dir_new();
		assert_int_equal(tls13_dir_feed(d, v->stream, v->stream_len, &s, 1, collect, &out), 0);
		assert_int_equal(tls13_dir_retry(d, &s, 1, collect, &out), 0);
		assert_int_equal(out.len, 0);
		assert_int_equal(tls13_dir_state(d), 0);
		tls13_dir_free(d);
		free(copy);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secret),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_secret_late),
		cmocka_unit_test(test_damage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
