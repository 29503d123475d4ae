/* The one channel between the unprivileged worker and the privileged
 * attacher: a SOCK_SEQPACKET socketpair carrying fixed-size messages.
 *
 * attacher -> worker, once: a hello with the ring and map fds (SCM_RIGHTS).
 * worker -> attacher: struct privsep_req, nothing else; some kinds get a
 * struct privsep_resp back. The attacher treats every request as hostile
 * (the worker parses what the network sends): a message of the wrong size,
 * magic, version, kind, flag or pid is dropped and counted
 * (STAT_PRIVSEP_REQUESTS_MALFORMED), never acted on. No request carries a
 * path or a length: the worker names a process, the attacher decides what
 * to read of it. */
#ifndef LLMOBS_PRIVSEP_PROTO_H
#define LLMOBS_PRIVSEP_PROTO_H

#include <linux/types.h>
#include <stddef.h>
#include "procattr.h"
#include "stats.h"

#define PRIVSEP_MAGIC		0x6c6c6f62u	/* "llob" */
#define PRIVSEP_VERSION		1
#define PRIVSEP_PID_MAX		4194304		/* PID_MAX_LIMIT on 64-bit */
#define PRIVSEP_EXE_BYTES	256
#define PRIVSEP_MAX_FDS		8

enum privsep_kind {
	/* Look at the process's mappings for TLS libraries not attached yet
	 * (OpenSSL-compatible, Go crypto/tls, whatever tls_capture finds).
	 * No reply. flags: PRIVSEP_ATTACH_*. */
	PRIVSEP_REQ_ATTACH_PID = 1,
	/* What /proc/PID/exe points to. Reply: exe. */
	PRIVSEP_REQ_EXE,
	/* The attacher's counters (stats[]). Reply: counters. */
	PRIVSEP_REQ_COUNTERS,
	/* The worker is sandboxed and polling. No reply. */
	PRIVSEP_REQ_READY,
	/* Who the process is (procattr.h: app, uid, container, pod, project
	 * from its environment or the config's rules), resolved afresh.
	 * Reply: attr. */
	PRIVSEP_REQ_PROCATTR,
	PRIVSEP_REQ__MAX,
};

/* PRIVSEP_REQ_ATTACH_PID: why the process is to be looked at. */
#define PRIVSEP_ATTACH_EXEC	0x1u	/* it exec'd: now, then as ld.so and dlopen map more */
#define PRIVSEP_ATTACH_NOW	0x2u	/* once, now */
#define PRIVSEP_ATTACH_MASK	(PRIVSEP_ATTACH_EXEC | PRIVSEP_ATTACH_NOW)

struct privsep_req {
	__u32 magic;
	__u16 version;
	__u16 kind;		/* enum privsep_kind */
	__u32 seq;		/* echoed in the reply */
	__u32 pid;		/* ATTACH_PID, EXE, PROCATTR: 1..PRIVSEP_PID_MAX; else 0 */
	__u32 flags;		/* ATTACH_PID: exactly one PRIVSEP_ATTACH_*; else 0 */
	__u32 reserved;		/* 0 */
};

struct privsep_resp {
	__u32 magic;
	__u16 version;
	__u16 kind;
	__u32 seq;
	__s32 status;		/* 0 or -errno */
	union {
		char exe[PRIVSEP_EXE_BYTES];	/* NUL-terminated */
		__u64 counters[STAT__MAX];
		struct procattr attr;
	};
};

/* attacher -> worker, with nfds fds attached. */
struct privsep_hello {
	__u32 magic;
	__u16 version;
	__u16 nfds;
	__u32 generation;	/* 1 for the first worker, +1 per restart */
	__u32 reserved;
};

/* Validates one received request of len bytes (len as recv returned it,
 * MSG_TRUNC: the real size). Returns 0 and fills *out, or -EMSGSIZE (size),
 * -EPROTO (magic, version), -EINVAL (kind, pid, flags, reserved). Does not
 * count: the caller does. */
int privsep_req_parse(const void *buf, size_t len, struct privsep_req *out);
/* Sends one message with n fds (n may be 0). Returns 0 or -errno. */
int privsep_send(int sock, const void *msg, size_t len, const int *fds, size_t n);
/* Receives one message of exactly len bytes and up to max fds (*nfds set;
 * fds of a bad message are closed). Returns 0, -EMSGSIZE, -EPIPE at EOF,
 * or -errno. */
int privsep_recv(int sock, void *msg, size_t len, int *fds, size_t max, size_t *nfds);

#endif
