/* HTTP/1.1 byte streams of one client connection -> message heads and
 * bodies -> exchange.c. Heads are buffered up to HTTP1_MAX_HEAD_BYTES and
 * parsed by http1.c; bodies are framed by Content-Length, chunked or close.
 * After lost bytes a direction waits for a TLS call that starts a message,
 * the only place a stream can be picked up again. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "exchange_impl.h"
#include "http1_stream.h"
#include "stats.h"

#define CHUNK_SCRATCH_BYTES (64 * 1024)

static char chunk_scratch[CHUNK_SCRATCH_BYTES];

static void on_request_head(struct exchange_ctx *x, struct exchange_queue *q,
			    struct http_dir *d, const struct http1_message *m,
			    const struct conn_peer *peer, __u64 ts_ns)
{
	uint64_t clen = 0;
	int framing = http1_body_framing(m, NULL, 0, &clen);

	if (framing < 0) {
		stats_inc(STAT_HTTP_PARSE_ERRORS);
		exchange_dir_resync(x, q, d);
		return;
	}
	if (q->len >= x->max_pending) {
		stats_inc(STAT_PENDING_REQUESTS_DROPPED);
		exchange_finish(x, q, q->head, false);
	}
	if (!exchange_request_begin(x, q, d, m, peer, ts_ns)) {
		exchange_dir_resync(x, q, d);
		return;
	}
	snprintf(d->ex->rec.protocol, sizeof(d->ex->rec.protocol), "http/1.1");
	d->framing = framing;
	d->remaining = clen;
	if (framing == HTTP1_BODY_NONE || (framing == HTTP1_BODY_LENGTH && clen == 0))
		exchange_dir_done(x, q, d);
	else
		d->state = DIR_BODY;
}

static void on_response_head(struct exchange_ctx *x, struct exchange_queue *q,
			     struct http_dir *d, const struct http1_message *m,
			     __u64 ts_ns)
{
	struct exchange *ex = q->head;
	uint64_t clen = 0;
	int framing;

	if (m->status >= 100 && m->status < 200 && m->status != 101)
		return;	/* interim (100 Continue): the final head follows */
	while (ex && ex->resp_started)
		ex = ex->next;
	if (!ex)
		stats_inc(STAT_UNMATCHED_RESPONSES);
	framing = http1_body_framing(m, ex ? ex->rec.method : NULL,
				     ex ? strlen(ex->rec.method) : 0, &clen);
	if (framing < 0 || m->status == 101) {
		stats_inc(STAT_HTTP_PARSE_ERRORS);
		d->ex = ex;
		if (ex) {
			ex->dirs[1] = d;
			ex->resp_started = true;
		}
		exchange_dir_resync(x, q, d);
		return;
	}
	d->ex = ex;
	d->framing = framing;
	d->remaining = clen;
	if (ex)
		exchange_response_begin(x, d, ex, m, ts_ns);
	if (framing == HTTP1_BODY_NONE || (framing == HTTP1_BODY_LENGTH && clen == 0))
		exchange_dir_done(x, q, d);
	else
		d->state = DIR_BODY;
}

/* Head bytes: returns how many of data were consumed. */
static size_t dir_feed_head(struct exchange_ctx *x, struct exchange_queue *q,
			    struct http_dir *d, const struct conn_peer *peer,
			    __u64 ts_ns, const char *data, size_t len)
{
	struct http1_message m;
	size_t prev = d->head_len, take = HTTP1_MAX_HEAD_BYTES - d->head_len;
	int r;

	if (take > len)
		take = len;
	if (d->head_len + take > d->head_cap) {
		size_t cap = d->head_cap ? d->head_cap : 2048;
		char *p;

		while (cap < d->head_len + take)
			cap *= 2;
		if (cap > HTTP1_MAX_HEAD_BYTES)
			cap = HTTP1_MAX_HEAD_BYTES;
		p = realloc(d->head, cap);
		if (!p) {
			exchange_dir_resync(x, q, d);
			return len;
		}
		d->head = p;
		d->head_cap = cap;
	}
	memcpy(d->head + d->head_len, data, take);
	d->head_len += take;
	r = d->is_response ? http1_parse_response(d->head, d->head_len, &m, d->last_len)
			   : http1_parse_request(d->head, d->head_len, &m, d->last_len);
	if (r == HTTP1_PARTIAL && d->head_len < HTTP1_MAX_HEAD_BYTES) {
		d->last_len = d->head_len;
		return take;
	}
	/* http1.c calls a head that reaches the bound an error: if it was
	 * only unfinished a byte earlier, it is too large, not malformed. */
	if (r < 0 && d->head_len >= HTTP1_MAX_HEAD_BYTES &&
	    (d->is_response ? http1_parse_response(d->head, d->head_len - 1, &m, 0)
			    : http1_parse_request(d->head, d->head_len - 1, &m, 0)) == HTTP1_PARTIAL) {
		stats_inc(STAT_HTTP_HEAD_TOO_LARGE);
		r = HTTP1_ERROR;
	}
	if (r < 0 || (size_t)r <= prev) {
		stats_inc(STAT_HTTP_PARSE_ERRORS);
		d->head_len = 0;
		if (d->is_response)
			d->ex = q->head && !q->head->resp_started ? q->head : NULL;
		if (d->ex) {
			d->ex->dirs[1] = d;
			d->ex->resp_started = true;
		}
		exchange_dir_resync(x, q, d);
		return len;
	}
	d->head_len = 0;
	d->last_len = 0;
	if (d->is_response)
		on_response_head(x, q, d, &m, ts_ns);
	else
		on_request_head(x, q, d, &m, peer, ts_ns);
	return (size_t)r - prev;
}

/* Body bytes: returns how many of data were consumed. */
static size_t dir_feed_body(struct exchange_ctx *x, struct exchange_queue *q,
			    struct http_dir *d, const char *data, size_t len)
{
	size_t n, sz;
	ssize_t r;

	switch (d->framing) {
	case HTTP1_BODY_LENGTH:
		n = len < d->remaining ? len : (size_t)d->remaining;
		exchange_dir_deliver(d, data, n);
		d->remaining -= n;
		if (!d->remaining)
			exchange_dir_done(x, q, d);
		return n;
	case HTTP1_BODY_CHUNKED:
		n = len < sizeof(chunk_scratch) ? len : sizeof(chunk_scratch);
		memcpy(chunk_scratch, data, n);
		sz = n;
		r = http1_decode_chunked(&d->chunked, chunk_scratch, &sz);
		if (r == HTTP1_ERROR) {
			stats_inc(STAT_HTTP_PARSE_ERRORS);
			exchange_dir_resync(x, q, d);
			return len;
		}
		exchange_dir_deliver(d, chunk_scratch, sz);
		if (r >= 0) {
			exchange_dir_done(x, q, d);
			return n - (size_t)r;
		}
		return n;
	default:	/* until close */
		exchange_dir_deliver(d, data, len);
		return len;
	}
}

static bool starts_message(const struct http_dir *d, const char *data, size_t len)
{
	static const char *const starts[] = {
		"GET ", "POST ", "PUT ", "PATCH ", "DELETE ", "HEAD ", "OPTIONS ",
	};

	if (d->is_response)
		return len >= 7 && memcmp(data, "HTTP/1.", 7) == 0;
	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++)
		if (len >= strlen(starts[i]) && !memcmp(data, starts[i], strlen(starts[i])))
			return true;
	return false;
}

void http1_stream_data(struct exchange_ctx *x, struct exchange_queue *q,
		       struct http_dir dirs[2], int dir, const struct conn_peer *peer,
		       __u64 ts_ns, bool call_start, const char *data, size_t len)
{
	struct http_dir *d = &dirs[dir];
	size_t n;

	if (d->state == DIR_RESYNC) {
		if (!call_start || !starts_message(d, data, len))
			return;
		d->state = DIR_HEAD;
		d->head_len = 0;
		d->last_len = 0;
		/* A response we lost the start of is not coming back. */
		if (d->is_response) {
			while (q->head && q->head->resp_started)
				exchange_finish(x, q, q->head, false);
		}
	}
	if (d->state == DIR_HEAD && d->head_len && call_start && starts_message(d, data, len)) {
		/* A head never goes on with a line that starts a message (header
		 * names hold no space): what was buffered was not a head. */
		stats_inc(STAT_HTTP_PARSE_ERRORS);
		d->head_len = 0;
		d->last_len = 0;
	}
	if (d->state == DIR_HEAD && d->head_len == 0 && !d->is_response && len &&
	    !starts_message(d, data, len) && (data[0] == '\r' || data[0] == '\n')) {
		/* Stray CRLF between messages (RFC 9112 §2.2): skip. */
		while (len && (*data == '\r' || *data == '\n')) {
			data++;
			len--;
		}
	}
	if (d->ex) {
		if (d->is_response)
			d->ex->ts_last_resp = (int64_t)ts_ns;
		else
			d->ex->ts_last_req = (int64_t)ts_ns;
	}
	while (len) {
		if (d->state == DIR_RESYNC)
			return;
		if (d->state == DIR_HEAD)
			n = dir_feed_head(x, q, d, peer, ts_ns, data, len);
		else
			n = dir_feed_body(x, q, d, data, len);
		if (d->ex) {
			if (d->is_response)
				d->ex->ts_last_resp = (int64_t)ts_ns;
			else
				d->ex->ts_last_req = (int64_t)ts_ns;
		}
		data += n;
		len -= n;
	}
}

void http1_stream_gap(struct exchange_ctx *x, struct exchange_queue *q,
		      struct http_dir *d, const struct conn_peer *peer, __u64 gap)
{
	if (d->state == DIR_BODY && d->framing == HTTP1_BODY_LENGTH &&
	    gap <= d->remaining) {
		/* The framing survives: only this body's content is lost. */
		exchange_body_lost(d);
		d->remaining -= gap;
		if (!d->remaining)
			exchange_dir_done(x, q, d);
		return;
	}
	if (d->state == DIR_RESYNC)
		return;
	exchange_dir_resync(x, q, d);
}

void http1_stream_closed(struct exchange_ctx *x, struct exchange_queue *q,
			  struct http_dir dirs[2], const struct conn_peer *peer)
{
	struct http_dir *resp = &dirs[CAPTURE_DIR_READ];

	if (resp->state == DIR_BODY && resp->framing == HTTP1_BODY_UNTIL_CLOSE)
		exchange_dir_done(x, q, resp);
	while (q->head)
		exchange_finish(x, q, q->head, false);
	exchange_dir_reset(&dirs[0]);
	exchange_dir_reset(&dirs[1]);
}
