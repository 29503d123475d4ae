/* Connection table: turns the capture events of TLS connections into
 * exchanges. Each connection (tgid, SSL*) has two byte streams; for a client
 * the written one carries HTTP/1.1 requests and the read one responses.
 * Requests queue in order (keep-alive, pipelining); each response completes
 * the oldest. Memory is bounded: per message by max_body_bytes, per
 * connection by the head limit and the pending queue, overall by max_conns
 * (least recently used connections are evicted and counted). */
#ifndef LLMOBS_CONN_H
#define LLMOBS_CONN_H

#include <linux/types.h>
#include <stddef.h>
#include <stdint.h>
#include "capture.h"
#include "record.h"

struct conn_table;

struct conn_table_opts {
	size_t max_body_bytes;	/* kept per message body; 0 = 4 MiB */
	size_t max_conns;	/* 0 = 4096 */
	size_t max_pending;	/* requests awaiting a response; 0 = 32 */
	int64_t idle_timeout_ns;/* 0 = 10 min */
	int64_t realtime_offset_ns; /* added to event timestamps */
	/* Told, with its first event, of each connection found to be a server
	 * side, which it ignores from then on; may be NULL. */
	void (*on_ignore)(void *ctx, const struct capture_event *ev);
	void *ignore_ctx;
};

/* r is complete except cost (the caller prices it); it is only valid during
 * the call. */
typedef void (*conn_exchange_fn)(void *ctx, struct exchange_record *r);

struct conn_table *conn_table_new(const struct conn_table_opts *opts,
				  conn_exchange_fn cb, void *ctx);
/* Consumes one capture event (DATA, CLOSE, EXEC, EXIT). */
void conn_table_event(struct conn_table *t, const struct capture_event *ev);
/* Finishes connections idle since before now_ns (monotonic). */
void conn_table_expire(struct conn_table *t, int64_t now_ns);
/* Finishes every connection (pending exchanges come out incomplete). */
void conn_table_free(struct conn_table *t);

size_t conn_table_count(const struct conn_table *t);

#endif
