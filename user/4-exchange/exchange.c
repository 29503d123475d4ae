/* Message heads and bodies of a client connection -> exchanges -> records.
 * Only a few header values are ever copied (Host, Content-Type, the framing
 * ones, and the rate-limit ones provider_response_header() lists):
 * credentials in headers never leave the capture buffers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>
#include "exchange_impl.h"
#include "log.h"
#include "estimate.h"
#include "provider_sniff.h"
#include "redact.h"
#include "stats.h"

/* Counting a prompt's tokens (a BPE pass over all of it) was most of the
 * cost of an exchange, and it is needed only when the response brings no
 * usage, which most do. So a request body is kept until its response has
 * been seen, up to this many bytes over all exchanges; past it, prompts are
 * counted at once and their bodies freed: CPU instead of memory. */
#define DEFERRED_COUNT_BYTES	(16u << 20)

static size_t deferred_total;	/* of every exchange's deferred_bytes */

/* ---- body buffers: bounded, counted when cut ---- */

static int body_append(struct body_buf *b, const char *data, size_t len)
{
	size_t room, want;

	if (b->over_cap)
		goto over;
	room = b->max - b->len;
	want = len < room ? len : room;
	if (b->len + want + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + want + 1)
			cap *= 2;
		if (cap > b->max + 1)
			cap = b->max + 1;
		p = realloc(b->data, cap);
		if (!p)
			return -ENOMEM;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, want);
	b->len += want;
	b->data[b->len] = '\0';
	if (want == len)
		return 0;
	b->over_cap = true;
	stats_inc(STAT_BODY_OVER_CAP);
	data += want;
	len -= want;
over:
	stats_add(STAT_BODY_OVER_CAP_BYTES, len);
	return 0;
}

static void body_free(struct body_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* ---- the queue ---- */

static void queue_remove(struct exchange_queue *q, struct exchange *ex)
{
	struct exchange **pp = &q->head, *prev = NULL;

	while (*pp && *pp != ex) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = ex->next;
	if (q->tail == ex)
		q->tail = prev;
	q->len--;
}

/* The prompt is counted now if the response brought no usage. */
static void exchange_count_prompt(struct exchange *ex)
{
	if (!ex->deferred_bytes)
		return;
	if (!ex->resp.usage_present)
		provider_count_request(&ex->req, ex->req_body.data, ex->req_body.len);
	/* The body itself stays until exchange_free(), after the record's
	 * callback, which may read it (record.h: request_body). */
}

static void exchange_free(struct exchange *ex)
{
	/* A direction still inside this exchange's message discards the rest. */
	for (int i = 0; i < 2; i++)
		if (ex->dirs[i] && ex->dirs[i]->ex == ex)
			ex->dirs[i]->ex = NULL;
	if (ex->deferred_bytes) {
		deferred_total -= ex->deferred_bytes;
		ex->deferred_bytes = 0;
	}
	body_free(&ex->req_body);
	body_free(&ex->resp_body);
	if (ex->sse_ready)
		sse_free(&ex->sse);
	free(ex);
}

void exchange_queue_free(struct exchange_queue *q)
{
	while (q->head) {
		struct exchange *ex = q->head;

		q->head = ex->next;
		exchange_free(ex);
	}
	q->tail = NULL;
	q->len = 0;
}

/* ---- classification and the record ---- */

static void exchange_classify(struct exchange *ex)
{
	bool sniffed = false;
	int err;

	if (ex->classified)
		return;
	ex->classified = true;
	err = provider_classify_request_uncounted(ex->rec.method, strlen(ex->rec.method),
						  ex->rec.path, strlen(ex->rec.path),
						  ex->rec.host, strlen(ex->rec.host),
						  ex->req_body.data ? ex->req_body.data : "",
						  ex->req_body.len, &ex->req);
	/* No path seen (HTTP/2 head not decodable): the body's shape says,
	 * unless the method was seen and is not POST (no LLM call is). */
	if (err && ex->headers_unknown && !ex->rec.path[0] &&
	    (!ex->rec.method[0] || !strcmp(ex->rec.method, "POST"))) {
		err = provider_sniff_request(ex->req_body.data, ex->req_body.len, &ex->req);
		sniffed = true;
	}
	ex->is_llm = err == 0;
	if (ex->is_llm && !sniffed && llm_api_billed(ex->req.api) && ex->req_body.len) {
		if (deferred_total + ex->req_body.cap <= DEFERRED_COUNT_BYTES) {
			ex->deferred_bytes = ex->req_body.cap;
			deferred_total += ex->deferred_bytes;
			return;
		}
		provider_count_request(&ex->req, ex->req_body.data, ex->req_body.len);
	}
	body_free(&ex->req_body);
}

static int64_t ms_between(int64_t from_ns, int64_t to_ns)
{
	if (!from_ns || !to_ns || to_ns < from_ns)
		return RECORD_NULL_MS;
	return (to_ns - from_ns) / 1000000;
}

static const char *exchange_error(const struct exchange *ex, bool complete)
{
	static char http_err[16];

	if (ex->resp.error[0])
		return ex->resp.error;
	if (ex->rec.status >= 400) {
		snprintf(http_err, sizeof(http_err), "http_%d", ex->rec.status);
		return http_err;
	}
	if (ex->lost)
		return "capture_gap";
	if (!complete)
		return ex->resp_started ? "truncated" : "no_response";
	if (ex->decode_error)
		return "decode_error";
	if (ex->resp_body.over_cap && !ex->resp.usage_present)
		return "body_over_cap";
	if (ex->json_error)
		return "bad_json";
	return "";
}

/* Emits ex (if it is an LLM call) and frees it. */
void exchange_finish(struct exchange_ctx *x, struct exchange_queue *q,
		     struct exchange *ex, bool complete)
{
	struct exchange_record *r = &ex->rec;
	int64_t end_ns;

	queue_remove(q, ex);
	exchange_classify(ex);
	/* A GET of /v1/files/<id>/content is a batch's results only if its
	 * lines say so (provider_usage.c); any other file is not LLM traffic. */
	if (!ex->is_llm || ex->resp.not_llm) {
		stats_inc(STAT_NON_LLM_EXCHANGES);
		exchange_free(ex);
		return;
	}
	/* The stream's own last event (response.completed, message_stop,
	 * [DONE], ...) was seen: the client had the whole answer even when the
	 * body's framing (the last chunk, END_STREAM) never came. Codex exits
	 * on response.completed and may leave that unread; counted, not
	 * called a cut stream. */
	if (!complete && ex->resp_started && ex->resp.stream_done) {
		complete = true;
		stats_inc(STAT_STREAMS_ENDED_UNFRAMED);
	}
	end_ns = ex->ts_last_resp ? ex->ts_last_resp : ex->ts_last_req;
	r->ts_start_ns = ex->ts_first_req + x->realtime_offset_ns;
	r->ts_end_ns = end_ns + x->realtime_offset_ns;
	snprintf(r->provider, sizeof(r->provider), "%s", ex->req.provider);
	snprintf(r->api, sizeof(r->api), "%s", llm_api_name(ex->req.api));
	snprintf(r->request_model, sizeof(r->request_model), "%s", ex->req.model);
	snprintf(r->model, sizeof(r->model), "%s",
		 ex->resp.model[0] ? ex->resp.model : ex->req.model);
	/* Streamed means the response came as a stream; the request's wish
	 * only counts when no response was seen. */
	r->stream = ex->resp_started ? ex->is_sse || ex->is_ndjson : ex->req.stream;
	/* No usage in a successful response (a chat stream without
	 * include_usage, a cut stream): count the captured text instead. */
	exchange_count_prompt(ex);
	estimate_usage(&ex->req, &ex->resp, ex->rec.status);
	r->usage = ex->resp.usage;
	/* Estimated when any count is ours (a cut Claude stream keeps the
	 * provider's input counts beside our output count). */
	r->usage_source = ex->resp.usage_estimated ? USAGE_ESTIMATED :
			  ex->resp.usage_present ? USAGE_PROVIDER : USAGE_NONE;
	r->latency_ms = ex->resp_started ? ms_between(ex->ts_first_req, ex->ts_last_resp)
					 : RECORD_NULL_MS;
	r->ttft_ms = r->stream && ex->resp_started ?
		     ms_between(ex->ts_first_req, ex->ts_first_resp) : RECORD_NULL_MS;
	r->complete = complete && !ex->lost;
	r->headers_unknown = ex->headers_unknown;
	snprintf(r->error, sizeof(r->error), "%s", exchange_error(ex, complete));
	snprintf(r->deployment, sizeof(r->deployment), "%s", ex->req.deployment);
	/* Rate-limit state explains failures; on success it is noise. */
	if (r->status >= 400)
		snprintf(r->ratelimit, sizeof(r->ratelimit), "%s", ex->resp.ratelimit);
	r->provider_cost_usd = ex->resp.provider_cost_usd;
	r->provider_cost_known = ex->resp.provider_cost_known;
	memcpy(r->tool_calls, ex->resp.tool_calls, sizeof(r->tool_calls));
	stats_inc(STAT_EXCHANGES);
	if (!r->complete)
		stats_inc(STAT_EXCHANGES_INCOMPLETE);
	/* The request body, whole, for the callback only (prompt-cache
	 * analysis): kept under the same budget as for counting, else NULL. */
	if (ex->deferred_bytes && !ex->req_body.over_cap) {
		r->request_body = ex->req_body.data;
		r->request_body_len = ex->req_body.len;
	}
	x->cb(x->cb_ctx, r);
	exchange_free(ex);
}

/* ---- streamed responses ---- */

static int on_sse_event(void *ctx, const char *event, size_t event_len,
			const char *data, size_t data_len, bool truncated)
{
	struct exchange *ex = ctx;

	if (truncated) {
		stats_inc(STAT_SSE_EVENTS_OVER_CAP);
		return 0;
	}
	if (provider_stream_event(ex->req.api, event, event_len, data, data_len,
				  &ex->resp) < 0) {
		stats_inc(STAT_JSON_ERRORS);
		ex->json_error = true;
	}
	return 0;
}

/* One NDJSON line, held in resp_body (bounded: a longer line is cut and
 * fails to parse, counted). */
static void ndjson_line(struct exchange *ex)
{
	if (ex->resp_body.len &&
	    provider_stream_event(ex->req.api, "", 0, ex->resp_body.data, ex->resp_body.len,
				  &ex->resp) < 0) {
		stats_inc(STAT_JSON_ERRORS);
		ex->json_error = true;
	}
	ex->resp_body.len = 0;
	ex->resp_body.over_cap = false;
}

static int ndjson_feed(struct exchange *ex, const char *data, size_t len)
{
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;
		int err = body_append(&ex->resp_body, data, n);

		if (err || !nl)
			return err;
		ndjson_line(ex);
		data += n + 1;
		len -= n + 1;
	}
	return 0;
}

/* Decoded body bytes. */
static int body_sink(void *ctx, const char *data, size_t len)
{
	struct http_dir *d = ctx;
	struct exchange *ex = d->ex;

	if (!d->is_response)
		return body_append(&ex->req_body, data, len);
	if (ex->is_sse)
		return sse_feed(&ex->sse, data, len, on_sse_event, ex);
	if (ex->is_ndjson)
		return ndjson_feed(ex, data, len);
	return body_append(&ex->resp_body, data, len);
}

/* Raw (transfer-decoded) body bytes of d's message. */
void exchange_dir_deliver(struct http_dir *d, const char *data, size_t len)
{
	struct exchange *ex = d->ex;
	int err;

	if (!ex || !len || d->decode_failed)
		return;
	if (d->is_response && !ex->is_llm)
		return;
	if (!d->decoding) {
		body_sink(d, data, len);
		return;
	}
	err = content_decoder_feed(&d->dec, data, len, body_sink, d);
	if (err < 0) {
		/* -E2BIG is the bomb bound: what fit was delivered, the
		 * rest is counted apart from corrupt data */
		stats_inc(err == -E2BIG ? STAT_DECODED_OVER_CAP : STAT_DECODE_ERRORS);
		ex->decode_error = err != -E2BIG;
		d->decode_failed = true;
	}
}

void exchange_dir_reset(struct http_dir *d)
{
	if (d->decoding)
		content_decoder_free(&d->dec);
	d->decoding = false;
	d->decode_failed = false;
	memset(&d->chunked, 0, sizeof(d->chunked));
	d->remaining = 0;
	d->framing = HTTP1_BODY_NONE;
	d->head_len = 0;
	d->last_len = 0;
	d->ex = NULL;
}

/* The message of d ended normally. */
void exchange_dir_done(struct exchange_ctx *x, struct exchange_queue *q,
		       struct http_dir *d)
{
	struct exchange *ex = d->ex;

	exchange_dir_reset(d);
	d->state = DIR_HEAD;
	if (!ex)
		return;
	if (!d->is_response) {
		ex->req_done = true;
		exchange_classify(ex);
		return;
	}
	ex->resp_done = true;
	if (ex->is_llm && ex->is_ndjson && !ex->decode_error) {
		ndjson_line(ex);	/* a last line without its newline */
	} else if (ex->is_llm && !ex->is_sse && !ex->decode_error) {
		if (provider_parse_body(ex->req.api, ex->rec.status,
					ex->resp_body.data ? ex->resp_body.data : "",
					ex->resp_body.len, &ex->resp) < 0) {
			stats_inc(STAT_JSON_ERRORS);
			ex->json_error = true;
		}
	}
	exchange_finish(x, q, ex, true);
}

/* Bytes were lost or unparseable: drop d's message and wait for a new one. */
void exchange_dir_resync(struct exchange_ctx *x, struct exchange_queue *q,
			 struct http_dir *d)
{
	struct exchange *ex = d->ex;

	exchange_dir_reset(d);
	d->state = DIR_RESYNC;
	if (!ex)
		return;
	ex->lost = true;
	if (d->is_response) {
		exchange_finish(x, q, ex, false);
	} else {
		ex->req_done = true;
		exchange_classify(ex);
	}
}

static void copy_header(char *dst, size_t size, const struct http1_message *m,
			const char *name)
{
	const struct http1_header *h = http1_find_header(m, name);
	size_t n = h ? h->value_len : 0;

	if (n >= size)
		n = size - 1;
	if (n)
		memcpy(dst, h->value, n);
	dst[n] = '\0';
}

static void dir_start_decoder(struct http_dir *d, const struct http1_message *m,
			      struct exchange *ex)
{
	const struct http1_header *ce = http1_find_header(m, "content-encoding");
	enum content_coding coding = ce ? content_coding_parse(ce->value, ce->value_len)
					: CONTENT_IDENTITY;

	if (coding == CONTENT_IDENTITY)
		return;
	if (content_decoder_init(&d->dec, coding, 64ULL * 1024 * 1024) < 0) {
		stats_inc(STAT_DECODE_ERRORS);
		if (ex)
			ex->decode_error = true;
		d->decode_failed = true;
		return;
	}
	d->decoding = true;
}

/* SHA-256 of the request's API key (x-api-key, x-goog-api-key, api-key,
 * Authorization's credentials, or a key= query parameter): the account's
 * fingerprint once the cache analysis keys it with the install secret
 * (cache_analyze.c). The key itself is never copied; the digest is
 * cleared by the analysis and never stored. */
static void account_digest(struct exchange_record *r, const struct http1_message *m)
{
	static const char *const names[] = { "x-api-key", "x-goog-api-key", "api-key",
					      "authorization" };
	const char *v = NULL;
	size_t n = 0;
	unsigned int dl = 0;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !n; i++) {
		const struct http1_header *h = http1_find_header(m, names[i]);

		if (!h || !h->value_len)
			continue;
		v = h->value;
		n = h->value_len;
		if (i == 3) {	/* "Bearer <key>", "Basic <...>": the credentials */
			const char *sp = memchr(v, ' ', n);

			if (sp) {
				n -= (size_t)(sp + 1 - v);
				v = sp + 1;
			}
		}
	}
	if (!n && m->path) {
		const char *q = memchr(m->path, '?', m->path_len), *e = m->path + m->path_len;

		for (const char *p = q; p && p + 4 < e; p++)
			if ((*p == '?' || *p == '&') && !memcmp(p + 1, "key=", 4)) {
				v = p + 5;
				for (n = 0; v + n < e && v[n] != '&'; n++)
					;
				break;
			}
	}
	if (n && EVP_Digest(v, n, r->account_digest, &dl, EVP_sha256(), NULL) && dl == 32)
		r->account_seen = true;
}

/* A new exchange for request head m, queued last; d carries its body.
 * Shared by HTTP/1.1 and the framed protocols. */
struct exchange *exchange_request_begin(struct exchange_ctx *x, struct exchange_queue *q,
					struct http_dir *d, const struct http1_message *m,
					const struct conn_peer *peer, __u64 ts_ns)
{
	struct exchange *ex = calloc(1, sizeof(*ex));

	if (!ex)
		return NULL;
	ex->req_body.max = x->max_body_bytes;
	ex->resp_body.max = x->max_body_bytes;
	ex->ts_first_req = ex->ts_last_req = (int64_t)ts_ns;
	snprintf(ex->rec.method, sizeof(ex->rec.method), "%.*s", (int)m->method_len,
		 m->method ? m->method : "");
	redact_path(ex->rec.path, sizeof(ex->rec.path), m->path ? m->path : "", m->path_len);
	copy_header(ex->rec.host, sizeof(ex->rec.host), m, "host");
	account_digest(&ex->rec, m);
	for (size_t i = 0; i < m->num_headers; i++)
		ex->rec.long_context_opt_in |= provider_long_context_opt_in(
			m->headers[i].name, m->headers[i].name_len,
			m->headers[i].value, m->headers[i].value_len);
	ex->rec.pid = peer->tgid;
	ex->rec.tid = peer->tid;
	ex->rec.cgroup_id = peer->cgroup_id;
	ex->rec.uid = -1;	/* null until the daemon attributes the record */
	snprintf(ex->rec.exe, sizeof(ex->rec.exe), "%s", peer->exe);
	snprintf(ex->rec.comm, sizeof(ex->rec.comm), "%s", peer->comm);
	snprintf(ex->rec.capture, sizeof(ex->rec.capture), "%s",
		 peer->source == CAPTURE_SOURCE_PRELOAD ? "preload" :
		 peer->source == CAPTURE_SOURCE_SYSCALL ? "syscall" :
		 peer->source == CAPTURE_SOURCE_CIPHER ? "secrets" : "uprobe");
	if (q->tail)
		q->tail->next = ex;
	else
		q->head = ex;
	q->tail = ex;
	q->len++;

	d->ex = ex;
	ex->dirs[0] = d;
	dir_start_decoder(d, m, ex);
	return ex;
}

/* ex's final response head m; d carries its body. */
void exchange_response_begin(struct exchange_ctx *x, struct http_dir *d,
			     struct exchange *ex, const struct http1_message *m, __u64 ts_ns)
{
	char ctype[64];

	d->ex = ex;
	ex->dirs[1] = d;
	ex->resp_started = true;
	ex->rec.status = m->status;
	ex->ts_first_resp = ex->ts_last_resp = (int64_t)ts_ns;
	exchange_classify(ex);
	for (size_t i = 0; ex->is_llm && i < m->num_headers; i++)
		provider_response_header(&ex->resp, m->headers[i].name,
					 m->headers[i].name_len,
					 m->headers[i].value,
					 m->headers[i].value_len);
	copy_header(ctype, sizeof(ctype), m, "content-type");
	ex->is_sse = strncasecmp(ctype, "text/event-stream", 17) == 0;
	ex->is_ndjson = strncasecmp(ctype, "application/x-ndjson", 20) == 0;
	if (ex->is_sse && ex->is_llm) {
		sse_init(&ex->sse, x->max_body_bytes);
		ex->sse_ready = true;
	}
	if (ex->is_llm)
		dir_start_decoder(d, m, ex);
}

void http_dir_free(struct http_dir *d)
{
	exchange_dir_reset(d);
	free(d->head);
	d->head = NULL;
	d->head_cap = 0;
}

/* ---- framed protocols (HTTP/2) ---- */

struct exchange *exchange_request_start(struct exchange_ctx *x, struct exchange_queue *q,
					struct http_dir *d, const struct http1_message *m,
					bool headers_unknown, const struct conn_peer *peer,
					__u64 ts_ns)
{
	struct exchange *ex = exchange_request_begin(x, q, d, m, peer, ts_ns);

	if (ex) {
		ex->headers_unknown = headers_unknown;
		snprintf(ex->rec.protocol, sizeof(ex->rec.protocol), "h2");
	}
	return ex;
}

void exchange_response_start(struct exchange_ctx *x, struct exchange_queue *q,
			     struct http_dir *d, struct exchange *ex,
			     const struct http1_message *m, bool headers_unknown,
			     __u64 ts_ns)
{
	exchange_response_begin(x, d, ex, m, ts_ns);
	if (headers_unknown) {
		ex->headers_unknown = true;
		ex->resp_sniff = ex->is_llm;
	}
}

/* A response whose head could not be decoded: its first bytes tell a
 * stream from a JSON body, and gzip by its magic (br has none). */
static void response_sniff(struct exchange_ctx *x, struct http_dir *d, struct exchange *ex,
			   const char *data, size_t len)
{
	static const char *const sse_starts[] = { "data:", "event:", "id:", ":" };

	ex->resp_sniff = false;
	if (len >= 2 && (unsigned char)data[0] == 0x1f && (unsigned char)data[1] == 0x8b &&
	    !d->decoding && !d->decode_failed) {
		if (content_decoder_init(&d->dec, CONTENT_GZIP, 64ULL * 1024 * 1024) == 0)
			d->decoding = true;
		return;	/* the decoded text is not looked at: JSON assumed */
	}
	for (size_t i = 0; i < sizeof(sse_starts) / sizeof(sse_starts[0]); i++) {
		size_t n = strlen(sse_starts[i]);

		if (len >= n && !memcmp(data, sse_starts[i], n) && !ex->sse_ready) {
			ex->is_sse = true;
			sse_init(&ex->sse, x->max_body_bytes);
			ex->sse_ready = true;
			return;
		}
	}
}

void exchange_body(struct exchange_ctx *x, struct http_dir *d, const char *data,
		   size_t len, __u64 ts_ns)
{
	struct exchange *ex = d->ex;

	if (!ex)
		return;
	if (d->is_response) {
		ex->ts_last_resp = (int64_t)ts_ns;
		if (ex->resp_sniff && len)
			response_sniff(x, d, ex, data, len);
	} else {
		ex->ts_last_req = (int64_t)ts_ns;
	}
	exchange_dir_deliver(d, data, len);
}

void exchange_body_lost(struct http_dir *d)
{
	if (!d->ex)
		return;
	d->ex->lost = true;
	if (d->decoding)
		d->decode_failed = true;
	if (d->is_response && (d->ex->is_sse || d->ex->is_ndjson))
		d->decode_failed = true;
	(d->is_response ? &d->ex->resp_body : &d->ex->req_body)->over_cap = true;
}

void exchange_message_end(struct exchange_ctx *x, struct exchange_queue *q,
			  struct http_dir *d, __u64 ts_ns)
{
	if (d->ex) {
		if (d->is_response)
			d->ex->ts_last_resp = (int64_t)ts_ns;
		else
			d->ex->ts_last_req = (int64_t)ts_ns;
	}
	exchange_dir_done(x, q, d);
}

void exchange_mark_lost(struct exchange *ex)
{
	ex->lost = true;
}

void exchange_abort(struct exchange_ctx *x, struct exchange_queue *q,
		    struct exchange *ex, bool lost)
{
	if (lost)
		ex->lost = true;
	exchange_finish(x, q, ex, false);
}

void exchange_discard(struct exchange_queue *q, struct exchange *ex)
{
	queue_remove(q, ex);
	exchange_free(ex);
}
