/* Segments -> prefix points. One pass over each segment's text: the lexer
 * finds the spans, the norm chain absorbs the text with spans masked, the
 * vol chain absorbs only the spans' bytes, and a point's raw hash mixes the
 * two (raw = norm ^ f(vol)), so the text is hashed once, not twice.
 *
 * Two ways not to hash it at all. A request that begins with all of its
 * template's last request's segments, byte for byte, resumes after them
 * (chain states, points, spans). One that begins with their masked
 * streams (cache_lexed.h: only breakers differ, a new timestamp at the
 * top) takes their norm points and norm state, "norm resume": the norm
 * chain, most of the hashing, skips those segments; the spans are lexed
 * and the vol chain (the spans' bytes only) is run as usual. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cache_breaker.h"
#include "cache_lexed.h"
#include "cache_prefix.h"

#define CHUNK CACHE_CHUNK_BYTES

struct build {
	struct cache_prefix *p;
	const struct cache_request *req;
	struct cache_chain norm, vol;
	uint64_t vol_point;	/* vol's value at the last point */
	bool vol_dirty;
	uint32_t blocks;
	uint64_t seg_norm;	/* norm bytes of this segment so far, markers included */
	bool oom;
	/* norm resume: segments before norm_upto take their norm points
	 * from norm_src instead of hashing; norm_bad: they did not line up */
	uint32_t norm_upto;
	const struct cache_point *norm_src;
	size_t norm_src_n;
	bool norm_bad;
	bool skip_norm;		/* in a segment before norm_upto */
};

static uint64_t fnv(const char *d, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)d[i]) * 0x100000001b3ULL;
	return h;
}

static bool grow(void **buf, size_t *cap, size_t need, size_t size, size_t max)
{
	size_t c = *cap ? *cap : 64;
	void *n;

	if (need <= *cap)
		return true;
	if (need > max)
		return false;
	while (c < need)
		c *= 2;
	if (c > max)
		c = max;
	n = realloc(*buf, c * size);
	if (!n)
		return false;
	*buf = n;
	*cap = c;
	return true;
}

static void point(struct build *b, uint32_t seg, uint32_t off, uint64_t cum, bool end)
{
	struct cache_prefix *p = b->p;
	struct cache_point *pt;

	if (!grow((void **)&p->pt, &p->cappt, p->npt + 1, sizeof(*p->pt),
		  CACHE_PREFIX_MAX_POINTS)) {
		p->truncated = true;
		return;
	}
	if (b->vol_dirty) {
		b->vol_point = cache_chain_point(&b->vol);
		b->vol_dirty = false;
	}
	pt = &p->pt[p->npt++];
	if (b->skip_norm) {
		if (p->npt > b->norm_src_n) {
			b->norm_bad = true;
			pt->norm = 0;
		} else {
			pt->norm = b->norm_src[p->npt - 1].norm;
		}
	} else {
		pt->norm = cache_chain_point(&b->norm);
	}
	pt->raw = pt->norm ^ (b->vol_point * 0x9e3779b97f4a7c15ULL + 1);
	pt->cum = cum;
	pt->seg = seg;
	pt->seg_off = off;
	pt->block = b->blocks;
	pt->block_end = end;
}

/* What the norm chain absorbs, unless norm resume has it already. */
static void norm_update(struct build *b, const void *data, size_t len)
{
	if (!b->skip_norm)
		cache_chain_update(&b->norm, data, len);
}

static void header(struct build *b, const struct cache_segment *sg)
{
	norm_update(b, "\x01", 1);
	norm_update(b, sg->name, strlen(sg->name) + 1);
}

/* Text [from, to) of segment seg, with a point each time the segment's
 * norm stream passes a multiple of CHUNK. Counted in the norm stream, not
 * the text: a breaker whose length changes ("9:05", "10:05"; one line
 * break or two) must not move the points after it. */
static void absorb(struct build *b, uint32_t seg, const char *text, uint32_t from,
		   uint32_t to, uint64_t cum0)
{
	while (from < to) {
		uint32_t room = CHUNK - (uint32_t)(b->seg_norm % CHUNK);
		uint32_t n = to - from < room ? to - from : room;

		norm_update(b, text + from, n);
		b->seg_norm += n;
		from += n;
		if (b->seg_norm % CHUNK == 0 && from < to)
			point(b, seg, from, cum0 + from, false);
	}
}

static void text_segment(struct build *b, uint32_t si, uint64_t cum0)
{
	struct cache_prefix *p = b->p;
	const struct cache_segment *sg = &b->req->segs[si];
	const char *text = b->req->text + sg->text_off;
	const struct cache_span *sps;
	size_t n;
	uint32_t pos = 0;

	if (si >= p->lx.from && si < p->lx.upto) {	/* lexed already */
		sps = p->lx.sp + p->lx.first[si];
		n = p->lx.count[si];
	} else {
		n = cache_breaker_scan(text, sg->text_len, p->scratch, p->capscratch);
		if (n > p->capscratch) {
			if (!grow((void **)&p->scratch, &p->capscratch, n, sizeof(*p->scratch),
				  CACHE_PREFIX_MAX_SPANS)) {
				p->truncated = true;
				n = p->capscratch;	/* the rest stays unmasked */
			} else {
				n = cache_breaker_scan(text, sg->text_len, p->scratch, p->capscratch);
			}
		}
		sps = p->scratch;
	}
	header(b, sg);
	b->seg_norm = 0;
	for (size_t i = 0; i < n; i++) {
		const struct cache_span *s = &sps[i];
		struct cache_vspan *v;
		char mark[2] = { 0, (char)s->kind };

		absorb(b, si, text, pos, s->off, cum0);
		norm_update(b, mark, 2);
		b->seg_norm += 2;
		cache_chain_update(&b->vol, text + s->off, s->len);
		cache_chain_update(&b->vol, "", 1);
		b->vol_dirty = true;
		pos = s->off + s->len;
		if (!grow((void **)&p->sp, &p->capsp, p->nsp + 1, sizeof(*p->sp),
			  CACHE_PREFIX_MAX_SPANS)) {
			p->truncated = true;
			continue;
		}
		v = &p->sp[p->nsp++];
		*v = (struct cache_vspan){
			.seg = si, .off = s->off, .len = s->len, .kind = s->kind,
			.shape = s->shape, .vh = fnv(text + s->off, s->len),
			.ivalue = s->ivalue, .cum = cum0 + s->off,
		};
	}
	absorb(b, si, text, pos, sg->text_len, cum0);
	if (!p->sys_hash && sg->group == CG_SYSTEM) {
		/* the template's "shape": the start of the system prompt, masked */
		uint64_t h = 0xcbf29ce484222325ULL;
		uint32_t lim = sg->text_len < 256 ? sg->text_len : 256, q = 0;

		for (size_t i = 0; i < n && sps[i].off < lim; i++) {
			h ^= fnv(text + q, sps[i].off - q) ^ sps[i].kind;
			q = sps[i].off + sps[i].len;
		}
		if (q < lim)
			h ^= fnv(text + q, lim - q) * 31;
		p->sys_hash = h | 1;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Tools [first, end): one point after all of them; norm sees the set of
 * canonical tools, vol their order and exact bytes. */
static uint32_t tools_block(struct build *b, uint32_t first, uint64_t *cum)
{
	struct cache_prefix *p = b->p;
	const struct cache_request *r = b->req;
	uint32_t i, n;
	uint64_t *sorted;

	for (i = first; i < r->n_segs && r->segs[i].group == CG_TOOLS; i++)
		;
	n = i - first;
	if (!grow((void **)&p->tool_canon, &p->captools, n, sizeof(uint64_t), CACHE_SEG_MAX) ||
	    !(p->tool_raw = realloc(p->tool_raw, p->captools * sizeof(uint64_t)))) {
		b->oom = true;
		return i;
	}
	sorted = malloc((n ? n : 1) * sizeof(*sorted));
	if (!sorted) {
		b->oom = true;
		return i;
	}
	p->tools_first_seg = first;
	p->ntools = n;
	for (uint32_t t = 0; t < n; t++) {
		const struct cache_segment *sg = &r->segs[first + t];

		p->tool_canon[t] = fnv(r->text + sg->canon_off, sg->canon_len);
		p->tool_raw[t] = fnv(r->text + sg->text_off, sg->text_len);
		sorted[t] = p->tool_canon[t];
		*cum += sg->text_len;
	}
	qsort(sorted, n, sizeof(*sorted), cmp_u64);
	norm_update(b, "\x02tools", 7);
	for (uint32_t t = 0; t < n; t++) {
		const struct cache_segment *sg = &r->segs[first + t];

		/* the canonical text itself, in canonical order: fnv alone
		 * would make the norm chain only as strong as a 64-bit FNV */
		for (uint32_t u = 0; u < n; u++)
			if (p->tool_canon[u] == sorted[t]) {
				sg = &r->segs[first + u];
				break;
			}
		norm_update(b, r->text + sg->canon_off, sg->canon_len);
		norm_update(b, "", 1);
	}
	for (uint32_t t = 0; t < n; t++) {
		const struct cache_segment *sg = &r->segs[first + t];

		cache_chain_update(&b->vol, r->text + sg->text_off, sg->text_len);
		cache_chain_update(&b->vol, "", 1);
	}
	b->vol_dirty = true;
	free(sorted);
	b->blocks += n;
	point(b, i - 1, r->segs[i - 1].text_len, *cum, true);
	return i;
}

/* Takes from's points, spans, tools and chain states when req begins
 * with all of from's segments. Returns the segments taken (0: none). */
bool cache_prefix_resumes(const struct cache_prefix *p, const struct cache_request *req,
			  const struct cache_resume *from)
{
	return from && from->nseg && from->scope_fp == p->scope_fp && from->nseg <= req->n_segs &&
	       !memcmp(from->seg_fp, p->seg_fp, from->nseg * sizeof(uint64_t)) &&
	       !(from->nseg < req->n_segs && req->segs[from->nseg].group == CG_TOOLS);
}

/* req begins with from's segments' masked streams (p->lx lexed from 0). */
static bool norm_resumes(const struct cache_prefix *p, const struct cache_request *req,
			 const struct cache_resume *from)
{
	return from && from->seg_nfp && from->norm && from->nseg && p->lexed &&
	       from->scope_fp == p->scope_fp && from->nseg <= req->n_segs &&
	       p->lx.from == 0 && p->lx.upto >= from->nseg &&
	       !memcmp(from->seg_nfp, p->lx.nfp, from->nseg * sizeof(uint64_t)) &&
	       !(from->nseg < req->n_segs && req->segs[from->nseg].group == CG_TOOLS);
}

/* Takes from's points, spans, tools and chain states when req begins
 * with all of from's segments. Returns the segments taken (0: none). */
static uint32_t resume(struct build *b, const struct cache_resume *from, uint64_t *cum)
{
	struct cache_prefix *p = b->p;

	if (!cache_prefix_resumes(p, b->req, from) ||
	    !grow((void **)&p->pt, &p->cappt, from->npt ? from->npt : 1, sizeof(*p->pt),
		  CACHE_PREFIX_MAX_POINTS) ||
	    !grow((void **)&p->sp, &p->capsp, from->nsp ? from->nsp : 1, sizeof(*p->sp),
		  CACHE_PREFIX_MAX_SPANS) ||
	    (from->ntools && (!grow((void **)&p->tool_canon, &p->captools, from->ntools,
				    sizeof(uint64_t), CACHE_SEG_MAX) ||
			      !(p->tool_raw = realloc(p->tool_raw, p->captools * sizeof(uint64_t))))) ||
	    !EVP_MD_CTX_copy_ex(b->norm.run, from->norm) ||
	    !EVP_MD_CTX_copy_ex(b->vol.run, from->vol))
		return 0;
	if (from->npt)
		memcpy(p->pt, from->pt, from->npt * sizeof(*p->pt));
	if (from->nsp)
		memcpy(p->sp, from->sp, from->nsp * sizeof(*p->sp));
	if (from->ntools) {
		memcpy(p->tool_canon, from->tool_canon, from->ntools * sizeof(uint64_t));
		memcpy(p->tool_raw, from->tool_raw, from->ntools * sizeof(uint64_t));
	}
	p->npt = from->npt;
	p->nsp = from->nsp;
	p->ntools = from->ntools;
	p->tools_first_seg = from->tools_first_seg;
	p->sys_hash = from->sys_hash;
	b->blocks = from->blocks;
	b->vol_point = from->vol_point;
	b->vol_dirty = from->vol_dirty;
	*cum = from->cum;
	return (uint32_t)from->nseg;
}

struct known {
	const struct cache_prefix *p;
	const struct cache_resume *from;
};

/* A segment equal, byte for byte, to the same segment of from: its spans
 * are from's spans there (the lexer is a function of the text alone). */
static size_t known_spans(void *ctx, size_t seg, struct cache_span *out, size_t max,
			  uint64_t *nfp)
{
	const struct known *k = ctx;
	const struct cache_resume *f = k->from;
	size_t lo = 0, hi = f->nsp, n = 0;

	if (seg >= f->nseg || k->p->seg_fp[seg] != f->seg_fp[seg])
		return SIZE_MAX;
	while (lo < hi) {	/* the first span of seg: spans are in order */
		size_t mid = (lo + hi) / 2;

		if (f->sp[mid].seg < seg)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < f->nsp && f->sp[lo].seg == seg; lo++, n++)
		if (n < max)
			out[n] = (struct cache_span){ .off = f->sp[lo].off, .len = f->sp[lo].len,
						      .kind = f->sp[lo].kind, .shape = f->sp[lo].shape,
						      .ivalue = f->sp[lo].ivalue };
	*nfp = f->seg_nfp[seg];
	return n;
}

int cache_prefix_lex(struct cache_prefix *p, const struct cache_request *req,
		     const struct cache_resume *known)
{
	struct known k = { p, known };
	int err = cache_lexed_run(&p->lx, req, 0,
				  known && known->seg_nfp && p->nfp == req->n_segs ? known_spans : NULL,
				  &k);

	p->lexed = !err;
	return err;
}

/* Norm resume ends before segment norm_upto: the points so far must be
 * from's, and the norm chain goes on from from's end state. */
static void end_norm_skip(struct build *b, const struct cache_resume *from)
{
	b->skip_norm = false;
	if (b->p->npt != b->norm_src_n || !EVP_MD_CTX_copy_ex(b->norm.run, from->norm))
		b->norm_bad = true;
}

/* Keeps the chains' states after the last segment for a later request. */
static void keep_end(struct build *b, uint64_t cum)
{
	struct cache_prefix *p = b->p;

	p->end_ok = false;
	if ((!p->end_norm && !(p->end_norm = EVP_MD_CTX_new())) ||
	    (!p->end_vol && !(p->end_vol = EVP_MD_CTX_new())) ||
	    !b->norm.run || !b->vol.run ||
	    !EVP_MD_CTX_copy_ex(p->end_norm, b->norm.run) ||
	    !EVP_MD_CTX_copy_ex(p->end_vol, b->vol.run))
		return;
	p->end_vol_point = b->vol_point;
	p->end_vol_dirty = b->vol_dirty;
	p->end_blocks = b->blocks;
	p->end_ok = !b->oom && !p->truncated && cum == p->total_bytes;
}

int cache_prefix_fingerprints(struct cache_prefix *p, const struct cache_request *req,
			      const char *scope, size_t scope_len)
{
	if (!grow((void **)&p->seg_fp, &p->capfp, req->n_segs ? req->n_segs : 1,
		  sizeof(uint64_t), CACHE_SEG_MAX))
		return -ENOMEM;
	if (!grow((void **)&p->seg_cfp, &p->capcfp, req->n_segs ? req->n_segs : 1,
		  sizeof(uint64_t), CACHE_SEG_MAX))
		return -ENOMEM;
	/* a change that invalidates the messages (Anthropic's tool_choice,
	 * thinking, images) must not resume from before it */
	p->scope_fp = cache_fp64(0, scope, scope_len) ^ req->msg_salt * 0x9e3779b97f4a7c15ULL;
	for (size_t s = 0; s < req->n_segs; s++) {
		const struct cache_segment *sg = &req->segs[s];
		uint64_t h = cache_fp64(sg->group, req->text + sg->text_off, sg->text_len);

		if (sg->canon_len)
			h = cache_fp64(h, req->text + sg->canon_off, sg->canon_len);
		/* the content alone (reordered blocks are the same contents
		 * under other names), then with the name (a resume point) */
		p->seg_cfp[s] = h;
		p->seg_fp[s] = cache_fp64(h, sg->name, strlen(sg->name));
	}
	p->nfp = req->n_segs;
	return 0;
}

int cache_prefix_build(struct cache_prefix *p, const struct cache_request *req,
		       const struct cache_hash_key *k, const char *scope, size_t scope_len,
		       const struct cache_resume *from)
{
	struct build b = { .p = p, .req = req };
	const struct cache_resume *nfrom = NULL;
	uint64_t cum = 0;
	uint32_t i = 0;

	if (p->nfp != req->n_segs && cache_prefix_fingerprints(p, req, scope, scope_len))
		return -ENOMEM;
	p->npt = p->nsp = p->ntools = 0;
	p->total_bytes = 0;
	p->sys_hash = 0;
	p->truncated = req->truncated;
	p->end_ok = false;
	p->resumed_segs = 0;
	if (!p->scratch && !grow((void **)&p->scratch, &p->capscratch, 256,
				 sizeof(*p->scratch), CACHE_PREFIX_MAX_SPANS))
		return -ENOMEM;
	if (cache_chain_begin(&b.norm, k) || cache_chain_begin(&b.vol, k)) {
		cache_chain_end(&b.norm);
		return -ENOMEM;
	}
	if (from && from->norm_only) {
		nfrom = norm_resumes(p, req, from) ? from : NULL;
		from = NULL;
	}
	i = resume(&b, from, &cum);
	p->resumed_segs = i;
	p->norm_resumed_segs = 0;
	if (!i) {
		/* a resume that failed half-way may have left its states */
		p->npt = p->nsp = p->ntools = 0;
		p->sys_hash = 0;
		if (!EVP_MD_CTX_copy_ex(b.norm.run, k->inner0) ||
		    !EVP_MD_CTX_copy_ex(b.vol.run, k->inner0)) {
			cache_chain_end(&b.norm);
			cache_chain_end(&b.vol);
			return -ENOMEM;
		}
		cache_chain_update(&b.norm, scope, scope_len);
		cache_chain_update(&b.vol, scope, scope_len);
		b.vol_dirty = true;
	}
	/* what is not resumed is lexed here, unless cache_prefix_lex() did;
	 * the masked fingerprints of resumed segments are from's */
	if (!(p->lexed && p->lx.from <= i) && cache_lexed_run(&p->lx, req, i, NULL, NULL)) {
		b.oom = true;
	} else if (i) {
		p->nfp_ok = p->lx.all && from->seg_nfp;
		if (p->nfp_ok)
			memcpy(p->lx.nfp, from->seg_nfp, i * sizeof(uint64_t));
	} else {
		p->nfp_ok = p->lx.all && p->lx.from == 0;
	}
	if (nfrom) {
		b.norm_upto = (uint32_t)nfrom->nseg;
		b.norm_src = nfrom->pt;
		b.norm_src_n = nfrom->npt;
		b.skip_norm = true;
		p->norm_resumed_segs = nfrom->nseg;
	}
	while (i < req->n_segs && !b.oom) {
		const struct cache_segment *sg = &req->segs[i];

		if (b.skip_norm && i >= b.norm_upto)
			end_norm_skip(&b, nfrom);

		if (sg->group == CG_TOOLS) {
			i = tools_block(&b, i, &cum);
			continue;
		}
		if (sg->group == CG_SCHEMA) {
			norm_update(&b, "\x03", 1);
			norm_update(&b, req->text + sg->canon_off, sg->canon_len);
			cache_chain_update(&b.vol, req->text + sg->text_off, sg->text_len);
			b.vol_dirty = true;
		} else {
			if (req->msg_salt && sg->group == CG_MESSAGES &&
			    (!i || req->segs[i - 1].group != CG_MESSAGES)) {
				/* the messages' prefix differs when these do */
				norm_update(&b, "\x04", 1);
				norm_update(&b, &req->msg_salt, sizeof(req->msg_salt));
			}
			text_segment(&b, i, cum);
		}
		cum += sg->text_len;
		b.blocks++;
		point(&b, i, sg->text_len, cum, true);
		i++;
	}
	if (b.skip_norm)
		end_norm_skip(&b, nfrom);
	if (b.norm_bad && !b.oom) {
		/* the masked streams were equal only by their fingerprints:
		 * hash them after all */
		cache_chain_end(&b.norm);
		cache_chain_end(&b.vol);
		return cache_prefix_build(p, req, k, scope, scope_len, NULL);
	}
	p->total_bytes = cum;
	p->nfp = 0;	/* the next request fingerprints its own */
	keep_end(&b, cum);
	cache_chain_end(&b.norm);
	cache_chain_end(&b.vol);
	p->lexed = false;	/* likewise lexes its own */
	return b.oom ? -ENOMEM : 0;
}

void cache_prefix_free(struct cache_prefix *p)
{
	free(p->pt);
	free(p->sp);
	free(p->tool_canon);
	free(p->tool_raw);
	free(p->scratch);
	free(p->seg_fp);
	free(p->seg_cfp);
	cache_lexed_free(&p->lx);
	EVP_MD_CTX_free(p->end_norm);
	EVP_MD_CTX_free(p->end_vol);
	memset(p, 0, sizeof(*p));
}
