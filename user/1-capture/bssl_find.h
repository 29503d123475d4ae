/* Finding BoringSSL's SSL_write and SSL_read in an x86-64 executable that
 * links it statically without symbols (Bun, and so Claude Code), by
 * fingerprint, for the SSL_* probes of bpf/tls_capture.bpf.c. */
#ifndef LLMOBS_BSSL_FIND_H
#define LLMOBS_BSSL_FIND_H

#include <stddef.h>
#include <stdint.h>

struct bssl_target {
	uint64_t write_addr, read_addr;	/* link-time addresses */
	uint64_t write_off, read_off;	/* file offsets, for uprobes */
	uint32_t write_callers, read_callers;	/* direct calls seen to each */
	uint32_t sites;			/* ssl_lib.cc error sites decoded */
};

/* Error-site fingerprints of BoringSSL's ssl/ssl_lib.cc: a call to
 * ERR_put_error(ERR_LIB_SSL, 0, reason, file, line) has its file in a
 * register loaded from the string's address. */
#define BSSL_LIB_SSL			0x10
#define BSSL_R_SHOULD_NOT_HAVE_BEEN_CALLED	66
#define BSSL_R_UNINITIALIZED		226
#define BSSL_R_SSL_HANDSHAKE_FAILURE	215

/* Looks for SSL_write and SSL_read in the file at path. Returns 0 with
 * out filled when both were found and each passed every check (see
 * bssl_find.c); -ENOENT when the file has no BoringSSL ssl_lib.cc; any
 * other -errno with why in reason: -ENOEXEC (not x86-64 ELF), -ESRCH (a
 * function was not found, or not uniquely), -EILSEQ (a candidate failed a
 * check). */
/* Bumped whenever bssl_find's answers may change: cached ones are then
 * ignored (find_cache.h). */
#define BSSL_FIND_VERSION	1

int bssl_find(const char *path, struct bssl_target *out, char *reason, size_t reason_cap);

#endif
