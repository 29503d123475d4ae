/* One exchange -> cacheable, cached, missed, why. The request's prefix
 * points (cache_prefix.c) are looked up in the index before they are
 * recorded: the longest norm prefix seen within the TTL is what could have
 * been cached ("cacheable"), the longest raw one what the provider could
 * actually reuse. Usage has the last word: what the provider cached was
 * cacheable, and a breaker before the cached tokens was no breaker. The
 * breakers themselves come from the template's last request: the first
 * spans whose value changed where the prompts are otherwise the same. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cache_analyze.h"
#include "cache_breaker.h"
#include "cache_hash.h"
#include "cache_index.h"
#include "cache_prefix.h"
#include "cache_reorder.h"
#include "cache_rules.h"
#include "cache_segment.h"
#include "cache_tokens.h"
#include "provider.h"

#define RAW_NS	0x52a7c1d3e5f60789ULL	/* raw keys apart from norm keys */
#define DUP_NS	0x0d0b1e5e9a11ce55ULL
#define DUP_WINDOW_NS	(3600LL * 1000000000LL)
#define TMPL_MAX_POINTS	2048
#define HOUR_NS		(3600LL * 1000000000LL)
#define TMPL_MAX_SPANS	1024

struct tmpl {
	uint64_t id;
	int64_t last_ns;
	uint64_t params;
	struct cache_point *pt;
	size_t npt;
	struct cache_vspan *sp;
	size_t nsp;
	uint64_t *tool_canon, *tool_raw;
	size_t ntools;
	uint64_t *cfp;		/* per segment: content fingerprint */
	size_t ncfp;
	uint64_t scope;		/* provider, model, account */
	/* where the last request left off, to resume (cache_prefix.h) */
	bool resumable;
	uint64_t *seg_fp;
	uint64_t *seg_nfp;	/* masked fingerprints (norm resume), if known */
	bool has_nfp;
	size_t nseg;
	uint64_t scope_fp, cum, vol_point, sys_hash;
	bool vol_dirty;
	uint32_t blocks, tools_first_seg;
	EVP_MD_CTX *norm, *vol;
};

#define RESUME_SLOTS	1024

struct resume_slot {
	uint64_t key, tid;
};

struct cache_analyzer {
	struct cache_hash_key own;	/* when not given one */
	const struct cache_hash_key *key;
	struct cache_rules *rules;
	struct cache_index *ix;
	const struct price_table *prices;
	bool no_resume;
	struct cache_request req;
	struct cache_prefix pre;
	struct cache_tokens tok;
	struct tmpl *tmpl[CACHE_MAX_TEMPLATES];
	size_t ntmpl;
	struct cache_analyzer_stats st;
	/* the template whose last request began like this one (keyed by the
	 * call site and the first segment's fingerprint) */
	struct resume_slot rmap[RESUME_SLOTS];
	/* likewise by the first segment's masked fingerprint (norm resume) */
	struct resume_slot nmap[RESUME_SLOTS];
	/* by the call site alone: the segments it sent last, lexed */
	struct resume_slot smap[RESUME_SLOTS];
	int64_t last_pred;
	/* the last price looked up: a lookup walks the whole table, and
	 * one agent's calls are one model */
	char price_model[128], price_vendor[32];
	const struct price *price;
	/* likewise the last template id (its inputs: exe, provider, api,
	 * model family, system prompt shape) and the last account: one
	 * agent's calls share both, and each is an HMAC to compute */
	char tmpl_buf[600];
	size_t tmpl_len;
	uint64_t tmpl_tid;
	uint64_t acct_fp;	/* of the key's digest, in memory only */
	char acct_hex[17];
};

struct breaker {
	uint8_t kind, shape;
	uint32_t seg, byte_offset;
	int64_t token_offset, missed_tokens;
	double missed_usd;
};

int cache_analyzer_new(const struct cache_analyzer_opts *o, struct cache_analyzer **out)
{
	struct cache_analyzer *a = calloc(1, sizeof(*a));
	int err;

	if (!a)
		return -ENOMEM;
	a->key = o->key ? o->key : &a->own;
	err = o->key ? 0 : o->key_path ? cache_hash_key_load(o->key_path, &a->own)
				       : cache_hash_key_random(&a->own);
	if (err)
		goto fail;
	err = o->rules_path ? cache_rules_load_file(o->rules_path, &a->rules)
			    : cache_rules_load_default(&a->rules);
	if (err)
		goto fail;
	a->ix = cache_index_new(o->index_bytes ? o->index_bytes : CACHE_INDEX_DEFAULT_BYTES);
	if (!a->ix) {
		err = -ENOMEM;
		goto fail;
	}
	a->prices = o->prices;
	a->no_resume = o->no_resume;
	*out = a;
	return 0;
fail:
	cache_analyzer_free(a);
	return err;
}

static void tmpl_free(struct tmpl *t)
{
	if (!t)
		return;
	free(t->pt);
	free(t->sp);
	free(t->tool_canon);
	free(t->tool_raw);
	free(t->seg_fp);
	free(t->seg_nfp);
	free(t->cfp);
	EVP_MD_CTX_free(t->norm);
	EVP_MD_CTX_free(t->vol);
	free(t);
}

void cache_analyzer_free(struct cache_analyzer *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->ntmpl; i++)
		tmpl_free(a->tmpl[i]);
	cache_request_free(&a->req);
	cache_prefix_free(&a->pre);
	cache_tokens_free(&a->tok);
	cache_index_free(a->ix);
	cache_rules_free(a->rules);
	cache_hash_key_free(&a->own);
	free(a);
}

int64_t cache_analyzer_last_prediction(const struct cache_analyzer *a)
{
	return a->last_pred;
}

void cache_analyzer_get_stats(const struct cache_analyzer *a, struct cache_analyzer_stats *s)
{
	*s = a->st;
	s->index_evicted = cache_index_evicted(a->ix);
	s->index_entries = cache_index_count(a->ix);
	s->index_capacity = cache_index_capacity(a->ix);
	s->templates = a->ntmpl;
}

void cache_model_family(const char *model, char *out, size_t size)
{
	size_t n;
	const char *m = strncmp(model, "models/", 7) ? model : model + 7;

	snprintf(out, size, "%s", m);
	n = strlen(out);
	if (n > 7 && !strcmp(out + n - 7, "-latest"))
		out[n -= 7] = '\0';
	/* -YYYYMMDD, @YYYYMMDD, -YYYY-MM-DD */
	if (n > 9 && (out[n - 9] == '-' || out[n - 9] == '@') &&
	    strspn(out + n - 8, "0123456789") == 8)
		out[n - 9] = '\0';
	else if (n > 11 && out[n - 11] == '-' && out[n - 6] == '-' && out[n - 3] == '-' &&
		 strspn(out + n - 10, "0123456789") == 4)
		out[n - 11] = '\0';
}

static void hex16(char out[17], uint64_t v)
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 15; i >= 0; i--, v >>= 4)
		out[i] = digits[v & 15];
	out[16] = '\0';
}

/* ---- templates ---- */

static struct tmpl *tmpl_get(struct cache_analyzer *a, uint64_t id)
{
	for (size_t i = 0; i < a->ntmpl; i++)
		if (a->tmpl[i]->id == id)
			return a->tmpl[i];
	return NULL;
}

/* Keeps the request just analysed as t's last (bounded copies). */
static void tmpl_save(struct cache_analyzer *a, struct tmpl *t, uint64_t id, int64_t now,
		      uint64_t params)
{
	const struct cache_prefix *p = &a->pre;
	size_t npt = p->npt < TMPL_MAX_POINTS ? p->npt : TMPL_MAX_POINTS;
	size_t nsp = p->nsp < TMPL_MAX_SPANS ? p->nsp : TMPL_MAX_SPANS;

	if (!t) {
		size_t victim = a->ntmpl;

		if (a->ntmpl == CACHE_MAX_TEMPLATES) {
			victim = 0;
			for (size_t i = 1; i < a->ntmpl; i++)
				if (a->tmpl[i]->last_ns < a->tmpl[victim]->last_ns)
					victim = i;
			tmpl_free(a->tmpl[victim]);
		} else {
			a->ntmpl++;
		}
		t = a->tmpl[victim] = calloc(1, sizeof(*t));
		if (!t) {
			a->tmpl[victim] = a->tmpl[--a->ntmpl];
			return;
		}
	}
	t->id = id;
	t->last_ns = now;
	t->params = params;
	t->resumable = false;
	t->npt = t->nsp = t->ntools = t->ncfp = 0;
	{
		void *q = realloc(t->pt, (npt ? npt : 1) * sizeof(*t->pt));
		void *r = q ? realloc(t->sp, (nsp ? nsp : 1) * sizeof(*t->sp)) : NULL;

		if (q)
			t->pt = q;
		if (r)
			t->sp = r;
		if (!q || !r)
			return;
	}
	if (npt)
		memcpy(t->pt, p->pt, npt * sizeof(*t->pt));
	if (nsp)
		memcpy(t->sp, p->sp, nsp * sizeof(*t->sp));
	t->npt = npt;
	t->nsp = nsp;
	if (p->ntools) {
		uint64_t *c = realloc(t->tool_canon, p->ntools * sizeof(uint64_t));
		uint64_t *r = c ? realloc(t->tool_raw, p->ntools * sizeof(uint64_t)) : NULL;

		if (c)
			t->tool_canon = c;
		if (r)
			t->tool_raw = r;
		if (c && r) {
			memcpy(c, p->tool_canon, p->ntools * sizeof(uint64_t));
			memcpy(r, p->tool_raw, p->ntools * sizeof(uint64_t));
			t->ntools = p->ntools;
		}
	}
	t->scope = p->scope_fp;
	if (a->req.n_segs) {
		uint64_t *c = realloc(t->cfp, a->req.n_segs * sizeof(uint64_t));

		if (c) {
			t->cfp = c;
			memcpy(c, p->seg_cfp, a->req.n_segs * sizeof(uint64_t));
			t->ncfp = a->req.n_segs;
		}
	}
	/* resumable only when nothing was cut: points, spans, tools, text */
	if (p->end_ok && npt == p->npt && nsp == p->nsp && t->ntools == p->ntools &&
	    a->req.n_segs) {
		uint64_t *f = realloc(t->seg_fp, a->req.n_segs * sizeof(uint64_t));

		if (!f)
			return;
		t->seg_fp = f;
		if ((!t->norm && !(t->norm = EVP_MD_CTX_new())) ||
		    (!t->vol && !(t->vol = EVP_MD_CTX_new())) ||
		    !EVP_MD_CTX_copy_ex(t->norm, p->end_norm) ||
		    !EVP_MD_CTX_copy_ex(t->vol, p->end_vol))
			return;
		memcpy(f, p->seg_fp, a->req.n_segs * sizeof(uint64_t));
		t->has_nfp = false;
		if (p->nfp_ok) {
			uint64_t *g = realloc(t->seg_nfp, a->req.n_segs * sizeof(uint64_t));

			if (g) {
				t->seg_nfp = g;
				memcpy(g, p->lx.nfp, a->req.n_segs * sizeof(uint64_t));
				t->has_nfp = true;
			}
		}
		t->nseg = a->req.n_segs;
		t->scope_fp = p->scope_fp;
		t->cum = p->total_bytes;
		t->vol_point = p->end_vol_point;
		t->vol_dirty = p->end_vol_dirty;
		t->blocks = p->end_blocks;
		t->sys_hash = p->sys_hash;
		t->tools_first_seg = p->tools_first_seg;
		t->resumable = true;
	}
}

/* The resume point of the template recorded in map (rmap, nmap) for key,
 * if any. */
static bool resume_from(struct cache_analyzer *a, const struct resume_slot *map, uint64_t key,
			struct cache_resume *v)
{
	size_t slot = key % RESUME_SLOTS;
	const struct tmpl *t;

	if (map[slot].key != key || !(t = tmpl_get(a, map[slot].tid)) || !t->resumable)
		return false;
	*v = (struct cache_resume){
		.scope_fp = t->scope_fp, .seg_fp = t->seg_fp, .nseg = t->nseg,
		.pt = t->pt, .npt = t->npt, .sp = t->sp, .nsp = t->nsp,
		.tool_canon = t->tool_canon, .tool_raw = t->tool_raw, .ntools = t->ntools,
		.tools_first_seg = t->tools_first_seg, .blocks = t->blocks,
		.sys_hash = t->sys_hash, .cum = t->cum, .vol_point = t->vol_point,
		.vol_dirty = t->vol_dirty, .norm = t->norm, .vol = t->vol,
		.seg_nfp = t->has_nfp ? t->seg_nfp : NULL,
	};
	return true;
}

/* ---- tokens ---- */

/* A prompt position in tokens: BPE-exact for OpenAI models, apportioned
 * from the input tokens reported otherwise (cache_tokens.h). */
static int64_t tokens_at(struct cache_analyzer *a, uint32_t seg, uint32_t off, uint64_t cum)
{
	return cache_tokens_at(&a->tok, seg, off, cum);
}

static int64_t tokens_pt(struct cache_analyzer *a, const struct cache_point *pt)
{
	return tokens_at(a, pt->seg, pt->seg_off, pt->cum);
}

/* The longest point index + 1 (0: none) that the index has, any age and
 * within ttl. */
static void lookup(struct cache_analyzer *a, bool raw, int64_t now, int64_t ttl_ns,
		   size_t *any, size_t *live)
{
	const struct cache_prefix *p = &a->pre;

	*any = *live = 0;
	for (size_t i = 0; i < p->npt; i++) {
		uint64_t key = raw ? p->pt[i].raw ^ RAW_NS : p->pt[i].norm;
		struct cache_index_entry *e = cache_index_find(a->ix, key);

		if (!e)
			break;
		*any = i + 1;
		/* what a 1 h breakpoint wrote lives 1 h */
		if (now - e->last_ns <= ((e->flags & CACHE_ENTRY_TTL_1H) && ttl_ns < HOUR_NS ?
					 HOUR_NS : ttl_ns))
			*live = i + 1;
	}
}

/* Cached only at breakpoints: Anthropic always, OpenAI 5.6+ when the
 * request's prompt_cache_options say mode "explicit". */
static bool explicit_mode(const struct cache_analyzer *a, const struct cache_rule *rule)
{
	return rule->breakpoints == CACHE_BP_EXPLICIT && a->req.explicit_mode;
}

static bool at_breakpoints(const struct cache_analyzer *a, const struct cache_rule *rule)
{
	return rule->breakpoints == CACHE_BP_ANTHROPIC || explicit_mode(a, rule);
}

/* What the rule lets the provider reuse of the first n points: the
 * tokens at the last usable point, rounded. Anthropic reuses only block
 * ends that an earlier request wrote, within lookback of a breakpoint of
 * this one (or, with no breakpoint at all, any block end: what one would
 * give). */
static int64_t usable(struct cache_analyzer *a, const struct cache_rule *rule, bool raw,
		      size_t n, int64_t input)
{
	const struct cache_prefix *p = &a->pre;
	const struct cache_request *rq = &a->req;

	if (!n)
		return 0;
	if (explicit_mode(a, rule) && rq->any_breakpoint) {
		/* OpenAI 5.6+, mode explicit: a prefix an earlier request wrote
		 * at one of its prompt_cache_breakpoint blocks */
		for (size_t i = n; i-- > 0;) {
			const struct cache_point *pt = &p->pt[i];
			struct cache_index_entry *e;

			if (!pt->block_end)
				continue;
			e = cache_index_find(a->ix, raw ? pt->raw ^ RAW_NS : pt->norm);
			if (e && (e->flags & CACHE_ENTRY_WRITTEN))
				return cache_rule_round(rule, tokens_pt(a, pt));
		}
		return 0;
	}
	if (rule->breakpoints != CACHE_BP_ANTHROPIC)
		return cache_rule_round(rule, tokens_pt(a, &p->pt[n - 1]));
	for (size_t i = n; i-- > 0;) {
		const struct cache_point *pt = &p->pt[i];
		struct cache_index_entry *e;
		bool ok = !rq->any_breakpoint;

		if (!pt->block_end)
			continue;
		if (!ok) {
			e = cache_index_find(a->ix, raw ? pt->raw ^ RAW_NS : pt->norm);
			if (!e || !(e->flags & CACHE_ENTRY_WRITTEN))
				continue;
			/* a breakpoint at or after this block, within lookback */
			for (uint32_t sg = pt->seg; sg < rq->n_segs &&
			     sg <= pt->seg + (uint32_t)rule->lookback_blocks; sg++)
				if (rq->segs[sg].breakpoint) {
					ok = true;
					break;
				}
		}
		if (ok)
			return cache_rule_round(rule, tokens_pt(a, pt));
	}
	return 0;
}

/* What the provider could have reused had a reordered run of blocks kept
 * the last request's order: the last block end before segment m, by the
 * rule (Anthropic: one with a breakpoint of this request within lookback;
 * the earlier request wrote at the same positions). */
static int64_t usable_through(struct cache_analyzer *a, const struct cache_rule *rule,
			      uint32_t m, int64_t input)
{
	const struct cache_prefix *p = &a->pre;
	const struct cache_request *rq = &a->req;

	for (size_t i = p->npt; i-- > 0;) {
		const struct cache_point *pt = &p->pt[i];
		bool ok = !at_breakpoints(a, rule) || !rq->any_breakpoint;

		if (!pt->block_end || pt->seg >= m)
			continue;
		for (uint32_t sg = pt->seg; !ok && sg < rq->n_segs &&
		     sg <= pt->seg + (uint32_t)rule->lookback_blocks; sg++)
			ok = rq->segs[sg].breakpoint;
		if (ok)
			return cache_rule_round(rule, tokens_pt(a, pt));
	}
	return 0;
}

static void record_points(struct cache_analyzer *a, const struct cache_rule *rule, int64_t now)
{
	const struct cache_prefix *p = &a->pre;
	const struct cache_request *rq = &a->req;

	for (size_t i = 0; i < p->npt; i++) {
		const struct cache_point *pt = &p->pt[i];
		bool written = !at_breakpoints(a, rule) ||
			       (pt->block_end && pt->seg < rq->n_segs && rq->segs[pt->seg].breakpoint);
		uint32_t wf = !written ? 0 : CACHE_ENTRY_WRITTEN |
			      (rule->breakpoints == CACHE_BP_ANTHROPIC && pt->block_end &&
			       pt->seg < rq->n_segs && rq->segs[pt->seg].ttl_1h ? CACHE_ENTRY_TTL_1H : 0);
		struct cache_index_entry *n = cache_index_put(a->ix, pt->norm, NULL);
		struct cache_index_entry *r = cache_index_put(a->ix, pt->raw ^ RAW_NS, NULL);

		/* put may evict: n can be stale once r is in; find again */
		n = cache_index_find(a->ix, pt->norm);
		if (n) {
			n->last_ns = now;
			n->seen += n->seen < UINT32_MAX;
			n->flags |= wf;
		}
		r->last_ns = now;
		r->seen += r->seen < UINT32_MAX;
		r->flags |= wf;
	}
}

/* ---- breakers ---- */

static int64_t tools_start_cum(const struct cache_analyzer *a, const struct cache_point *pt)
{
	uint64_t c = pt->cum;

	for (size_t t = 0; t < a->pre.ntools; t++)
		c -= a->req.segs[a->pre.tools_first_seg + t].text_len;
	return (int64_t)c;
}

/* Rendered bytes before segment s. */
static uint64_t seg_start(const struct cache_request *rq, uint32_t s)
{
	uint64_t c = 0;

	for (uint32_t i = 0; i < s && i < rq->n_segs; i++)
		c += rq->segs[i].text_len;
	return c;
}

static int add_breaker(struct breaker *b, int n, uint8_t kind, uint8_t shape, uint32_t seg,
		       uint32_t off, int64_t tok)
{
	if (n >= CACHE_MAX_BREAKERS)
		return n;
	b[n] = (struct breaker){ .kind = kind, .shape = shape, .seg = seg,
				 .byte_offset = off, .token_offset = tok };
	return n + 1;
}

/* Compares the request with its template's last one: where their norm
 * prefixes agree and their raw prefixes do not, the spans whose values
 * changed are the breakers (at most CACHE_MAX_BREAKERS, in prompt order). */
static int find_breakers(struct cache_analyzer *a, const struct tmpl *t, int64_t input,
			 const struct cache_reorder *ro, struct breaker *b)
{
	const struct cache_prefix *p = &a->pre;
	const struct cache_request *rq = &a->req;
	size_t k, m = p->npt < t->npt ? p->npt : t->npt, div = SIZE_MAX;
	uint64_t limit = 0;
	int n = 0;

	for (k = 0; k < m && p->pt[k].norm == t->pt[k].norm; k++) {
		limit = p->pt[k].cum;
		if (div == SIZE_MAX && p->pt[k].raw != t->pt[k].raw)
			div = k;
	}
	if (div == SIZE_MAX)	/* nothing changed before the first difference */
		return ro ? add_breaker(b, 0, CB_REORDERED_BLOCKS, CS_NONE, ro->first, 0,
					tokens_at(a, ro->first, 0, seg_start(rq, ro->first))) : 0;
	/* tools: reordered as a set, or the same tools with keys reordered */
	if (rq->segs[p->pt[div].seg].group == CG_TOOLS && p->ntools == t->ntools) {
		uint64_t cum = (uint64_t)tools_start_cum(a, &p->pt[div]);

		for (size_t j = 0; j < p->ntools; j++) {
			uint32_t seg = p->tools_first_seg + (uint32_t)j;

			if (p->tool_canon[j] != t->tool_canon[j]) {
				n = add_breaker(b, n, CB_REORDERED_TOOLS, CS_NONE, seg, 0,
						tokens_at(a, seg, 0, cum));
				break;
			}
			if (p->tool_raw[j] != t->tool_raw[j]) {
				n = add_breaker(b, n, CB_REORDERED_KEYS, CS_NONE, seg, 0,
						tokens_at(a, seg, 0, cum));
				break;
			}
			cum += rq->segs[seg].text_len;
		}
	}
	for (size_t i = 0; i < p->nsp && i < t->nsp && p->sp[i].cum < limit; i++) {
		const struct cache_vspan *c = &p->sp[i], *o = &t->sp[i];
		uint8_t kind = c->kind;

		if (c->vh == o->vh)
			continue;
		if (kind == CB_RANDOM_NUMBER && c->shape == CS_INTEGER && o->shape == CS_INTEGER &&
		    c->ivalue > o->ivalue)
			kind = CB_COUNTER;
		n = add_breaker(b, n, kind, c->shape, c->seg, c->off, tokens_at(a, c->seg, c->off, c->cum));
		if (n == CACHE_MAX_BREAKERS)
			break;
	}
	for (size_t i = 0; i < m && rq->segs[p->pt[div].seg].group == CG_SCHEMA && !n; i++)
		n = add_breaker(b, n, CB_REORDERED_KEYS, CS_NONE, p->pt[div].seg, 0,
				tokens_at(a, p->pt[div].seg, 0,
					  p->pt[div].cum - p->pt[div].seg_off));
	if (ro)
		n = add_breaker(b, n, CB_REORDERED_BLOCKS, CS_NONE, ro->first, 0,
				tokens_at(a, ro->first, 0, seg_start(rq, ro->first)));
	if (!n) {
		const struct cache_point *d = &p->pt[div];
		uint32_t off = div && p->pt[div - 1].seg == d->seg ? p->pt[div - 1].seg_off : 0;

		n = add_breaker(b, n, CB_OTHER, CS_NONE, d->seg, off,
				tokens_at(a, d->seg, off, d->cum - (d->seg_off - off)));
	}
	return n;
}

/* ---- dollars ---- */

/* What missed more cached tokens would have saved, net of writing them. */
static double missed_usd(struct cache_analyzer *a, const struct exchange_record *r,
			 const struct cache_rule *rule, int64_t missed)
{
	const struct price *p;
	struct llm_usage u = r->usage, v = r->usage, w = r->usage;
	int64_t uncached = u.input_tokens - u.cached_input_tokens - u.cache_write_tokens;
	int64_t m1, m2;
	double save;

	if (!a->prices || missed <= 0)
		return 0;
	{
		const char *model = r->model[0] ? r->model : r->request_model;
		const char *vendor = provider_vendor(r->host, strlen(r->host));

		if (strcmp(a->price_model, model) || strcmp(a->price_vendor, vendor ? vendor : "")) {
			snprintf(a->price_model, sizeof(a->price_model), "%s", model);
			snprintf(a->price_vendor, sizeof(a->price_vendor), "%s", vendor ? vendor : "");
			a->price = price_lookup_vendor(a->prices, model, vendor);
		}
		p = a->price;
	}
	if (!p)
		return 0;
	/* the missed prefix is what was written, if anything was, then the
	 * uncached rest */
	m2 = missed < u.cache_write_tokens ? missed : u.cache_write_tokens;
	if (m2 < 0)
		m2 = 0;
	m1 = missed - m2 < uncached ? missed - m2 : (uncached > 0 ? uncached : 0);
	v.cached_input_tokens += m1 + m2;
	v.cache_write_tokens -= m2;
	if (v.cache_write_1h_tokens > v.cache_write_tokens)
		v.cache_write_1h_tokens = v.cache_write_tokens;
	save = cost_usd(p, &u) - cost_usd(p, &v);
	if (rule->write_premium && m1 > 0) {
		double premium;

		w.cache_write_tokens += m1;
		premium = cost_usd(p, &w) - cost_usd(p, &u);
		if (premium > 0)
			save -= premium;
	}
	return save > 0 ? save : 0;
}

/* ---- the record ---- */

static void write_breakers(struct exchange_record *r, const struct cache_request *rq,
			   const struct breaker *b, int n)
{
	size_t len = 0;

	r->breakers[0] = '\0';
	if (!n)
		return;
	len = (size_t)snprintf(r->breakers, sizeof(r->breakers), "[");
	for (int i = 0; i < n; i++) {
		char one[256];
		int w = snprintf(one, sizeof(one),
				 "%s{\"kind\":\"%s\",\"segment\":\"%s\",\"byte_offset\":%u,"
				 "\"token_offset\":%lld,\"missed_tokens\":%lld,\"missed_usd\":%.6f,"
				 "\"shape\":\"%s\"}",
				 len > 1 ? "," : "", cache_breaker_kind_name(b[i].kind),
				 rq->segs[b[i].seg].name, b[i].byte_offset,
				 (long long)b[i].token_offset, (long long)b[i].missed_tokens,
				 b[i].missed_usd, cache_breaker_shape_name(b[i].shape));

		if (w < 0 || len + (size_t)w + 2 > sizeof(r->breakers))
			break;
		memcpy(r->breakers + len, one, (size_t)w);
		len += (size_t)w;
	}
	memcpy(r->breakers + len, "]", 2);
}

/* Splits missed among breakers: each owns the tokens from where it sits
 * to the next one (fixing it alone wins that much), the first also what
 * lies before it; a breaker inside what was cached is no breaker. */
static int attribute(struct breaker *b, int n, int64_t actual, int64_t cacheable,
		     int64_t missed, double usd)
{
	int64_t rest = missed;
	int k = 0;

	for (int i = 0; i < n; i++)
		if (b[i].token_offset >= actual)
			b[k++] = b[i];
	for (int i = k - 1; i > 0; i--) {
		int64_t hi = i + 1 < k ? b[i + 1].token_offset : cacheable;
		int64_t lo = b[i].token_offset > actual ? b[i].token_offset : actual;
		int64_t own = hi > lo ? hi - lo : 0;

		if (own > rest)
			own = rest;
		b[i].missed_tokens = own;
		rest -= own;
	}
	if (k)
		b[0].missed_tokens = rest;
	for (int i = 0; i < k; i++)
		b[i].missed_usd = missed > 0 ? usd * (double)b[i].missed_tokens / (double)missed : 0;
	return k;
}

static uint64_t fnv_str(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 0x100000001b3ULL;
	return h;
}

void cache_account_fingerprint(const struct cache_hash_key *key, struct exchange_record *r)
{
	char buf[36];

	if (r->account_seen && key && !r->account[0]) {
		memcpy(buf, "acct", 4);
		memcpy(buf + 4, r->account_digest, 32);
		hex16(r->account, cache_hash_once(key, buf, sizeof(buf)));
		explicit_bzero(buf, sizeof(buf));
	}
	/* the digest dies here, once used */
	explicit_bzero(r->account_digest, sizeof(r->account_digest));
	r->account_seen = false;
}

/* cache_account_fingerprint, remembering the last account. */
static void account_of(struct cache_analyzer *a, struct exchange_record *r)
{
	uint64_t fp;

	if (!r->account_seen || r->account[0]) {
		cache_account_fingerprint(a->key, r);
		return;
	}
	fp = cache_fp64(0x61636374, r->account_digest, sizeof(r->account_digest));
	if (a->acct_hex[0] && fp == a->acct_fp) {
		memcpy(r->account, a->acct_hex, sizeof(a->acct_hex));
		explicit_bzero(r->account_digest, sizeof(r->account_digest));
		r->account_seen = false;
		return;
	}
	cache_account_fingerprint(a->key, r);
	a->acct_fp = fp;
	memcpy(a->acct_hex, r->account, sizeof(a->acct_hex));
}

/* The template id of buf (len bytes), remembering the last one. */
static uint64_t template_id(struct cache_analyzer *a, const char *buf, size_t len)
{
	if (len != a->tmpl_len || memcmp(buf, a->tmpl_buf, len)) {
		a->tmpl_tid = cache_hash_once(a->key, buf, len);
		memcpy(a->tmpl_buf, buf, len < sizeof(a->tmpl_buf) ? len : 0);
		a->tmpl_len = len < sizeof(a->tmpl_buf) ? len : 0;
	}
	return a->tmpl_tid;
}

int cache_analyze_record(struct cache_analyzer *a, struct exchange_record *r)
{
	const struct cache_rule *rule;
	const char *vendor = provider_vendor(r->host, strlen(r->host));
	struct cache_prefix *p = &a->pre;
	char family[128], scope[320], buf[600];
	uint64_t params, tid;
	struct breaker br[CACHE_MAX_BREAKERS];
	struct cache_resume from;
	struct cache_reorder ro;
	bool reordered = false;
	uint64_t rkey, site;
	bool resumed;
	struct tmpl *t;
	int64_t now = r->ts_start_ns, input = r->usage.input_tokens;
	int64_t actual = r->usage.cached_input_tokens, ttl_ns;
	int64_t pred, raw_pred, any_pred, cacheable, missed;
	size_t n_any, n_live, r_any, r_live;
	const char *cause = "";
	int nb = 0, err, len;

	r->cache_analyzed = false;
	a->last_pred = 0;
	/* before any return: budgets and reports split spend by account even
	 * for calls the analysis cannot use */
	account_of(a, r);
	if (!r->request_body) {
		a->st.no_body++;
		return -ENODATA;
	}
	if (r->status < 200 || r->status > 299 || r->usage_source == USAGE_NONE) {
		a->st.unsupported++;
		return -EOPNOTSUPP;
	}
	cache_model_family(r->model[0] ? r->model : r->request_model, family, sizeof(family));
	rule = cache_rules_lookup(a->rules, r->provider, vendor, family);
	err = cache_segment_request(&a->req, r->api, r->request_body, r->request_body_len, rule);
	if (err == -EOPNOTSUPP) {
		a->st.unsupported++;
		return err;
	}
	if (err == -EINVAL) {
		a->st.bad_json++;
		return err;
	}
	if (err)
		return err;
	if (a->req.truncated)
		a->st.truncated++;
	len = snprintf(scope, sizeof(scope), "%s%c%s%c%s", r->provider, 0, family, 0, r->account);
	err = cache_prefix_fingerprints(p, &a->req, scope, (size_t)len);
	if (err)
		return err;
	{
		int l = snprintf(buf, sizeof(buf), "%s%c%s%c%s%c%s", r->exe, 0, r->provider, 0,
				 r->api, 0, family);

		site = fnv_str(buf, (size_t)l);
		rkey = site ^ (a->req.n_segs ? p->seg_fp[0] * 0x9e3779b97f4a7c15ULL : 0);
	}
	resumed = !a->no_resume && resume_from(a, a->rmap, rkey, &from) &&
		  cache_prefix_resumes(p, &a->req, &from);
	if (!resumed && !a->no_resume) {
		/* maybe only breakers changed: lexed first, to know; segments
		 * the call site sent last time as they are take its spans */
		struct cache_resume known;

		err = cache_prefix_lex(p, &a->req,
				       resume_from(a, a->smap, site, &known) ? &known : NULL);
		if (err)
			return err;
		if (a->req.n_segs && p->lx.upto)
			resumed = resume_from(a, a->nmap, site ^ p->lx.nfp[0] * 0xc2b2ae3d27d4eb4fULL,
					      &from);
		from.norm_only = true;
	}
	err = cache_prefix_build(p, &a->req, a->key, scope, (size_t)len, resumed ? &from : NULL);
	if (err)
		return err;
	if (p->resumed_segs)
		a->st.resumed++;
	if (p->norm_resumed_segs)
		a->st.norm_resumed++;
	/* -ENOMEM leaves positions apportioned: still an answer */
	(void)cache_tokens_begin(&a->tok, &a->req, p->seg_cfp, p->total_bytes, input,
				 r->provider, r->model[0] ? r->model : r->request_model);
	params = fnv_str(a->req.params, a->req.params_len);
	len = snprintf(buf, sizeof(buf), "tmpl%c%s%c%s%c%s%c%s%c%016llx", 0, r->exe, 0,
		       r->provider, 0, r->api, 0, family, 0, (unsigned long long)p->sys_hash);
	tid = template_id(a, buf, (size_t)len);
	hex16(r->cache_template, tid);
	t = tmpl_get(a, tid);

	if (!rule) {
		/* provider unknown to the rules: no prediction, never a guess */
		cacheable = actual;
		missed = 0;
		cause = "rule_unknown";
	} else {
		/* prompt_cache_options.ttl (OpenAI 5.6+) when the request sets one */
		ttl_ns = (a->req.ttl_s > 0 ? a->req.ttl_s : rule->ttl_s) * 1000000000LL;
		lookup(a, false, now, ttl_ns, &n_any, &n_live);
		lookup(a, true, now, ttl_ns, &r_any, &r_live);
		pred = usable(a, rule, false, n_live, input);
		raw_pred = usable(a, rule, true, r_live, input);
		any_pred = usable(a, rule, false, n_any, input);
		/* blocks in another order than last time: what one order
		 * would have let the provider reuse */
		if (t && t->scope == p->scope_fp && now - t->last_ns <= ttl_ns &&
		    cache_reorder_find(&a->req, p->seg_cfp, t->cfp, t->ncfp, &ro)) {
			int64_t through = usable_through(a, rule, ro.matched, input);

			reordered = through > pred;
			if (reordered)
				pred = through;
		}
		if (!rule->implicit && !a->req.any_breakpoint)
			pred = raw_pred = any_pred = 0;
		a->last_pred = pred;
		/* Token offsets are apportioned from the reported input, which
		 * also counts the chat format's own tokens: a prediction a
		 * little above what was cached is our rounding, not a miss. */
		if (actual > 0 && pred > actual && pred - actual <= input / 50 + 8)
			pred = actual;
		cacheable = pred > actual ? pred : actual;
		missed = cacheable - actual;
		if (actual > 0 && missed == 0)
			cause = "";
		else if (input < rule->min_tokens ||
			 (!pred && n_live && tokens_pt(a, &p->pt[n_live - 1]) < rule->min_tokens))
			cause = "below_minimum";
		else if (at_breakpoints(a, rule) && !a->req.any_breakpoint)
			cause = "no_breakpoint";
		else if (pred > 0)
			cause = raw_pred >= pred ? "provider_side" : "prefix_changed";
		else if (any_pred > 0)
			cause = "ttl_expired";
		else if (t && t->params != params)
			cause = "params_changed";
		else
			cause = "cold";
		if (t && (!strcmp(cause, "prefix_changed") || (missed > 0 && strcmp(cause, "provider_side"))))
			nb = find_breakers(a, t, input, reordered ? &ro : NULL, br);
		r->missed_cache_usd = missed_usd(a, r, rule, missed);
		nb = attribute(br, nb, actual, cacheable, missed, r->missed_cache_usd);
		if (!nb && !strcmp(cause, "prefix_changed"))
			cause = "provider_side";	/* nothing changed that we can see */
		record_points(a, rule, now);
	}
	r->cacheable_tokens = cacheable;
	r->missed_cache_tokens = missed;
	if (!rule)
		r->missed_cache_usd = 0;
	snprintf(r->cache_miss_cause, sizeof(r->cache_miss_cause), "%s", cause);
	write_breakers(r, &a->req, br, nb);
	/* stored prefix hashes: raw, at the first segment ends */
	r->prefix_hashes_len = 0;
	for (size_t i = 0; i < p->npt && (size_t)r->prefix_hashes_len + 8 <= sizeof(r->prefix_hashes); i++) {
		if (!p->pt[i].block_end)
			continue;
		for (int j = 0; j < 8; j++)
			r->prefix_hashes[r->prefix_hashes_len++] = (uint8_t)(p->pt[i].raw >> (56 - 8 * j));
	}
	/* a deterministic call seen within the window: a response cache's win */
	r->cache_duplicate = false;
	if (a->req.deterministic && p->npt) {
		uint64_t key = p->pt[p->npt - 1].raw ^ params ^ DUP_NS;
		struct cache_index_entry *e = cache_index_find(a->ix, key);

		r->cache_duplicate = e && now - e->last_ns <= DUP_WINDOW_NS;
		e = cache_index_put(a->ix, key, NULL);
		e->last_ns = now;
	}
	tmpl_save(a, t, tid, now, params);
	a->rmap[rkey % RESUME_SLOTS].key = rkey;
	a->rmap[rkey % RESUME_SLOTS].tid = tid;
	a->smap[site % RESUME_SLOTS].key = site;
	a->smap[site % RESUME_SLOTS].tid = tid;
	if (p->nfp_ok && a->req.n_segs) {
		uint64_t nkey = site ^ p->lx.nfp[0] * 0xc2b2ae3d27d4eb4fULL;

		a->nmap[nkey % RESUME_SLOTS].key = nkey;
		a->nmap[nkey % RESUME_SLOTS].tid = tid;
	}
	r->cache_analyzed = true;
	a->st.analysed++;
	return 0;
}
