/* One POST of a batch to <endpoint>/v1/ingest with libcurl: gzip body,
 * bearer key, idempotency key, certificate checks, proxies from the
 * environment, bounded time and a bounded answer. Says what to do next.
 * The POST itself (telemetry_post) and the backoff are shared with the
 * OTLP exporter (otlp.h), which sends to another endpoint, another way. */
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

#define TELEMETRY_BACKOFF_MAX_S	300

struct curl_slist;

/* One POST: the part telemetry and the OTLP exporter share. */
struct telemetry_post {
	const char *url;
	struct curl_slist *headers;	/* taken: wiped (they may hold a
					 * credential) and freed */
	const void *body;		/* as sent; its Content-Encoding is a header */
	size_t len;
	const char *protocols;		/* "https", or "http,https" */
	const char *ca_file;		/* used when opts->ca_pem is NULL; "" system's */
	char *answer;			/* NULL, or the answer body's first
					 * answer_size - 1 bytes, NUL-terminated */
	size_t answer_size;
};

/* POSTs p->body to p->url: no redirects, certificates checked, the answer
 * read only for its status, Retry-After and (p->answer) first bytes, cut
 * off past 16 KiB; res says what to do next. */
void telemetry_post(const struct telemetry_post *p, const struct telemetry_send_opts *opts,
		    struct telemetry_send_result *res);

/* After a failure: doubles *backoff_s (1 s up to TELEMETRY_BACKOFF_MAX_S)
 * and returns the seconds to wait, jittered over its upper half, or
 * retry_after_s when longer. */
int telemetry_backoff_s(int *backoff_s, int64_t retry_after_s);

#define TELEMETRY_CA_FILE_MAX_BYTES	(4u << 20)

/* A CA bundle read whole into *pem (malloc()ed), at start: the sandboxed
 * worker may not be allowed to read it later. Returns 0, -errno, -EINVAL
 * (empty or over TELEMETRY_CA_FILE_MAX_BYTES) or -EIO. */
int telemetry_read_ca(const char *path, char **pem, size_t *len);

/* gzip of in (RFC 1952, zlib). Returns 0 and a malloc()ed *out, or -errno. */
int telemetry_gzip(const char *in, size_t len, unsigned char **out, size_t *out_len);

/* Sends body (the batch JSON, uncompressed) as batch batch_id. */
void telemetry_send(const struct telemetry_config *c, const struct telemetry_send_opts *opts,
		    const char *batch_id, const char *body, size_t len,
		    struct telemetry_send_result *res);

#endif
