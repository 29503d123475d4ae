/* The prefix index: which keyed prefix hashes were seen, when, and
 * whether a cache write happened there. In: 64-bit hashes from
 * cache_hash.c; out: the entry of a hash. Memory is a fixed budget
 * (default 64 MiB) allocated once; when full, the oldest entry not used
 * since it was last passed over is evicted (CLOCK) and counted, so a hot
 * prefix of long ago survives a flood of one-off prompts. */
#ifndef LLMOBS_CACHE_INDEX_H
#define LLMOBS_CACHE_INDEX_H

#include <stddef.h>
#include <stdint.h>

#define CACHE_INDEX_DEFAULT_BYTES	(64u << 20)

#define CACHE_ENTRY_WRITTEN	0x1u	/* a request had a breakpoint here */
#define CACHE_ENTRY_REF		0x2u	/* used since the clock hand passed */
#define CACHE_ENTRY_TTL_1H	0x4u	/* written at an Anthropic breakpoint
					 * with "ttl": "1h" */

struct cache_index_entry {
	uint64_t key;		/* never 0 (0 marks a free slot) */
	int64_t last_ns;	/* last request that had this prefix */
	uint32_t flags;
	uint32_t seen;		/* requests that had it, saturating */
};

struct cache_index;

/* NULL on no memory or a budget too small for 64 entries. */
struct cache_index *cache_index_new(size_t budget_bytes);
void cache_index_free(struct cache_index *ix);

/* The entry of key, NULL if absent. */
struct cache_index_entry *cache_index_find(struct cache_index *ix, uint64_t key);
/* The entry of key, inserted (zeroed but for key) when absent; evicts when
 * full. Never NULL. *fresh tells whether it was inserted. */
struct cache_index_entry *cache_index_put(struct cache_index *ix, uint64_t key, int *fresh);

size_t cache_index_count(const struct cache_index *ix);
size_t cache_index_capacity(const struct cache_index *ix);
uint64_t cache_index_evicted(const struct cache_index *ix);

#endif
