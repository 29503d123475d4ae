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

/* Set in a stream_pos value by the daemon: the connection is the server
 * side, or not HTTP. Its calls are counted (ignored map), not copied; the
 * mark goes with the entries at SSL_free. A stream position never nears
 * 2^63, so the bit survives the probe's additions. */
#define TLS_STREAM_IGNORED	(1ULL << 63)

#endif /* LLMOBS_TLS_STREAM_H */
