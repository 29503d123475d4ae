/* Finding aws-lc's HKDF_expand in an x86-64 executable that links it
 * statically without symbols (rustls with the aws-lc-rs provider: Codex,
 * Deno), by fingerprint: the entry where a TLS 1.3 key schedule's
 * HKDF-Expand-Label calls pass their secret and label. */
#ifndef LLMOBS_AWSLC_FIND_H
#define LLMOBS_AWSLC_FIND_H

#include <stddef.h>
#include <stdint.h>

struct awslc_target {
	uint64_t expand_addr;		/* link-time address of HKDF_expand */
	uint64_t expand_off;		/* its file offset, for a uprobe */
	uint64_t site_addr;		/* its OUTPUT_TOO_LARGE error site */
	uint32_t callers;		/* direct calls seen to the entry */
	int fde;			/* 1: an .eh_frame FDE begins there too */
};

/* OPENSSL_PUT_ERROR(HKDF, HKDF_R_OUTPUT_TOO_LARGE) in HKDF_expand:
 * ERR_put_error(ERR_LIB_HKDF, 0, reason, "…/hkdf.c", line). */
#define AWSLC_LIB_HKDF			31
#define AWSLC_R_OUTPUT_TOO_LARGE	100

/* Looks for HKDF_expand in the file at path. Returns 0 with out filled
 * when it was found and passed every check (awslc_find.c); -ENOENT when
 * the file has no aws-lc hkdf.c; any other -errno with why in reason:
 * -ENOEXEC (not x86-64), -ESRCH (no single candidate), -EILSEQ (a check
 * failed). */
/* Bumped whenever awslc_find's answers may change: cached ones are then
 * ignored (find_cache.h). */
#define AWSLC_FIND_VERSION	1

int awslc_find(const char *path, struct awslc_target *out, char *reason, size_t reason_cap);

#endif
