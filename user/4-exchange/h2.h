/* HTTP/2 (RFC 9113) client connections: the frames of both directions, one
 * HPACK inflater per direction (libnghttp2's), and per stream the same
 * exchange the HTTP/1.1 path builds (exchange.h). Streaming: bytes come in
 * any split; memory is bounded per connection (streams, header bytes,
 * HPACK table). Used by conn.c for connections whose client wrote the
 * HTTP/2 preface, or whose frames it recognised when joining mid-way. */
#ifndef LLMOBS_H2_H
#define LLMOBS_H2_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include "exchange.h"

#define H2_PREFACE		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN		24
#define H2_MAX_STREAMS		256		/* open streams followed per connection */
#define H2_MAX_HPACK_TABLE	(1u << 20)	/* dynamic table bound, whatever SETTINGS say */

struct h2_conn;

/* midway: the connection was joined after its start; its HPACK state is
 * unknown, so header blocks decode only where they do not refer to what
 * was missed (see h2.c), and the other exchanges are headers-unknown.
 * Returns NULL with errno set on failure. */
struct h2_conn *h2_conn_new(bool midway);
/* Bytes of direction dir (enum capture_dir); call_start: they begin a TLS
 * call, the only place a lost frame stream can pick up again. */
void h2_conn_data(struct h2_conn *h, struct exchange_ctx *x, struct exchange_queue *q,
		  int dir, const struct conn_peer *peer, __u64 ts_ns, bool call_start,
		  const char *data, size_t len);
/* gap bytes of direction dir were lost before the next data. */
void h2_conn_gap(struct h2_conn *h, struct exchange_ctx *x, struct exchange_queue *q,
		 int dir, __u64 gap);
/* The connection ended: open streams come out incomplete; frees h. */
void h2_conn_free(struct h2_conn *h, struct exchange_ctx *x, struct exchange_queue *q);

/* true if data[0..len), one whole TLS call of a client, is a run of
 * well-formed HTTP/2 frames ending exactly at len: how a connection already
 * open when we started is recognised. */
bool h2_looks_like_frames(const __u8 *data, size_t len);

#endif
