/* Plain prose, skipped sixteen bytes at a time by both prompt scanners: the
 * breaker lexer (cache_breaker.c) and the secrets/PII scan (detect.c). In:
 * text and a position; out: where the next byte that could matter is, and
 * the word start to resume at before it. "Prose" is lower-case letters,
 * single spaces, ',' and '.': nothing either scanner looks for starts in
 * it, or depends on more than the word before the first other byte (the
 * lexer's "December 7, 2026" looks one word back; an e-mail's local part
 * and an API key's prefix are the word itself). Most of a prompt's bytes
 * are prose, and both scanners otherwise test them one by one.
 *
 * A scanner stays exact by resuming at prose_resume(): a word start after
 * a space, which its own byte-by-byte loop would have reached with nothing
 * found and nothing pending (tests/unit/test_prose_skip.c runs both
 * scanners with and without the skip on the corpus and on mutated text). */
#ifndef LLMOBS_PROSE_SKIP_H
#define LLMOBS_PROSE_SKIP_H

#include <stdbool.h>
#include <stddef.h>

static inline int prose_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || c == ' ' || c == ',' || c == '.';
}

/* The first position in [p, end) that is not prose: a byte outside the
 * set, or the second of two spaces (a whitespace run is a breaker). end
 * if none. */
const char *prose_end(const char *p, const char *end);

/* Where to resume before stop (from prose_end): the start of the word
 * before the one stop is in, not before from. Words here are [a-z,.]
 * runs; all of [from, stop) is prose. */
const char *prose_resume(const char *from, const char *stop);

/* Tests only: true makes both scanners go byte by byte, the reference
 * their skipping output is compared with. */
extern bool prose_skip_off;

#endif
