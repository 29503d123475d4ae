/* The LD_PRELOAD capture path, daemon side: a unix SOCK_SEQPACKET listener
 * that LD_PRELOAD=libllmobs.so processes connect to, handing over their
 * ring (include/shim_ring.h). Rings are drained into capture events.
 *
 * Nothing a shim says is trusted: the process is who SO_PEERCRED says
 * (tgid, uid; a tid is kept only if /proc shows it is a thread of that
 * tgid), lengths and positions are checked against the ring, and records
 * are copied out before they are looked at. A shim that breaks the ring's
 * framing is disconnected; every bad message or record is counted
 * (STAT_SHIM_MESSAGES_MALFORMED). Memory is bounded by the number of
 * clients and the ring bytes mapped, overall and per user. */
#ifndef LLMOBS_SHIM_SERVER_H
#define LLMOBS_SHIM_SERVER_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include "capture.h"

struct shim_server;

struct shim_server_opts {
	const char *path;	/* socket; NULL = shim_socket_path(0, euid) */
	bool any_user;		/* every user may connect (the system daemon);
				 * else only our own uid and root */
	size_t max_clients;	/* 0 = 1024 */
	size_t max_map_bytes;	/* ring bytes mapped at once; 0 = 1 GiB */
	size_t max_user_map_bytes; /* of which one uid other than ours; 0 = 256 MiB */
	size_t max_user_clients;   /* of which one uid other than ours and root;
				    * 0 = a quarter of max_clients */
	int hello_timeout_ms;	/* connected without a hello; 0 = 5000 */
};

/* ev->tgid, uid, cgroup_id, comm and source are the daemon's, not the
 * shim's. ev is only valid during the call. */
typedef void (*shim_event_fn)(void *ctx, const struct capture_event *ev);

/* Creates the socket (and its directory: 0700, or 0755 for any_user; an
 * existing one must be ours or root's), replacing a stale socket but never
 * a live one (-EADDRINUSE). Returns 0 or -errno. */
int shim_server_open(const struct shim_server_opts *opts, shim_event_fn cb, void *ctx,
		     struct shim_server **out);
/* Waits up to timeout_ms for connections and kicks (less while shims are
 * connected: rings are drained on a short timer), then accepts and drains
 * every ring. Returns the events delivered or -errno (-EINTR). */
int shim_server_poll(struct shim_server *s, int timeout_ms);
/* Whether a live shim reports tgid. Pending connections are accepted first
 * unless that was done after ts_ns (CLOCK_MONOTONIC): a shim connects before
 * its first SSL call, so an event of that call finds it. For the root
 * daemon, where BPF sees the same calls: such events are the shim's. */
bool shim_server_owns(struct shim_server *s, __u32 tgid, __u64 ts_ns);
size_t shim_server_clients(const struct shim_server *s);
const char *shim_server_path(const struct shim_server *s);
/* Drains and finishes every client, removes the socket. */
void shim_server_close(struct shim_server *s);

#endif
