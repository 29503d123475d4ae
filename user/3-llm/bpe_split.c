/* Pre-tokenization of o200k_base and cl100k_base: where the piece that
 * starts at a position ends, as the encodings' regular expressions say.
 * Each alternative of a pattern is a small function, tried in the
 * pattern's order, with the backtracking the pattern implies worked out
 * once (the comments give the alternative). Unicode classes come from the
 * generated range table bpe_unicode.h. */
#include <stdbool.h>
#include <stdint.h>
#include "bpe_split.h"

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

size_t bpe_piece_end(enum bpe_encoding enc, const char *s, size_t n, size_t i)
{
	return enc == BPE_CL100K_BASE ? piece_cl100k(s, n, i) : piece_o200k(s, n, i);
}
