/* Content-Encoding decoders. Input arrives in whatever pieces the capture
 * saw; output leaves through the sink in pieces of at most OUT_CHUNK bytes,
 * so memory stays bounded whatever the compression ratio, and decoding
 * stops as soon as max_out_bytes is passed (a 1 KiB bomb costs 16 KiB of
 * work, not gigabytes). */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <strings.h>
#include <brotli/decode.h>

#include "content.h"

#define OUT_CHUNK	(16 * 1024)

/* _started: 0 before the first byte, 1 while decoding, DEFLATE_HELD | b
 * while a deflate stream's first byte b waits for the second (the two
 * together tell a zlib header from raw deflate), negative once an error
 * ended the stream: later feeds repeat it instead of decoding junk. */
#define DEFLATE_HELD	0x100

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static enum content_coding coding_of(const char *s, size_t len)
{
	static const struct {
		const char *name;
		enum content_coding coding;
	} names[] = {
		{ "identity", CONTENT_IDENTITY },
		{ "gzip", CONTENT_GZIP },
		{ "x-gzip", CONTENT_GZIP },
		{ "deflate", CONTENT_DEFLATE },
		{ "br", CONTENT_BR },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == len && strncasecmp(s, names[i].name, len) == 0)
			return names[i].coding;
	return CONTENT_UNSUPPORTED;
}

enum content_coding content_coding_parse(const char *value, size_t len)
{
	enum content_coding result = CONTENT_IDENTITY;
	const char *p = value, *end = value ? value + len : NULL;
	int codings = 0;

	while (p && p < end) {
		const char *e, *stop;

		while (p < end && (is_blank(*p) || *p == ','))
			p++;
		for (e = p; e < end && *e != ','; e++)
			;
		for (stop = e; stop > p && is_blank(stop[-1]); stop--)
			;
		if (stop > p) {
			enum content_coding c = coding_of(p, (size_t)(stop - p));

			/* identity is a no-op wherever it sits in the list;
			 * two real codings stacked are not worth decoding. */
			if (c != CONTENT_IDENTITY) {
				result = c;
				if (++codings > 1)
					return CONTENT_UNSUPPORTED;
			}
		}
		p = e;
	}
	return result;
}

int content_decoder_init(struct content_decoder *d, enum content_coding coding,
			 uint64_t max_out_bytes)
{
	int rc;

	memset(d, 0, sizeof(*d));
	d->coding = coding;
	d->max_out_bytes = max_out_bytes;
	switch (coding) {
	case CONTENT_IDENTITY:
	case CONTENT_DEFLATE:	/* set up once the header is seen */
		return 0;
	case CONTENT_GZIP:
		rc = inflateInit2(&d->_z, 16 + MAX_WBITS);
		return rc == Z_OK ? 0 : rc == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
	case CONTENT_BR:
		d->_br = BrotliDecoderCreateInstance(NULL, NULL, NULL);
		return d->_br ? 0 : -ENOMEM;
	default:
		return -ENOTSUP;
	}
}

/* Gives data to the sink, cut at max_out_bytes. */
static int emit(struct content_decoder *d, const char *data, size_t len,
		content_sink_fn sink, void *ctx)
{
	int over = 0, rc;

	if (!len)
		return 0;
	if (d->max_out_bytes && len > d->max_out_bytes - d->out_bytes) {
		len = (size_t)(d->max_out_bytes - d->out_bytes);
		over = 1;
	}
	if (len) {
		d->out_bytes += len;
		rc = sink(ctx, data, len);
		if (rc)
			return rc;
	}
	return over ? -E2BIG : 0;
}

static int feed_identity(struct content_decoder *d, const char *in, size_t len,
			 content_sink_fn sink, void *ctx)
{
	int rc = 0;

	while (len && !rc) {
		size_t n = len < OUT_CHUNK ? len : OUT_CHUNK;

		rc = emit(d, in, n, sink, ctx);
		in += n;
		len -= n;
	}
	return rc;
}

/* zlib counts input in uInt; larger inputs go in slices. */
static int feed_zlib(struct content_decoder *d, const char *in, size_t len,
		     content_sink_fn sink, void *ctx)
{
	char out[OUT_CHUNK];
	z_stream *z = &d->_z;
	int rc, err;

	while (len) {
		size_t slice = len < UINT_MAX ? len : UINT_MAX;

		z->next_in = (Bytef *)in;
		z->avail_in = (uInt)slice;
		do {
			if (d->_finished) {
				/* RFC 1952 lets gzip members follow one
				 * another; anything after a deflate end is
				 * junk. */
				if (d->coding != CONTENT_GZIP)
					return -EINVAL;
				if (inflateReset(z) != Z_OK)
					return -EINVAL;
				d->_finished = 0;
			}
			z->next_out = (Bytef *)out;
			z->avail_out = sizeof(out);
			rc = inflate(z, Z_NO_FLUSH);
			if (rc == Z_MEM_ERROR)
				return -ENOMEM;
			if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
				return -EINVAL;
			err = emit(d, out, sizeof(out) - z->avail_out, sink, ctx);
			if (err)
				return err;
			if (rc == Z_STREAM_END)
				d->_finished = 1;
			else if (rc == Z_BUF_ERROR)
				break;	/* no progress: needs more input */
		} while (z->avail_in || (!z->avail_out && !d->_finished));
		in += slice;
		len -= slice;
	}
	return 0;
}

static int feed_br(struct content_decoder *d, const char *in, size_t len,
		   content_sink_fn sink, void *ctx)
{
	const uint8_t *next_in = (const uint8_t *)in;
	size_t avail_in = len;
	uint8_t out[OUT_CHUNK];

	for (;;) {
		uint8_t *next_out = out;
		size_t avail_out = sizeof(out);
		BrotliDecoderResult r;
		int err;

		if (d->_finished)
			return avail_in ? -EINVAL : 0;
		r = BrotliDecoderDecompressStream(d->_br, &avail_in, &next_in,
						  &avail_out, &next_out, NULL);
		err = emit(d, (const char *)out, sizeof(out) - avail_out, sink, ctx);
		if (err)
			return err;
		switch (r) {
		case BROTLI_DECODER_RESULT_SUCCESS:
			d->_finished = 1;
			break;
		case BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT:
			/* It can say so with our buffer full and decoded
			 * bytes still inside: drain them now, or they wait
			 * for input that a cut stream never sends. */
			if (BrotliDecoderHasMoreOutput(d->_br))
				break;
			return 0;
		case BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT:
			break;
		default:
			return -EINVAL;
		}
	}
}

/* RFC 1950: CM 8, window at most 32 KiB, and a header check that makes
 * the first two bytes a multiple of 31. Raw deflate (RFC 1951) cannot pass
 * it unless its first block is stored with non-zero padding bits: a low
 * nibble of 8 means BTYPE 00 with bit 3 set, which zlib never writes. */
static int is_zlib_header(unsigned char cmf, unsigned char flg)
{
	return (cmf & 0x0f) == 8 && (cmf >> 4) <= 7 && ((cmf << 8) | flg) % 31 == 0;
}

static int feed_deflate(struct content_decoder *d, const char *in, size_t len,
			content_sink_fn sink, void *ctx)
{
	char first;
	int rc;

	if (d->_started == 0) {
		d->_started = DEFLATE_HELD | (unsigned char)in[0];
		in++;
		len--;
		if (!len)
			return 0;
	}
	if (d->_started & DEFLATE_HELD) {
		first = (char)(d->_started & 0xff);
		d->_started = 1;
		rc = inflateInit2(&d->_z, is_zlib_header((unsigned char)first,
							 (unsigned char)in[0]) ?
						  MAX_WBITS : -MAX_WBITS);
		if (rc != Z_OK)
			return rc == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
		rc = feed_zlib(d, &first, 1, sink, ctx);
		if (rc)
			return rc;
	}
	return feed_zlib(d, in, len, sink, ctx);
}

int content_decoder_feed(struct content_decoder *d, const char *in, size_t len,
			 content_sink_fn sink, void *ctx)
{
	int rc;

	if (d->_started < 0)
		return d->_started;
	if (!len)
		return 0;
	d->in_bytes += len;
	switch (d->coding) {
	case CONTENT_IDENTITY:
		rc = feed_identity(d, in, len, sink, ctx);
		break;
	case CONTENT_GZIP:
		rc = feed_zlib(d, in, len, sink, ctx);
		break;
	case CONTENT_DEFLATE:
		rc = feed_deflate(d, in, len, sink, ctx);
		break;
	case CONTENT_BR:
		rc = d->_br ? feed_br(d, in, len, sink, ctx) : -EINVAL;
		break;
	default:
		rc = -ENOTSUP;
		break;
	}
	if (rc)
		d->_started = rc;
	else if (d->coding != CONTENT_DEFLATE)
		d->_started = 1;
	return rc;
}

int content_decoder_finished(const struct content_decoder *d)
{
	return d->coding == CONTENT_IDENTITY ? 1 : d->_finished;
}

void content_decoder_free(struct content_decoder *d)
{
	/* inflateEnd on a never-initialised or already-ended stream is a
	 * harmless Z_STREAM_ERROR, which makes this idempotent. */
	if (d->_z.state)
		inflateEnd(&d->_z);
	memset(&d->_z, 0, sizeof(d->_z));
	if (d->_br)
		BrotliDecoderDestroyInstance(d->_br);
	d->_br = NULL;
}
