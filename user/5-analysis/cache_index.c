/* Open addressing with linear probing at load <= 1/2, deletion by
 * backward shift (no tombstones, so probes stay short however long the
 * daemon runs), and a ring of keys in insertion order for the CLOCK hand.
 * Keys are HMAC outputs: uniformly spread, used as their own hash. */
#include <stdint.h>
#include <stdlib.h>
#include "cache_index.h"

#define PAGE_BYTES	4096u

struct cache_index {
	struct cache_index_entry *slots;
	uint64_t *touched;	/* a bit per 4 KiB page of slots written */
	size_t mask;		/* slots - 1 */
	uint64_t *ring;		/* keys, oldest at head */
	size_t ring_cap, head, count;
	uint64_t evicted;
};

struct cache_index *cache_index_new(size_t budget_bytes)
{
	struct cache_index *ix;
	size_t per = 2 * sizeof(struct cache_index_entry) + sizeof(uint64_t);
	size_t max = budget_bytes / per, slots = 64;

	if (max < 64)
		return NULL;
	while (slots < 2 * max)
		slots *= 2;
	/* a power of two above 2*max may overshoot the budget: shrink max */
	if (slots * sizeof(struct cache_index_entry) + max * sizeof(uint64_t) > budget_bytes)
		max = slots / 4;
	ix = calloc(1, sizeof(*ix));
	if (!ix)
		return NULL;
	ix->slots = calloc(slots, sizeof(*ix->slots));
	ix->touched = calloc(slots * sizeof(*ix->slots) / PAGE_BYTES / 64 + 2, sizeof(uint64_t));
	ix->ring = calloc(max, sizeof(*ix->ring));
	if (!ix->slots || !ix->touched || !ix->ring) {
		cache_index_free(ix);
		return NULL;
	}
	ix->mask = slots - 1;
	ix->ring_cap = max;
	return ix;
}

void cache_index_free(struct cache_index *ix)
{
	if (!ix)
		return;
	free(ix->slots);
	free(ix->touched);
	free(ix->ring);
	free(ix);
}

/* The first access to a page of slots writes it: new keys land anywhere
 * in the budget, and a page first read maps the shared zero page, which
 * the write that follows must then copy: two faults per page, not one,
 * until the budget has all been touched (a tenth of the analysis of a
 * changing prompt in a daemon's first hundred thousand calls). */
static void touch(const struct cache_index *ix, size_t i)
{
	size_t pg = ((uintptr_t)&ix->slots[i] - ((uintptr_t)ix->slots & ~(uintptr_t)(PAGE_BYTES - 1))) /
		    PAGE_BYTES;

	if (ix->touched[pg / 64] & (1ULL << (pg % 64)))
		return;
	ix->touched[pg / 64] |= 1ULL << (pg % 64);
	/* a read-modify-write faults as a write: no zero page first */
	__atomic_fetch_or(&ix->slots[i].flags, 0, __ATOMIC_RELAXED);
}

static size_t probe(const struct cache_index *ix, uint64_t key)
{
	size_t i = (size_t)(key ^ (key >> 29)) & ix->mask;

	touch(ix, i);
	while (ix->slots[i].key && ix->slots[i].key != key)
		i = (i + 1) & ix->mask;
	return i;
}

static uint64_t nz(uint64_t key)
{
	return key ? key : 1;
}

struct cache_index_entry *cache_index_find(struct cache_index *ix, uint64_t key)
{
	size_t i = probe(ix, nz(key));

	if (!ix->slots[i].key)
		return NULL;
	ix->slots[i].flags |= CACHE_ENTRY_REF;
	return &ix->slots[i];
}

static void remove_slot(struct cache_index *ix, size_t i)
{
	size_t j = i;

	for (;;) {
		size_t home;

		j = (j + 1) & ix->mask;
		if (!ix->slots[j].key)
			break;
		home = (size_t)(ix->slots[j].key ^ (ix->slots[j].key >> 29)) & ix->mask;
		/* move j back to i unless its home lies cyclically in (i, j] */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			ix->slots[i] = ix->slots[j];
			i = j;
		}
	}
	ix->slots[i].key = 0;
}

/* Frees one ring place: the CLOCK hand gives a second chance to entries
 * used since it last passed. */
static void evict_one(struct cache_index *ix)
{
	for (size_t tries = 0; tries <= ix->ring_cap; tries++) {
		uint64_t key = ix->ring[ix->head];
		size_t i = probe(ix, key);

		if (ix->slots[i].key && (ix->slots[i].flags & CACHE_ENTRY_REF) &&
		    tries < ix->ring_cap) {
			ix->slots[i].flags &= ~CACHE_ENTRY_REF;
			ix->head = (ix->head + 1) % ix->ring_cap;	/* stays in the ring */
			continue;
		}
		if (ix->slots[i].key)
			remove_slot(ix, i);
		/* the hand's slot is the free place: the caller appends there */
		ix->count--;
		ix->evicted++;
		return;
	}
}

struct cache_index_entry *cache_index_put(struct cache_index *ix, uint64_t key, int *fresh)
{
	size_t i, tail;

	key = nz(key);
	i = probe(ix, key);
	if (ix->slots[i].key) {
		ix->slots[i].flags |= CACHE_ENTRY_REF;
		if (fresh)
			*fresh = 0;
		return &ix->slots[i];
	}
	if (ix->count == ix->ring_cap) {
		evict_one(ix);
		/* the ring's head place is free: the new key takes it and the
		 * head moves past it, so it is the newest */
		ix->ring[ix->head] = key;
		ix->head = (ix->head + 1) % ix->ring_cap;
		i = probe(ix, key);
	} else {
		tail = (ix->head + ix->count) % ix->ring_cap;
		ix->ring[tail] = key;
	}
	ix->count++;
	ix->slots[i] = (struct cache_index_entry){ .key = key };
	if (fresh)
		*fresh = 1;
	return &ix->slots[i];
}

size_t cache_index_count(const struct cache_index *ix) { return ix->count; }
size_t cache_index_capacity(const struct cache_index *ix) { return ix->ring_cap; }
uint64_t cache_index_evicted(const struct cache_index *ix) { return ix->evicted; }
