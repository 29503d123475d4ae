/* The shim listener's socket file: its directory, its mode, and replacing a
 * stale one left by a daemon that was killed, never a live one. */
#ifndef LLMOBS_SHIM_SOCK_H
#define LLMOBS_SHIM_SOCK_H

#include <stdbool.h>
#include <sys/types.h>

/* Listens on path (SOCK_SEQPACKET, non-blocking). The directory is made if
 * missing (0755 for any_user, else 0700) and must belong to us or root; the
 * socket is 0666 for any_user (each shim is told apart by SO_PEERCRED),
 * else 0600. *dev and *ino name the socket file for shim_sock_unlink().
 * Returns 0 or -errno (-EADDRINUSE: a daemon listens there already). */
int shim_sock_listen(const char *path, bool any_user, int *fd, dev_t *dev, ino_t *ino);
/* Removes path if it is still the socket file we made. */
void shim_sock_unlink(const char *path, dev_t dev, ino_t ino);

#endif
