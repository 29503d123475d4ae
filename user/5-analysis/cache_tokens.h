/* Prompt positions in tokens. In: a request's segments (cache_segment.h),
 * the provider, model and the input tokens the provider reported; out: the
 * token offset of a byte of a segment's text, which is what a prompt cache
 * counts in (minimum, 128-token steps, cacheable and missed tokens, a
 * breaker's token_offset).
 *
 * Exact where the tokenizer is built in (OpenAI models: o200k_base or
 * cl100k_base, bpe.c, chosen as estimate.c chooses): each message's text is
 * encoded on its own (special tokens separate messages, so no merge crosses
 * them), with the chat format's 3 tokens before each message (OpenAI's
 * cookbook), and a byte counts the tokens that end at or before it. Two
 * parts stay counted rather than exact: tools (OpenAI renders them in its
 * own format, we encode the compact JSON we render) and images (765 each,
 * a 1024x1024 image at high detail). Everything else (Anthropic, Gemini,
 * DeepSeek...: tokenizers not public) is apportioned from the reported
 * input tokens by bytes.
 *
 * Lazy: a segment is encoded only when a position at or after it is asked
 * for, and its count is remembered by its content fingerprint, so an agent
 * loop encodes each turn once, not once per call. */
#ifndef LLMOBS_CACHE_TOKENS_H
#define LLMOBS_CACHE_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "bpe.h"
#include "cache_segment.h"

#define CACHE_TOKENS_MEMO	16384	/* segment counts remembered (256 KiB) */

struct cache_tokens {
	const struct cache_request *req;
	const uint64_t *cfp;		/* per segment content fingerprint */
	uint64_t total_bytes;
	int64_t input;
	bool bpe;
	enum bpe_encoding enc;
	/* tok_start[i]: tokens before segment i's text (its message's header
	 * included), known for i < known */
	int64_t *tok_start;
	size_t cap, known;
	struct { uint64_t key; int64_t tokens; } *memo;
	uint64_t encoded_bytes;		/* bytes run through the BPE, all calls */
};

/* How positions are counted for a call to model at provider:
 * "o200k_base", "cl100k_base" or "apportioned". */
const char *cache_tokens_method(const char *provider, const char *model);

/* Starts counting for req (t zero-filled before first use; buffers are
 * kept). cfp: req's content fingerprints (cache_prefix.h seg_cfp). Returns
 * 0 or -ENOMEM (then positions are apportioned). */
int cache_tokens_begin(struct cache_tokens *t, const struct cache_request *req,
		       const uint64_t *cfp, uint64_t total_bytes, int64_t input,
		       const char *provider, const char *model);

/* Tokens before byte off of segment seg's text; cum is the same position in
 * rendered prompt bytes (for apportioning). The prompt's end is the input
 * reported; never above it, never below 0. */
int64_t cache_tokens_at(struct cache_tokens *t, uint32_t seg, uint32_t off, uint64_t cum);

void cache_tokens_free(struct cache_tokens *t);

#endif
