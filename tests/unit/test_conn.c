/* The daemon's pipeline without BPF: capture events built from wire bytes
 * (split into TLS calls and chunks at random points) go through the
 * connection table; the records that come out are checked. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "bpe.h"
#include "conn.h"
#include "stats.h"
#include "corpus_util.h"

#define MAX_RECORDS 1024

static struct exchange_record records[MAX_RECORDS];
static int nrecords;

static void collect(void *ctx, struct exchange_record *r)
{
	if (nrecords < MAX_RECORDS)
		records[nrecords] = *r;
	nrecords++;
}

/* ---- building wire bytes ---- */

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_put(struct buf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		b->cap = (b->len + len + 1) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}

static void buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(tmp));
	buf_put(b, tmp, (size_t)n);
}

/* ---- feeding events ---- */

struct side {
	__u32 tgid;
	__u64 conn;
	__u64 pos[2];
};

static unsigned int seed = 12345;

static unsigned int rnd(unsigned int n)
{
	seed = seed * 1103515245u + 12345u;
	return (seed >> 8) % n;
}

/* One TLS call of len bytes, cut into chunk events like the BPF side does.
 * keep limits the bytes carried (the rest is lost past the cap). */
static void feed_call(struct conn_table *t, struct side *s, int dir, const char *data,
		      size_t len, size_t keep, __u64 ts)
{
	struct capture_event *ev = malloc(sizeof(*ev) + CAPTURE_CHUNK_BYTES);
	size_t off;

	assert_non_null(ev);
	if (keep > len)
		keep = len;
	for (off = 0; off < keep || (off == 0 && keep == 0); ) {
		size_t n = keep - off < CAPTURE_CHUNK_BYTES ? keep - off : CAPTURE_CHUNK_BYTES;

		memset(ev, 0, sizeof(*ev));
		ev->kind = CAPTURE_DATA;
		ev->dir = (__u8)dir;
		ev->tgid = s->tgid;
		ev->tid = s->tgid;
		ev->conn = s->conn;
		ev->ts_ns = ts;
		ev->call_len = (__u32)len;
		ev->offset = (__u32)off;
		ev->data_len = (__u32)n;
		ev->stream_pos = s->pos[dir] + off;
		snprintf(ev->comm, sizeof(ev->comm), "testclient");
		memcpy(ev->data, data + off, n);
		conn_table_event(t, ev);
		off += n;
		if (n == 0)
			break;
	}
	s->pos[dir] += len;
	free(ev);
}

/* Writes data as TLS calls of random sizes (1..max_call). */
static void feed_random(struct conn_table *t, struct side *s, int dir, const char *data,
			size_t len, unsigned int max_call, __u64 ts)
{
	while (len) {
		size_t n = 1 + rnd(max_call);

		if (n > len)
			n = len;
		feed_call(t, s, dir, data, n, n, ts);
		data += n;
		len -= n;
	}
}

static void feed_simple(struct conn_table *t, struct side *s, int kind)
{
	struct capture_event ev = {
		.kind = (__u8)kind, .tgid = s->tgid, .conn = s->conn, .ts_ns = 5000000000ULL,
	};

	conn_table_event(t, &ev);
}

/* What the table told its capture to stop copying. */
static struct {
	int n;
	__u32 tgid;
	__u64 conn;
} ignores;

static void on_ignore(void *ctx, const struct capture_event *ev)
{
	assert_ptr_equal(ctx, &ignores);
	ignores.n++;
	ignores.tgid = ev->tgid;
	ignores.conn = ev->conn;
}

static struct conn_table *new_table(size_t max_conns)
{
	struct conn_table_opts o = { .max_conns = max_conns, .on_ignore = on_ignore,
				     .ignore_ctx = &ignores };
	struct conn_table *t;

	nrecords = 0;
	memset(&ignores, 0, sizeof(ignores));
	memset(stats, 0, sizeof(stats));
	t = conn_table_new(&o, collect, NULL);
	assert_non_null(t);
	return t;
}

/* ---- corpus: every exchange through the whole pipeline ---- */

static void wire_request(struct buf *b, const cJSON *line)
{
	size_t blen = 0;
	unsigned char *body = corpus_b64(line, "req_body_b64", &blen);
	const cJSON *h;

	buf_printf(b, "%s %s HTTP/1.1\r\nHost: %s\r\n", corpus_str(line, "method"),
		   corpus_str(line, "path"), corpus_str(line, "host"));
	buf_printf(b, "Authorization: Bearer sk-test-secret-never-stored\r\n");
	cJSON_ArrayForEach(h, cJSON_GetObjectItem(line, "req_headers"))
		buf_printf(b, "%s: %s\r\n", cJSON_GetArrayItem(h, 0)->valuestring,
			   cJSON_GetArrayItem(h, 1)->valuestring);
	buf_printf(b, "Content-Length: %zu\r\n\r\n", blen);
	buf_put(b, body ? (char *)body : "", blen);
	free(body);
}

/* Streams go chunked, an SSE event per chunk; others with Content-Length. */
static void wire_response(struct buf *b, const cJSON *line)
{
	size_t blen = 0;
	unsigned char *body = corpus_b64(line, "resp_body_b64", &blen);
	bool stream = corpus_bool(line, "stream");
	const cJSON *h;

	buf_printf(b, "HTTP/1.1 %d X\r\n",
		   cJSON_GetObjectItem(line, "status")->valueint);
	cJSON_ArrayForEach(h, cJSON_GetObjectItem(line, "resp_headers"))
		buf_printf(b, "%s: %s\r\n", cJSON_GetArrayItem(h, 0)->valuestring,
			   cJSON_GetArrayItem(h, 1)->valuestring);
	if (!stream) {
		buf_printf(b, "Content-Length: %zu\r\n\r\n", blen);
		buf_put(b, body ? (char *)body : "", blen);
	} else {
		size_t at = 0;

		buf_printf(b, "Transfer-Encoding: chunked\r\n\r\n");
		while (at < blen) {
			char *end = strstr((char *)body + at, "\n\n");
			size_t n = end ? (size_t)(end - (char *)body - at) + 2 : blen - at;

			buf_printf(b, "%zx;ext=1\r\n", n);
			buf_put(b, body + at, n);
			buf_printf(b, "\r\n");
			at += n;
		}
		buf_printf(b, "0\r\n\r\n");
	}
	free(body);
}

struct corpus_run {
	struct conn_table *t;
	struct side side;
	const cJSON *lines[MAX_RECORDS];
	int n;
};

static void corpus_feed_one(const cJSON *line, void *ctx)
{
	struct corpus_run *run = ctx;
	struct buf req = {}, resp = {};

	if (run->n >= MAX_RECORDS)
		return;
	run->lines[run->n++] = cJSON_Duplicate(line, 1);
	wire_request(&req, line);
	wire_response(&resp, line);
	/* One keep-alive connection for the whole corpus. */
	feed_random(run->t, &run->side, CAPTURE_DIR_WRITE, req.p, req.len, 3000,
		    1000000000ULL + (__u64)run->n * 1000000);
	feed_random(run->t, &run->side, CAPTURE_DIR_READ, resp.p, resp.len, 700,
		    1000000000ULL + (__u64)run->n * 1000000 + 500000);
	free(req.p);
	free(resp.p);
}

static int64_t expect_i(const cJSON *line, const char *field)
{
	const cJSON *e = cJSON_GetObjectItem(line, "expected");

	return (int64_t)cJSON_GetObjectItem(e, field)->valuedouble;
}

static void test_corpus_keepalive(void **state)
{
	static struct corpus_run run;
	int mismatches = 0;

	memset(&run, 0, sizeof(run));
	run.t = new_table(0);
	run.side = (struct side){ .tgid = 4242, .conn = 0xabcdef };
	if (corpus_foreach(corpus_feed_one, &run) < 0) {
		conn_table_free(run.t);
		skip();
	}
	feed_simple(run.t, &run.side, CAPTURE_CLOSE);
	conn_table_free(run.t);

	assert_int_equal(ignores.n, 0);	/* a client's calls are always copied */
	assert_int_equal(nrecords, run.n);
	for (int i = 0; i < run.n && i < nrecords; i++) {
		const cJSON *line = run.lines[i];
		const cJSON *e = cJSON_GetObjectItem(line, "expected");
		const struct exchange_record *r = &records[i];
		const char *model = cJSON_GetObjectItem(e, "model")->valuestring;
		bool ok = true;

		ok &= strcmp(r->model, model ? model : "") == 0;
		ok &= r->usage.input_tokens == expect_i(line, "input_tokens");
		ok &= r->usage.cached_input_tokens == expect_i(line, "cached_input_tokens");
		ok &= r->usage.cache_write_tokens == expect_i(line, "cache_write_tokens");
		ok &= r->usage.cache_write_1h_tokens == expect_i(line, "cache_write_1h_tokens");
		ok &= r->usage.output_tokens == expect_i(line, "output_tokens");
		ok &= r->usage.reasoning_tokens == expect_i(line, "reasoning_tokens");
		ok &= (r->usage_source == USAGE_PROVIDER) ==
		      cJSON_IsTrue(cJSON_GetObjectItem(e, "usage_present"));
		ok &= r->complete;
		ok &= r->stream == corpus_bool(line, "stream");
		ok &= r->status == cJSON_GetObjectItem(line, "status")->valueint;
		ok &= r->pid == 4242;
		ok &= strcmp(r->capture, "uprobe") == 0;
		if (cJSON_IsTrue(cJSON_GetObjectItem(e, "error")))
			ok &= r->error[0] != '\0';
		if (!ok) {
			mismatches++;
			print_message("mismatch %s: model=%s in=%lld cached=%lld cw=%lld cw1h=%lld "
				      "out=%lld reas=%lld complete=%d stream=%d error=%s\n",
				      corpus_str(line, "id"), r->model,
				      (long long)r->usage.input_tokens,
				      (long long)r->usage.cached_input_tokens,
				      (long long)r->usage.cache_write_tokens,
				      (long long)r->usage.cache_write_1h_tokens,
				      (long long)r->usage.output_tokens,
				      (long long)r->usage.reasoning_tokens, r->complete, r->stream,
				      r->error);
		}
	}
	print_message("corpus: %d exchanges through one keep-alive connection, %d mismatches\n",
		      run.n, mismatches);
	for (int i = 0; i < run.n; i++)
		cJSON_Delete((cJSON *)run.lines[i]);
	assert_int_equal(mismatches, 0);
	assert_int_equal(stats[STAT_HTTP_PARSE_ERRORS], 0);
	assert_int_equal(stats[STAT_STREAM_GAPS], 0);
}

/* ---- hand-made scenarios ---- */

static const char chat_req_fmt[] =
	"POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
	"Authorization: Bearer sk-secret\r\nContent-Type: application/json\r\n"
	"Content-Length: %zu\r\n\r\n%s";
static const char chat_body[] = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
static const char chat_resp_body[] =
	"{\"id\":\"c1\",\"object\":\"chat.completion\",\"model\":\"gpt-4o-mini-2024-07-18\","
	"\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"hello\"}}],"
	"\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":20,\"total_tokens\":120,"
	"\"prompt_tokens_details\":{\"cached_tokens\":64},"
	"\"completion_tokens_details\":{\"reasoning_tokens\":0}}}";

static void chat_request(struct buf *b)
{
	buf_printf(b, chat_req_fmt, strlen(chat_body), chat_body);
}

static void chat_response(struct buf *b)
{
	buf_printf(b, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		      "Content-Length: %zu\r\n\r\n%s", strlen(chat_resp_body), chat_resp_body);
}

static void assert_chat_record(const struct exchange_record *r)
{
	assert_string_equal(r->provider, "openai");
	assert_string_equal(r->api, "chat.completions");
	assert_string_equal(r->model, "gpt-4o-mini-2024-07-18");
	assert_string_equal(r->request_model, "gpt-4o-mini");
	assert_string_equal(r->host, "api.openai.com");
	assert_string_equal(r->path, "/v1/chat/completions");
	assert_int_equal(r->usage.input_tokens, 100);
	assert_int_equal(r->usage.cached_input_tokens, 64);
	assert_int_equal(r->usage.output_tokens, 20);
	assert_true(r->complete);
	assert_int_equal(r->status, 200);
}

static void test_pipelined_requests(void **state)
{
	struct conn_table *t = new_table(0);
	struct side s = { .tgid = 10, .conn = 1 };
	struct buf req = {}, resp = {};

	for (int i = 0; i < 3; i++) {
		chat_request(&req);
		chat_response(&resp);
	}
	/* All three requests in one call, then the responses byte by byte. */
	feed_call(t, &s, CAPTURE_DIR_WRITE, req.p, req.len, req.len, 100);
	feed_random(t, &s, CAPTURE_DIR_READ, resp.p, resp.len, 1, 200);
	assert_int_equal(nrecords, 3);
	for (int i = 0; i < 3; i++)
		assert_chat_record(&records[i]);
	conn_table_free(t);
	free(req.p);
	free(resp.p);
}

static void test_gzip_response(void **state)
{
	struct conn_table *t = new_table(0);
	struct side s = { .tgid = 11, .conn = 2 };
	struct buf req = {}, resp = {};
	unsigned char gz[4096];
	z_stream z = {};

	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8,
				      Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (unsigned char *)chat_resp_body;
	z.avail_in = sizeof(chat_resp_body) - 1;
	z.next_out = gz;
	z.avail_out = sizeof(gz);
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	deflateEnd(&z);

	chat_request(&req);
	buf_printf(&resp, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			  "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
			  "%zx\r\n", (size_t)z.total_out);
	buf_put(&resp, gz, z.total_out);
	buf_printf(&resp, "\r\n0\r\n\r\n");
	feed_random(t, &s, CAPTURE_DIR_WRITE, req.p, req.len, 50, 100);
	feed_random(t, &s, CAPTURE_DIR_READ, resp.p, resp.len, 7, 200);
	assert_int_equal(nrecords, 1);
	assert_chat_record(&records[0]);
	conn_table_free(t);
	free(req.p);
	free(resp.p);
}

static const char anthropic_stream[] =
	"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m1\","
	"\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-4-5-20251001\","
	"\"content\":[],\"usage\":{\"input_tokens\":50,\"cache_creation_input_tokens\":10,"
	"\"cache_read_input_tokens\":200,\"output_tokens\":1}}}\n\n"
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
	"\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n"
	"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
	"\"end_turn\"},\"usage\":{\"output_tokens\":30}}\n\n"
	"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

static void anthropic_request(struct buf *b)
{
	static const char body[] = "{\"model\":\"claude-haiku-4-5\",\"max_tokens\":64,"
				   "\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

	buf_printf(b, "POST /v1/messages HTTP/1.1\r\nHost: api.anthropic.com\r\n"
		      "x-api-key: sk-ant-secret\r\nContent-Length: %zu\r\n\r\n%s",
		   strlen(body), body);
}

/* The stream's last event came, the body's last chunk did not (a client
 * that exits on message_stop): the answer is whole, the record complete,
 * and the missing framing counted. */
static void test_stream_done_unframed(void **state)
{
	struct conn_table *t = new_table(0);
	struct side s = { .tgid = 12, .conn = 3 };
	struct buf req = {}, resp = {};
	uint64_t before = stats[STAT_STREAMS_ENDED_UNFRAMED];

	anthropic_request(&req);
	buf_printf(&resp, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
			  "Transfer-Encoding: chunked\r\n\r\n%zx\r\n", strlen(anthropic_stream));
	buf_put(&resp, anthropic_stream, strlen(anthropic_stream));
	buf_printf(&resp, "\r\n");	/* no "0\r\n\r\n" */
	feed_random(t, &s, CAPTURE_DIR_WRITE, req.p, req.len, 100, 100);
	feed_random(t, &s, CAPTURE_DIR_READ, resp.p, resp.len, 30, 200);
	assert_int_equal(nrecords, 0);
	feed_simple(t, &s, CAPTURE_EXIT);
	assert_int_equal(nrecords, 1);
	assert_true(records[0].complete);
	assert_string_equal(records[0].error, "");
	assert_int_equal(records[0].usage.output_tokens, 30);
	assert_int_equal(records[0].usage_source, USAGE_PROVIDER);
	assert_int_equal(stats[STAT_STREAMS_ENDED_UNFRAMED], before + 1);
	conn_table_free(t);
	free(req.p);
	free(resp.p);
	(void)state;
}

static void test_truncated_stream(void **state)
{
	struct conn_table *t = new_table(0);
	struct side s = { .tgid = 12, .conn = 3 };
	struct buf req = {}, resp = {};
	size_t half = strstr(anthropic_stream, "event: message_delta") - anthropic_stream;

	anthropic_request(&req);
	buf_printf(&resp, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
			  "Transfer-Encoding: chunked\r\n\r\n%zx\r\n", half);
	buf_put(&resp, anthropic_stream, half);
	buf_printf(&resp, "\r\n");
	feed_random(t, &s, CAPTURE_DIR_WRITE, req.p, req.len, 100, 100);
	feed_random(t, &s, CAPTURE_DIR_READ, resp.p, resp.len, 30, 200);
	assert_int_equal(nrecords, 0);
	feed_simple(t, &s, CAPTURE_EXIT);	/* the client was killed */
	assert_int_equal(nrecords, 1);
	assert_false(records[0].complete);
	assert_string_equal(records[0].error, "truncated");
	assert_true(records[0].stream);
	assert_string_equal(records[0].model, "claude-haiku-4-5-20251001");
	assert_int_equal(records[0].usage.input_tokens, 260);
	assert_int_equal(records[0].usage.cached_input_tokens, 200);
	assert_int_equal(records[0].usage.cache_write_tokens, 10);
	/* message_start's output count is a placeholder: what was seen of
	 * the text is counted instead, and the record says so. */
	if (bpe_available(BPE_O200K_BASE)) {
		assert_int_equal(records[0].usage_source, USAGE_ESTIMATED);
		assert_true(records[0].usage.output_tokens >= 1);
	}
	conn_table_free(t);
	free(req.p);
	free(resp.p);
}

static void test_complete_stream_not_summed(void **state)
{
	struct conn_table *t = new_table(0);
	struct side s = { .tgid = 13, .conn = 4 };
	struct buf req = {}, resp = {};

	anthropic_request(&req);
	buf_printf(&resp, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
			  "Connection: close\r\n\r\n%s", anthropic_stream);
	feed_random(t, &s, CAPTURE_DIR_WRITE, req.p, req.len, 100, 100);
	feed_random(t, &s, CAPTURE_DIR_READ, resp.p, resp.len, 13, 200);
	feed_simple(t, &s, CAPTURE_CLOSE);	/* body delimited by close */
	assert_int_equal(nrecords, 1);
	assert_true(records[0].complete);
	assert_int_equal(records[0].usage.output_tokens, 30);
	assert_int_equal(records[0].usage.input_tokens, 260);
	assert_string_equal(records[0].error, "");
	conn_table_free(t);
	free(req.p);
	free(resp.p);
}

/* Connections we must not record, each with the counter that says why, and
 * whether its capture is told to stop copying it: only a server side, never
 * a client, whose next request may be an LLM's, nor bytes we cannot read,
 * which may be a client whose request head was lost. */
static void test_ignored_connections(void **state)
{
	static const struct {
		const char *write, *read;
		enum stats_counter counter;
		int ignored;
	} cases[] = {
		{ "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		  "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
		  STAT_SERVER_SIDE_CONNS, 1 },
		{ "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04", "\x00\x00\x00\x04\x01",
		  STAT_HTTP2_CONNS, 0 },
		{ "\x16\x03\x01\xff\xfe garbage \x00\x01\x02", "\xde\xad\xbe\xef",
		  STAT_UNSUPPORTED_PROTOCOL_CONNS, 0 },
		{ "GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\n\r\n",
		  "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n{\"data\":[]}",
		  STAT_NON_LLM_EXCHANGES, 0 },
		{ "GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n",
		  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		  STAT_NON_LLM_EXCHANGES, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conn_table *t = new_table(0);
		struct side s = { .tgid = 20, .conn = 100 + i };

		feed_call(t, &s, CAPTURE_DIR_WRITE, cases[i].write, strlen(cases[i].write),
			  SIZE_MAX, 1);
		feed_call(t, &s, CAPTURE_DIR_READ, cases[i].read, strlen(cases[i].read),
			  SIZE_MAX, 2);
		feed_simple(t, &s, CAPTURE_CLOSE);
		assert_int_equal(nrecords, 0);
		assert_int_equal(stats[cases[i].counter], 1);
		assert_int_equal(ignores.n, cases[i].ignored);
		if (cases[i].ignored) {
			assert_int_equal(ignores.tgid, s.tgid);
			assert_int_equal(ignores.conn, s.conn);
		}
		conn_table_free(t);
	}
}

/* A 10 MB prompt written in one TLS call: only the first 1 MiB is captured
 * (the per-call cap); the exchange is still recorded from its response. */
static void test_huge_request_past_cap(void **state)
{
	struct conn_table *t = new_table(0);
	struct side s = { .tgid = 14, .conn = 5 };
	size_t body_len = 10u << 20;
	struct buf req = {}, resp = {};
	char *body = malloc(body_len + 1);

	assert_non_null(body);
	memset(body, 'a', body_len);
	memcpy(body, "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"", 61);
	memcpy(body + body_len - 4, "\"}]}", 4);
	body[body_len] = '\0';
	buf_printf(&req, "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
			 "Content-Length: %zu\r\n\r\n", body_len);
	buf_put(&req, body, body_len);
	chat_response(&resp);
	feed_call(t, &s, CAPTURE_DIR_WRITE, req.p, req.len, 1u << 20, 100);
	feed_random(t, &s, CAPTURE_DIR_READ, resp.p, resp.len, 100, 200);
	assert_int_equal(nrecords, 1);
	assert_string_equal(records[0].model, "gpt-4o-mini-2024-07-18");
	assert_int_equal(records[0].usage.input_tokens, 100);
	assert_false(records[0].complete);	/* bytes were lost */
	assert_string_equal(records[0].error, "capture_gap");
	assert_int_equal(stats[STAT_STREAM_GAPS], 1);
	assert_int_equal(stats[STAT_STREAM_GAP_BYTES], req.len - (1u << 20));
	conn_table_free(t);
	free(body);
	free(req.p);
	free(resp.p);
}

/* Binary garbage on an established client connection: no crash, counted,
 * and the next real exchange on the connection is still recorded. */
static void test_garbage_then_recovery(void **state)
{
	struct conn_table *t = new_table(0);
	struct side s = { .tgid = 15, .conn = 6 };
	struct buf req = {}, resp = {};
	char garbage[5000];

	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (char)rnd(256);
	chat_request(&req);
	chat_response(&resp);
	feed_call(t, &s, CAPTURE_DIR_WRITE, "POST /x HTTP/1.1\r\n", 18, 18, 1);
	feed_call(t, &s, CAPTURE_DIR_WRITE, garbage, sizeof(garbage), sizeof(garbage), 2);
	feed_call(t, &s, CAPTURE_DIR_READ, garbage, sizeof(garbage), sizeof(garbage), 3);
	assert_true(stats[STAT_HTTP_PARSE_ERRORS] >= 1);
	feed_call(t, &s, CAPTURE_DIR_WRITE, req.p, req.len, req.len, 4);
	feed_call(t, &s, CAPTURE_DIR_READ, resp.p, resp.len, resp.len, 5);
	assert_int_equal(nrecords, 1);
	assert_chat_record(&records[0]);
	conn_table_free(t);
	free(req.p);
	free(resp.p);
}

static void test_lru_eviction_bounded(void **state)
{
	struct conn_table *t = new_table(8);
	struct buf req = {};

	chat_request(&req);
	for (__u64 i = 0; i < 100; i++) {
		struct side s = { .tgid = 30, .conn = 1000 + i };

		feed_call(t, &s, CAPTURE_DIR_WRITE, req.p, req.len, req.len, 10 + i);
		assert_true(conn_table_count(t) <= 8);
	}
	assert_int_equal(stats[STAT_CONNS_EVICTED], 92);
	/* Evicted requests never saw a response: recorded incomplete. */
	assert_int_equal(nrecords, 92);
	assert_string_equal(records[0].error, "no_response");
	conn_table_free(t);
	assert_int_equal(nrecords, 100);
	free(req.p);
}

static void test_query_credentials_redacted(void **state)
{
	struct conn_table *t = new_table(0);
	struct side s = { .tgid = 16, .conn = 7 };
	struct buf req = {}, resp = {};

	buf_printf(&req, "POST /v1/chat/completions?api-key=SECRET123&x=1 HTTP/1.1\r\n"
			 "Host: gw.local\r\nContent-Length: %zu\r\n\r\n%s",
		   strlen(chat_body), chat_body);
	chat_response(&resp);
	feed_call(t, &s, CAPTURE_DIR_WRITE, req.p, req.len, req.len, 1);
	feed_call(t, &s, CAPTURE_DIR_READ, resp.p, resp.len, resp.len, 2);
	assert_int_equal(nrecords, 1);
	assert_string_equal(records[0].path, "/v1/chat/completions?api-key=REDACTED&x=1");
	assert_null(strstr(records[0].path, "SECRET"));
	conn_table_free(t);
	free(req.p);
	free(resp.p);
}

/* A 429: recorded with the provider's error type and the rate-limit
 * headers; nothing else from the heads (the request's key) reaches it. */
static void test_rate_limited(void **state)
{
	static const char body[] =
		"{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\","
		"\"code\":\"rate_limit_exceeded\"}}";
	struct conn_table *t = new_table(0);
	struct side s = { .tgid = 17, .conn = 8 };
	struct buf req = {}, resp = {};
	const struct exchange_record *r = &records[0];

	chat_request(&req);
	buf_printf(&resp, "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
			  "x-ratelimit-limit-requests: 500\r\nx-ratelimit-remaining-requests: 0\r\n"
			  "x-ratelimit-reset-requests: 120ms\r\nretry-after: 1\r\n"
			  "Set-Cookie: __cf_bm=SECRETCOOKIE\r\n"
			  "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
	feed_call(t, &s, CAPTURE_DIR_WRITE, req.p, req.len, req.len, 1);
	feed_random(t, &s, CAPTURE_DIR_READ, resp.p, resp.len, 1, 2);
	assert_int_equal(nrecords, 1);
	assert_int_equal(r->status, 429);
	assert_string_equal(r->error, "rate_limit_exceeded");
	assert_string_equal(r->ratelimit,
			    "{\"x-ratelimit-limit-requests\":\"500\","
			    "\"x-ratelimit-remaining-requests\":\"0\","
			    "\"x-ratelimit-reset-requests\":\"120ms\",\"retry-after\":\"1\"}");
	assert_null(memmem(r, sizeof(*r), "SECRET", 6));
	assert_null(memmem(r, sizeof(*r), "sk-secret", 9));
	conn_table_free(t);
	free(req.p);
	free(resp.p);
}

/* A chat stream without stream_options.include_usage carries no usage:
 * the record counts the captured text (exact o200k_base for gpt-4o-mini)
 * and says usage_source=estimated; a cut stream with usage never sent too. */
static void test_estimated_usage(void **state)
{
	static const char body[] =
		"{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":\"user\","
		"\"content\":\"Say hello world\"}]}";
	static const char events[] =
		"data: {\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"delta\":"
		"{\"content\":\"Hello\"}}]}\n\n"
		"data: {\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"delta\":"
		"{\"content\":\" world\"}}]}\n\n"
		"data: [DONE]\n\n";
	struct conn_table *t = new_table(0);
	struct side s = { .tgid = 18, .conn = 9 };
	struct buf req = {}, resp = {};
	const struct exchange_record *r = &records[0];

	if (!bpe_available(BPE_O200K_BASE)) {
		conn_table_free(t);
		skip();
	}
	buf_printf(&req, "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
			 "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
	buf_printf(&resp, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
			  "Transfer-Encoding: chunked\r\n\r\n%zx\r\n%s\r\n0\r\n\r\n",
		   strlen(events), events);
	feed_call(t, &s, CAPTURE_DIR_WRITE, req.p, req.len, req.len, 1);
	feed_random(t, &s, CAPTURE_DIR_READ, resp.p, resp.len, 1, 2);
	assert_int_equal(nrecords, 1);
	assert_int_equal(r->usage_source, USAGE_ESTIMATED);
	assert_int_equal(r->usage.input_tokens, 10);	/* 3 + 1 + 3 + 3 */
	assert_int_equal(r->usage.output_tokens, 3);	/* 2 + the end of message */
	assert_true(r->complete);
	assert_string_equal(r->model, "gpt-4o-mini-2024-07-18");
	conn_table_free(t);
	free(req.p);
	free(resp.p);
}

/* GET of a file's content: a batch's results make a record with their
 * usage summed; any other file leaves none and counts as non-LLM. */
static void test_batch_results_download(void **state)
{
	static const char results[] =
		"{\"id\":\"batch_req_1\",\"custom_id\":\"r1\",\"response\":{\"status_code\":200,"
		"\"body\":{\"model\":\"gpt-4o-mini-2024-07-18\",\"usage\":{\"prompt_tokens\":100,"
		"\"completion_tokens\":9}}},\"error\":null}\n";
	static const char other[] = "just,a,csv\n1,2,3\n";
	struct conn_table *t = new_table(0);
	struct side s = { .tgid = 19, .conn = 10 };
	struct buf req = {}, resp = {};

	for (int i = 0; i < 2; i++) {
		buf_printf(&req, "GET /v1/files/file-%d/content HTTP/1.1\r\nHost: api.openai.com\r\n"
				 "Authorization: Bearer sk-secret\r\n\r\n", i);
		buf_printf(&resp, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
				  "Content-Length: %zu\r\n\r\n%s", strlen(i ? other : results),
			   i ? other : results);
	}
	feed_call(t, &s, CAPTURE_DIR_WRITE, req.p, req.len, req.len, 1);
	feed_random(t, &s, CAPTURE_DIR_READ, resp.p, resp.len, 1, 2);
	assert_int_equal(nrecords, 1);
	assert_string_equal(records[0].api, "batch_results");
	assert_string_equal(records[0].path, "/v1/files/file-0/content");
	assert_string_equal(records[0].model, "gpt-4o-mini-2024-07-18");
	assert_int_equal(records[0].usage.input_tokens, 100);
	assert_int_equal(records[0].usage_source, USAGE_PROVIDER);
	assert_int_equal(stats[STAT_NON_LLM_EXCHANGES], 1);
	conn_table_free(t);
	free(req.p);
	free(resp.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipelined_requests),
		cmocka_unit_test(test_gzip_response),
		cmocka_unit_test(test_truncated_stream),
		cmocka_unit_test(test_stream_done_unframed),
		cmocka_unit_test(test_complete_stream_not_summed),
		cmocka_unit_test(test_ignored_connections),
		cmocka_unit_test(test_huge_request_past_cap),
		cmocka_unit_test(test_garbage_then_recovery),
		cmocka_unit_test(test_lru_eviction_bounded),
		cmocka_unit_test(test_query_credentials_redacted),
		cmocka_unit_test(test_rate_limited),
		cmocka_unit_test(test_estimated_usage),
		cmocka_unit_test(test_batch_results_download),
		cmocka_unit_test(test_corpus_keepalive),
	};

	return cmocka_run_group_tests_name("conn", tests, NULL, NULL);
}
