/* bpe.c's pre-tokenizer (bpe_split.c), apart because matching the
 * patterns and merging byte pairs are two jobs. Internal to bpe.c. */
#ifndef LLMOBS_BPE_SPLIT_H
#define LLMOBS_BPE_SPLIT_H

#include <stddef.h>
#include "bpe.h"

/* End of the pre-tokenization piece of enc that starts at s[i] (i < n):
 * always > i. Pieces are matched as from the start of s[0..n): n is the
 * end of the text, which the patterns' lookahead sees. */
size_t bpe_piece_end(enum bpe_encoding enc, const char *s, size_t n, size_t i);

#endif
