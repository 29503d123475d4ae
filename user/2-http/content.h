/* Content-Encoding decoders (identity, gzip, deflate, br), streaming: input
 * of any split goes in, decoded bytes come out through a sink callback. */
#ifndef LLMOBS_CONTENT_H
#define LLMOBS_CONTENT_H

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

enum content_coding {
	CONTENT_IDENTITY = 0,
	CONTENT_GZIP = 1,
	CONTENT_DEFLATE = 2,	/* zlib-wrapped, or raw as some servers send */
	CONTENT_BR = 3,
	CONTENT_UNSUPPORTED = 4,	/* zstd, stacked codings, unknown */
};

/* From a Content-Encoding header value (NULL/empty -> identity). */
enum content_coding content_coding_parse(const char *value, size_t len);

/* Returns 0 to go on, or a negative errno to stop decoding. */
typedef int (*content_sink_fn)(void *ctx, const char *data, size_t len);

struct content_decoder {
	enum content_coding coding;
	uint64_t in_bytes;
	uint64_t out_bytes;
	uint64_t max_out_bytes;	/* decompression-bomb bound; 0 = none */
	int _started;
	int _finished;
	z_stream _z;
	void *_br;		/* BrotliDecoderState* */
};

/* Returns 0 or -errno (-ENOTSUP for CONTENT_UNSUPPORTED, -ENOMEM). */
int content_decoder_init(struct content_decoder *d, enum content_coding coding,
			 uint64_t max_out_bytes);
/* Feeds in[0..len). Returns 0, -EINVAL on corrupt data, -E2BIG once output
 * passes max_out_bytes (what fit was already given to the sink), or the
 * sink's own error. */
int content_decoder_feed(struct content_decoder *d, const char *in, size_t len,
			 content_sink_fn sink, void *ctx);
/* 1 if the compressed stream reached its end marker (identity: always 1). */
int content_decoder_finished(const struct content_decoder *d);
void content_decoder_free(struct content_decoder *d);

#endif
