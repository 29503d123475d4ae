/* HTTP/1.1 message streams of one client connection, paired into
 * request/response exchanges and handed out as records. Used by conn.c. */
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

/* Bytes of direction dir (enum capture_dir); call_start: they begin a TLS
 * call, the only place a lost stream can pick up again. */
void exchange_dir_data(struct exchange_ctx *x, struct exchange_queue *q,
		       struct http_dir dirs[2], int dir, const struct conn_peer *peer,
		       __u64 ts_ns, bool call_start, const char *data, size_t len);
/* gap bytes of direction d were lost before the next data. */
void exchange_dir_gap(struct exchange_ctx *x, struct exchange_queue *q,
		      struct http_dir *d, const struct conn_peer *peer, __u64 gap);
/* The connection ended: bodies framed by close end, the rest is incomplete. */
void exchange_conn_closed(struct exchange_ctx *x, struct exchange_queue *q,
			  struct http_dir dirs[2], const struct conn_peer *peer);

void http_dir_free(struct http_dir *d);
void exchange_queue_free(struct exchange_queue *q);

#endif
