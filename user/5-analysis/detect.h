/* Secrets and personal data in a request body: in, the bytes of a prompt
 * while the daemon holds them; out, how many of each kind (record.h's enum
 * record_sensitive_kind) were seen. Never where, never what: nothing here
 * copies, logs or keeps a matched byte, so the counts are all that can
 * reach the store. detect.c walks the text once; detect_secrets.c and
 * detect_pii.c hold the matchers it calls at word starts. */
#ifndef LLMOBS_DETECT_H
#define LLMOBS_DETECT_H

#include <stddef.h>
#include <stdint.h>
#include "record.h"

#define DETECT_COUNT_MAX	UINT16_MAX	/* counts saturate there */

/* Adds what text[0..len) holds to counts (not cleared first, so several
 * bodies of one exchange may be scanned in turn). The text is taken as
 * it is on the wire (JSON-escaped): "\n" before a token counts as a
 * boundary. Returns the number of matches found (before saturation). */
size_t detect_scan(const char *text, size_t len, uint16_t counts[RS__MAX]);

/* The exchange callback's step: scans the request body r carries while
 * the callback runs (record.h: request_body; NULL when it was not kept)
 * into r->sensitive. Only the prompt is scanned: what the model answers
 * was not sent by the host. Returns the matches found. */
size_t detect_record(struct exchange_record *r);

/* A matcher looks at t[i..len) where i is a word start (the byte before
 * is not [A-Za-z0-9_], or an escape such as "\n" is) and returns the
 * length of what it recognised, 0 if nothing. */
typedef size_t (*detect_match_fn)(const char *t, size_t i, size_t len);

size_t detect_private_key(const char *t, size_t i, size_t len);
size_t detect_jwt(const char *t, size_t i, size_t len);
size_t detect_github_token(const char *t, size_t i, size_t len);
size_t detect_cloud_key(const char *t, size_t i, size_t len);
size_t detect_api_key(const char *t, size_t i, size_t len);
size_t detect_email(const char *t, size_t i, size_t len);
size_t detect_phone(const char *t, size_t i, size_t len);
size_t detect_card(const char *t, size_t i, size_t len);
size_t detect_iban(const char *t, size_t i, size_t len);

/* Character classes the matchers share (ASCII only; bytes >= 0x80 are
 * never part of a match). */
static inline int detect_is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline int detect_is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static inline int detect_is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
static inline int detect_is_alnum(unsigned char c)
{
	return detect_is_digit(c) || detect_is_upper(c) || detect_is_lower(c);
}
static inline int detect_is_word(unsigned char c) { return detect_is_alnum(c) || c == '_'; }

/* The byte at i ends a token: end of text or not a word byte. */
static inline int detect_ends(const char *t, size_t i, size_t len)
{
	return i >= len || !detect_is_word((unsigned char)t[i]);
}

/* t[i..) starts with the NUL-terminated prefix p. */
static inline int detect_has(const char *t, size_t i, size_t len, const char *p)
{
	for (; *p; p++, i++)
		if (i >= len || t[i] != *p)
			return 0;
	return 1;
}

#endif
