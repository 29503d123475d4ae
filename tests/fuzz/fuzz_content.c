/* Content-Encoding decoders (user/2-http/content.c), whole and split, with the
 * decompression-bomb bound always on.
 * Input: [coding][bound selector][split seed: 2 bytes][fail sink at call N]
 * then the encoded body.
 * Checks: output never passes the bound and arrives in pieces of at most
 * 16 KiB; feeding in pieces succeeds exactly when feeding at once does,
 * with the same output; a sink error stops decoding and is returned; an
 * error is sticky. */
#include <errno.h>
#include "content.h"
#include "fuzz.h"

#define SINK_PIECE_MAX	(16 * 1024)

struct sink {
	uint64_t hash, bytes;
	unsigned calls, fail_at;	/* 0: never fail */
};

static int sink_fn(void *ctx, const char *data, size_t len)
{
	struct sink *s = ctx;

	FUZZ_CHECK(len > 0 && len <= SINK_PIECE_MAX, "sink piece of %zu", len);
	if (++s->calls == s->fail_at)
		return -ECANCELED;
	s->hash = fuzz_hash(s->hash, data, len);
	s->bytes += len;
	return 0;
}

static int decode(enum content_coding coding, uint64_t bound, const uint8_t *p,
		  size_t len, struct fuzz_split *sp, struct sink *s)
{
	struct content_decoder d;
	size_t off = 0;
	int r = content_decoder_init(&d, coding, bound);

	FUZZ_CHECK(r == 0, "init %d", r);
	while (off < len && !r) {
		size_t n = sp ? fuzz_split_next(sp, len - off) : len - off;
		char *buf = fuzz_dup(p + off, n);

		r = content_decoder_feed(&d, buf, n, sink_fn, s);
		free(buf);
		off += n;
	}
	FUZZ_CHECK(s->bytes <= bound && d.out_bytes <= bound, "%llu bytes out, bound %llu",
		   (unsigned long long)d.out_bytes, (unsigned long long)bound);
	FUZZ_CHECK(d.in_bytes == off, "in_bytes %llu, fed %zu",
		   (unsigned long long)d.in_bytes, off);
	if (r) {	/* once failed, it says so again without decoding */
		uint64_t before = s->bytes;
		int again = content_decoder_feed(&d, "x", 1, sink_fn, s);

		FUZZ_CHECK(again == r && s->bytes == before, "error %d not sticky (%d)",
			   r, again);
	}
	content_decoder_free(&d);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum content_coding codings[] = {
		CONTENT_GZIP, CONTENT_DEFLATE, CONTENT_BR, CONTENT_IDENTITY,
	};
	static const uint64_t bounds[] = { 1, 1000, 64 * 1024, 1 << 20 };
	struct fuzz_in in = { data, size };
	enum content_coding coding = codings[fuzz_u8(&in) % 4];
	uint64_t bound = bounds[fuzz_u8(&in) % 4];
	struct fuzz_split sp;
	struct sink whole = { FUZZ_HASH_INIT, 0, 0, 0 }, split;
	int r_whole, r_split;

	fuzz_split_init(&sp, fuzz_u16(&in));
	whole.fail_at = fuzz_u8(&in) % 4;
	split = whole;

	r_whole = decode(coding, bound, in.p, in.len, NULL, &whole);
	r_split = decode(coding, bound, in.p, in.len, &sp, &split);
	FUZZ_CHECK(r_whole <= 0 && r_split <= 0, "results %d %d", r_whole, r_split);
	if (whole.fail_at && whole.calls >= whole.fail_at)
		FUZZ_CHECK(r_whole == -ECANCELED, "sink error became %d", r_whole);
	/* Which error comes first may depend on the pieces (an inflate call
	 * that fails drops its output, so the bound may or may not be hit
	 * before it), and a sink counted in calls fails at different bytes;
	 * success may not. */
	if (!whole.fail_at) {
		FUZZ_CHECK(!r_whole == !r_split, "whole %d, split %d", r_whole, r_split);
		if (!r_whole)
			FUZZ_CHECK(whole.bytes == split.bytes && whole.hash == split.hash,
				   "split output differs (%llu vs %llu bytes)",
				   (unsigned long long)split.bytes,
				   (unsigned long long)whole.bytes);
	}
	return 0;
}
