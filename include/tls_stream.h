/* The BPF TLS capture's per-stream state, which the daemon also writes: it
 * marks the connections it has no use for so that their calls are no longer
 * copied. Types and constants only, no includes (see capture.h). */
#ifndef LLMOBS_TLS_STREAM_H
#define LLMOBS_TLS_STREAM_H

/* Key of the stream_pos map: one byte stream of one connection. */
struct tls_stream_key {
	__u64 ssl;
	__u32 tgid;
	__u32 dir;		/* enum capture_dir */
};

/* Value of the stream_pos map. */
struct tls_stream_pos {
	__u64 pos;		/* bytes moved so far, | TLS_STREAM_IGNORED */
	__u64 birth_ns;		/* when the connection's first call returned:
				 * the daemon marks only a connection born no
				 * later than the event it decided on, never a
				 * newer one at a reused SSL* address */
};

/* Set in pos by the daemon: the connection is the server side. Its calls
 * are counted (ignored map), not copied; a direction's entry created later
 * takes the mark from the other one, and both go at SSL_free. A stream
 * position never nears 2^63, so the bit survives the probe's additions. */
#define TLS_STREAM_IGNORED	(1ULL << 63)

#endif /* LLMOBS_TLS_STREAM_H */
