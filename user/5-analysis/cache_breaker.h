/* Cache breakers: the volatile tokens that make one call's prompt differ
 * from the last one's (a timestamp at the top of a system prompt, a
 * request id, a counter). In: text, JSON-unescaped; out: spans with a kind
 * and a redacted shape ("ISO-8601 timestamp"), never the value. Spans are
 * masked when prompts are compared, so a prefix is "cacheable" when only
 * its breakers differ; cache_analyze.c then names the first one that did. */
#ifndef LLMOBS_CACHE_BREAKER_H
#define LLMOBS_CACHE_BREAKER_H

#include <stddef.h>
#include <stdint.h>

enum cache_breaker_kind {
	CB_NONE = 0,
	CB_TIMESTAMP,		/* a date with a time, or a time of day */
	CB_DATE,
	CB_EPOCH,		/* 10 digits (s) or 13 (ms), 2001..2036 */
	CB_UUID,		/* 8-4-4-4-12 hex, any version */
	CB_HEX_ID,		/* 16+ hex digits */
	CB_BASE64_ID,		/* 20+ base64/base64url chars, mixed case and digits */
	CB_COUNTER,		/* an integer that grew since the last call */
	CB_RANDOM_NUMBER,	/* an integer (or decimal) that changed otherwise */
	CB_REORDERED_TOOLS,
	CB_REORDERED_KEYS,
	CB_REORDERED_BLOCKS,
	CB_WHITESPACE,
	CB_OTHER,
	CB__MAX,
};

/* What a span looked like, for reports: an index into a table of fixed
 * strings (cache_breaker_shape_name()). */
enum cache_shape {
	CS_NONE = 0,
	CS_ISO_TIMESTAMP,	/* 2026-12-07T18:12:19Z, 2026-12-07 18:12 */
	CS_RFC_TIMESTAMP,	/* Mon, 07 Dec 2026 18:12:19 GMT */
	CS_TEXT_TIMESTAMP,	/* December 7, 2026 6:12 PM */
	CS_TIME_OF_DAY,		/* 18:12:19 */
	CS_ISO_DATE,		/* 2026-12-07 */
	CS_SLASH_DATE,		/* 12/07/2026, 07/12/2026 */
	CS_TEXT_DATE,		/* December 7, 2026; 7 Dec 2026 */
	CS_EPOCH_S,
	CS_EPOCH_MS,
	CS_UUID_V1,
	CS_UUID_V4,
	CS_UUID_V7,
	CS_UUID_OTHER,
	CS_HEX,
	CS_BASE64,
	CS_INTEGER,
	CS_DECIMAL,
	CS_WHITESPACE,		/* a run of blanks other than one space */
	CS__MAX,
};

struct cache_span {
	uint32_t off, len;	/* in the scanned text */
	uint8_t kind;		/* enum cache_breaker_kind (number: CB_RANDOM_NUMBER
				 * until compared with the last call) */
	uint8_t shape;		/* enum cache_shape */
	int64_t ivalue;		/* integers: the value, in memory only, to tell a
				 * counter; never stored or printed */
};

const char *cache_breaker_kind_name(enum cache_breaker_kind k);
/* The kind for a name ("uuid"), CB_NONE if unknown. */
enum cache_breaker_kind cache_breaker_kind_parse(const char *name);
/* "ISO-8601 timestamp", "UUID v4", "hex id"... */
const char *cache_breaker_shape_name(enum cache_shape s);

/* Finds the volatile tokens of text[0..len), in order, not overlapping.
 * Whitespace other than a single space (line breaks, tabs, runs) is one
 * too: prompts that differ only there compare equal, and the breaker is
 * named "whitespace". Writes at most max spans; returns how many there
 * are (may exceed max). */
size_t cache_breaker_scan(const char *text, size_t len, struct cache_span *out,
			  size_t max);

#endif
