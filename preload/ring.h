/* Producer side of the shim ring (include/shim_ring.h): any number of
 * threads, lock-free, no syscalls. Header-only so that the unit tests run
 * the very code the shim runs against the daemon's consumer. */
#ifndef LLMOBS_PRELOAD_RING_H
#define LLMOBS_PRELOAD_RING_H

#include <linux/types.h>
#include <stddef.h>
#include "capture.h"
#include "shim_ring.h"

struct shim_ring {
	struct shim_ring_hdr *hdr;
	__u8 *data;		/* SHIM_HDR_BYTES after hdr */
	__u64 size;		/* power of two */
};

/* Positions start one lap in: the zeros of a fresh ring then never match
 * the position a record is expected at (0), so untouched space cannot pass
 * for a committed record. */
#define SHIM_RING_START_POS(size)	((__u64)(size))

static inline void shim_ring_init(struct shim_ring *r, void *map, __u32 size)
{
	r->hdr = map;
	r->data = (__u8 *)map + SHIM_HDR_BYTES;
	r->size = size;
	r->hdr->producer_pos = SHIM_RING_START_POS(size);
	r->hdr->consumer_pos = SHIM_RING_START_POS(size);
}

static inline __u64 shim_rec_bytes(__u32 len)
{
	return (sizeof(struct shim_rec) + (__u64)len + SHIM_REC_ALIGN - 1) &
	       ~(__u64)(SHIM_REC_ALIGN - 1);
}

/* Reserves a record of len bytes (capture_event + data). Returns the event
 * to fill, with *pos for shim_ring_commit() and *used, the ring's fill
 * after this record; NULL when the ring has no room. A record that would
 * cross the ring's end is placed at its start, behind a pad record. */
static inline struct capture_event *shim_ring_reserve(struct shim_ring *r, __u32 len,
						       __u64 *pos, __u64 *used)
{
	__u64 need = shim_rec_bytes(len), prod, cons, off, pad;
	struct shim_rec *rec;

	prod = __atomic_load_n(&r->hdr->producer_pos, __ATOMIC_RELAXED);
	do {
		cons = __atomic_load_n(&r->hdr->consumer_pos, __ATOMIC_ACQUIRE);
		off = prod & (r->size - 1);
		pad = off + need > r->size ? r->size - off : 0;
		/* Unsigned: a consumer_pos past prod reads as full, not as room. */
		if (prod + pad + need - cons > r->size)
			return NULL;
	} while (!__atomic_compare_exchange_n(&r->hdr->producer_pos, &prod,
					      prod + pad + need, 1, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	if (pad) {
		rec = (struct shim_rec *)(r->data + off);
		rec->len = SHIM_REC_PAD;
		__atomic_store_n(&rec->pos, prod, __ATOMIC_RELEASE);
		prod += pad;
	}
	rec = (struct shim_rec *)(r->data + (prod & (r->size - 1)));
	rec->len = len;
	*pos = prod;
	*used = prod + need - cons;
	return (struct capture_event *)(rec + 1);
}

/* Publishes a reserved record: everything written to it before is seen by
 * the consumer that sees it. */
static inline void shim_ring_commit(struct capture_event *ev, __u64 pos)
{
	struct shim_rec *rec = (struct shim_rec *)ev - 1;

	__atomic_store_n(&rec->pos, pos, __ATOMIC_RELEASE);
}

#endif
