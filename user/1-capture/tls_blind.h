/* Blind spots: executables that carry a TLS stack the capture cannot probe
 * (Bun and so Claude Code, rustls in Codex and Deno, OpenSSL or BoringSSL
 * linked in without symbols), told apart by their sections and strings so
 * that a user sees what is not recorded instead of assuming zero spend. */
#ifndef LLMOBS_TLS_BLIND_H
#define LLMOBS_TLS_BLIND_H

#include <stddef.h>

/* The section that marks our own programs, which carry the fingerprints. */
#define TLS_BLIND_SELF_SECTION	".llmobs_fingerprints"

/* At most this much of .rodata is searched for a stack's strings. */
#define TLS_BLIND_SCAN_BYTES	(64u << 20)

/* Looks at the executable at path (already known to have no SSL_* symbols
 * and not to be a probed Go program). Returns 1 with the stack's name in
 * stack when it carries one we cannot observe, 0 when it carries none we
 * know of (or is a shared library: those are judged by what they export),
 * or -errno. */
int tls_blind_guess(const char *path, char *stack, size_t stack_cap);

#endif
