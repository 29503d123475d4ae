/* Inside the exchange module: what exchange.c (an exchange's life, bodies,
 * classification and its record) shares with http1_stream.c (HTTP/1.1
 * framing of a connection's byte streams). h2.c and conn.c use only
 * exchange.h. */
#ifndef LLMOBS_EXCHANGE_IMPL_H
#define LLMOBS_EXCHANGE_IMPL_H

#include "exchange.h"
#include "provider.h"
#include "sse.h"

struct body_buf {
	char *data;
	size_t len, cap, max;
	bool over_cap;
};

struct exchange {
	struct exchange *next;
	struct exchange_record rec;
	struct llm_request_info req;
	struct llm_response_info resp;
	struct body_buf req_body, resp_body;
	struct sse_parser sse;
	bool classified, is_llm;
	bool req_done, resp_started, resp_done;
	bool is_sse, sse_ready;
	bool is_ndjson;		/* a stream of JSON lines (Ollama) */
	bool lost;		/* capture lost some of its bytes */
	bool headers_unknown;	/* HTTP/2 head not decodable (HPACK state missed) */
	bool resp_sniff;	/* response head unknown: sniff its first bytes */
	bool decode_error, json_error;
	size_t deferred_bytes;	/* req_body kept to count the prompt later */
	int64_t ts_first_req, ts_last_req, ts_first_resp, ts_last_resp;
	struct http_dir *dirs[2];	/* directions whose d->ex is this one */
};


/* A new exchange for request head m, queued last; d carries its body.
 * Returns it, or NULL (no memory). */
struct exchange *exchange_request_begin(struct exchange_ctx *x, struct exchange_queue *q,
					struct http_dir *d, const struct http1_message *m,
					const struct conn_peer *peer, __u64 ts_ns);
/* ex's final response head m; d carries its body. */
void exchange_response_begin(struct exchange_ctx *x, struct http_dir *d,
			     struct exchange *ex, const struct http1_message *m, __u64 ts_ns);
/* Raw (transfer-decoded) body bytes of d's message. */
void exchange_dir_deliver(struct http_dir *d, const char *data, size_t len);
/* d's message ended normally; a response's end emits the record. */
void exchange_dir_done(struct exchange_ctx *x, struct exchange_queue *q, struct http_dir *d);
/* Bytes were lost or unparseable: drop d's message and wait for a new one. */
void exchange_dir_resync(struct exchange_ctx *x, struct exchange_queue *q, struct http_dir *d);
/* Forgets d's message state (decoder, framing, head). */
void exchange_dir_reset(struct http_dir *d);
/* Emits ex (if it is an LLM call) and frees it. */
void exchange_finish(struct exchange_ctx *x, struct exchange_queue *q,
		     struct exchange *ex, bool complete);

#endif
