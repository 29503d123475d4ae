/* Finding TLS libraries: executable file mappings in /proc/PID/maps, and
 * the OpenSSL entry points a file exports in its .dynsym. No BPF here. */
#ifndef LLMOBS_TLS_LIBS_H
#define LLMOBS_TLS_LIBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

enum tls_sym {
	TLS_SYM_SSL_WRITE,
	TLS_SYM_SSL_READ,
	TLS_SYM_SSL_WRITE_EX,
	TLS_SYM_SSL_READ_EX,
	TLS_SYM_SSL_FREE,
	TLS_SYM_DLOPEN,		/* libc: libraries loaded late (Python's _ssl) */
	TLS_SYM__MAX,
};

extern const char *const tls_sym_names[TLS_SYM__MAX];

/* File offsets (what a uprobe is attached at); 0 = not exported. */
struct tls_lib_syms {
	uint64_t offset[TLS_SYM__MAX];
};

/* Reads the defined functions of path's .dynsym. Returns 0 (offsets of the
 * missing ones left 0) or -errno. */
int tls_lib_inspect(const char *path, struct tls_lib_syms *out);

/* One executable file mapping of /proc/PID/maps. dev and ino are the ones
 * the kernel shows, i.e. the inode a uprobe on that file lands on. */
struct tls_mapping {
	dev_t dev;
	ino_t ino;
	unsigned long start, end;
	bool deleted;		/* file unlinked since: open via map_files */
	const char *path;	/* as seen in the process's mount namespace */
};

/* Opens the file of mapping m of pid for reading, wherever it is reachable
 * from here (see tls_libs.c), checked to be the inode m shows (binfile.h).
 * Writes the path used into path. Returns the fd or -errno. */
int tls_mapping_open(pid_t pid, const struct tls_mapping *m, char *path, size_t cap,
		     struct stat *st);

typedef int (*tls_mapping_fn)(void *ctx, pid_t pid, const struct tls_mapping *m);

/* Calls fn for each executable file mapping of pid, stopping at the first
 * non-zero return, which it passes on. Returns 0 or -errno. */
int tls_maps_for_each(pid_t pid, tls_mapping_fn fn, void *ctx);

/* Start time (clock ticks since boot) and virtual size of pid: a process
 * whose pair has not changed has not mapped anything new. Returns 0 or
 * -errno. */
int tls_proc_stat(pid_t pid, uint64_t *starttime, uint64_t *vsize_bytes);

#endif
