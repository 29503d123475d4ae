/* The plain-HTTP capture path (bpf/plain_capture.bpf.c): the bytes local
 * clients read and write on TCP connections to model servers on loopback
 * (Ollama 11434, vLLM 8000, LM Studio 1234, llama.cpp 8080 by default),
 * delivered as struct capture_event with source CAPTURE_SOURCE_SYSCALL. */
#ifndef LLMOBS_PLAIN_CAPTURE_H
#define LLMOBS_PLAIN_CAPTURE_H

#include <linux/types.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "capture.h"

#define PLAIN_CAPTURE_MAX_PORTS		64
#define PLAIN_CAPTURE_DEFAULT_PORTS	"11434,8000,1234,8080"

struct plain_capture;

struct plain_capture_opts {
	const uint16_t *ports;	/* peer ports watched on loopback */
	size_t nports;
	/* > 0: write into this ring buffer (tls_capture_ringbuf_fd), whose
	 * owner delivers the events, so that they keep their order with the
	 * TLS path's exec/exit events; cb is then never called. */
	int ringbuf_fd;
	int drops_fd;		/* > 0: count drops there (tls_capture_drops_fd) */
	/* > 0: the map of processes whose sockets are looked at, shared
	 * with the TLS capture, which marks those seen by their TLS secrets:
	 * their other TCP sockets are copied as CAPTURE_SOURCE_CIPHER
	 * (tls_capture_secret_tgids_fd) */
	int secret_tgids_fd;
	size_t ringbuf_bytes;	/* own ring: power of two; 0 = default 4 MiB */
	uint32_t max_chunks;	/* per call; 0 = CAPTURE_MAX_CHUNKS_DEFAULT */
	pid_t self_pid;		/* never captured (the daemon itself) */
};

typedef int (*plain_capture_event_fn)(void *ctx, const struct capture_event *ev,
				      size_t size);

/* Parses "11434,8000" (or "none": no port) into ports[]. Returns how many,
 * or -EINVAL for a bad list (a port outside 1..65535, more than max). */
int plain_capture_parse_ports(const char *list, uint16_t *ports, size_t max);
/* Open, set rodata, load, fill the port map, attach. Returns 0 or -errno. */
int plain_capture_open(const struct plain_capture_opts *opts, plain_capture_event_fn cb,
		       void *ctx, struct plain_capture **out);
/* Delivers waiting events of an own ring, waiting up to timeout_ms.
 * Returns events handled or -errno (-EINTR when interrupted). */
int plain_capture_poll(struct plain_capture *c, int timeout_ms);
/* Sums the per-CPU drop counters. */
int plain_capture_drops(struct plain_capture *c,
			struct capture_drop_count out[CAPTURE_DROP__MAX]);
void plain_capture_close(struct plain_capture *c);
/* Adds a CAPTURE_TGID_* reason to tgid in the map of processes whose
 * sockets are looked at. Returns 0 or -errno. */
int plain_capture_mark_tgid(int map_fd, __u32 tgid, __u8 bit);

#endif
