/* One POST of a batch to <endpoint>/v1/ingest with libcurl: gzip body,
 * bearer key, idempotency key, certificate checks, proxies from the
 * environment, bounded time and a bounded answer. Says what to do next. */
#ifndef LLMOBS_TELEMETRY_SEND_H
#define LLMOBS_TELEMETRY_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "telemetry_config.h"

enum telemetry_verdict {
	TELEMETRY_SENT = 0,	/* 2xx: the batch is delivered */
	TELEMETRY_RETRY,	/* network error, 408, 429, 5xx: try the same batch later */
	TELEMETRY_REJECTED,	/* any other status: dropped, counted with the reason */
};

struct telemetry_send_result {
	enum telemetry_verdict verdict;
	long status;		/* HTTP status, 0 when none came */
	int64_t retry_after_s;	/* Retry-After in seconds, -1 when absent */
	char error[160];	/* what went wrong, for the log and status */
};

/* Timeouts: connect, and the whole exchange (a slow endpoint is cut off). */
struct telemetry_send_opts {
	long connect_timeout_ms;	/* 0 = 5,000 */
	long total_timeout_ms;		/* 0 = 20,000 */
	/* LLM_OBSERVER_CA_FILE's certificates, read at start while the daemon
	 * may read any file (the sandboxed worker may not); NULL: the system's. */
	const char *ca_pem;
	size_t ca_pem_len;
	/* Polled during the transfer; returning true aborts it (daemon exit). */
	bool (*cancelled)(void *ctx);
	void *cancel_ctx;
};

/* gzip of in (RFC 1952, zlib). Returns 0 and a malloc()ed *out, or -errno. */
int telemetry_gzip(const char *in, size_t len, unsigned char **out, size_t *out_len);

/* Sends body (the batch JSON, uncompressed) as batch batch_id. */
void telemetry_send(const struct telemetry_config *c, const struct telemetry_send_opts *opts,
		    const char *batch_id, const char *body, size_t len,
		    struct telemetry_send_result *res);

#endif
