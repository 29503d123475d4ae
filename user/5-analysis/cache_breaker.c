/* The breaker lexer: text -> volatile spans (kind, shape, offsets). One
 * left-to-right pass; at each token start the matchers try, longest shapes
 * first (a timestamp before the date it starts with, a UUID before the hex
 * run it is made of). Everything is bounded by len: no match reads past it.
 * Plain words and short numbers cost one comparison per byte. */
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include "cache_breaker.h"
#include "prose_skip.h"

static const char *const kind_names[CB__MAX] = {
	[CB_NONE] = "none", [CB_TIMESTAMP] = "timestamp", [CB_DATE] = "date",
	[CB_EPOCH] = "epoch", [CB_UUID] = "uuid", [CB_HEX_ID] = "hex_id",
	[CB_BASE64_ID] = "base64_id", [CB_COUNTER] = "counter",
	[CB_RANDOM_NUMBER] = "random_number", [CB_REORDERED_TOOLS] = "reordered_tools",
	[CB_REORDERED_KEYS] = "reordered_keys", [CB_REORDERED_BLOCKS] = "reordered_blocks",
	[CB_WHITESPACE] = "whitespace", [CB_OTHER] = "other",
};

static const char *const shape_names[CS__MAX] = {
	[CS_NONE] = "", [CS_ISO_TIMESTAMP] = "ISO-8601 timestamp",
	[CS_RFC_TIMESTAMP] = "RFC 1123 timestamp", [CS_TEXT_TIMESTAMP] = "written-out timestamp",
	[CS_TIME_OF_DAY] = "time of day", [CS_ISO_DATE] = "ISO-8601 date",
	[CS_SLASH_DATE] = "numeric date (d/m/y)", [CS_TEXT_DATE] = "written-out date",
	[CS_EPOCH_S] = "Unix time (seconds)", [CS_EPOCH_MS] = "Unix time (milliseconds)",
	[CS_UUID_V1] = "UUID v1", [CS_UUID_V4] = "UUID v4", [CS_UUID_V7] = "UUID v7",
	[CS_UUID_OTHER] = "UUID", [CS_HEX] = "hex id", [CS_BASE64] = "base64 id",
	[CS_INTEGER] = "integer", [CS_DECIMAL] = "decimal number",
	[CS_WHITESPACE] = "whitespace run",
};

const char *cache_breaker_kind_name(enum cache_breaker_kind k)
{
	return (unsigned)k < CB__MAX ? kind_names[k] : "other";
}

enum cache_breaker_kind cache_breaker_kind_parse(const char *name)
{
	for (int k = 1; k < CB__MAX; k++)
		if (!strcmp(kind_names[k], name))
			return k;
	return CB_NONE;
}

const char *cache_breaker_shape_name(enum cache_shape s)
{
	return (unsigned)s < CS__MAX ? shape_names[s] : "";
}

static inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
static inline bool is_alpha(char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static inline bool is_alnum(char c) { return is_digit(c) || is_alpha(c); }
static inline bool is_hex(char c)
{
	return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}
static inline bool is_b64(char c)
{
	return is_alnum(c) || c == '+' || c == '/' || c == '-' || c == '_';
}

/* n digits at p (within end); their value in *v. */
static bool digits(const char *p, const char *end, int n, int *v)
{
	int x = 0;

	if (end - p < n)
		return false;
	for (int i = 0; i < n; i++) {
		if (!is_digit(p[i]))
			return false;
		x = x * 10 + (p[i] - '0');
	}
	if (v)
		*v = x;
	return true;
}

/* 1 or 2 digits. Returns how many (0: none). */
static int digits12(const char *p, const char *end, int *v)
{
	if (digits(p, end, 2, v))
		return 2;
	return digits(p, end, 1, v) ? 1 : 0;
}

/* HH:MM[:SS[.frac]][ ]?[Z|+hh:mm|-hhmm|AM|PM|UTC|GMT]; returns its length. */
static size_t match_time(const char *p, const char *end)
{
	const char *q = p;
	int h, m, s;
	int n = digits12(q, end, &h);

	if (!n || h > 24)
		return 0;
	q += n;
	if (q >= end || *q != ':' || !digits(q + 1, end, 2, &m) || m > 59)
		return 0;
	q += 3;
	if (q < end && *q == ':' && digits(q + 1, end, 2, &s) && s <= 60) {
		q += 3;
		if (q < end && (*q == '.' || *q == ',') && q + 1 < end && is_digit(q[1])) {
			q++;
			while (q < end && is_digit(*q))
				q++;
		}
	}
	if (q < end && (*q == 'Z' || *q == 'z') && !(q + 1 < end && is_alnum(q[1])))
		return (size_t)(q + 1 - p);
	if (q < end && (*q == '+' || *q == '-') && digits(q + 1, end, 2, NULL)) {
		const char *z = q + 3;

		if (z < end && *z == ':' && digits(z + 1, end, 2, NULL))
			z += 3;
		else if (digits(z, end, 2, NULL))
			z += 2;
		return (size_t)(z - p);
	}
	if (q + 2 < end && *q == ' ') {
		const char *w = q + 1;
		static const char *const zones[] = { "AM", "PM", "am", "pm", "UTC", "GMT" };

		for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
			size_t l = strlen(zones[i]);

			if ((size_t)(end - w) >= l && !memcmp(w, zones[i], l) &&
			    !(w + l < end && is_alnum(w[l])))
				return (size_t)(w + l - p);
		}
	}
	return (size_t)(q - p);
}

/* After a date at p+n: a time ("T18:12", " 18:12", ", 18:12", " at 18:12")
 * makes it a timestamp; returns the total length and sets *ts. */
static size_t date_then_time(const char *p, const char *end, size_t n, bool *ts)
{
	const char *q = p + n;
	size_t t;
	static const char *const seps[] = { "T", " ", ", ", " at ", " - " };

	*ts = false;
	for (size_t i = 0; i < sizeof(seps) / sizeof(seps[0]); i++) {
		size_t l = strlen(seps[i]);

		if ((size_t)(end - q) > l && !memcmp(q, seps[i], l) &&
		    (t = match_time(q + l, end))) {
			*ts = true;
			return n + l + t;
		}
	}
	return n;
}

static const char *const months[] = {
	"january", "february", "march", "april", "may", "june", "july",
	"august", "september", "october", "november", "december",
};

static const unsigned char month_len[] = { 7, 8, 5, 5, 3, 4, 4, 6, 9, 7, 8, 8 };

/* A month name (full or 3-letter, any case) of length wlen at p. Called
 * only where a number follows, so plain prose never gets here. */
static bool is_month(const char *p, size_t wlen)
{
	if (wlen < 3 || wlen > 9)
		return false;
	for (size_t i = 0; i < 12; i++) {
		size_t l = month_len[i];

		if ((p[0] | 0x20) == months[i][0] &&
		    (wlen == l || (wlen == 3 && l > 3) || (wlen == 4 && i == 8)) &&
		    !strncasecmp(p, months[i], wlen))
			return true;
	}
	return false;
}

static size_t word_len(const char *p, const char *end)
{
	const char *q = p;

	while (q < end && is_alpha(*q))
		q++;
	return (size_t)(q - p);
}

static void set(struct cache_span *s, const char *base, const char *p, size_t len,
		enum cache_breaker_kind k, enum cache_shape sh)
{
	s->off = (uint32_t)(p - base);
	s->len = (uint32_t)len;
	s->kind = (uint8_t)k;
	s->shape = (uint8_t)sh;
	s->ivalue = 0;
}

/* 8-4-4-4-12 hex at p. */
static bool match_uuid(const char *p, const char *end, enum cache_shape *sh)
{
	static const int groups[] = { 8, 4, 4, 4, 12 };
	const char *q = p;

	if (end - p < 36)
		return false;
	for (int g = 0; g < 5; g++) {
		for (int i = 0; i < groups[g]; i++, q++)
			if (!is_hex(*q))
				return false;
		if (g < 4 && *q++ != '-')
			return false;
	}
	if (q < end && (is_alnum(*q) || *q == '-'))
		return false;
	*sh = p[14] == '1' ? CS_UUID_V1 : p[14] == '4' ? CS_UUID_V4 :
	      p[14] == '7' ? CS_UUID_V7 : CS_UUID_OTHER;
	return true;
}

/* Tokens that start with a letter: written-out dates, RFC 1123 timestamps,
 * and ids that happen to begin with a letter. */
static size_t match_alpha(const char *base, const char *p, const char *end,
			  struct cache_span *s)
{
	size_t w = word_len(p, end), run = 0, n;
	const char *q;
	int d;
	bool ts, up = false, lo = false, dg = false, hex = true;
	enum cache_shape sh;

	if (is_hex(*p) && match_uuid(p, end, &sh)) {
		set(s, base, p, 36, CB_UUID, sh);
		return 36;
	}

	/* "Mon, 07 Dec 2026 18:12:19 GMT" */
	if (w == 3 && end - p >= 16 && p[3] == ',' && p[4] == ' ' && is_digit(p[5]) &&
	    (n = (size_t)digits12(p + 5, end, &d)) && p[5 + n] == ' ' &&
	    is_month(p + 6 + n, word_len(p + 6 + n, end)) &&
	    word_len(p + 6 + n, end) == 3 && p + 10 + n < end && p[9 + n] == ' ' &&
	    digits(p + 10 + n, end, 4, NULL)) {
		n = date_then_time(p, end, 14 + n, &ts);
		set(s, base, p, n, ts ? CB_TIMESTAMP : CB_DATE,
		    ts ? CS_RFC_TIMESTAMP : CS_TEXT_DATE);
		return n;
	}
	/* "December 7, 2026", "Dec 7 2026" */
	if (w >= 3 && w <= 9 && p + w + 1 < end && p[w] == ' ' && is_digit(p[w + 1]) &&
	    is_month(p, w)) {
		q = p + w + 1;
		n = (size_t)digits12(q, end, &d);
		if (n && d >= 1 && d <= 31) {
			q += n;
			if (q + 2 < end && (q[0] == 's' || q[0] == 'n' || q[0] == 'r' || q[0] == 't') &&
			    is_alpha(q[1]))
				q += 2;	/* 7th, 1st, 2nd, 3rd */
			if (q < end && *q == ',')
				q++;
			if (q < end && *q == ' ' && digits(q + 1, end, 4, NULL) &&
			    !(q + 5 < end && is_digit(q[5]))) {
				n = date_then_time(p, end, (size_t)(q + 5 - p), &ts);
				set(s, base, p, n, ts ? CB_TIMESTAMP : CB_DATE,
				    ts ? CS_TEXT_TIMESTAMP : CS_TEXT_DATE);
				return n;
			}
		}
	}
	/* ids: a run of base64url characters, at least 16 long to matter */
	if (end - p < 16 || !is_b64(p[w < 15 ? w : 15]))
		return 0;
	for (q = p; q < end && is_b64(*q); q++) {
		up |= *q >= 'A' && *q <= 'Z';
		lo |= *q >= 'a' && *q <= 'z';
		dg |= is_digit(*q);
		hex &= is_hex(*q);
		run++;
	}
	if (hex && dg && run >= 16) {
		set(s, base, p, run, CB_HEX_ID, CS_HEX);
		return run;
	}
	while (q < end && *q == '=' && run < (size_t)(q - p) + 2)
		q++;
	if (run >= 20 && up && lo && dg) {
		set(s, base, p, (size_t)(q - p), CB_BASE64_ID, CS_BASE64);
		return (size_t)(q - p);
	}
	return 0;
}

/* Tokens that start with a digit. */
static size_t match_digit(const char *base, const char *p, const char *end,
			  struct cache_span *s)
{
	enum cache_shape sh;
	const char *q;
	size_t n, run = 0;
	int y, mo, d, dn;
	bool ts, hex = true, alpha = false;
	int64_t v = 0;

	if (match_uuid(p, end, &sh)) {
		set(s, base, p, 36, CB_UUID, sh);
		return 36;
	}
	/* 2026-12-07, 2026/12/07, 2026.12.07 */
	if (digits(p, end, 4, &y) && end - p >= 10 && (p[4] == '-' || p[4] == '/' || p[4] == '.') &&
	    p[7] == p[4] && digits(p + 5, end, 2, &mo) && digits(p + 8, end, 2, &d) &&
	    mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && !(p + 10 < end && is_digit(p[10]))) {
		n = date_then_time(p, end, 10, &ts);
		set(s, base, p, n, ts ? CB_TIMESTAMP : CB_DATE, ts ? CS_ISO_TIMESTAMP : CS_ISO_DATE);
		return n;
	}
	/* 07/12/2026, 12-07-2026 */
	if ((dn = digits12(p, end, &d)) && p + dn < end && (p[dn] == '/' || p[dn] == '-' || p[dn] == '.')) {
		q = p + dn + 1;
		n = (size_t)digits12(q, end, &mo);
		if (n && q + n < end && q[n] == p[dn] && digits(q + n + 1, end, 4, &y) &&
		    !(q + n + 5 < end && is_digit(q[n + 5])) && d >= 1 && mo >= 1 &&
		    (d <= 12 || mo <= 12) && d <= 31 && mo <= 31) {
			n = date_then_time(p, end, (size_t)(q + n + 5 - p), &ts);
			set(s, base, p, n, ts ? CB_TIMESTAMP : CB_DATE,
			    ts ? CS_TEXT_TIMESTAMP : CS_SLASH_DATE);
			return n;
		}
	}
	/* 7 December 2026 */
	if (dn && p + dn + 1 < end && p[dn] == ' ' && d >= 1 && d <= 31) {
		size_t w = word_len(p + dn + 1, end);

		q = p + dn + 1 + w;
		if (w >= 3 && is_month(p + dn + 1, w) && q < end && *q == ' ' &&
		    digits(q + 1, end, 4, NULL) && !(q + 5 < end && is_digit(q[5]))) {
			n = date_then_time(p, end, (size_t)(q + 5 - p), &ts);
			set(s, base, p, n, ts ? CB_TIMESTAMP : CB_DATE,
			    ts ? CS_TEXT_TIMESTAMP : CS_TEXT_DATE);
			return n;
		}
	}
	if ((n = match_time(p, end))) {
		set(s, base, p, n, CB_TIMESTAMP, CS_TIME_OF_DAY);
		return n;
	}
	/* a run of hex / alphanumerics */
	for (q = p; q < end && is_alnum(*q); q++) {
		hex &= is_hex(*q);
		alpha |= is_alpha(*q);
		run++;
	}
	if (alpha) {
		if (hex && run >= 16) {
			set(s, base, p, run, CB_HEX_ID, CS_HEX);
			return run;
		}
		return match_alpha(base, p, end, s);
	}
	if (q < end && is_b64(*q) && *q != '-' && *q != '/')
		return match_alpha(base, p, end, s);	/* "123_abc..." */
	if (run >= 16) {
		set(s, base, p, run, CB_HEX_ID, CS_HEX);
		return run;
	}
	for (size_t i = 0; i < run; i++)
		v = v * 10 + (p[i] - '0');
	if ((run == 10 && v >= 1000000000LL && v < 2100000000LL) ||
	    (run == 13 && v >= 1000000000000LL && v < 2100000000000LL)) {
		set(s, base, p, run, CB_EPOCH, run == 10 ? CS_EPOCH_S : CS_EPOCH_MS);
		return run;
	}
	if (q + 1 < end && *q == '.' && is_digit(q[1])) {
		for (q++; q < end && is_digit(*q); q++)
			;
		set(s, base, p, (size_t)(q - p), CB_RANDOM_NUMBER, CS_DECIMAL);
		return (size_t)(q - p);
	}
	set(s, base, p, run, CB_RANDOM_NUMBER, CS_INTEGER);
	s->ivalue = v;
	return run;
}

size_t cache_breaker_scan(const char *text, size_t len, struct cache_span *out,
			  size_t max)
{
	const char *p = text, *end = text + len, *prose = text;
	size_t found = 0;
	struct cache_span s;

	while (p < end) {
		char c = *p;
		size_t n = 0;

		/* plain prose up to the word before the next other byte: no
		 * span starts there (prose_skip.h) */
		if (p >= prose && !prose_skip_off && prose_byte((unsigned char)c)) {
			const char *r;

			prose = prose_end(p, end);
			r = prose_resume(p, prose);
			if (r > p) {
				p = r;
				continue;
			}
		}

		if (!is_alnum(c)) {
			const char *w = p;

			while (w < end && (*w == ' ' || *w == '\n' || *w == '\t' || *w == '\r'))
				w++;
			if (w - p > 1 || (w - p == 1 && c != ' ')) {
				set(&s, text, p, (size_t)(w - p), CB_WHITESPACE, CS_WHITESPACE);
				if (found < max)
					out[found] = s;
				found++;
				p = w;
				continue;
			}
			p++;
			continue;
		}
		if (p > text && (is_alnum(p[-1]) || p[-1] == '.')) {
			p++;	/* inside a word, or "v1.2" */
			continue;
		}
		if (!is_digit(c)) {
			/* a plain word: short, not a month before a number, not
			 * the start of an id: skipped without a matcher */
			const char *w = p;

			while (w < end && is_alpha(*w))
				w++;
			if (w - p < 16 && (w == end || (!is_b64(*w) && *w != ',' &&
			    !(*w == ' ' && w + 1 < end && is_digit(w[1]))))) {
				p = w;
				continue;
			}
		}
		n = is_digit(c) ? match_digit(text, p, end, &s) : match_alpha(text, p, end, &s);
		if (n) {
			if (found < max)
				out[found] = s;
			found++;
			p += n;
			continue;
		}
		while (p < end && is_alnum(*p))
			p++;
	}
	return found;
}
