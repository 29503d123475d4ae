/* Where llmobsd listens for LD_PRELOAD shims, and so where shims look: one
 * function for both sides (userspace only, not for BPF).
 *
 *   $LLMOBS_SOCKET                          always, when set
 *   /run/llmobs/llmobs.sock                 the system (root) daemon
 *   $XDG_RUNTIME_DIR/llmobs.sock            a user's daemon
 *   /tmp/llmobs-<uid>/llmobs.sock           ... without XDG_RUNTIME_DIR
 *
 * A user's shim tries its own daemon's socket first, then the system one. */
#ifndef LLMOBS_SHIM_PATH_H
#define LLMOBS_SHIM_PATH_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#define SHIM_SYSTEM_SOCKET	"/run/llmobs/llmobs.sock"
#define SHIM_PATH_MAX		108	/* sizeof(sockaddr_un.sun_path) */

/* Writes the n-th candidate (0, 1) for a process of effective uid euid into
 * buf. Returns 0, or -1 when there is no such candidate or it does not fit. */
static inline int shim_socket_path(int n, uid_t euid, char *buf, size_t size)
{
	const char *env = secure_getenv("LLMOBS_SOCKET");
	const char *xdg = secure_getenv("XDG_RUNTIME_DIR");
	int len;

	if (env && env[0])
		len = n == 0 ? snprintf(buf, size, "%s", env) : -1;
	else if (euid == 0)
		len = n == 0 ? snprintf(buf, size, "%s", SHIM_SYSTEM_SOCKET) : -1;
	else if (n == 0 && xdg && xdg[0] == '/')	/* XDG: relative is invalid */
		len = snprintf(buf, size, "%s/llmobs.sock", xdg);
	else if (n == 0)
		len = snprintf(buf, size, "/tmp/llmobs-%u/llmobs.sock", (unsigned int)euid);
	else if (n == 1)
		len = snprintf(buf, size, "%s", SHIM_SYSTEM_SOCKET);
	else
		len = -1;
	return len < 0 || (size_t)len >= size ? -1 : 0;
}

#endif
