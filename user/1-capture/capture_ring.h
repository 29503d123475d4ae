/* The consuming half of BPF capture, which needs no privilege: given the fds
 * of the events ring buffer and of the counter maps (loaded and owned by the
 * attacher, passed over a unix socket), delivers struct capture_event,
 * sums the drop counters and marks connections the daemon ignores.
 * The attaching half stays in tls_capture.c, in the privileged process. */
#ifndef LLMOBS_CAPTURE_RING_H
#define LLMOBS_CAPTURE_RING_H

#include <linux/types.h>
#include <stddef.h>
#include "capture.h"

/* The maps of bpf/tls_capture.bpf.c the consumer uses, in the order they
 * travel over the socket. */
enum capture_ring_fd {
	CAPTURE_RING_FD_EVENTS,		/* BPF_MAP_TYPE_RINGBUF of capture_event */
	CAPTURE_RING_FD_DROPS,		/* per-CPU capture_drop_count[CAPTURE_DROP__MAX] */
	CAPTURE_RING_FD_IGNORED,	/* per-CPU capture_drop_count[1] */
	CAPTURE_RING_FD_STREAM_POS,	/* tls_stream_key -> tls_stream_pos */
	CAPTURE_RING_FD__MAX,
};

struct capture_ring;

typedef int (*capture_ring_event_fn)(void *ctx, const struct capture_event *ev, size_t size);

/* Takes ownership of fds[] (closed by capture_ring_close, or here on
 * failure). Returns 0 or -errno. */
int capture_ring_open(const int fds[CAPTURE_RING_FD__MAX], capture_ring_event_fn cb,
		      void *ctx, struct capture_ring **out);
/* Waits up to timeout_ms, delivers what the ring holds (data events do not
 * wake the poll: they are taken after any wake-up or timeout). Returns
 * events handled or -errno (-EINTR when interrupted). */
int capture_ring_poll(struct capture_ring *r, int timeout_ms);
/* Makes capture_ring_poll return -EPIPE once fd's peer has hung up (the
 * worker's socket to the attacher: it must not outlive it). fd is not
 * taken over. Returns 0 or -errno. */
int capture_ring_watch(struct capture_ring *r, int fd);
/* Delivers what the ring holds, without waiting. */
int capture_ring_drain(struct capture_ring *r);
int capture_ring_drops(struct capture_ring *r, struct capture_drop_count out[CAPTURE_DROP__MAX]);
int capture_ring_ignored(struct capture_ring *r, struct capture_drop_count *out);
/* As tls_capture_ignore(). */
int capture_ring_ignore(struct capture_ring *r, __u32 tgid, __u64 ssl, __u64 seen_ns);
void capture_ring_close(struct capture_ring *r);

/* Shared with tls_capture.c, which reads the same maps in one process. */
int capture_maps_sum(int fd, __u32 n, struct capture_drop_count *out);
int capture_maps_ignore(int stream_pos_fd, __u32 tgid, __u64 ssl, __u64 seen_ns);

#endif
