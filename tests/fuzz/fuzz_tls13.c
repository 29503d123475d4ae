/* TLS 1.3 record streams and HKDF labels (user/1-capture/tls13_decrypt.c)
 * from a socket and a probe we do not trust.
 * Input: [mode][vector][split seed u16] then either the stream itself
 * (mode even) or patches (offset u16, xor u8) to a valid stream of
 * tests/unit/tls13_vectors.h (mode odd: reaches the decryption, the
 * KeyUpdate and the failures past it). The vector's secret is the
 * candidate, or only on retry (mode & 2). The same bytes are also tried
 * as a probe's (secret, info). Checks: no read past a piece (ASan, exact
 * copies), no more data out than came in, the state one of three. */
#include <errno.h>
#include "fuzz.h"
#include "tls13_decrypt.h"
#include "../unit/tls13_vectors.h"

static const struct {
	const uint8_t *parent, *info, *stream;
	size_t hash_len, info_len, stream_len;
} vecs[] = {
	{ aes128_parent, aes128_info, aes128_stream, 32, sizeof(aes128_info), sizeof(aes128_stream) },
	{ chacha_parent, chacha_info, chacha_stream, 32, sizeof(chacha_info), sizeof(chacha_stream) },
	{ aes256_parent, aes256_info, aes256_stream, 48, sizeof(aes256_info), sizeof(aes256_stream) },
};

static size_t out_bytes;

static void sink(void *ctx, const uint8_t *data, size_t len)
{
	(void)ctx;
	FUZZ_CHECK(len > 0, "empty data");
	fuzz_hash(FUZZ_HASH_INIT, data, len);
	out_bytes += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t mode = fuzz_u8(&in), v = fuzz_u8(&in) % 3;
	struct fuzz_split sp;
	struct tls13_secret s;
	struct tls13_dir *d;
	uint8_t *stream;
	size_t len, at;
	int err;

	fuzz_split_init(&sp, fuzz_u16(&in));
	/* The probe's side: any bytes as (secret, info). */
	err = tls13_secret_from_expand(in.p, in.len < 48 ? in.len : 48, in.p, in.len, &s);
	FUZZ_CHECK(err == 0 || err == 1 || err == -EINVAL, "err %d", err);
	err = tls13_secret_from_expand(vecs[v].parent, vecs[v].hash_len, vecs[v].info,
				       vecs[v].info_len, &s);
	FUZZ_CHECK(err == 1, "vector secret %d", err);
	if (mode & 1) {
		len = vecs[v].stream_len;
		stream = (uint8_t *)fuzz_dup(vecs[v].stream, len);
		while (in.len >= 3) {
			uint16_t off = fuzz_u16(&in);

			stream[off % len] ^= fuzz_u8(&in);
		}
	} else {
		len = in.len;
		stream = (uint8_t *)fuzz_dup(in.p, len);
	}
	d = tls13_dir_new();
	if (!d)
		abort();
	out_bytes = 0;
	for (at = 0; at < len;) {
		size_t n = fuzz_split_next(&sp, len - at);
		char *piece = fuzz_dup(stream + at, n);

		err = tls13_dir_feed(d, (uint8_t *)piece, n, &s, mode & 2 ? 0 : 1, sink, NULL);
		free(piece);
		FUZZ_CHECK(err == 0 || err == -EPROTO, "feed %d", err);
		at += n;
	}
	err = tls13_dir_retry(d, &s, 1, sink, NULL);
	FUZZ_CHECK(err == 0 || err == -EPROTO, "retry %d", err);
	FUZZ_CHECK(out_bytes <= len, "%zu bytes out of %zu in", out_bytes, len);
	FUZZ_CHECK(tls13_dir_state(d) >= -1 && tls13_dir_state(d) <= 1, "state");
	FUZZ_CHECK(tls13_dir_stats(d)->plain_bytes == out_bytes, "counted");
	tls13_dir_free(d);
	free(stream);
	return 0;
}
