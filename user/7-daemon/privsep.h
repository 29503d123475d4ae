/* Privilege separation of llmobsd (README "Privilege separation").
 *
 *   attacher (root, 9 capabilities)        worker (user llmobs, none, seccomp)
 *   loads BPF, attaches uprobes,   fds ->  consumes the ring, shim socket,
 *   reads /proc of other processes  <- req parses, prices, stores
 *
 * The attacher never sees a captured byte; the worker, which parses them,
 * can do nothing a user without privilege cannot, minus what seccomp
 * forbids. */
#ifndef LLMOBS_PRIVSEP_H
#define LLMOBS_PRIVSEP_H

#include <stdint.h>
#include <sys/types.h>
#include "capture_ring.h"
#include "procattr.h"
#include "stats.h"
#include "tls_capture.h"

struct privsep_opts {
	struct tls_capture_opts tls;
	const char *plain_ports;	/* NULL: PLAIN_CAPTURE_DEFAULT_PORTS */
	/* Answers PROCATTR requests (the worker's table asks through
	 * privsep_worker_procattr); NULL: they get -ENOSYS. */
	struct procattr_table *attr;
};

struct privsep_worker;

/* Loads and attaches the capture here, drops this process to the
 * attacher's capabilities, then forks the worker and serves it until told
 * to stop (SIGTERM, SIGINT), restarting it with backoff when it dies. The
 * attacher never returns from this call: it exits, with the worker's exit
 * status, after detaching everything.
 * Returns 0 in each worker (*out set; still root, with only stdio and its
 * socket open: the caller opens its files, then privsep_worker_sandbox), or
 * -errno in the calling process if the capture cannot start. */
int privsep_start(const struct privsep_opts *o, struct privsep_worker **out);

/* The ring and maps passed by the attacher, as a capture_ring delivering
 * to cb. Exec events are also reported to the attacher (its rescans). */
int privsep_worker_capture(struct privsep_worker *w, capture_ring_event_fn cb, void *ctx,
			   struct capture_ring **out);
/* Enters the sandbox (sandbox.h) and tells the attacher. Returns 0 or
 * -errno (the worker must then exit). */
int privsep_worker_sandbox(struct privsep_worker *w);
/* TLS libraries the attacher had attached when this worker started. */
int privsep_worker_attached(const struct privsep_worker *w);
/* The attacher's counters, asked for now (their last known values if it
 * does not answer within 200 ms). */
void privsep_worker_counters(struct privsep_worker *w, uint64_t out[STAT__MAX]);

/* A procattr_remote_fn (procattr_set_remote): the attacher resolves what
 * the worker may not read. ctx is the worker. */
int privsep_worker_procattr(void *ctx, pid_t tgid, struct procattr *out);

/* Internal, privsep_attacher.c -> privsep_worker.c: in a new worker,
 * takes the hello and fds on sock (from the attacher, pid attacher). */
int privsep_worker_init(int sock, pid_t attacher, struct privsep_worker **out);

/* --no-bpf: one process, the same sandbox and filter. As root it also
 * takes the worker's uid. Returns 0 or -errno. */
int privsep_sandbox_self(void);

#endif
