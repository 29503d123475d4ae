/* One pass over a request body, counting secrets and personal data
 * (detect.h): text in, counts per kind out, nothing else kept.
 *
 * Why one hand-written pass rather than a regex set (PCRE2 is linked
 * already): every pattern here begins at a word start with a byte that
 * says which matchers can apply, and most also need a checksum (Luhn,
 * mod 97) or a shape rule a regex cannot say; dispatching on that first
 * byte keeps the cost to one table look-up per byte on ordinary text, and
 * the daemon scans every prompt it sees. The e-mail matcher needs an '@'
 * anywhere in the text, so one memchr() turns it off for most bodies. */
#include <string.h>
#include "detect.h"
#include "prose_skip.h"

/* Which matchers a word's first byte can start. */
enum {
	T_KEY = 1,	/* api / cloud / github keys, JWTs, IBANs */
	T_PEM = 2,	/* '-' of "-----BEGIN" */
	T_NUM = 4,	/* a digit or '(': cards, phone numbers */
	T_PLUS = 8,	/* '+': international phone numbers */
	T_MAIL = 16,	/* can start an e-mail's local part */
	T_WORD = 32,	/* [A-Za-z0-9_]: the next byte is not a word start */
};

static unsigned char classes[256];

static void init_classes(void)
{
	int c;

	for (c = 0; c < 256; c++) {
		unsigned char k = 0;

		/* IBANs and AWS/Google/Azure keys start upper case; the
		 * lower-case prefixes are those of detect_secrets.c. */
		if (detect_is_upper(c) || (c && strchr("eghnprsx", c)))
			k |= T_KEY;
		if (detect_is_alnum(c))
			k |= T_MAIL;
		if (detect_is_digit(c))
			k |= T_NUM;
		if (c == '(')
			k |= T_NUM;
		if (c == '-')
			k |= T_PEM;
		if (c == '+')
			k |= T_PLUS;
		if (detect_is_word(c))
			k |= T_WORD;
		classes[c] = k;
	}
}

/* Every API key prefix (detect_secrets.c) ends in '-' or '_' at its 3rd
 * to 6th byte ("sk-", "hf_", "xai-", "glpat-"): most words have none. */
static int key_separator(const char *t, size_t i, size_t len)
{
	for (size_t j = i + 2; j < i + 6 && j < len; j++)
		if (t[j] == '-' || t[j] == '_')
			return 1;
	return 0;
}

/* The key matchers that the first byte allows, in order. */
static size_t try_keys(const char *t, size_t i, size_t len, enum record_sensitive_kind *k)
{
	char c = t[i];
	size_t n = 0;

	if (c == 'e' && (n = detect_jwt(t, i, len)))
		*k = RS_JWT;
	else if (c == 'g' && (n = detect_github_token(t, i, len)))
		*k = RS_GITHUB_TOKEN;
	else if (c == 'A' && (n = detect_cloud_key(t, i, len)))
		*k = RS_CLOUD_KEY;
	else if (!detect_is_upper((unsigned char)c) && c != 'e' && key_separator(t, i, len) &&
		 (n = detect_api_key(t, i, len)))
		*k = RS_API_KEY;
	else if (detect_is_upper((unsigned char)c) && (n = detect_iban(t, i, len)))
		*k = RS_IBAN;
	return n;
}

/* The 8 bytes at p are all 'a'..'z' (SWAR: no byte below 0x61, none
 * above 0x7a, none with the top bit; the classic has-less / has-more). */
static inline int all_lower8(const char *p)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return !(((v - ones * 0x61) & ~v & highs) | (((v + ones * (127 - 0x7a)) | v) & highs));
}

/* One word start: which kind, and how long; 0 if none. at: the next '@'
 * at or after i (len if none), for the e-mail matcher. */
static size_t match_at(const char *t, size_t i, size_t len, unsigned char c, size_t at,
		       enum record_sensitive_kind *k)
{
	size_t n;

	if ((c & T_PEM) && (n = detect_private_key(t, i, len))) {
		*k = RS_PRIVATE_KEY;
		return n;
	}
	if ((c & T_KEY) && (n = try_keys(t, i, len, k)))
		return n;
	if ((c & T_NUM) && (n = detect_card(t, i, len))) {
		*k = RS_CARD;
		return n;
	}
	if ((c & (T_NUM | T_PLUS)) && (n = detect_phone(t, i, len))) {
		*k = RS_PHONE;
		return n;
	}
	if ((c & T_MAIL) && (n = detect_email(t, i, len))) {
		*k = RS_EMAIL;
		return n;
	}
	return 0;
}

size_t detect_record(struct exchange_record *r)
{
	if (!r || !r->request_body || !r->request_body_len)
		return 0;
	return detect_scan(r->request_body, r->request_body_len, r->sensitive);
}

size_t detect_scan(const char *text, size_t len, uint16_t counts[RS__MAX])
{
	static int ready;
	enum record_sensitive_kind k = RS__MAX;
	size_t i = 0, n, found = 0, at = 0, prose = 0;
	int after_word = 0;
	const char *p;

	if (!text || !counts)
		return 0;
	if (!ready) {	/* the daemon is single-threaded; tests too */
		init_classes();
		ready = 1;
	}
	while (i < len) {
		unsigned char b = (unsigned char)text[i], c = classes[b];

		/* plain prose up to the word before the next other byte: no
		 * match starts there (prose_skip.h) */
		if (i >= prose && !prose_skip_off && prose_byte(b)) {
			size_t r;

			p = prose_end(text + i, text + len);
			prose = (size_t)(p - text);
			r = (size_t)(prose_resume(text + i, p) - text);
			if (r > i) {
				i = r;
				after_word = 0;
				continue;
			}
		}

		/* A JSON escape is skipped whole, so "\nfoo" starts "foo". */
		if (b == '\\') {
			i += 2;
			after_word = 0;
			continue;
		}
		n = 0;
		if (at < i) {
			p = memchr(text + i, '@', len - i);
			at = p ? (size_t)(p - text) : len;
		}
		/* a local part is at most 64 bytes: only words close to an '@' */
		if (at - i > 64)
			c &= (unsigned char)~T_MAIL;
		/* '+', '(' and '-' start nothing right after a word ("x+1") */
		if ((c & ~T_WORD) && !(after_word && !(c & T_WORD)))
			n = match_at(text, i, len, c, at, &k);
		if (n) {
			found++;
			if (counts[k] < DETECT_COUNT_MAX)
				counts[k]++;
			i += n;
		} else {
			i++;
		}
		/* the rest of a word starts nothing: most bytes end here, eight
		 * lower-case letters at a time, then byte by byte */
		if (c & T_WORD) {
			while (i + 8 <= len && all_lower8(text + i))
				i += 8;
			while (i < len && (classes[(unsigned char)text[i]] & T_WORD))
				i++;
		}
		after_word = i && (classes[(unsigned char)text[i - 1]] & T_WORD);
	}
	return found;
}
