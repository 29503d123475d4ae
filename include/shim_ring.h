/* The LD_PRELOAD shim's channel to llmobsd. Shared by preload/ (producer)
 * and user/shim_server.c (consumer); types and constants only, no includes
 * (like capture.h).
 *
 * A shim connects a SOCK_SEQPACKET unix socket and sends one struct
 * shim_hello with a sealed memfd (F_SEAL_SHRINK) as SCM_RIGHTS. The memfd
 * holds a struct shim_ring_hdr page and then a ring of records, each a
 * struct shim_rec and a struct capture_event with its data. Threads of the
 * process reserve space with a CAS on producer_pos, fill the record, and
 * commit it by storing the record's own position into rec->pos (release):
 * the daemon never reads a record whose pos is not the one it expects, so
 * half-written space, or an older lap, is never taken for a record. Nothing
 * on the hot path is a syscall; the daemon drains the ring on a timer, and
 * a shim whose ring passes half full sends one byte on the socket to wake
 * it early (at most once per drain: kick_pending). */
#ifndef LLMOBS_SHIM_RING_H
#define LLMOBS_SHIM_RING_H

#define SHIM_MAGIC		0x736d6c6cu	/* "llms" */
#define SHIM_VERSION		1
#define SHIM_HDR_BYTES		4096		/* the header page, then the ring */
#define SHIM_RING_MIN_BYTES	(64u * 1024)
#define SHIM_RING_MAX_BYTES	(16u * 1024 * 1024)
#define SHIM_RING_DEFAULT_BYTES	(2u * 1024 * 1024)
#define SHIM_REC_ALIGN		16		/* a ring end always fits a pad record */
#define SHIM_REC_PAD		0xffffffffu	/* rec->len: skip to the ring's start */

/* The one message a shim sends; its memfd comes with it as SCM_RIGHTS. */
struct shim_hello {
	__u32 magic;		/* SHIM_MAGIC */
	__u32 version;		/* SHIM_VERSION */
	__u32 ring_bytes;	/* power of two, MIN..MAX; memfd >= HDR + ring */
	__u32 flags;		/* 0 */
	__u64 start_pos;	/* consumer_pos when connecting: what a daemon
				 * that went away did not read is read by the
				 * next one */
};

/* The shim's counters, cumulative for the process (a fork child starts at
 * 0). The daemon adds what grew since it last looked (stats_seen). */
enum shim_stat {
	SHIM_STAT_CALLS = 0,		/* SSL_read/SSL_write calls that moved bytes */
	SHIM_STAT_EVENTS,		/* records committed (LLMOBS_DEBUG=1 only) */
	SHIM_STAT_BYTES,		/* payload bytes in them (LLMOBS_DEBUG=1 only) */
	/* CALLS, EVENTS, BYTES, NO_DAEMON and SERVER_BYTES are counted
	 * without locked instructions: exact for one thread, may miss a few
	 * when threads race. */
	SHIM_STAT_DROP_RING_FULL_EVENTS,/* the daemon did not drain in time */
	SHIM_STAT_DROP_RING_FULL_BYTES,
	SHIM_STAT_DROP_NO_DAEMON_EVENTS,/* not connected (absent, refused, gone) */
	SHIM_STAT_DROP_NO_DAEMON_BYTES,
	SHIM_STAT_DROP_OVER_CAP_BYTES,	/* past the per-call cap */
	SHIM_STAT_DROP_NO_SLOT_EVENTS,	/* connection table full */
	SHIM_STAT_DROP_NO_SLOT_BYTES,
	SHIM_STAT_RECONNECTS,		/* connections made after the first */
	SHIM_STAT_SERVER_BYTES,		/* not sent: this process is the server
					 * (LLMOBS_DEBUG=1 only) */
	SHIM_STAT__MAX,
};

struct shim_ring_hdr {
	__u64 producer_pos;		/* bytes reserved so far (shim) */
	__u8 _pad0[56];			/* own cache line: producers CAS it */
	__u64 consumer_pos;		/* bytes consumed (daemon) */
	__u32 kick_pending;		/* shim: 1 once it kicked; daemon: 0 after a drain */
	__u32 _pad1;
	__u8 _pad2[48];
	__u64 stats[SHIM_STAT__MAX];	/* written by the shim */
	__u64 stats_seen[SHIM_STAT__MAX];/* written by the daemon */
};

/* Record header; SHIM_REC_ALIGN bytes. len bytes of capture_event follow
 * (a pad record has none and fills the rest of the ring). */
struct shim_rec {
	__u32 len;		/* sizeof(capture_event) + data_len, or SHIM_REC_PAD */
	__u32 _pad;
	__u64 pos;		/* the record's ring position: stored last, commits it */
};

#endif /* LLMOBS_SHIM_RING_H */
