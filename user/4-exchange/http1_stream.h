/* HTTP/1.1 framing of a client connection's two byte streams, for conn.c:
 * requests on the written one, responses on the read one, paired in order
 * (keep-alive, pipelining) into exchanges (exchange.h). */
#ifndef LLMOBS_HTTP1_STREAM_H
#define LLMOBS_HTTP1_STREAM_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include "exchange.h"

/* Bytes of direction dir (enum capture_dir); call_start: they begin a TLS
 * call, the only place a lost stream can pick up again. */
void http1_stream_data(struct exchange_ctx *x, struct exchange_queue *q,
		       struct http_dir dirs[2], int dir, const struct conn_peer *peer,
		       __u64 ts_ns, bool call_start, const char *data, size_t len);
/* gap bytes of direction d were lost before the next data. */
void http1_stream_gap(struct exchange_ctx *x, struct exchange_queue *q,
		      struct http_dir *d, const struct conn_peer *peer, __u64 gap);
/* The connection ended: bodies framed by close end, the rest is incomplete. */
void http1_stream_closed(struct exchange_ctx *x, struct exchange_queue *q,
			 struct http_dir dirs[2], const struct conn_peer *peer);

#endif
