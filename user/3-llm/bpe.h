/* Exact token counts for OpenAI's o200k_base and cl100k_base encodings:
 * byte-level BPE with the encodings' pre-tokenization patterns written out
 * by hand. The ranks are built in from a pinned npm package
 * (tools/fetch-bpe-ranks.sh); a build without them has no estimation and
 * says so (-ENOENT). Not thread-safe: the daemon is single-threaded. */
#ifndef LLMOBS_BPE_H
#define LLMOBS_BPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bpe_encoding {
	BPE_O200K_BASE = 0,	/* gpt-4o, gpt-4.1, o-series, gpt-5 */
	BPE_CL100K_BASE,	/* gpt-4, gpt-3.5-turbo, text-embedding-3 */
	BPE__MAX,
};

/* Longest pre-tokenization piece merged whole; a longer one (a run of
 * thousands of letters, base64 without separators) is cut into pieces of
 * this size, which bounds the merge's memory (static, ~0.5 MB). */
#define BPE_MAX_PIECE_BYTES	16384

/* "o200k_base", "cl100k_base". */
const char *bpe_encoding_name(enum bpe_encoding enc);

/* Whether enc's ranks are built in and valid. Loads them on first use. */
bool bpe_available(enum bpe_encoding enc);

/* Token ids of text[0..len) as ordinary text (a special token's spelling
 * is plain text). Writes at most max ids. Returns the total count (which
 * may exceed max), -ENOENT when enc is not built in, -ENOMEM. */
long bpe_encode(enum bpe_encoding enc, const char *text, size_t len,
		uint32_t *ids, size_t max);
/* The number of tokens alone. */
long bpe_count(enum bpe_encoding enc, const char *text, size_t len);
/* The bytes of token id (> 0), -ENOENT when enc is not built in, -EINVAL
 * for an id it does not have. */
long bpe_token_len(enum bpe_encoding enc, uint32_t id);
/* The number of tokens of text[0..len)'s encoding that end at or before
 * byte stop: where a prompt cache that stops matching at stop stops
 * (the text after stop still decides how the text before it is cut, so
 * this is not bpe_count(text, stop)). Only text up to the piece that holds
 * stop is encoded. Returns as bpe_count(). */
long bpe_count_prefix(enum bpe_encoding enc, const char *text, size_t len, size_t stop);

/* Counting text that arrives in pieces (stream deltas): the total equals
 * bpe_count() of the concatenation, because the last pre-tokenization
 * pieces, which more text could still change, are held back. Zero-fill
 * before start; fixed size, holds no allocation between calls. */
struct bpe_stream {
	int64_t tokens;		/* counted so far, carry excluded */
	bool overflowed;	/* a held-back tail passed the carry: counted
				 * at a cut, so the total may differ by a few */
	uint16_t _carry_len;
	char _carry[512];
};

/* Returns 0, -ENOENT when enc is not built in, or -ENOMEM. */
int bpe_stream_feed(struct bpe_stream *s, enum bpe_encoding enc,
		    const char *text, size_t len);
/* Counts what is held back and returns the total (>= 0), or -ENOENT. */
long bpe_stream_finish(struct bpe_stream *s, enum bpe_encoding enc);

#endif
