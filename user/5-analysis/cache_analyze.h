/* Prompt-cache analytics of one exchange. In: a finished record with its
 * request body (record.h: request_body, account_digest), usage and time;
 * out: the record's contract-v4 fields (template, account, cacheable and
 * missed tokens and dollars, the miss cause, the breakers) and its keyed
 * prefix hashes. State between exchanges lives in memory only: the prefix
 * index (bounded, cache_index.c) and the last request of each template
 * (hashes, span kinds and offsets; bounded in count and size). */
#ifndef LLMOBS_CACHE_ANALYZE_H
#define LLMOBS_CACHE_ANALYZE_H

#include <stddef.h>
#include <stdint.h>
#include "cache_hash.h"
#include "cost.h"
#include "record.h"

#define CACHE_MAX_TEMPLATES	512
#define CACHE_MAX_BREAKERS	4

struct cache_analyzer;

struct cache_analyzer_opts {
	size_t index_bytes;		/* 0: CACHE_INDEX_DEFAULT_BYTES */
	/* The install's key, borrowed (it must outlive the analyser); else
	 * key_path, the 0600 secret; else a random key in memory. */
	const struct cache_hash_key *key;
	const char *key_path;
	const char *rules_path;		/* NULL: the embedded table */
	const struct price_table *prices;	/* NULL: missed_cache_usd is 0 */
	/* Tests: every request lexed and hashed whole, never resumed after
	 * an earlier one: the reference the resumes must agree with. */
	bool no_resume;
};

struct cache_analyzer_stats {
	uint64_t analysed;		/* records given fields */
	uint64_t unsupported;		/* APIs without prompt segments */
	uint64_t no_body;		/* request body not kept (over a cap) */
	uint64_t bad_json;		/* request body not a JSON object */
	uint64_t truncated;		/* segments or text over their caps */
	uint64_t resumed;		/* requests that resumed after their
					 * template's last one (agent loops) */
	uint64_t norm_resumed;		/* requests that took the norm points of
					 * one differing only in breakers */
	uint64_t index_evicted;		/* prefix index entries evicted */
	size_t index_entries, index_capacity, templates;
};

/* Returns 0 or -errno (a bad rules file, a key file of the wrong mode). */
int cache_analyzer_new(const struct cache_analyzer_opts *o, struct cache_analyzer **out);
void cache_analyzer_free(struct cache_analyzer *a);

/* Fills r's cache fields (r->cache_analyzed) from r and r->request_body.
 * Returns 0, -EOPNOTSUPP (no prompt to analyse: fields stay null),
 * -ENODATA (no body kept), -EINVAL (body not JSON), -ENOMEM. */
int cache_analyze_record(struct cache_analyzer *a, struct exchange_record *r);
/* r->account: a keyed hash (key) of the API key's digest the capture took,
 * which is then wiped; nothing when none was seen. Called by
 * cache_analyze_record() and, with analysis off, by the daemon. */
void cache_account_fingerprint(const struct cache_hash_key *key, struct exchange_record *r);

/* The last record's prediction before usage had its say (tests list where
 * the provider cached more than the prefix model foresaw). */
int64_t cache_analyzer_last_prediction(const struct cache_analyzer *a);

void cache_analyzer_get_stats(const struct cache_analyzer *a, struct cache_analyzer_stats *s);

/* "claude-sonnet-4-5" for "claude-sonnet-4-5-20250929", "gpt-4o" for
 * "gpt-4o-2024-08-06"; "models/" and "-latest" dropped. */
void cache_model_family(const char *model, char *out, size_t size);

#endif
