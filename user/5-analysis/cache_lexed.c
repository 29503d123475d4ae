/* Segments -> spans and masked fingerprints (cache_lexed.h). The
 * fingerprint folds exactly the pieces the norm chain absorbs: the
 * segment's group and name, the text between spans, and a two-byte
 * marker of each span's kind, so equal fingerprints mean (but for a
 * 64-bit collision, which only makes the analysis take the wrong
 * earlier call's hashes) equal norm streams and so equal norm points. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cache_lexed.h"

#define LEXED_MAX_SPANS	65536	/* as CACHE_PREFIX_MAX_SPANS */

/* Four lanes of 8 bytes, independent until the end, so that the
 * multiplies overlap: one lane is a chain of dependent multiplies, ~1.3
 * bytes a cycle, and every prompt is fingerprinted twice (bytes, masked). */
uint64_t cache_fp64(uint64_t h, const void *data, size_t n)
{
	const uint64_t k = 0x9e3779b97f4a7c15ULL;
	const unsigned char *d = data;
	uint64_t l0 = h ^ n * k, l1 = l0 + 1, l2 = l0 + 2, l3 = l0 + 3;

	for (; n >= 32; d += 32, n -= 32) {
		uint64_t w[4];

		memcpy(w, d, 32);
		l0 = (l0 ^ w[0]) * k;
		l1 = (l1 ^ w[1]) * k;
		l2 = (l2 ^ w[2]) * k;
		l3 = (l3 ^ w[3]) * k;
		l0 ^= l0 >> 29;
		l1 ^= l1 >> 29;
		l2 ^= l2 >> 29;
		l3 ^= l3 >> 29;
	}
	h = ((l0 * k ^ l1) * k ^ l2) * k ^ l3;
	for (; n >= 8; d += 8, n -= 8) {
		uint64_t w;

		memcpy(&w, d, 8);
		h = (h ^ w) * k;
		h ^= h >> 29;
	}
	while (n--)
		h = (h ^ *d++) * 0x100000001b3ULL;
	return h ^ (h >> 32);
}

uint64_t cache_lexed_fp(const struct cache_segment *sg, const char *text,
			const struct cache_span *sp, size_t n)
{
	uint64_t h = cache_fp64(sg->group, sg->name, strlen(sg->name));
	uint32_t pos = 0;

	for (size_t i = 0; i < n; i++) {
		char mark[2] = { 0, (char)sp[i].kind };

		h = cache_fp64(h, text + pos, sp[i].off - pos);
		h = cache_fp64(h, mark, 2);
		pos = sp[i].off + sp[i].len;
	}
	return cache_fp64(h, text + pos, sg->text_len - pos);
}

static int reserve(void **buf, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 256;
	void *n;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	n = realloc(*buf, c * size);
	if (!n)
		return -ENOMEM;
	*buf = n;
	*cap = c;
	return 0;
}

int cache_lexed_run(struct cache_lexed *lx, const struct cache_request *req, size_t from,
		    cache_lexed_known_fn known, void *ctx)
{
	size_t segs = req->n_segs ? req->n_segs : 1;

	lx->nsp = 0;
	lx->from = lx->upto = from;
	lx->all = false;
	if (segs > lx->capseg) {
		size_t c = lx->capseg, c2 = lx->capseg, c3 = lx->capseg;

		if (reserve((void **)&lx->nfp, &c, segs, sizeof(uint64_t)) ||
		    reserve((void **)&lx->first, &c2, segs, sizeof(uint32_t)) ||
		    reserve((void **)&lx->count, &c3, segs, sizeof(uint32_t)))
			return -ENOMEM;	/* capseg stays: the next call grows all three */
		lx->capseg = c;
	}
	if (!lx->sp && reserve((void **)&lx->sp, &lx->capsp, 256, sizeof(*lx->sp)))
		return -ENOMEM;
	for (size_t s = from; s < req->n_segs; s++) {
		const struct cache_segment *sg = &req->segs[s];
		const char *text = req->text + sg->text_off;
		size_t room = lx->capsp - lx->nsp, n;
		cache_lexed_known_fn k;

		lx->first[s] = (uint32_t)lx->nsp;
		lx->count[s] = 0;
		if (sg->group == CG_TOOLS || sg->group == CG_SCHEMA) {
			/* what norm absorbs of them: their canonical text */
			lx->nfp[s] = sg->canon_len ? cache_fp64(sg->group, req->text + sg->canon_off,
								sg->canon_len)
						   : cache_fp64(sg->group, text, sg->text_len);
			lx->upto = s + 1;
			continue;
		}
		k = known;
		n = k ? k(ctx, s, lx->sp + lx->nsp, room, &lx->nfp[s]) : SIZE_MAX;
		if (n == SIZE_MAX) {
			n = cache_breaker_scan(text, sg->text_len, lx->sp + lx->nsp, room);
			k = NULL;	/* for a second call, if it was too many */
		}
		if (n > room) {
			if (lx->nsp + n > LEXED_MAX_SPANS)
				return 0;	/* the rest as cache_prefix.c goes */
			if (reserve((void **)&lx->sp, &lx->capsp, lx->nsp + n, sizeof(*lx->sp)))
				return -ENOMEM;
			n = k ? k(ctx, s, lx->sp + lx->nsp, n, &lx->nfp[s])
			      : cache_breaker_scan(text, sg->text_len, lx->sp + lx->nsp, n);
		}
		lx->count[s] = (uint32_t)n;
		if (!k)
			lx->nfp[s] = cache_lexed_fp(sg, text, lx->sp + lx->nsp, n);
		lx->nsp += n;
		lx->upto = s + 1;
	}
	lx->all = true;
	return 0;
}

void cache_lexed_free(struct cache_lexed *lx)
{
	free(lx->sp);
	free(lx->first);
	free(lx->count);
	free(lx->nfp);
	memset(lx, 0, sizeof(*lx));
}
