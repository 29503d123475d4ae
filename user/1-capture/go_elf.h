/* Finding Go crypto/tls in an executable, stripped or not: function
 * entries from .gopclntab (which the Go linker keeps even with -s -w), the
 * toolchain version from .go.buildinfo, and the RET instructions of each
 * function by disassembly (libcapstone), for bpf/go_tls.bpf.c. */
#ifndef LLMOBS_GO_ELF_H
#define LLMOBS_GO_ELF_H

#include <stddef.h>
#include <stdint.h>
#include "go_tls.h"

enum go_fn {
	GO_FN_WRITE,		/* crypto/tls.(*Conn).Write */
	GO_FN_READ,		/* crypto/tls.(*Conn).Read */
	GO_FN_CLOSE,		/* crypto/tls.(*Conn).Close */
	GO_FN__MAX,
};

extern const char *const go_fn_names[GO_FN__MAX];

/* A function as .gopclntab describes it: link-time address and size. */
struct go_func {
	uint64_t addr;
	uint64_t size;
};

struct go_tls_func {
	uint64_t entry_off;			/* file offset; 0 = absent */
	uint32_t nr_rets;
	uint64_t ret_off[GO_TLS_MAX_RETS];	/* file offsets of each RET */
};

struct go_tls_target {
	char version[32];		/* "go1.19.8", or "" when unknown */
	struct go_tls_func fn[GO_FN__MAX];
};

/* Looks up the GO_FN__MAX functions in a .gopclntab image of len bytes
 * whose functions start at text_start when the header does not say
 * (PIE: the header's field is a relocation). out[k].addr = 0 when absent.
 * Returns 0, or -EINVAL for a table that is not one or is cut short,
 * -EPROTONOSUPPORT for a table from before Go 1.16. */
int go_pclntab_find(const uint8_t *tab, size_t len, uint64_t text_start,
		    struct go_func out[GO_FN__MAX]);

/* The Go version recorded in a .go.buildinfo image of len bytes, when it
 * holds it inline (Go >= 1.18), into ver (NUL-terminated, at most cap-1
 * bytes). Returns 0, -ENOENT when the version is held by pointer (Go
 * 1.13-1.17: see go_elf_inspect), -EINVAL when it is not a buildinfo. */
int go_buildinfo_version(const uint8_t *bi, size_t len, char *ver, size_t cap);

/* Parses "go1.N..." (or "devel go1.N-...") into N; -EINVAL otherwise. */
int go_version_minor(const char *ver);

/* Everything bpf/go_tls.bpf.c needs to probe path, each candidate checked:
 * a Go >= 1.17 amd64 executable, each entry with a Go prologue that
 * compares against g.stackguard0 through R14, and each function decoded
 * instruction by instruction to its end. Returns 0 when Write and Read are
 * both there and probe-able; -ENOENT when it is not a Go program or has
 * no crypto/tls (most executables: not worth a log line); otherwise
 * -errno with why in reason (one line, for the log and the blind-spot
 * list): -EPROTONOSUPPORT (Go too old: stack ABI), -ENOEXEC (not amd64),
 * -EILSEQ (an entry or an instruction failed the check), -E2BIG (more
 * RETs than GO_TLS_MAX_RETS). */
int go_elf_inspect(const char *path, struct go_tls_target *out, char *reason,
		   size_t reason_cap);

#endif
