/* Request JSON -> prompt segments with offsets and rendered text. A small
 * zero-copy scanner walks the body (no tree is built: the daemon already
 * parsed it once and a second cJSON tree would cost more than the hashing);
 * every step is bounded by the body's end and by CACHE_SEG_MAX_DEPTH. The
 * order of segments is the provider's prefix order, not the body's: a cache
 * sees tools before the system prompt whatever order the client wrote. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cache_segment.h"

struct scan {
	const char *body, *end;
	struct cache_request *req;
	const struct cache_rule *rule;
	bool bp;		/* a breakpoint key was seen in this segment */
	bool image;		/* an image block was seen in this segment */
	bool ttl_1h;		/* a cache_control with "ttl": "1h" was */
	uint64_t images;	/* sum of the image segments' hashes */
	bool err;
	bool oom;
};

static uint64_t fnv(const char *d, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)d[i]) * 0x100000001b3ULL;
	return h;
}

static const char *ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* p at '"': returns the position after the closing quote, NULL if none.
 * memchr finds the quotes (most of a prompt is long strings); a quote
 * after an odd run of backslashes is escaped. */
static const char *str_end(const char *p, const char *end)
{
	const char *start = ++p, *q;

	while (p < end && (q = memchr(p, '"', (size_t)(end - p)))) {
		size_t bs = 0;

		while (q - bs > start && q[-1 - (ptrdiff_t)bs] == '\\')
			bs++;
		if (!(bs & 1))
			return q + 1;
		p = q + 1;
	}
	return NULL;
}

static const char *skip_value(const char *p, const char *end, int depth)
{
	p = ws(p, end);
	if (p >= end || depth > CACHE_SEG_MAX_DEPTH)
		return NULL;
	if (*p == '"')
		return str_end(p, end);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';

		p = ws(p + 1, end);
		if (p < end && *p == close)
			return p + 1;
		for (;;) {
			if (close == '}') {
				if (p >= end || *p != '"' || !(p = str_end(p, end)))
					return NULL;
				p = ws(p, end);
				if (p >= end || *p != ':')
					return NULL;
				p++;
			}
			if (!(p = skip_value(p, end, depth + 1)))
				return NULL;
			p = ws(p, end);
			if (p < end && *p == ',') {
				p = ws(p + 1, end);
				continue;
			}
			return p < end && *p == close ? p + 1 : NULL;
		}
	}
	while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' &&
	       *p != '\n' && *p != '\r' && *p != '\t')
		p++;
	return p;
}

/* ---- the text buffer ---- */

static void put(struct scan *s, const char *d, size_t n)
{
	struct cache_request *r = s->req;

	if (s->err)
		return;
	if (r->text_len + n > CACHE_SEG_MAX_TEXT) {
		r->truncated = true;
		s->err = true;
		return;
	}
	if (r->text_len + n > r->text_cap) {
		size_t cap = r->text_cap ? r->text_cap : 4096;
		char *t;

		while (cap < r->text_len + n)
			cap *= 2;
		t = realloc(r->text, cap);
		if (!t) {
			s->err = s->oom = true;
			return;
		}
		r->text = t;
		r->text_cap = cap;
	}
	memcpy(r->text + r->text_len, d, n);
	r->text_len += n;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int u4(const char *p, const char *end)
{
	int v = 0;

	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int h = hexval(p[i]);

		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

/* The unescaped content of the string at p ('"' .. q). */
static void put_unescaped(struct scan *s, const char *p, const char *q)
{
	const char *a = p + 1, *e = q - 1;

	while (a < e) {
		const char *b = memchr(a, '\\', (size_t)(e - a));
		char c, u[4];
		int cp, n;

		if (!b) {
			put(s, a, (size_t)(e - a));
			return;
		}
		put(s, a, (size_t)(b - a));
		if (b + 1 >= e)
			return;
		c = b[1];
		a = b + 2;
		switch (c) {
		case 'n': put(s, "\n", 1); continue;
		case 't': put(s, "\t", 1); continue;
		case 'r': put(s, "\r", 1); continue;
		case 'b': put(s, "\b", 1); continue;
		case 'f': put(s, "\f", 1); continue;
		case 'u': break;
		default: put(s, &c, 1); continue;
		}
		cp = u4(a, e);
		if (cp < 0)
			continue;
		a += 4;
		if (cp >= 0xd800 && cp < 0xdc00 && e - a >= 6 && a[0] == '\\' && a[1] == 'u') {
			int lo = u4(a + 2, e);

			if (lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				a += 6;
			}
		}
		if (cp < 0x80) {
			u[0] = (char)cp;
			n = 1;
		} else if (cp < 0x800) {
			u[0] = (char)(0xc0 | cp >> 6);
			u[1] = (char)(0x80 | (cp & 0x3f));
			n = 2;
		} else if (cp < 0x10000) {
			u[0] = (char)(0xe0 | cp >> 12);
			u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
			u[2] = (char)(0x80 | (cp & 0x3f));
			n = 3;
		} else {
			u[0] = (char)(0xf0 | cp >> 18);
			u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
			u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
			u[3] = (char)(0x80 | (cp & 0x3f));
			n = 4;
		}
		put(s, u, (size_t)n);
	}
}

/* ---- objects ---- */

struct member {
	const char *k, *ke;	/* the key string, quotes included */
	const char *v, *ve;	/* the value */
};

#define MAX_MEMBERS 256

/* The members of the object at p (at most max). Returns the count, -1 on
 * malformed JSON, -2 when there are more than max. */
static int members(const char *p, const char *end, struct member *m, int max, int depth)
{
	int n = 0;

	p = ws(p, end);
	if (p >= end || *p != '{')
		return -1;
	p = ws(p + 1, end);
	if (p < end && *p == '}')
		return 0;
	for (;;) {
		const char *k = p, *ke, *v, *ve;

		if (p >= end || *p != '"' || !(ke = str_end(p, end)))
			return -1;
		p = ws(ke, end);
		if (p >= end || *p != ':')
			return -1;
		v = ws(p + 1, end);
		if (!(ve = skip_value(v, end, depth + 1)))
			return -1;
		if (n >= max)
			return -2;
		m[n++] = (struct member){ k, ke, v, ve };
		p = ws(ve, end);
		if (p < end && *p == ',') {
			p = ws(p + 1, end);
			continue;
		}
		return p < end && *p == '}' ? n : -1;
	}
}

static bool key_is(const struct member *m, const char *name)
{
	size_t l = strlen(name);

	return (size_t)(m->ke - m->k) == l + 2 && !memcmp(m->k + 1, name, l);
}

static const struct member *find(const struct member *m, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (key_is(&m[i], name))
			return &m[i];
	return NULL;
}

/* Anthropic's cache_control {"type": "ephemeral", "ttl": "1h"}. */
static bool cache_control_1h(const char *v, const char *ve)
{
	struct member m[8];
	int n = members(v, ve, m, 8, 1);
	const struct member *ttl = n > 0 ? find(m, n, "ttl") : NULL;

	return ttl && (size_t)(ttl->ve - ttl->v) == 4 && !memcmp(ttl->v, "\"1h\"", 4);
}

static bool non_prompt_at(struct scan *s, const struct member *m, bool item)
{
	if (key_is(m, "cache_control") || key_is(m, "prompt_cache_breakpoint")) {
		s->bp = true;
		s->ttl_1h |= key_is(m, "cache_control") && cache_control_1h(m->v, m->ve);
		return true;
	}
	return cache_rule_non_prompt(s->rule, m->k + 1, (size_t)(m->ke - m->k) - 2, item);
}

static bool non_prompt(struct scan *s, const struct member *m)
{
	return non_prompt_at(s, m, false);
}

static int cmp_member(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	size_t lx = (size_t)(x->ke - x->k), ly = (size_t)(y->ke - y->k);
	int c = memcmp(x->k, y->k, lx < ly ? lx : ly);

	return c ? c : (lx > ly) - (lx < ly);
}

/* Compact JSON of the value at v..ve, strings unescaped, non-prompt keys
 * left out; sorted: object keys in byte order. */
static void render_json(struct scan *s, const char *v, const char *ve, bool sorted, int depth)
{
	v = ws(v, ve);
	if (v >= ve || s->err)
		return;
	if (depth > CACHE_SEG_MAX_DEPTH) {
		s->err = true;
		return;
	}
	if (*v == '"') {
		put(s, "\"", 1);
		put_unescaped(s, v, ve);
		put(s, "\"", 1);
	} else if (*v == '{') {
		/* most objects are small: the stack, else the heap */
		struct member small[16], *m = small;
		int n = members(v, ve, m, 16, depth);
		bool first = true;

		if (n == -2) {
			m = malloc(MAX_MEMBERS * sizeof(*m));
			n = m ? members(v, ve, m, MAX_MEMBERS, depth) : -1;
		}
		if (n < 0) {
			s->err = true;
			if (m != small)
				free(m);
			return;
		}
		if (sorted)
			qsort(m, (size_t)n, sizeof(*m), cmp_member);
		put(s, "{", 1);
		for (int i = 0; i < n; i++) {
			if (non_prompt(s, &m[i])) {
				s->req->non_prompt_skipped++;
				continue;
			}
			if (!first)
				put(s, ",", 1);
			first = false;
			put_unescaped(s, m[i].k, m[i].ke);
			put(s, ":", 1);
			render_json(s, m[i].v, m[i].ve, sorted, depth + 1);
		}
		put(s, "}", 1);
		if (m != small)
			free(m);
	} else if (*v == '[') {
		const char *p = ws(v + 1, ve), *q;
		bool first = true;

		put(s, "[", 1);
		while (p < ve && *p != ']') {
			if (!(q = skip_value(p, ve, depth + 1))) {
				s->err = true;
				return;
			}
			if (!first)
				put(s, ",", 1);
			first = false;
			render_json(s, p, q, sorted, depth + 1);
			p = ws(q, ve);
			if (p < ve && *p == ',')
				p = ws(p + 1, ve);
		}
		put(s, "]", 1);
	} else {
		put(s, v, (size_t)(ve - v));
	}
}

/* A content block or part: a text block renders as its text alone. */
static void render_block(struct scan *s, const char *v, const char *ve)
{
	struct member m[16];
	int n;
	const struct member *text, *type;

	v = ws(v, ve);
	if (v < ve && *v == '"') {
		put_unescaped(s, v, ve);
		return;
	}
	n = v < ve && *v == '{' ? members(v, ve, m, 16, 0) : -1;
	text = n > 0 ? find(m, n, "text") : NULL;
	type = n > 0 ? find(m, n, "type") : NULL;
	if (type && (((size_t)(type->ve - type->v) >= 6 && !memcmp(type->v, "\"image", 6)) ||
		     ((size_t)(type->ve - type->v) >= 13 &&
		      !memcmp(type->v, "\"input_image\"", 13))))
		s->image = true;	/* counted as an image, not as its URL's text */
	if (text && *text->v == '"') {
		bool only = true;

		for (int i = 0; i < n; i++)
			if (&m[i] != text && &m[i] != type && !non_prompt(s, &m[i]))
				only = false;
		if (only) {
			put_unescaped(s, text->v, text->ve);
			return;
		}
	}
	render_json(s, v, ve, false, 1);
}

/* ---- segments ---- */

static struct cache_segment *seg_begin(struct scan *s, enum cache_group g, uint32_t msg,
				       const char *v, const char *ve, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static struct cache_segment *seg_begin(struct scan *s, enum cache_group g, uint32_t msg,
				       const char *v, const char *ve, const char *fmt, ...)
{
	struct cache_request *r = s->req;
	struct cache_segment *sg;
	va_list ap;

	if (s->err)
		return NULL;
	if (r->n_segs >= CACHE_SEG_MAX) {
		r->truncated = true;
		s->err = true;
		return NULL;
	}
	if (r->n_segs == r->cap_segs) {
		size_t cap = r->cap_segs ? r->cap_segs * 2 : 64;
		struct cache_segment *p = realloc(r->segs, cap * sizeof(*p));

		if (!p) {
			s->err = s->oom = true;
			return NULL;
		}
		r->segs = p;
		r->cap_segs = cap;
	}
	sg = &r->segs[r->n_segs];
	memset(sg, 0, sizeof(*sg));
	va_start(ap, fmt);
	vsnprintf(sg->name, sizeof(sg->name), fmt, ap);
	va_end(ap);
	sg->group = (uint8_t)g;
	sg->msg = msg;
	sg->body_off = (uint32_t)(v - s->body);
	sg->body_len = (uint32_t)(ve - v);
	sg->text_off = (uint32_t)r->text_len;
	s->bp = false;
	s->image = false;
	s->ttl_1h = false;
	return sg;
}

static void seg_end(struct scan *s, struct cache_segment *sg)
{
	if (!sg || s->err)
		return;
	sg->text_len = (uint32_t)(s->req->text_len - sg->text_off);
	sg->breakpoint = s->bp;
	sg->image = s->image;
	sg->ttl_1h = s->ttl_1h;
	if (s->image)		/* a set: adding or removing one changes it */
		s->images += fnv(s->req->text + sg->text_off, sg->text_len) | 1;
	s->req->any_breakpoint |= s->bp;
	s->req->n_segs++;
}

static bool starts_non_prompt_text(struct scan *s, const char *v, const char *ve)
{
	size_t mark = s->req->text_len;
	bool hit = false;

	if (!s->rule || !s->rule->n_non_prompt_text)
		return false;
	render_block(s, v, ve);
	for (int i = 0; i < s->rule->n_non_prompt_text && !s->err; i++) {
		size_t l = strlen(s->rule->non_prompt_text[i]);

		hit |= s->req->text_len - mark >= l &&
		       !memcmp(s->req->text + mark, s->rule->non_prompt_text[i], l);
	}
	s->req->text_len = mark;
	return hit;
}

/* One item of tools / system / a message's content. */
static void block_segment(struct scan *s, enum cache_group g, uint32_t msg, const char *v,
			  const char *ve, const char *name)
{
	struct cache_segment *sg;

	if (g == CG_SYSTEM && starts_non_prompt_text(s, v, ve)) {
		s->req->non_prompt_skipped++;
		return;
	}
	sg = seg_begin(s, g, msg, v, ve, "%s", name);
	if (!sg)
		return;
	if (g == CG_TOOLS || g == CG_SCHEMA) {
		render_json(s, v, ve, false, 0);
		seg_end(s, sg);
		if (s->err)
			return;
		sg->canon_off = (uint32_t)s->req->text_len;
		render_json(s, v, ve, true, 0);
		sg->canon_len = (uint32_t)(s->req->text_len - sg->canon_off);
		return;
	}
	render_block(s, v, ve);
	seg_end(s, sg);
}

/* A message / input item / Gemini content: its content blocks are
 * segments of their own; a plain string or a parts list is one. */
static void message_segment(struct scan *s, const char *field, enum cache_group g,
			    bool indexed, uint32_t i, const char *v, const char *ve)
{
	char base[40];
	struct member m[32];
	int n = members(v, ve, m, 32, 1);
	const struct member *content = n > 0 ? find(m, n, "content") : NULL;
	const struct member *parts = n > 0 ? find(m, n, "parts") : NULL;
	struct cache_segment *sg;
	bool others = false;

	if (indexed)
		snprintf(base, sizeof(base), "%s[%u]", field, i);
	else
		snprintf(base, sizeof(base), "%s", field);
	if (n < 0) {	/* a bare string in input[] or a malformed item */
		block_segment(s, g, i, v, ve, base);
		return;
	}
	if (content && *content->v == '[') {
		const char *p = ws(content->v + 1, content->ve), *q;
		uint32_t j = 0;

		while (p < content->ve && *p != ']' && !s->err) {
			char name[64];

			if (!(q = skip_value(p, content->ve, 2))) {
				s->err = true;
				return;
			}
			snprintf(name, sizeof(name), "%s.content[%u]", base, j++);
			block_segment(s, g, i, p, q, name);
			p = ws(q, content->ve);
			if (p < content->ve && *p == ',')
				p = ws(p + 1, content->ve);
		}
		content = NULL;	/* done */
		for (int k = 0; k < n; k++)
			others |= !key_is(&m[k], "content") && !key_is(&m[k], "role") &&
				  !key_is(&m[k], "type") && !cache_rule_non_prompt(s->rule, m[k].k + 1,
							 (size_t)(m[k].ke - m[k].k) - 2, true);
		if (!others)
			return;
	}
	sg = seg_begin(s, g, i, v, ve, "%s", base);
	if (!sg)
		return;
	if (content && *content->v == '"')
		put_unescaped(s, content->v, content->ve);
	if (parts && *parts->v == '[') {
		const char *p = ws(parts->v + 1, parts->ve), *q;

		while (p < parts->ve && *p != ']' && !s->err) {
			if (!(q = skip_value(p, parts->ve, 2))) {
				s->err = true;
				return;
			}
			render_block(s, p, q);
			p = ws(q, parts->ve);
			if (p < parts->ve && *p == ',')
				p = ws(p + 1, parts->ve);
		}
	}
	/* Whatever else is prompt (tool calls, a tool result's id, a
	 * function_call item): compact JSON after the text. */
	for (int k = 0; k < n; k++) {
		if (&m[k] == content || &m[k] == parts || key_is(&m[k], "content") ||
		    key_is(&m[k], "role") || non_prompt_at(s, &m[k], true))
			continue;
		if (key_is(&m[k], "type") && (parts || content))
			continue;
		put(s, "\n", 1);
		put_unescaped(s, m[k].k, m[k].ke);
		put(s, ":", 1);
		render_json(s, m[k].v, m[k].ve, false, 2);
	}
	seg_end(s, sg);
}

/* A top-level field, by its shape: a string or object is one segment, an
 * array one per item. */
static void field_segments(struct scan *s, const char *field, enum cache_group g,
			   const char *v, const char *ve)
{
	char name[64];
	uint32_t i = 0;
	const char *p, *q;

	v = ws(v, ve);
	if (v >= ve)
		return;
	if (*v != '[') {
		if ((g == CG_MESSAGES || g == CG_SYSTEM) && *v == '{') {
			message_segment(s, field, g, false, 0, v, ve);
			return;
		}
		block_segment(s, g, 0, v, ve, field);
		return;
	}
	p = ws(v + 1, ve);
	while (p < ve && *p != ']' && !s->err) {
		if (!(q = skip_value(p, ve, 1))) {
			s->err = true;
			return;
		}
		if (g == CG_MESSAGES) {
			message_segment(s, field, g, true, i, p, q);
		} else {
			snprintf(name, sizeof(name), "%s[%u]", field, i);
			block_segment(s, g, i, p, q, name);
		}
		i++;
		p = ws(q, ve);
		if (p < ve && *p == ',')
			p = ws(p + 1, ve);
	}
}

struct field_order {
	const char *field;	/* top-level key, or "a.b" one level down */
	enum cache_group group;
};

static const struct field_order order_messages[] = {
	{ "tools", CG_TOOLS }, { "system", CG_SYSTEM }, { "messages", CG_MESSAGES }, { 0 } };
static const struct field_order order_chat[] = {
	{ "tools", CG_TOOLS }, { "functions", CG_TOOLS }, { "response_format", CG_SCHEMA },
	{ "messages", CG_MESSAGES }, { 0 } };
static const struct field_order order_responses[] = {
	{ "tools", CG_TOOLS }, { "text.format", CG_SCHEMA }, { "instructions", CG_SYSTEM },
	{ "input", CG_MESSAGES }, { 0 } };
static const struct field_order order_gemini[] = {
	{ "systemInstruction", CG_SYSTEM }, { "system_instruction", CG_SYSTEM },
	{ "tools", CG_TOOLS }, { "contents", CG_MESSAGES }, { 0 } };

static const char *const param_keys[] = {
	"model", "tool_choice", "thinking", "reasoning", "reasoning_effort",
	"output_config", "toolConfig", "generationConfig.thinkingConfig",
};

static const struct member *lookup(const struct member *top, int n, const char *path,
				   struct member *sub, int nsub)
{
	const char *dot = strchr(path, '.');
	const struct member *m;
	char first[32];
	int k;

	if (!dot)
		return find(top, n, path);
	snprintf(first, sizeof(first), "%.*s", (int)(dot - path), path);
	m = find(top, n, first);
	if (!m || (k = members(m->v, m->ve, sub, nsub, 1)) < 0)
		return NULL;
	return find(sub, k, dot + 1);
}

/* "30m", "1h", "24h", "300s" -> seconds; 0 if none of those. */
static int64_t ttl_seconds(const char *v, const char *ve)
{
	int64_t n = 0;

	if (v >= ve || *v != '"')
		return 0;
	for (v++; v < ve && *v >= '0' && *v <= '9' && n < 1000000; v++)
		n = n * 10 + (*v - '0');
	if (v + 1 >= ve || v[1] != '"')
		return 0;
	return *v == 's' ? n : *v == 'm' ? n * 60 : *v == 'h' ? n * 3600 : *v == 'd' ? n * 86400 : 0;
}

static void add_params(struct scan *s, const struct member *top, int n)
{
	struct cache_request *r = s->req;
	struct member sub[32];
	uint64_t salt = 0;

	for (size_t i = 0; i < sizeof(param_keys) / sizeof(param_keys[0]); i++) {
		const struct member *m = lookup(top, n, param_keys[i], sub, 32);
		int w;

		if (!m)
			continue;
		if (i)	/* all but the model: the model is the cache's scope */
			salt = (salt ^ fnv(param_keys[i], strlen(param_keys[i]))) * 31 ^
			       fnv(m->v, (size_t)(m->ve - m->v));
		w = snprintf(r->params + r->params_len, sizeof(r->params) - r->params_len,
			     "%s=%.*s;", param_keys[i], (int)(m->ve - m->v), m->v);
		if (w > 0)
			r->params_len += (size_t)w;
		if (r->params_len >= sizeof(r->params))
			r->params_len = sizeof(r->params) - 1;
	}
	{
		const struct member *t = lookup(top, n, "temperature", sub, 32);

		if (!t)
			t = lookup(top, n, "generationConfig.temperature", sub, 32);
		r->deterministic = (t && strtod(t->v, NULL) == 0 && *t->v == '0') ||
				   lookup(top, n, "seed", sub, 32) ||
				   lookup(top, n, "generationConfig.seed", sub, 32);
	}
	{
		const struct member *mode = lookup(top, n, "prompt_cache_options.mode", sub, 32);

		r->explicit_mode = mode && (size_t)(mode->ve - mode->v) == 10 &&
				   !memcmp(mode->v, "\"explicit\"", 10);
		mode = lookup(top, n, "prompt_cache_options.ttl", sub, 32);
		r->ttl_s = mode ? ttl_seconds(mode->v, mode->ve) : 0;
	}
	if (s->rule && s->rule->breakpoints == CACHE_BP_ANTHROPIC && (salt || s->images))
		r->msg_salt = (salt ^ s->images) | 1;
}

int cache_segment_request(struct cache_request *req, const char *api,
			  const char *body, size_t len, const struct cache_rule *rule)
{
	const struct field_order *order;
	struct scan s = { body, body + len, req, rule, false, false, false, 0, false, false };
	/* on the stack (8 KiB): a malloc and free of it per request made
	 * glibc consolidate its free lists, 3% of the analysis */
	struct member top[MAX_MEMBERS], sub[32];
	int n;

	req->n_segs = 0;
	req->text_len = 0;
	req->params_len = 0;
	req->params[0] = '\0';
	req->auto_breakpoint = req->any_breakpoint = req->deterministic = false;
	req->truncated = false;
	req->non_prompt_skipped = 0;
	req->explicit_mode = false;
	req->ttl_s = 0;
	req->msg_salt = 0;
	if (!api)
		return -EOPNOTSUPP;
	/* text is never NULL after a call, even when every segment is empty,
	 * so that text + offset is always defined */
	if (!req->text) {
		req->text = malloc(4096);
		if (!req->text)
			return -ENOMEM;
		req->text_cap = 4096;
	}
	if (!strcmp(api, "messages"))
		order = order_messages;
	else if (!strcmp(api, "chat.completions"))
		order = order_chat;
	else if (!strcmp(api, "responses"))
		order = order_responses;
	else if (!strcmp(api, "generate_content") || !strcmp(api, "stream_generate_content"))
		order = order_gemini;
	else
		return -EOPNOTSUPP;
	n = members(body, body + len, top, MAX_MEMBERS, 0);
	if (n < 0)
		return -EINVAL;
	for (const struct field_order *f = order; f->field && !s.err; f++) {
		const struct member *m = lookup(top, n, f->field, sub, 32);

		if (m)
			field_segments(&s, f->field, f->group, m->v, m->ve);
	}
	{
		const struct member *cc = find(top, n, "cache_control");

		if (cc) {
			req->auto_breakpoint = req->any_breakpoint = true;
			if (req->n_segs) {
				req->segs[req->n_segs - 1].breakpoint = true;
				req->segs[req->n_segs - 1].ttl_1h |= cache_control_1h(cc->v, cc->ve);
			}
		}
	}
	add_params(&s, top, n);
	if (s.oom)
		return -ENOMEM;
	/* Cut at a cap: the segments so far stand (truncated says so). */
	if (s.err && !req->truncated)
		return -EINVAL;
	return 0;
}

void cache_request_free(struct cache_request *req)
{
	free(req->segs);
	free(req->text);
	memset(req, 0, sizeof(*req));
}
