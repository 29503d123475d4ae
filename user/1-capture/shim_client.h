/* One LD_PRELOAD shim connected to the daemon: its ring, mapped from the
 * memfd it sent, drained into checked capture events. Used by
 * shim_server.c, which owns the sockets. */
#ifndef LLMOBS_SHIM_CLIENT_H
#define LLMOBS_SHIM_CLIENT_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include "capture.h"
#include "shim_ring.h"
#include "shim_server.h"

#define SHIM_CLIENT_TIDS	8
#define SHIM_EVENT_MAX_BYTES	(sizeof(struct capture_event) + CAPTURE_CHUNK_BYTES)

struct shim_tid {
	__u32 tid;
	char comm[CAPTURE_COMM_LEN];
};

struct shim_client {
	int fd;			/* -1: slot free (shim_server.c) */
	bool active;		/* attached: hello accepted, ring mapped */
	__u32 pid, uid;		/* SO_PEERCRED */
	__u64 accepted_ns;	/* a client silent past the hello timeout goes */
	__u64 cgroup_id;
	char comm[CAPTURE_COMM_LEN];
	unsigned int malformed;	/* bad messages on the socket */
	struct shim_ring_hdr *hdr;
	const __u8 *data;
	__u64 size, cons, stall_since_ns;
	size_t map_bytes;
	struct shim_tid tids[SHIM_CLIENT_TIDS];
	unsigned int tid_next;
};

/* Checks the hello and its memfd (a sealed, big enough memfd; no other
 * file can be trusted not to shrink under the mapping), maps the ring if
 * it fits in budget_bytes, and reads who the process is from /proc.
 * Returns 0, -EPROTO for a bad hello or file, -ENOSPC over budget, or
 * -errno. */
int shim_client_attach(struct shim_client *c, const struct shim_hello *h, int memfd,
		       size_t budget_bytes);
/* Delivers the committed records (copied into buf, SHIM_EVENT_MAX_BYTES,
 * before they are read) through cb. Returns the records taken, or -EPROTO
 * when the shim broke the ring's framing or stalled it (*why says how):
 * the client must then be dropped. */
int shim_client_drain(struct shim_client *c, __u64 now_ns, shim_event_fn cb, void *ctx,
		      void *buf, const char **why);
/* Adds what the shim's own counters grew by to the daemon's stats. */
void shim_client_account(struct shim_client *c);
void shim_client_detach(struct shim_client *c);

#endif
