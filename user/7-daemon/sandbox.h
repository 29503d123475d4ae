/* The cell the worker (and the --no-bpf daemon) parses network bytes in:
 * an unprivileged uid/gid, no capability in any set, no_new_privs, and a
 * seccomp allow-list (sandbox_seccomp.c). */
#ifndef LLMOBS_SANDBOX_H
#define LLMOBS_SANDBOX_H

#include <stdbool.h>
#include <sys/types.h>

#define SANDBOX_USER		"llmobs"	/* created by make install / packaging */
#define SANDBOX_FALLBACK_USER	"nobody"

struct sandbox_user {
	uid_t uid;
	gid_t gid;
	char name[32];
};

/* $LLMOBS_USER, else SANDBOX_USER, else SANDBOX_FALLBACK_USER (said once).
 * Never uid 0. Returns 0 or -ENOENT. Call before the seccomp filter (NSS
 * reads files and may load modules). */
int sandbox_find_user(struct sandbox_user *out);

/* As root: no supplementary groups, then gid, then uid (real, effective,
 * saved), having emptied the bounding set; checks it cannot go back. Not
 * root: nothing. Then, for everyone: ambient and inheritable sets cleared,
 * no_new_privs. Returns 0 or -errno. */
int sandbox_drop_user(const struct sandbox_user *u);

/* Loads the allow-list; anything else kills the process (SIGSYS).
 * $LLMOBS_SECCOMP=log logs instead of killing (to find a missing syscall:
 * the kernel's audit log names it); =off is refused unless built with
 * LLMOBS_TEST_HOOKS. Returns 0 or -errno. */
int sandbox_seccomp_load(void);
/* Before sandbox_seccomp_load(): the filter also lets a thread open
 * outbound connections (opt-in telemetry). */
void sandbox_seccomp_allow_outbound(void);

/* Whether this process has any capability in its permitted, effective or
 * bounding set (for the log line that shows the result). */
bool sandbox_has_caps(void);

#endif
