/* A request's segments lexed once (cache_breaker.h), and each segment's
 * masked fingerprint: a 64-bit hash of what the norm chain of
 * cache_prefix.c absorbs for it (the text with every breaker replaced by
 * its kind; a tool's or schema's canonical text). In: segments
 * (cache_segment.h); out: spans per segment and fingerprints, in memory
 * only.
 *
 * Why: two calls that differ only in their breakers (a new timestamp at
 * the top, a request id) have equal masked streams, so the second can
 * take the first's norm prefix hashes instead of SHA-256 over every byte
 * again (cache_prefix.c, "norm resume"). The fingerprints say when that
 * holds before any hashing; the spans found for them are the ones the
 * build then uses, so nothing is lexed twice. */
#ifndef LLMOBS_CACHE_LEXED_H
#define LLMOBS_CACHE_LEXED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cache_breaker.h"
#include "cache_segment.h"

struct cache_lexed {
	struct cache_span *sp;	/* every lexed segment's spans, in order */
	size_t nsp, capsp;
	uint32_t *first, *count;	/* per segment: its spans in sp */
	uint64_t *nfp;		/* per segment: masked fingerprint */
	size_t capseg;
	size_t from, upto;	/* segments [from, upto) are lexed */
	bool all;		/* upto reached the last segment: nothing was cut */
};

/* Spans already known for segment seg (it equals a segment lexed for an
 * earlier request): writes at most max of them to out and its masked
 * fingerprint to *nfp, returns how many there are; SIZE_MAX: unknown,
 * lex it. */
typedef size_t (*cache_lexed_known_fn)(void *ctx, size_t seg, struct cache_span *out,
				       size_t max, uint64_t *nfp);

/* Lexes req's segments from segment from on (zero-fill lx before first
 * use; buffers reused), or takes what known (may be NULL) has. Stops
 * where the spans would pass CACHE_PREFIX_MAX_SPANS in all (lx->all
 * false: the rest is lexed by cache_prefix.c as it goes, and no
 * fingerprint is kept for it). Returns 0 or -ENOMEM. */
int cache_lexed_run(struct cache_lexed *lx, const struct cache_request *req, size_t from,
		    cache_lexed_known_fn known, void *ctx);

/* A fast 64-bit fingerprint of data, chained from h (not keyed, not
 * stored: it tells the same bytes again in memory, 8 bytes a step). */
uint64_t cache_fp64(uint64_t h, const void *data, size_t n);

/* The masked fingerprint of a text segment whose spans are sp[0..n). */
uint64_t cache_lexed_fp(const struct cache_segment *sg, const char *text,
			const struct cache_span *sp, size_t n);

void cache_lexed_free(struct cache_lexed *lx);

#endif
