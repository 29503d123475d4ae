/* The Go crypto/tls capture path (bpf/go_tls.bpf.c): probes on each Go
 * executable that carries crypto/tls, found by go_elf.c, writing the same
 * struct capture_event stream as the SSL_* probes into the TLS capture's
 * ring. Owned by tls_capture.c, which offers it every executable file it
 * finds mapped that has no SSL_* symbols. */
#ifndef LLMOBS_GO_CAPTURE_H
#define LLMOBS_GO_CAPTURE_H

#include <stdint.h>
#include <sys/types.h>

struct go_tls;
struct bpf_link;

struct go_tls_opts {
	/* The TLS capture's maps, shared (bpf_map__reuse_fd): one ring keeps
	 * a process's events in order, one stream_pos map lets the daemon
	 * mark a server side whichever probe saw it, one set of counters. */
	int ringbuf_fd;
	int drops_fd;
	int stream_pos_fd;
	int ignored_fd;
	uint32_t max_chunks;	/* per call; 0 = CAPTURE_MAX_CHUNKS_DEFAULT */
};

/* Open, set rodata, share the maps, load; nothing attached yet. Returns 0
 * or -errno. */
int go_tls_open(const struct go_tls_opts *opts, struct go_tls **out);
/* Probes the executable file at path (openable, e.g. /proc/PID/root/...;
 * shown: its path for the log) if it is a Go program with crypto/tls, once
 * per (dev, ino) for every process that maps it. A binary that is Go with
 * crypto/tls but cannot be probed is logged once with the reason and
 * counted (go_tls_refused). Returns 1 when it attached, 0 when there was
 * nothing (more) to do, -ESRCH when pid exited before the probes were in
 * (not remembered: another process of the binary may offer it), or
 * -errno (-ENOMEM). */
int go_tls_attach(struct go_tls *g, const char *path, const char *shown, pid_t pid,
		  dev_t dev, ino_t ino);
/* Go executables probed. */
int go_tls_attached(const struct go_tls *g);
/* Hands every link to release (NULL: bpf_link__destroy) and frees g. */
void go_tls_close(struct go_tls *g, void (*release)(struct bpf_link *link));

#endif
