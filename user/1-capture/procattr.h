/* Who made a call: the attribution of a process, resolved once from /proc
 * and kept after it exits. In: a pid (its /proc entry, its cgroup, the
 * runtime's and kubelet's files on the node); out: app name, uid, a keyed
 * hash of the cmdline, container id and runtime, pod uid, namespace, pod,
 * container, image, and the project label, for the exchange record.
 * Privacy: the cmdline and the environment are read, hashed or searched
 * for one variable, and forgotten; only the hash and LLMOBS_PROJECT's
 * value are kept. */
#ifndef LLMOBS_PROCATTR_H
#define LLMOBS_PROCATTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <cjson/cJSON.h>
#include "app_name.h"
#include "cgroup_path.h"
#include "record.h"

#define PROCATTR_PROJECT_MAX	64

struct procattr {
	pid_t tgid;
	bool exited;			/* kept for the exchanges it leaves */
	int64_t uid;			/* real uid; -1 unknown */
	char app[APP_NAME_MAX];
	char exe[256];			/* for config rules; the record has its own */
	char cmdline_hash[17];		/* 16 hex digits; "" when no key or no cmdline */
	struct cgroup_ident cg;
	char k8s_namespace[64];
	char k8s_pod[254];
	char k8s_container[64];
	char image[256];
	char project[PROCATTR_PROJECT_MAX];
};

/* Keyed hash of bytes (the per-install HMAC the cache analytics uses:
 * stage 5's cache_hash_once, handed in by the daemon, which wires both). */
typedef uint64_t (*procattr_hash_fn)(void *ctx, const void *data, size_t len);
/* Project rules after LLMOBS_PROJECT: labels is the runtime's labels object
 * or NULL. Writes out (NUL-terminated, size bytes) and returns 1 when a
 * rule matched, else 0. */
typedef int (*procattr_project_fn)(void *ctx, const struct procattr *a, const cJSON *labels,
				   char *out, size_t size);

struct procattr_opts {
	const char *proc_root;		/* default "/proc" */
	const char *host_root;		/* the node's / as seen here; default "" */
	procattr_hash_fn hash;		/* NULL: no cmdline hash */
	void *hash_ctx;
	procattr_project_fn project;	/* NULL: LLMOBS_PROJECT only */
	void *project_ctx;
	size_t slots;			/* default 1024, rounded up to a power of two */
};

struct procattr_table;

struct procattr_table *procattr_new(const struct procattr_opts *o);
void procattr_free(struct procattr_table *t);

/* The process's attribution, resolved now if not known yet (or if the pid
 * was seen to exit or exec since: a new program, maybe a new process).
 * Never NULL for a table; fields it could not read stay empty. */
const struct procattr *procattr_get(struct procattr_table *t, pid_t tgid);
/* The cached attribution, without resolving: for a record whose process may
 * be gone. NULL when it was never resolved or was evicted. */
const struct procattr *procattr_peek(struct procattr_table *t, pid_t tgid);
/* Where a resolve gets its answer when this process may not read other
 * users' /proc/PID/environ, exe, cwd, root or the node's runtime files: the
 * unprivileged worker asks the attacher (user/7-daemon/privsep.h), which
 * resolves with the same options. fn fills *out and returns 0, or -errno
 * and the resolve reads what it can here. */
typedef int (*procattr_remote_fn)(void *ctx, pid_t tgid, struct procattr *out);
void procattr_set_remote(struct procattr_table *t, procattr_remote_fn fn, void *ctx);
/* Resolves tgid again now, whatever is cached (the attacher, which sees no
 * exec or exit, answers each question afresh). */
const struct procattr *procattr_resolve(struct procattr_table *t, pid_t tgid);
void procattr_note_exec(struct procattr_table *t, pid_t tgid);
void procattr_note_exit(struct procattr_table *t, pid_t tgid);

/* Copies a's fields into the record's attribution fields. */
void procattr_to_record(const struct procattr *a, struct exchange_record *r);

/* Is s an acceptable project value: 1-63 of [A-Za-z0-9._/-]. */
bool procattr_project_valid(const char *s, size_t len);

#endif
