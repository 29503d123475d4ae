/* The BPF capture path: uprobes on every TLS library on the host (bpf/
 * tls_capture.bpf.c), found through /proc/PID/maps, plus exec/exit
 * tracepoints, delivering struct capture_event through a ring buffer. */
#ifndef LLMOBS_TLS_CAPTURE_H
#define LLMOBS_TLS_CAPTURE_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "capture.h"
#include "capture_ring.h"

struct tls_capture;

struct tls_capture_opts {
	size_t ringbuf_bytes;	/* power of two; 0 = default 16 MiB */
	uint32_t max_chunks;	/* per TLS call; 0 = CAPTURE_MAX_CHUNKS_DEFAULT */
	pid_t self_pid;		/* never captured (the daemon itself) */
	/* The plain capture will copy the sockets of the processes in
	 * tls_capture_secret_tgids_fd() (plain_capture_opts.secret_tgids_fd):
	 * rustls with aws-lc is then probed at its key schedule, not judged
	 * blind. */
	bool secrets;
	/* The finders' answers are kept there across runs (find_cache.h);
	 * NULL: in memory only. */
	const char *find_cache_path;
};

/* Called for each event; size is the event's size in the ring buffer. */
typedef int (*tls_capture_event_fn)(void *ctx, const struct capture_event *ev,
				    size_t size);

/* Open, set rodata, load, attach tracepoints, find and attach to every TLS
 * library mapped on the host. Returns 0 or -errno. */
int tls_capture_open(const struct tls_capture_opts *opts, tls_capture_event_fn cb,
		     void *ctx, struct tls_capture **out);
/* Waits up to timeout_ms for events and delivers them; also runs due
 * rescans (new processes, libraries loaded late). Returns events handled
 * or -errno (-EINTR when interrupted). */
int tls_capture_poll(struct tls_capture *c, int timeout_ms);
/* Delivers the events already in the ring buffer, without waiting or
 * scanning (at exit: data events do not wake the poll). Returns events
 * handled or -errno. */
int tls_capture_drain(struct tls_capture *c);
/* Looks at one process (pid > 0) or every process (pid == 0) for TLS
 * libraries not attached yet. Returns how many it attached, or -errno. */
int tls_capture_rescan(struct tls_capture *c, pid_t pid);
/* Sums the per-CPU drop counters. */
int tls_capture_drops(struct tls_capture *c,
		      struct capture_drop_count out[CAPTURE_DROP__MAX]);
/* Sums the per-CPU counters of calls of ignored connections, not copied. */
int tls_capture_ignored(struct tls_capture *c, struct capture_drop_count *out);
/* Stops copying the calls of connection (tgid, ssl), the one whose event of
 * seen_ns showed it is a server side (not a later one at the same address).
 * Its SSL_free ends the mark. 0, or -ENOENT when it is gone already. */
int tls_capture_ignore(struct tls_capture *c, __u32 tgid, __u64 ssl, __u64 seen_ns);
/* Number of distinct TLS libraries (device, inode) attached. */
int tls_capture_attached(const struct tls_capture *c);
/* The events ring buffer, for another capture path to write into: one ring
 * keeps a process's events in order (its exit after its last read). */
int tls_capture_ringbuf_fd(const struct tls_capture *c);
/* The per-CPU drop counters, likewise shared so that one set is reported. */
int tls_capture_drops_fd(const struct tls_capture *c);
/* The map of processes seen by their TLS secrets (bpf/tls_secrets.bpf.h). */
int tls_capture_secret_tgids_fd(const struct tls_capture *c);
/* Privilege separation (user/7-daemon/privsep*.c). Opened with cb NULL,
 * the capture attaches and rescans but leaves the events ring to a
 * consumer in another process (capture_ring.c), to which these fds go. */
int tls_capture_consumer_fds(const struct tls_capture *c, int fds[CAPTURE_RING_FD__MAX]);
/* What an exec event does when this process consumes the ring: looks at
 * pid now and again as its libraries load. */
void tls_capture_exec_seen(struct tls_capture *c, pid_t pid);
/* Readable when the dlopen ring (or the events ring, with cb) has data. */
int tls_capture_epoll_fd(const struct tls_capture *c);
void tls_capture_close(struct tls_capture *c);

#endif
