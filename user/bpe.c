/* Byte-level BPE (tiktoken's algorithm) for o200k_base and cl100k_base.
 *
 * Pre-tokenization is the encodings' regular expressions, matched by hand:
 * each alternative is a small function, tried in the pattern's order, with
 * the backtracking the pattern implies worked out once (comments give the
 * alternative). Unicode classes come from the generated range table
 * bpe_unicode.h. Then each piece is looked up whole, else merged pair by
 * pair, lowest rank first, as tiktoken's byte_pair_merge does. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "bpe.h"
#include "log.h"

/* The rank files, embedded by bpe_ranks.S; empty when not fetched. */
extern const unsigned char llmobs_bpe_o200k[], llmobs_bpe_o200k_end[];
extern const unsigned char llmobs_bpe_cl100k[], llmobs_bpe_cl100k_end[];

#define BPE_MAGIC	"LLMOBPE1"
#define NO_RANK		UINT32_MAX

struct bpe_table {
	bool tried, ok;
	const unsigned char *blob;
	uint32_t n;		/* ranks 0..n-1 */
	uint32_t *off;		/* token bytes of rank r at blob + off[r] */
	uint32_t *slots;	/* open addressing: rank + 1, 0 empty */
	uint32_t mask;
};

static struct bpe_table tables[BPE__MAX];

const char *bpe_encoding_name(enum bpe_encoding enc)
{
	return enc == BPE_CL100K_BASE ? "cl100k_base" : "o200k_base";
}

static uint32_t hash_bytes(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

static uint32_t rank_of(const struct bpe_table *t, const unsigned char *p, size_t n)
{
	uint32_t i = hash_bytes(p, n) & t->mask, r;

	while ((r = t->slots[i]) != 0) {
		const unsigned char *tok = t->blob + t->off[r - 1];

		if (tok[-1] == n && memcmp(tok, p, n) == 0)
			return r - 1;
		i = (i + 1) & t->mask;
	}
	return NO_RANK;
}

/* Validates the embedded file and indexes it. Every single byte must be a
 * token: merging falls back to bytes. */
static int table_load(struct bpe_table *t, const unsigned char *blob, size_t size,
		      enum bpe_encoding enc)
{
	size_t pos = 12, cap;
	uint32_t r, n;

	if (size == 0)
		return -ENOENT;
	if (size < 12 || memcmp(blob, BPE_MAGIC, 8) != 0)
		goto bad;
	memcpy(&n, blob + 8, 4);	/* little-endian, as written */
	if (n < 256 || n > (1u << 24))
		goto bad;
	for (cap = 1; cap < (size_t)n * 2; cap <<= 1)
		;
	t->off = malloc(n * sizeof(*t->off));
	t->slots = calloc(cap, sizeof(*t->slots));
	if (!t->off || !t->slots) {
		free(t->off);
		free(t->slots);
		t->off = t->slots = NULL;
		return -ENOMEM;
	}
	t->blob = blob;
	t->n = n;
	t->mask = (uint32_t)cap - 1;
	for (r = 0; r < n; r++) {
		size_t len;
		uint32_t i;

		if (pos >= size || (len = blob[pos]) == 0 || pos + 1 + len > size)
			goto bad;
		t->off[r] = (uint32_t)(pos + 1);
		if (rank_of(t, blob + pos + 1, len) != NO_RANK)
			goto bad;	/* duplicate token */
		i = hash_bytes(blob + pos + 1, len) & t->mask;
		while (t->slots[i])
			i = (i + 1) & t->mask;
		t->slots[i] = r + 1;
		pos += 1 + len;
	}
	if (pos != size)
		goto bad;
	for (r = 0; r < 256; r++) {
		unsigned char b = (unsigned char)r;

		if (rank_of(t, &b, 1) == NO_RANK)
			goto bad;
	}
	return 0;
bad:
	p_err("bpe: the built-in %s ranks are malformed; token estimation is off",
	      bpe_encoding_name(enc));
	free(t->off);
	free(t->slots);
	t->off = t->slots = NULL;
	return -EINVAL;
}

static struct bpe_table *table_get(enum bpe_encoding enc)
{
	struct bpe_table *t;
	int err;

	if ((unsigned)enc >= BPE__MAX)
		return NULL;
	t = &tables[enc];
	if (!t->tried) {
		t->tried = true;
		err = enc == BPE_O200K_BASE ?
		      table_load(t, llmobs_bpe_o200k, llmobs_bpe_o200k_end - llmobs_bpe_o200k, enc) :
		      table_load(t, llmobs_bpe_cl100k, llmobs_bpe_cl100k_end - llmobs_bpe_cl100k, enc);
		t->ok = err == 0;
		if (err == -ENOENT)
			p_warn("bpe: %s ranks are not built in (the npm registry was "
			       "unreachable at build time): usage cannot be estimated",
			       bpe_encoding_name(enc));
		else if (err == -ENOMEM)
			t->tried = false;	/* may work later */
	}
	return t->ok ? t : NULL;
}

bool bpe_available(enum bpe_encoding enc)
{
	return table_get(enc) != NULL;
}

/* ---- Unicode classes ---- */

enum {
	UC_OTHER = 0,
	UC_UPPER = 1,	/* Lu, Lt */
	UC_LOWER = 2,	/* Ll */
	UC_LETTER = 3,	/* Lm, Lo */
	UC_MARK = 4,	/* Mn, Mc, Me */
	UC_NUMBER = 5,	/* Nd, Nl, No */
};

struct bpe_uc_range {
	uint32_t lo, hi;
	uint8_t cls;
};

#include "bpe_unicode.h"

static int uc_class(uint32_t cp)
{
	size_t lo = 0, hi = sizeof(bpe_uc_ranges) / sizeof(bpe_uc_ranges[0]);

	if (cp < 0x80) {
		if (cp >= 'a' && cp <= 'z')
			return UC_LOWER;
		if (cp >= 'A' && cp <= 'Z')
			return UC_UPPER;
		return cp >= '0' && cp <= '9' ? UC_NUMBER : UC_OTHER;
	}
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (cp < bpe_uc_ranges[mid].lo)
			hi = mid;
		else if (cp > bpe_uc_ranges[mid].hi)
			lo = mid + 1;
		else
			return bpe_uc_ranges[mid].cls;
	}
	return UC_OTHER;
}

/* \s: Unicode White_Space, as tiktoken's (Rust) regex has it. */
static bool uc_space(uint32_t cp)
{
	return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 ||
	       cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 ||
	       cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

/* One decoded character. An invalid UTF-8 byte is a character of its own
 * with no class (what a regex over bytes-as-text would see). */
struct ch {
	uint32_t cp;
	uint8_t len;
	uint8_t cls;
	bool space;
};

static struct ch ch_at(const char *s, size_t n, size_t i)
{
	const unsigned char *p = (const unsigned char *)s + i;
	struct ch c = { p[0], 1, 0, false }, bad = { 0xfffd, 1, UC_OTHER, false };
	size_t need = 0, k;

	if (p[0] >= 0x80) {
		if (p[0] >= 0xc2 && p[0] <= 0xdf)
			need = 1, c.cp = p[0] & 0x1f;
		else if (p[0] >= 0xe0 && p[0] <= 0xef)
			need = 2, c.cp = p[0] & 0x0f;
		else if (p[0] >= 0xf0 && p[0] <= 0xf4)
			need = 3, c.cp = p[0] & 0x07;
		else
			return bad;
		for (k = 1; k <= need; k++) {
			if (i + k >= n || (p[k] & 0xc0) != 0x80)
				return bad;
			c.cp = (c.cp << 6) | (p[k] & 0x3f);
		}
		if ((need == 2 && c.cp < 0x800) || (need == 3 && c.cp < 0x10000) ||
		    (c.cp >= 0xd800 && c.cp <= 0xdfff) || c.cp > 0x10ffff)
			return bad;
		c.len = (uint8_t)(need + 1);
	}
	c.cls = (uint8_t)uc_class(c.cp);
	c.space = uc_space(c.cp);
	return c;
}

static bool is_letter(const struct ch *c)
{
	return c->cls == UC_UPPER || c->cls == UC_LOWER || c->cls == UC_LETTER;
}

/* [^\r\n\p{L}\p{N}] */
static bool is_prefix(const struct ch *c)
{
	return c->cp != '\r' && c->cp != '\n' && !is_letter(c) && c->cls != UC_NUMBER;
}

/* [^\s\p{L}\p{N}] */
static bool is_punct(const struct ch *c)
{
	return !c->space && !is_letter(c) && c->cls != UC_NUMBER;
}

/* o200k's [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and [\p{Ll}\p{Lm}\p{Lo}\p{M}]. */
static bool in_upper(const struct ch *c)
{
	return c->cls == UC_UPPER || c->cls == UC_LETTER || c->cls == UC_MARK;
}

static bool in_lower(const struct ch *c)
{
	return c->cls == UC_LOWER || c->cls == UC_LETTER || c->cls == UC_MARK;
}

/* (?i:'s|'t|'re|'ve|'m|'ll|'d) at i: its length, 0 if none. */
static size_t contraction(const char *s, size_t n, size_t i)
{
	char a, b;

	if (i + 1 >= n || s[i] != '\'')
		return 0;
	a = (char)(s[i + 1] | 0x20);
	if (a == 's' || a == 't' || a == 'm' || a == 'd')
		return (unsigned char)s[i + 1] < 0x80 ? 2 : 0;
	if (i + 2 >= n)
		return 0;
	b = (char)(s[i + 2] | 0x20);
	if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
		return 3;
	return 0;
}

/* o200k: [A]*[B]+ from i; returns the end, i when it does not match.
 * A* is greedy: after its run, B+ goes on if a lowercase letter follows
 * (in B only); otherwise A* backtracks to its last character that is also
 * in B (Lm, Lo, M), which B+ then takes alone. */
static size_t o200k_upper_lower(const char *s, size_t n, size_t i)
{
	size_t q = i, last_b = i;
	struct ch c;

	while (q < n && in_upper((c = ch_at(s, n, q), &c))) {
		q += c.len;
		if (in_lower(&c))
			last_b = q;
	}
	if (q < n && (c = ch_at(s, n, q)).cls == UC_LOWER) {
		while (q < n && in_lower((c = ch_at(s, n, q), &c)))
			q += c.len;
		return q;
	}
	return last_b;
}

/* o200k: [A]+[B]* from i. */
static size_t o200k_upper_then_lower(const char *s, size_t n, size_t i)
{
	size_t q = i;
	struct ch c;

	while (q < n && in_upper((c = ch_at(s, n, q), &c)))
		q += c.len;
	if (q == i)
		return i;
	while (q < n && in_lower((c = ch_at(s, n, q), &c)))
		q += c.len;
	return q;
}

/* [^\r\n\p{L}\p{N}]?X: X with the prefix character first, then without. */
static size_t with_prefix(const char *s, size_t n, size_t i,
			  size_t (*x)(const char *, size_t, size_t))
{
	struct ch c = ch_at(s, n, i);
	size_t e;

	if (is_prefix(&c) && i + c.len < n && (e = x(s, n, i + c.len)) > i + c.len)
		return e;
	return x(s, n, i);
}

static size_t letters(const char *s, size_t n, size_t i)	/* \p{L}+ */
{
	size_t q = i;
	struct ch c;

	while (q < n && is_letter((c = ch_at(s, n, q), &c)))
		q += c.len;
	return q;
}

static size_t numbers(const char *s, size_t n, size_t i)	/* \p{N}{1,3} */
{
	size_t q = i;
	struct ch c;
	int k;

	for (k = 0; k < 3 && q < n && (c = ch_at(s, n, q)).cls == UC_NUMBER; k++)
		q += c.len;
	return q;
}

/* " ?[^\s\p{L}\p{N}]+[\r\n]*" (cl100k) or "[\r\n/]*" (o200k). */
static size_t punctuation(const char *s, size_t n, size_t i, bool slash)
{
	size_t q = i + (s[i] == ' ' ? 1 : 0);	/* without the space, ' ' fails */
	size_t start = q;
	struct ch c;

	while (q < n && is_punct((c = ch_at(s, n, q), &c)))
		q += c.len;
	if (q == start)
		return i;
	while (q < n && (s[q] == '\r' || s[q] == '\n' || (slash && s[q] == '/')))
		q++;
	return q;
}

/* \s*[\r\n]+ | \s+(?!\S) | \s+ over the whitespace run at i. */
static size_t spaces(const char *s, size_t n, size_t i)
{
	size_t q = i, nl_end = i, last = i;
	struct ch c;

	while (q < n && (c = ch_at(s, n, q)).space) {
		last = q;
		q += c.len;
		if (c.cp == '\r' || c.cp == '\n')
			nl_end = q;
	}
	if (nl_end > i)
		return nl_end;		/* through the last line break */
	if (q == n || last == i)
		return q;		/* at the end, or one space before \S */
	return last;			/* leave one space to the next piece */
}

/* End of the o200k_base piece that starts at i. */
static size_t piece_o200k(const char *s, size_t n, size_t i)
{
	struct ch c = ch_at(s, n, i);
	size_t e;

	if ((e = with_prefix(s, n, i, o200k_upper_lower)) > i ||
	    (e = with_prefix(s, n, i, o200k_upper_then_lower)) > i)
		return e + contraction(s, n, e);
	if (c.cls == UC_NUMBER)
		return numbers(s, n, i);
	if ((e = punctuation(s, n, i, true)) > i)
		return e;
	if (c.space)
		return spaces(s, n, i);
	return i + c.len;	/* unreachable: every character matches above */
}

/* End of the cl100k_base piece that starts at i. */
static size_t piece_cl100k(const char *s, size_t n, size_t i)
{
	struct ch c = ch_at(s, n, i);
	size_t e;

	if ((e = contraction(s, n, i)) > 0)
		return i + e;
	if ((e = with_prefix(s, n, i, letters)) > i)
		return e;
	if (c.cls == UC_NUMBER)
		return numbers(s, n, i);
	if ((e = punctuation(s, n, i, false)) > i)
		return e;
	if (c.space)
		return spaces(s, n, i);
	return i + c.len;
}

static size_t piece_end(enum bpe_encoding enc, const char *s, size_t n, size_t i)
{
	return enc == BPE_CL100K_BASE ? piece_cl100k(s, n, i) : piece_o200k(s, n, i);
}

/* ---- merging ---- */

struct sink {
	uint32_t *ids;
	size_t max;
	long count;
};

static void emit(struct sink *k, uint32_t id)
{
	if (k->ids && (size_t)k->count < k->max)
		k->ids[k->count] = id;
	k->count++;
}

/* tiktoken's byte_pair_merge joins, again and again, the adjacent pair of
 * parts whose joined bytes have the lowest rank (the leftmost on ties),
 * until no pair is a token. Scanning for that pair makes it quadratic, so a
 * long piece would cost seconds: here the pairs wait in a heap ordered by
 * (rank, start), which picks the same pair each time, and a pair whose
 * parts changed since it was pushed is recognised by their versions. */
struct pair {
	uint32_t rank, left, right, vl, vr;
};

static struct {
	uint32_t next[BPE_MAX_PIECE_BYTES + 1], prev[BPE_MAX_PIECE_BYTES + 1];
	uint32_t ver[BPE_MAX_PIECE_BYTES + 1];
	struct pair heap[3 * BPE_MAX_PIECE_BYTES];
	size_t n;
} mg;

static bool pair_less(const struct pair *a, const struct pair *b)
{
	return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void heap_push(struct pair p)
{
	size_t i = mg.n++;

	while (i && pair_less(&p, &mg.heap[(i - 1) / 2])) {
		mg.heap[i] = mg.heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	mg.heap[i] = p;
}

static struct pair heap_pop(void)
{
	struct pair top = mg.heap[0], last = mg.heap[--mg.n];
	size_t i = 0, c;

	while ((c = 2 * i + 1) < mg.n) {
		if (c + 1 < mg.n && pair_less(&mg.heap[c + 1], &mg.heap[c]))
			c++;
		if (!pair_less(&mg.heap[c], &last))
			break;
		mg.heap[i] = mg.heap[c];
		i = c;
	}
	mg.heap[i] = last;
	return top;
}

/* Parts are named by their start offset; next[] of the last part is n. */
static void push_pair(const struct bpe_table *t, const unsigned char *p, size_t n,
		      uint32_t left)
{
	uint32_t right = mg.next[left], end;
	struct pair q;

	if (right >= n)
		return;
	end = mg.next[right];
	q.rank = rank_of(t, p + left, end - left);
	if (q.rank == NO_RANK)
		return;
	q.left = left;
	q.right = right;
	q.vl = mg.ver[left];
	q.vr = mg.ver[right];
	heap_push(q);
}

static void merge_piece(const struct bpe_table *t, const unsigned char *p, size_t n,
			struct sink *k)
{
	uint32_t i;

	mg.n = 0;
	for (i = 0; i < n; i++) {
		mg.next[i] = i + 1;
		mg.prev[i] = i ? i - 1 : UINT32_MAX;
		mg.ver[i] = 0;
	}
	for (i = 0; i + 1 < n; i++)
		push_pair(t, p, n, i);
	while (mg.n) {
		struct pair q = heap_pop();

		if (mg.ver[q.left] != q.vl || mg.ver[q.right] != q.vr ||
		    mg.next[q.left] != q.right)
			continue;	/* stale: a part has changed */
		/* Join right into left; both change. */
		mg.next[q.left] = mg.next[q.right];
		if (mg.next[q.right] < n)
			mg.prev[mg.next[q.right]] = q.left;
		mg.ver[q.left]++;
		mg.ver[q.right]++;
		if (mg.prev[q.left] != UINT32_MAX)
			push_pair(t, p, n, mg.prev[q.left]);
		push_pair(t, p, n, q.left);
	}
	for (i = 0; i < n; i = mg.next[i])
		emit(k, rank_of(t, p + i, mg.next[i] - i));
}

static void encode_piece(const struct bpe_table *t, const unsigned char *p, size_t n,
			 struct sink *k)
{
	uint32_t id;

	while (n > BPE_MAX_PIECE_BYTES) {
		size_t cut = BPE_MAX_PIECE_BYTES;

		while (cut > 1 && (p[cut] & 0xc0) == 0x80)
			cut--;		/* keep characters whole */
		encode_piece(t, p, cut, k);
		p += cut;
		n -= cut;
	}
	if ((id = rank_of(t, p, n)) != NO_RANK)
		emit(k, id);
	else
		merge_piece(t, p, n, k);
}

static long encode(enum bpe_encoding enc, const char *text, size_t len, struct sink *k)
{
	const struct bpe_table *t = table_get(enc);
	size_t i = 0, e;

	if (!t)
		return -ENOENT;
	while (i < len) {
		e = piece_end(enc, text, len, i);
		encode_piece(t, (const unsigned char *)text + i, e - i, k);
		i = e;
	}
	return k->count;
}

long bpe_encode(enum bpe_encoding enc, const char *text, size_t len,
		uint32_t *ids, size_t max)
{
	struct sink k = { ids, max, 0 };

	return encode(enc, text ? text : "", text ? len : 0, &k);
}

long bpe_count(enum bpe_encoding enc, const char *text, size_t len)
{
	return bpe_encode(enc, text, len, NULL, 0);
}

/* ---- streams ---- */

int bpe_stream_feed(struct bpe_stream *s, enum bpe_encoding enc,
		    const char *text, size_t len)
{
	const struct bpe_table *t = table_get(enc);
	struct sink k = { NULL, 0, 0 };
	size_t n, i = 0, e, held[2][2], nheld = 0;
	char *buf;

	if (!t)
		return -ENOENT;
	if (!text || !len)
		return 0;
	n = s->_carry_len + len;
	buf = malloc(n);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, s->_carry, s->_carry_len);
	memcpy(buf + s->_carry_len, text, len);
	/* The last two pieces are held back: more text could lengthen the
	 * last (a word goes on) or move the end of a run of spaces. */
	for (i = 0; i < n; i = e) {
		e = piece_end(enc, buf, n, i);
		if (nheld == 2) {
			encode_piece(t, (const unsigned char *)buf + held[0][0],
				     held[0][1] - held[0][0], &k);
			memcpy(held[0], held[1], sizeof(held[0]));
			nheld = 1;
		}
		held[nheld][0] = i;
		held[nheld++][1] = e;
	}
	i = nheld ? held[0][0] : n;
	if (n - i > sizeof(s->_carry)) {
		/* Too long to hold: counted as if the text ended here. */
		for (size_t h = 0; h < nheld; h++)
			encode_piece(t, (const unsigned char *)buf + held[h][0],
				     held[h][1] - held[h][0], &k);
		i = n;
		s->overflowed = true;
	}
	s->tokens += k.count;
	memcpy(s->_carry, buf + i, n - i);
	s->_carry_len = (uint16_t)(n - i);
	free(buf);
	return 0;
}

long bpe_stream_finish(struct bpe_stream *s, enum bpe_encoding enc)
{
	long n = bpe_count(enc, s->_carry, s->_carry_len);

	if (n < 0)
		return n;
	s->tokens += n;
	s->_carry_len = 0;
	return (long)s->tokens;
}
