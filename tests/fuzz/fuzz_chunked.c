/* Chunked transfer decoding (user/http1_chunked.c), whole and split.
 * Input: [split seed: 2 bytes] then the chunked body.
 * The decoder is resumable at any byte, so decoding the input in pieces
 * (each in its own exact-size buffer) must give the same payload, the same
 * outcome and the same count of bytes left over for the next message as
 * decoding it at once. */
#include "fuzz.h"
#include "http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct fuzz_split sp;
	struct http1_chunked_decoder dec = { 0 };
	uint64_t h_whole, h_split = FUZZ_HASH_INIT;
	size_t len, whole_len, split_len = 0, off = 0;
	ssize_t r_whole, r = HTTP1_PARTIAL;
	char *buf;

	fuzz_split_init(&sp, fuzz_u16(&in));
	len = in.len;

	buf = fuzz_dup(in.p, len);
	whole_len = len;
	r_whole = http1_decode_chunked(&dec, buf, &whole_len);
	FUZZ_CHECK(r_whole == HTTP1_PARTIAL || r_whole == HTTP1_ERROR ||
		   (r_whole >= 0 && (size_t)r_whole <= len - whole_len),
		   "whole: %zd with %zu payload bytes of %zu", r_whole, whole_len, len);
	FUZZ_CHECK(whole_len <= len, "payload %zu > input %zu", whole_len, len);
	h_whole = fuzz_hash(FUZZ_HASH_INIT, buf, whole_len);
	if (r_whole >= 0)	/* the rest is moved right behind the payload */
		FUZZ_CHECK(!memcmp(buf + whole_len, in.p + len - r_whole, (size_t)r_whole),
			   "leftover bytes moved wrong");
	free(buf);

	memset(&dec, 0, sizeof(dec));
	while (off < len) {
		size_t n = fuzz_split_next(&sp, len - off), sz = n;

		buf = fuzz_dup(in.p + off, n);
		r = http1_decode_chunked(&dec, buf, &sz);
		FUZZ_CHECK(sz <= n, "piece payload %zu > piece %zu", sz, n);
		h_split = fuzz_hash(h_split, buf, sz);
		split_len += sz;
		free(buf);
		off += n;
		if (r == HTTP1_ERROR)
			break;
		if (r >= 0) {
			r += (ssize_t)(len - off);	/* later pieces: next message */
			break;
		}
	}
	if (len == 0)
		r = r_whole;
	FUZZ_CHECK(r == r_whole, "split gave %zd, whole %zd", r, r_whole);
	/* even up to an error: the decoder sees one byte at a time */
	FUZZ_CHECK(split_len == whole_len, "split payload %zu, whole %zu",
		   split_len, whole_len);
	FUZZ_CHECK(h_split == h_whole, "split payload differs");
	return 0;
}
