/* Exchanges: a request and its response, from the heads and bodies that
 * HTTP/1.1 (http1_stream.c) or HTTP/2 (h2.c) framing found, to the record
 * handed to conn.c's caller. Used by conn.c, h2.c and http1_stream.c. */
#ifndef LLMOBS_EXCHANGE_H
#define LLMOBS_EXCHANGE_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "conn.h"
#include "content.h"
#include "http1.h"

struct exchange;

/* Who is on our side of the connection. */
struct conn_peer {
	__u32 tgid;
	__u32 tid;
	__u64 cgroup_id;
	__u8 source;		/* enum capture_source */
	char comm[16];
	char exe[256];
};

enum http_dir_state {
	DIR_HEAD = 0,	/* expecting (more of) a message head */
	DIR_BODY,	/* inside a body, framed by framing/remaining */
	DIR_RESYNC,	/* bytes were lost: wait for a call that starts a message */
};

/* One direction's byte stream. */
struct http_dir {
	bool is_response;
	bool have_pos;
	__u64 next_pos;		/* stream position expected next */
	__u64 call_end;		/* where the last TLS call seen ends */
	enum http_dir_state state;
	char *head;		/* head bytes so far, at most HTTP1_MAX_HEAD_BYTES */
	size_t head_len, head_cap, last_len;
	int framing;		/* enum http1_framing */
	uint64_t remaining;	/* HTTP1_BODY_LENGTH */
	struct http1_chunked_decoder chunked;
	struct content_decoder dec;
	bool decoding;		/* dec is initialised */
	bool decode_failed;	/* stop feeding dec, the body is lost */
	struct exchange *ex;	/* whose message this is; NULL: discard */
};

struct exchange_queue {
	struct exchange *head, *tail;	/* oldest first */
	size_t len;
};

struct exchange_ctx {
	conn_exchange_fn cb;
	void *cb_ctx;
	size_t max_body_bytes;
	size_t max_pending;
	int64_t realtime_offset_ns;
};

/* ---- messages, as the framing finds them ----
 * Heads come whole, as the http1_message HTTP/1.1 would give (pseudo-headers
 * in method, path and status; :authority as a Host header); bodies come as
 * frame payloads whose end is told. d is the message's state of which only
 * the body decoder and ex are used, never the HTTP/1.1 framing.
 * headers_unknown: the head could not be decoded (HPACK state missed), m
 * holds what could; the exchange is then recognised and priced from its
 * bodies. */

/* Queues a new exchange for request m. Returns it, or NULL (no memory). */
struct exchange *exchange_request_start(struct exchange_ctx *x, struct exchange_queue *q,
					struct http_dir *d, const struct http1_message *m,
					bool headers_unknown, const struct conn_peer *peer,
					__u64 ts_ns);
/* ex's final (non-1xx) response head. */
void exchange_response_start(struct exchange_ctx *x, struct exchange_queue *q,
			     struct http_dir *d, struct exchange *ex,
			     const struct http1_message *m, bool headers_unknown,
			     __u64 ts_ns);
/* Body bytes of d's message, content-coded as its head said. */
void exchange_body(struct exchange_ctx *x, struct http_dir *d, const char *data,
		   size_t len, __u64 ts_ns);
/* Bytes of d's body were lost; the message goes on (HTTP/1.1 uses it too). */
void exchange_body_lost(struct http_dir *d);
/* d's message ended; a response's end emits the record. */
void exchange_message_end(struct exchange_ctx *x, struct exchange_queue *q,
			  struct http_dir *d, __u64 ts_ns);
/* ex lost capture bytes (error capture_gap) but goes on. */
void exchange_mark_lost(struct exchange *ex);
/* ex ends now, incomplete (truncated / no_response; capture_gap if lost). */
void exchange_abort(struct exchange_ctx *x, struct exchange_queue *q,
		    struct exchange *ex, bool lost);
/* ex goes without a record: the server never processed it (GOAWAY,
 * REFUSED_STREAM) and the client sends it again elsewhere. */
void exchange_discard(struct exchange_queue *q, struct exchange *ex);

void http_dir_free(struct http_dir *d);
void exchange_queue_free(struct exchange_queue *q);

#endif
