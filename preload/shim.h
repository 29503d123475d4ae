/* Internals of libllmobs.so shared by its files: shim.c (the SSL_*
 * interposers and what they capture), shim_conn.c (the ring and the
 * connection to llmobsd) and shim_plain.c (plain HTTP sockets, when
 * asked). Nothing here is exported from the library. */
#ifndef LLMOBS_PRELOAD_SHIM_H
#define LLMOBS_PRELOAD_SHIM_H

#include <linux/types.h>
#include <stdbool.h>
#include <time.h>
#include "ring.h"

#define SHIM_NS_PER_S		1000000000ull
#define SHIM_RECONNECT_NS	SHIM_NS_PER_S	/* at most one attempt a second */
#define SHIM_TICK_NS		SHIM_NS_PER_S	/* liveness check, stats publication */

enum shim_state {
	SHIM_DISCONNECTED = 0,
	SHIM_CONNECTED,
	SHIM_OFF,		/* cannot work in this process (no memfd, fd lost) */
};

/* Process-wide counters (enum shim_stat); a fork child starts at zero.
 * The per-call ones share the first cache line. */
extern __u64 shim_stats[SHIM_STAT__MAX] __attribute__((aligned(64)));

enum shim_real { FN_WRITE, FN_READ, FN_WRITE_EX, FN_READ_EX, FN_FREE, FN_SHUTDOWN, FN__MAX };

/* What every call reads, in one cache line: between two SSL calls OpenSSL's
 * own working set evicts ours, and each line we touch is a miss. */
struct shim_hot {
	struct shim_ring *live_ring;	/* the ring while connected, else NULL */
	void *real[FN__MAX];		/* the real SSL functions, once found */
	__u32 max_call_bytes;		/* LLMOBS_MAX_CALL_BYTES */
	bool debug;			/* LLMOBS_DEBUG=1: the only way the shim prints */
} __attribute__((aligned(64)));

extern struct shim_hot shim_hot;
#define shim_debug	(shim_hot.debug)

/* For the rare counters (drops): exact under any number of threads. */
static inline void shim_count(enum shim_stat s, __u64 n)
{
	__atomic_fetch_add(&shim_stats[s], n, __ATOMIC_RELAXED);
}

/* For the per-call ones: no locked instruction on the hot path, at the
 * price of an increment lost now and then when threads race. */
static inline void shim_count_fast(enum shim_stat s, __u64 n)
{
	__atomic_store_n(&shim_stats[s], __atomic_load_n(&shim_stats[s], __ATOMIC_RELAXED) + n,
			 __ATOMIC_RELAXED);
}

/* CLOCK_MONOTONIC_COARSE: the clock of bpf_ktime_get_ns as of the last
 * tick (1 to 4 ms). A precise read costs 70 ns on a VM's kvm-clock, more
 * than the rest of a capture; exchange timings are in ms anyway. */
static inline __u64 shim_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (__u64)ts.tv_sec * SHIM_NS_PER_S + (__u64)ts.tv_nsec;
}

void shim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The ring while connected, else NULL. */
static inline struct shim_ring *shim_conn_ring(void)
{
	return __atomic_load_n(&shim_hot.live_ring, __ATOMIC_ACQUIRE);
}

/* Not connected: connects if an attempt is due (the first call, then once
 * a second). Called before the real SSL function, so that on a host where
 * the root daemon also runs BPF the connection is known before the uprobe's
 * event of that call. */
void shim_conn_retry(void);
/* The ring passed half full: wake the daemon (once per drain). */
void shim_conn_kick(void);
/* Due once a second on the hot path: publish the counters, notice a daemon
 * that went away. */
void shim_conn_tick(__u64 now_ns);
/* pthread_atfork child: the child is a new process with no connection. */
void shim_conn_fork_prepare(void);
void shim_conn_fork_parent(void);
void shim_conn_fork_child(void);
/* At exit: last publication of the counters. */
void shim_conn_exit(void);
/* Read once at load: LLMOBS_RING_KB. */
void shim_conn_init(void);

/* shim.c's capture, handed to shim_plain.c at load (shim_plain_init), so
 * that the plain-socket interposers use it without linking back up to the
 * file that loads them. conn is any id unique in the process while the
 * connection lives. */
struct shim_capture_ops {
	void (*capture)(void *conn, int dir, const void *buf, size_t len);
	void (*close)(void *conn);
	/* Before a watched socket's real call: connects if due; false when
	 * this thread is inside an interposed SSL call (the socket carries
	 * TLS). */
	bool (*prepare)(void);
};
/* Read once at load: LLMOBS_PLAIN_PORTS; finds the real socket calls. */
void shim_plain_init(const struct shim_capture_ops *ops);

#endif
