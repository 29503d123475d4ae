/* Reordered blocks: the same few-shot examples, system blocks or content
 * blocks sent in another order than last time. In: the segments' content
 * fingerprints (cache_prefix.h seg_cfp: group and text, no name) of a
 * request and of its template's last request; out: where the first run of
 * blocks that is a permutation of the last request's begins and ends, and
 * how far the two requests then agree. The prefix hash chains cannot see
 * this (they are in prompt order, and a set has none); what the provider
 * could have cached had the blocks kept one order is what follows the run
 * up to the next difference. Tools have their own set comparison
 * (reordered_tools) and are not blocks here. */
#ifndef LLMOBS_CACHE_REORDER_H
#define LLMOBS_CACHE_REORDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cache_segment.h"

/* Longest run of blocks compared as a set: the search is quadratic in it. */
#define CACHE_REORDER_MAX_BLOCKS	64

struct cache_reorder {
	uint32_t first;		/* first segment that differs */
	uint32_t end;		/* the permuted run is [first, end) */
	uint32_t matched;	/* segments [0, matched) agree, the run as a set */
};

/* cur: req's n_segs fingerprints; last: nlast of the earlier request.
 * True when the first difference opens a run of blocks of one group (at
 * most CACHE_REORDER_MAX_BLOCKS) that holds the same blocks as the earlier
 * request's same positions, in another order. */
bool cache_reorder_find(const struct cache_request *req, const uint64_t *cur,
			const uint64_t *last, size_t nlast, struct cache_reorder *out);

#endif
