/* Two requests' per-segment content fingerprints -> the reordered run of
 * blocks, if the first difference is one. The run is grown one block at a
 * time until both sides hold the same multiset; sorted copies on the stack
 * make each test O(k log k), and k is bounded. */
#include <stdlib.h>
#include <string.h>
#include "cache_reorder.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static bool same_set(const uint64_t *a, const uint64_t *b, size_t k)
{
	uint64_t x[CACHE_REORDER_MAX_BLOCKS], y[CACHE_REORDER_MAX_BLOCKS];

	memcpy(x, a, k * sizeof(*x));
	memcpy(y, b, k * sizeof(*y));
	qsort(x, k, sizeof(*x), cmp_u64);
	qsort(y, k, sizeof(*y), cmp_u64);
	return !memcmp(x, y, k * sizeof(*x));
}

bool cache_reorder_find(const struct cache_request *req, const uint64_t *cur,
			const uint64_t *last, size_t nlast, struct cache_reorder *out)
{
	size_t n = req->n_segs < nlast ? req->n_segs : nlast, s, e, m;
	uint8_t g;

	if (!cur || !last)
		return false;
	for (s = 0; s < n && cur[s] == last[s]; s++)
		;
	if (s >= n)
		return false;
	g = req->segs[s].group;
	if (g != CG_SYSTEM && g != CG_MESSAGES)
		return false;
	for (e = s + 2; e <= n && e - s <= CACHE_REORDER_MAX_BLOCKS &&
	     req->segs[e - 1].group == g; e++) {
		if (!same_set(cur + s, last + s, e - s))
			continue;
		for (m = e; m < n && cur[m] == last[m]; m++)
			;
		*out = (struct cache_reorder){ (uint32_t)s, (uint32_t)e, (uint32_t)m };
		return true;
	}
	return false;
}
