/* Helpers shared by the libFuzzer targets (tests/fuzz/fuzz_*.c).
 *
 * A target takes a few selector bytes off the front of its input (which
 * API, which cap, how to split), then treats the rest as the bytes under
 * test. Inputs fed in pieces are copied into exact-size heap buffers, so
 * ASan catches a read one byte past any piece, as picohttpparser's guard
 * pages do. FUZZ_CHECK aborts with a message: libFuzzer saves the input. */
#ifndef LLMOBS_FUZZ_H
#define LLMOBS_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...)							\
	do {									\
		if (!(cond)) {							\
			fprintf(stderr, "fuzz check failed: %s: ", #cond);	\
			fprintf(stderr, __VA_ARGS__);				\
			fputc('\n', stderr);					\
			abort();						\
		}								\
	} while (0)

struct fuzz_in {
	const uint8_t *p;
	size_t len;
};

/* Selector bytes past the end read as 0: a short input is still valid. */
static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	if (!in->len)
		return 0;
	in->len--;
	return *in->p++;
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
	uint16_t lo = fuzz_u8(in);

	return (uint16_t)(lo | (uint16_t)fuzz_u8(in) << 8);
}

/* Takes up to n bytes; *got says how many there were. */
static inline const uint8_t *fuzz_take(struct fuzz_in *in, size_t n, size_t *got)
{
	const uint8_t *p = in->p;

	if (n > in->len)
		n = in->len;
	in->p += n;
	in->len -= n;
	*got = n;
	return p;
}

/* An exact-size heap copy (never NULL: 1 byte for n == 0). */
static inline char *fuzz_dup(const void *p, size_t n)
{
	char *b = malloc(n ? n : 1);

	if (!b)
		abort();
	if (n)
		memcpy(b, p, n);
	return b;
}

/* Piece sizes for feeding one input in parts, from a seed the input gives:
 * mostly small pieces (where resumption bugs live), now and then large. */
struct fuzz_split {
	uint32_t s;
};

static inline void fuzz_split_init(struct fuzz_split *sp, uint16_t seed)
{
	sp->s = 0x9e3779b9u ^ seed;
}

static inline size_t fuzz_split_next(struct fuzz_split *sp, size_t left)
{
	size_t n;

	sp->s ^= sp->s << 13;
	sp->s ^= sp->s >> 17;
	sp->s ^= sp->s << 5;
	n = (sp->s & 7) ? 1 + (sp->s >> 8) % 16 : 1 + (sp->s >> 8) % 4096;
	return n < left ? n : left;
}

/* FNV-1a: compares outputs without keeping them. */
static inline uint64_t fuzz_hash(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n--)
		h = (h ^ *b++) * 0x100000001b3ULL;
	return h;
}

#define FUZZ_HASH_INIT	0xcbf29ce484222325ULL

#endif
