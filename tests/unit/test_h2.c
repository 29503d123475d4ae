/* HTTP/2 through the whole pipeline: frames built here, header blocks
 * encoded by libnghttp2's HPACK deflater (so the dynamic table is really
 * used across requests), cut into TLS calls at every split point and fed
 * as capture events to the connection table; the records are checked. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>
#include <zlib.h>
#include <nghttp2/nghttp2.h>
#include "conn.h"
#include "h2.h"
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

static struct conn_table *new_table(void)
{
	struct conn_table_opts o = { .max_conns = 16 };
	struct conn_table *t;

	nrecords = 0;
	memset(records, 0, sizeof(records));
	memset(stats, 0, sizeof(stats));
	t = conn_table_new(&o, collect, NULL);
	assert_non_null(t);
	return t;
}

/* ---- wire bytes ---- */

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static void buf_put(struct buf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		b->cap = (b->len + len + 1) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
}

static void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

enum { T_DATA = 0, T_HEADERS = 1, T_RST = 3, T_SETTINGS = 4, T_PUSH = 5, T_PING = 6,
       T_GOAWAY = 7, T_WINDOW = 8, T_CONT = 9 };
enum { FL_END_STREAM = 1, FL_END_HEADERS = 4, FL_PADDED = 8, FL_PRIORITY = 0x20 };

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void frame(struct buf *b, int type, int flags, uint32_t sid, const void *payload,
		  size_t len)
{
	unsigned char h[9] = { len >> 16, len >> 8, len, type, flags };

	put_be32(h + 5, sid);
	buf_put(b, h, 9);
	buf_put(b, payload, len);
}

/* One side's writer: its bytes and its HPACK encoder. */
struct side_w {
	struct buf b;
	nghttp2_hd_deflater *def;
};

static void side_init(struct side_w *w, bool client)
{
	memset(w, 0, sizeof(*w));
	assert_int_equal(nghttp2_hd_deflate_new(&w->def, 4096), 0);
	if (client)
		buf_put(&w->b, H2_PREFACE, H2_PREFACE_LEN);
	frame(&w->b, T_SETTINGS, 0, 0, NULL, 0);
}

static void side_free(struct side_w *w)
{
	nghttp2_hd_deflate_del(w->def);
	buf_free(&w->b);
}

#define NV(n, v) { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), 0 }

/* Encodes nv as one block and writes it as HEADERS (or PUSH_PROMISE for
 * promised != 0) plus CONTINUATIONs of at most cont bytes (0: one frame).
 * pad > 0 pads the first frame; prio adds the priority fields. Returns the
 * block's length. */
static size_t headers_ex(struct side_w *w, uint32_t sid, const nghttp2_nv *nv, size_t n,
			 bool end_stream, size_t cont, int pad, bool prio, uint32_t promised)
{
	size_t bound = nghttp2_hd_deflate_bound(w->def, nv, n);
	unsigned char *blk = malloc(bound), *first;
	ssize_t len = nghttp2_hd_deflate_hd(w->def, blk, bound, nv, n);
	size_t at = 0, take, flen;
	int flags;

	assert_non_null(blk);
	assert_true(len >= 0);
	take = cont && cont < (size_t)len ? cont : (size_t)len;
	first = malloc(take + 300);
	assert_non_null(first);
	flen = 0;
	flags = (end_stream ? FL_END_STREAM : 0) | (take == (size_t)len ? FL_END_HEADERS : 0);
	if (pad) {
		flags |= FL_PADDED;
		first[flen++] = (unsigned char)pad;
	}
	if (promised) {
		put_be32(first + flen, promised);
		flen += 4;
		flags &= ~FL_END_STREAM;
	} else if (prio) {
		flags |= FL_PRIORITY;
		put_be32(first + flen, 0);
		flen += 4;
		first[flen++] = 15;
	}
	memcpy(first + flen, blk, take);
	flen += take;
	memset(first + flen, 0, (size_t)pad);
	flen += (size_t)pad;
	frame(&w->b, promised ? T_PUSH : T_HEADERS, flags, sid, first, flen);
	for (at = take; at < (size_t)len; at += take) {
		take = (size_t)len - at < cont ? (size_t)len - at : cont;
		frame(&w->b, T_CONT, at + take == (size_t)len ? FL_END_HEADERS : 0, sid,
		      blk + at, take);
	}
	free(first);
	free(blk);
	return (size_t)len;
}

static size_t headers(struct side_w *w, uint32_t sid, const nghttp2_nv *nv, size_t n,
		      bool end_stream)
{
	return headers_ex(w, sid, nv, n, end_stream, 0, 0, false, 0);
}

/* DATA frames of at most 16384 bytes; pad > 0 pads each. */
static void data_pad(struct side_w *w, uint32_t sid, const void *p, size_t len, bool end,
		     int pad)
{
	const unsigned char *d = p;
	unsigned char *f = malloc(16384 + 1);

	assert_non_null(f);
	do {
		size_t room = pad ? 16384 - 1 - (size_t)pad : 16384;
		size_t n = len < room ? len : room, flen = 0;
		int flags = (end && n == len) ? FL_END_STREAM : 0;

		if (pad) {
			flags |= FL_PADDED;
			f[flen++] = (unsigned char)pad;
		}
		memcpy(f + flen, d, n);
		flen += n;
		memset(f + flen, 0, (size_t)pad);
		flen += (size_t)pad;
		frame(&w->b, T_DATA, flags, sid, f, flen);
		d += n;
		len -= n;
	} while (len);
	free(f);
}

static void data(struct side_w *w, uint32_t sid, const void *p, size_t len, bool end)
{
	data_pad(w, sid, p, len, end, 0);
}

static void rst(struct side_w *w, uint32_t sid, uint32_t code)
{
	unsigned char p[4];

	put_be32(p, code);
	frame(&w->b, T_RST, 0, sid, p, 4);
}

static void goaway(struct side_w *w, uint32_t last)
{
	unsigned char p[8] = { 0 };

	put_be32(p, last);
	frame(&w->b, T_GOAWAY, 0, 0, p, 8);
}

/* ---- feeding ---- */

struct tconn {
	__u32 tgid;
	__u64 conn;
	__u64 pos[2];
	__u64 ts;
};

static unsigned int seed = 4242;

static unsigned int rnd(unsigned int n)
{
	seed = seed * 1103515245u + 12345u;
	return (seed >> 8) % n;
}

/* One TLS call; keep < len loses the rest as the per-call cap does. */
static void feed_call(struct conn_table *t, struct tconn *c, int dir, const void *p,
		      size_t len, size_t keep)
{
	struct capture_event *ev = malloc(sizeof(*ev) + CAPTURE_CHUNK_BYTES);
	size_t off = 0;

	assert_non_null(ev);
	if (keep > len)
		keep = len;
	do {
		size_t n = keep - off < CAPTURE_CHUNK_BYTES ? keep - off : CAPTURE_CHUNK_BYTES;

		memset(ev, 0, sizeof(*ev));
		ev->kind = CAPTURE_DATA;
		ev->dir = (__u8)dir;
		ev->tgid = c->tgid;
		ev->tid = c->tgid;
		ev->conn = c->conn;
		ev->ts_ns = c->ts += 1000000;
		ev->call_len = (__u32)len;
		ev->offset = (__u32)off;
		ev->data_len = (__u32)n;
		ev->stream_pos = c->pos[dir] + off;
		snprintf(ev->comm, sizeof(ev->comm), "h2client");
		memcpy(ev->data, (const char *)p + off, n);
		conn_table_event(t, ev);
		off += n;
	} while (off < keep);
	c->pos[dir] += len;
	free(ev);
}

static void feed_random(struct conn_table *t, struct tconn *c, int dir, const void *p,
			size_t len, unsigned int max_call)
{
	const char *d = p;

	while (len) {
		size_t n = 1 + rnd(max_call);

		/* A client writes the preface whole (shorter first calls are
		 * test_split_everywhere's). */
		if (c->pos[dir] == 0 && n < H2_PREFACE_LEN)
			n = H2_PREFACE_LEN;

		if (n > len)
			n = len;
		feed_call(t, c, dir, d, n, n);
		d += n;
		len -= n;
	}
}

static void feed_close(struct conn_table *t, struct tconn *c)
{
	struct capture_event ev = { .kind = CAPTURE_CLOSE, .tgid = c->tgid, .conn = c->conn };

	conn_table_event(t, &ev);
}

/* ---- exchanges ---- */

static const char chat_body[] =
	"{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
static const char chat_resp[] =
	"{\"id\":\"c1\",\"object\":\"chat.completion\",\"model\":\"gpt-4o-mini-2024-07-18\","
	"\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"hello\"}}],"
	"\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":20,\"total_tokens\":120,"
	"\"prompt_tokens_details\":{\"cached_tokens\":64}}}";
static const char anthropic_body[] =
	"{\"model\":\"claude-haiku-4-5\",\"max_tokens\":64,\"stream\":true,"
	"\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
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

static void chat_request(struct side_w *c, uint32_t sid, bool end_headers_only)
{
	nghttp2_nv nv[] = {
		NV(":method", "POST"), NV(":scheme", "https"),
		NV(":authority", "api.openai.com"), NV(":path", "/v1/chat/completions"),
		NV("authorization", "Bearer sk-secret-never-stored"),
		NV("content-type", "application/json"), NV("user-agent", "test/1.0"),
	};

	nv[4].flags = NGHTTP2_NV_FLAG_NO_INDEX;
	headers(c, sid, nv, sizeof(nv) / sizeof(nv[0]), false);
	if (!end_headers_only)
		data(c, sid, chat_body, strlen(chat_body), true);
}

static void chat_response(struct side_w *s, uint32_t sid)
{
	nghttp2_nv nv[] = {
		NV(":status", "200"), NV("content-type", "application/json"),
		NV("x-request-id", "req_123"),
	};

	headers(s, sid, nv, sizeof(nv) / sizeof(nv[0]), false);
	data(s, sid, chat_resp, strlen(chat_resp), true);
}

static void anthropic_request(struct side_w *c, uint32_t sid)
{
	nghttp2_nv nv[] = {
		NV(":method", "POST"), NV(":scheme", "https"),
		NV(":authority", "api.anthropic.com"), NV(":path", "/v1/messages"),
		NV("x-api-key", "sk-ant-secret"), NV("content-type", "application/json"),
	};

	headers(c, sid, nv, sizeof(nv) / sizeof(nv[0]), false);
	data(c, sid, anthropic_body, strlen(anthropic_body), true);
}

static void anthropic_response_head(struct side_w *s, uint32_t sid)
{
	nghttp2_nv nv[] = { NV(":status", "200"), NV("content-type", "text/event-stream") };

	headers(s, sid, nv, 2, false);
}

/* Each SSE event in its own DATA frame, the last one ending the stream. */
static void anthropic_events(struct side_w *s, uint32_t sid, size_t upto)
{
	const char *p = anthropic_stream, *end = p + strlen(p);

	if (upto && upto < strlen(p))
		end = p + upto;
	while (p < end) {
		const char *e = strstr(p, "\n\n");
		size_t n = e && e + 2 <= end ? (size_t)(e + 2 - p) : (size_t)(end - p);

		data(s, sid, p, n, !upto && p + n == end);
		p += n;
	}
}

static void assert_chat(const struct exchange_record *r)
{
	assert_string_equal(r->provider, "openai");
	assert_string_equal(r->api, "chat.completions");
	assert_string_equal(r->host, "api.openai.com");
	assert_string_equal(r->method, "POST");
	assert_string_equal(r->path, "/v1/chat/completions");
	assert_string_equal(r->model, "gpt-4o-mini-2024-07-18");
	assert_string_equal(r->request_model, "gpt-4o-mini");
	assert_int_equal(r->status, 200);
	assert_int_equal(r->usage.input_tokens, 100);
	assert_int_equal(r->usage.cached_input_tokens, 64);
	assert_int_equal(r->usage.output_tokens, 20);
	assert_int_equal(r->usage_source, USAGE_PROVIDER);
	assert_false(r->stream);
	assert_true(r->complete);
	assert_string_equal(r->error, "");
	assert_int_equal(r->pid, 77);
	assert_string_equal(r->comm, "h2client");
	assert_string_equal(r->protocol, "h2");
	assert_false(r->headers_unknown);
}

static void assert_anthropic(const struct exchange_record *r, bool complete)
{
	assert_string_equal(r->provider, "anthropic");
	assert_string_equal(r->api, "messages");
	assert_string_equal(r->model, "claude-haiku-4-5-20251001");
	assert_true(r->stream);
	assert_int_equal(r->usage.input_tokens, 260);
	assert_int_equal(r->usage.cached_input_tokens, 200);
	assert_int_equal(r->usage.cache_write_tokens, 10);
	if (complete) {
		assert_int_equal(r->usage.output_tokens, 30);
		assert_true(r->complete);
		assert_string_equal(r->error, "");
		assert_true(r->ttft_ms >= 0);
	}
}

/* A whole connection: one chat exchange on stream 1. */
static void build_basic(struct side_w *c, struct side_w *s)
{
	side_init(c, true);
	side_init(s, false);
	chat_request(c, 1, false);
	chat_response(s, 1);
}

/* ---- tests ---- */

/* The client's bytes cut into two calls at every point, and the server's
 * too: every frame boundary and every byte inside a frame header, prefix,
 * header block and body is a call boundary once. */
static void test_split_everywhere(void **state)
{
	struct side_w c, s;

	build_basic(&c, &s);
	for (int dir = 0; dir < 2; dir++) {
		struct buf *b = dir == CAPTURE_DIR_WRITE ? &c.b : &s.b;

		/* From 3: "PRI" is the least that tells the preface from HTTP/1.1. */
		for (size_t cut = dir == CAPTURE_DIR_WRITE ? 3 : 1; cut < b->len; cut++) {
			struct conn_table *t = new_table();
			struct tconn tc = { .tgid = 77, .conn = 0x1000 + cut };

			if (dir == CAPTURE_DIR_WRITE) {
				feed_call(t, &tc, 0, c.b.p, cut, cut);
				feed_call(t, &tc, 0, c.b.p + cut, c.b.len - cut, c.b.len - cut);
				feed_call(t, &tc, 1, s.b.p, s.b.len, s.b.len);
			} else {
				feed_call(t, &tc, 0, c.b.p, c.b.len, c.b.len);
				feed_call(t, &tc, 1, s.b.p, cut, cut);
				feed_call(t, &tc, 1, s.b.p + cut, s.b.len - cut, s.b.len - cut);
			}
			assert_int_equal(nrecords, 1);
			assert_chat(&records[0]);
			assert_int_equal(stats[STAT_HTTP2_CONNS], 1);
			assert_int_equal(stats[STAT_H2_PROTOCOL_ERRORS], 0);
			assert_int_equal(stats[STAT_H2_HPACK_ERRORS], 0);
			conn_table_free(t);
		}
	}
	/* And byte by byte, both directions. */
	{
		struct conn_table *t = new_table();
		struct tconn tc = { .tgid = 77, .conn = 1 };

		feed_random(t, &tc, 0, c.b.p, c.b.len, 1);
		feed_random(t, &tc, 1, s.b.p, s.b.len, 1);
		assert_int_equal(nrecords, 1);
		assert_chat(&records[0]);
		conn_table_free(t);
	}
	side_free(&c);
	side_free(&s);
}

/* true if a header block does not decode without the table before it. */
static bool needs_table(const unsigned char *blk, size_t len)
{
	nghttp2_hd_inflater *inf;
	nghttp2_nv nv;
	int flags = 0;
	ssize_t r;
	bool failed = false;

	assert_int_equal(nghttp2_hd_inflate_new(&inf), 0);
	while (len) {
		r = nghttp2_hd_inflate_hd2(inf, &nv, &flags, blk, len, 1);
		if (r < 0) {
			failed = true;
			break;
		}
		blk += r;
		len -= (size_t)r;
		if (flags & NGHTTP2_HD_INFLATE_FINAL)
			break;
	}
	nghttp2_hd_inflate_del(inf);
	return failed;
}

/* Later requests refer to the dynamic table the first ones filled: their
 * header blocks are much shorter and only decode with the state followed. */
static void test_hpack_dynamic_table(void **state)
{
	struct conn_table *t = new_table();
	struct tconn tc = { .tgid = 77, .conn = 2 };
	struct side_w c, s;
	size_t first, later;
	nghttp2_nv nv[] = {
		NV(":method", "POST"), NV(":scheme", "https"),
		NV(":authority", "api.openai.com"), NV(":path", "/v1/chat/completions"),
		NV("content-type", "application/json"), NV("user-agent", "test/1.0"),
	};

	side_init(&c, true);
	side_init(&s, false);
	first = headers(&c, 1, nv, 6, false);
	data(&c, 1, chat_body, strlen(chat_body), true);
	chat_response(&s, 1);
	feed_random(t, &tc, 0, c.b.p, c.b.len, 40);
	feed_random(t, &tc, 1, s.b.p, s.b.len, 40);
	for (uint32_t sid = 3; sid <= 9; sid += 2) {
		c.b.len = s.b.len = 0;
		later = headers(&c, sid, nv, 6, false);
		assert_true(later < first / 2);
		assert_true(needs_table(c.b.p + 9, later));
		data(&c, sid, chat_body, strlen(chat_body), true);
		chat_response(&s, sid);
		feed_random(t, &tc, 0, c.b.p, c.b.len, 40);
		feed_random(t, &tc, 1, s.b.p, s.b.len, 40);
	}
	assert_int_equal(nrecords, 5);
	for (int i = 0; i < 5; i++)
		assert_chat(&records[i]);
	assert_int_equal(stats[STAT_H2_HPACK_ERRORS], 0);
	conn_table_free(t);
	side_free(&c);
	side_free(&s);
}

/* Header blocks split into HEADERS + CONTINUATIONs, padded HEADERS with
 * priority fields, padded DATA; the same record comes out. */
static void test_continuation_and_padding(void **state)
{
	static const size_t conts[] = { 1, 2, 3, 7, 16 };

	for (size_t i = 0; i < sizeof(conts) / sizeof(conts[0]); i++) {
		struct conn_table *t = new_table();
		struct tconn tc = { .tgid = 77, .conn = 3 };
		struct side_w c, s;
		nghttp2_nv req[] = {
			NV(":method", "POST"), NV(":scheme", "https"),
			NV(":authority", "api.openai.com"), NV(":path", "/v1/chat/completions"),
			NV("content-type", "application/json"),
		};
		nghttp2_nv resp[] = { NV(":status", "200"), NV("content-type", "application/json") };

		side_init(&c, true);
		side_init(&s, false);
		headers_ex(&c, 1, req, 5, false, conts[i], (int)i * 3, i & 1, 0);
		data_pad(&c, 1, chat_body, strlen(chat_body), true, (int)(i * 50));
		headers_ex(&s, 1, resp, 2, false, conts[i], 200, true, 0);
		data_pad(&s, 1, chat_resp, 40, false, 255);
		data_pad(&s, 1, chat_resp + 40, strlen(chat_resp) - 40, true, 1);
		feed_random(t, &tc, 0, c.b.p, c.b.len, 9);
		feed_random(t, &tc, 1, s.b.p, s.b.len, 9);
		assert_int_equal(nrecords, 1);
		assert_chat(&records[0]);
		assert_int_equal(stats[STAT_H2_PROTOCOL_ERRORS], 0);
		conn_table_free(t);
		side_free(&c);
		side_free(&s);
	}
}

/* Three streams at once, frames interleaved, answers out of order, one
 * streamed (SSE) and one gzip-coded; each record is its own stream's. */
static void test_concurrent_streams(void **state)
{
	struct conn_table *t = new_table();
	struct tconn tc = { .tgid = 77, .conn = 4 };
	struct side_w c, s;
	unsigned char gz[1024];
	z_stream z = { 0 };
	nghttp2_nv req[] = {
		NV(":method", "POST"), NV(":scheme", "https"),
		NV(":authority", "api.openai.com"), NV(":path", "/v1/chat/completions"),
		NV("content-type", "application/json"),
	};
	nghttp2_nv gzresp[] = {
		NV(":status", "200"), NV("content-type", "application/json"),
		NV("content-encoding", "gzip"),
	};
	size_t half = strlen(chat_body) / 2;

	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
			 Z_OK);
	z.next_in = (unsigned char *)chat_resp;
	z.avail_in = sizeof(chat_resp) - 1;
	z.next_out = gz;
	z.avail_out = sizeof(gz);
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	deflateEnd(&z);

	side_init(&c, true);
	side_init(&s, false);
	/* Streams 1 and 5 chat, 3 Anthropic streaming; bodies interleaved. */
	headers(&c, 1, req, 5, false);
	anthropic_request(&c, 3);
	headers(&c, 5, req, 5, false);
	data(&c, 5, chat_body, half, false);
	data(&c, 1, chat_body, half, false);
	data(&c, 5, chat_body + half, strlen(chat_body) - half, true);
	data(&c, 1, chat_body + half, strlen(chat_body) - half, true);
	/* Server: 3's head, 5 whole (gzip), 3's events interleaved with 1. */
	anthropic_response_head(&s, 3);
	headers(&s, 5, gzresp, 3, false);
	data(&s, 5, gz, z.total_out / 2, false);
	data(&s, 3, anthropic_stream, 100, false);
	data(&s, 5, gz + z.total_out / 2, z.total_out - z.total_out / 2, true);
	chat_response(&s, 1);
	data(&s, 3, anthropic_stream + 100, strlen(anthropic_stream) - 100, true);

	feed_random(t, &tc, 0, c.b.p, c.b.len, 30);
	feed_random(t, &tc, 1, s.b.p, s.b.len, 30);
	assert_int_equal(nrecords, 3);
	assert_chat(&records[0]);	/* stream 5 finished first */
	assert_chat(&records[1]);	/* then 1 */
	assert_anthropic(&records[2], true);
	assert_int_equal(stats[STAT_DECODE_ERRORS], 0);
	conn_table_free(t);
	side_free(&c);
	side_free(&s);
}

/* RST_STREAM: a cancelled stream is recorded incomplete with what it had;
 * a refused one (never processed: the client retries it) leaves no
 * record; the connection goes on. */
static void test_rst_stream(void **state)
{
	struct conn_table *t = new_table();
	struct tconn tc = { .tgid = 77, .conn = 5 };
	struct side_w c, s;

	side_init(&c, true);
	side_init(&s, false);
	anthropic_request(&c, 1);
	chat_request(&c, 3, false);
	anthropic_response_head(&s, 1);
	anthropic_events(&s, 1, strstr(anthropic_stream, "event: message_delta") - anthropic_stream);
	feed_call(t, &tc, 0, c.b.p, c.b.len, c.b.len);
	feed_call(t, &tc, 1, s.b.p, s.b.len, s.b.len);
	c.b.len = s.b.len = 0;
	rst(&c, 1, 0x8);	/* CANCEL from the client */
	rst(&s, 3, 0x7);	/* REFUSED_STREAM from the server */
	chat_request(&c, 5, false);
	chat_response(&s, 5);
	feed_call(t, &tc, 0, c.b.p, c.b.len, c.b.len);
	feed_call(t, &tc, 1, s.b.p, s.b.len, s.b.len);
	assert_int_equal(nrecords, 2);
	assert_anthropic(&records[0], false);
	assert_false(records[0].complete);
	assert_string_equal(records[0].error, "truncated");
	assert_chat(&records[1]);
	assert_int_equal(stats[STAT_H2_STREAMS_RESET], 1);
	assert_int_equal(stats[STAT_H2_STREAMS_REFUSED], 1);
	conn_table_free(t);
	side_free(&c);
	side_free(&s);
}

/* GOAWAY: streams past the server's last one were never processed and are
 * dropped without a record; earlier ones still complete. */
static void test_goaway(void **state)
{
	struct conn_table *t = new_table();
	struct tconn tc = { .tgid = 77, .conn = 6 };
	struct side_w c, s;

	side_init(&c, true);
	side_init(&s, false);
	for (uint32_t sid = 1; sid <= 5; sid += 2)
		chat_request(&c, sid, false);
	goaway(&s, 3);
	chat_response(&s, 3);
	chat_response(&s, 1);
	feed_random(t, &tc, 0, c.b.p, c.b.len, 100);
	feed_random(t, &tc, 1, s.b.p, s.b.len, 100);
	feed_close(t, &tc);
	assert_int_equal(nrecords, 2);
	assert_chat(&records[0]);
	assert_chat(&records[1]);
	assert_int_equal(stats[STAT_H2_STREAMS_REFUSED], 1);
	conn_table_free(t);
	side_free(&c);
	side_free(&s);
}

/* The connection closes with a stream open: recorded incomplete. */
static void test_close_mid_stream(void **state)
{
	struct conn_table *t = new_table();
	struct tconn tc = { .tgid = 77, .conn = 7 };
	struct side_w c, s;

	side_init(&c, true);
	side_init(&s, false);
	anthropic_request(&c, 1);
	chat_request(&c, 3, true);	/* head only: no body, no response */
	anthropic_response_head(&s, 1);
	anthropic_events(&s, 1, 300);
	feed_random(t, &tc, 0, c.b.p, c.b.len, 50);
	feed_random(t, &tc, 1, s.b.p, s.b.len, 50);
	assert_int_equal(nrecords, 0);
	feed_close(t, &tc);
	assert_int_equal(nrecords, 2);
	assert_false(records[0].complete);
	assert_string_equal(records[0].error, "truncated");
	assert_string_equal(records[0].model, "claude-haiku-4-5-20251001");
	assert_false(records[1].complete);
	assert_string_equal(records[1].error, "no_response");
	conn_table_free(t);
	side_free(&c);
	side_free(&s);
}

/* Interim 100/103 heads, trailers, PING, WINDOW_UPDATE, unknown frame
 * types, and a server push whose PUSH_PROMISE adds to the server's HPACK
 * table (the next response refers to it). */
static void test_other_frames(void **state)
{
	struct conn_table *t = new_table();
	struct tconn tc = { .tgid = 77, .conn = 8 };
	struct side_w c, s;
	unsigned char ping[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, win[4] = { 0, 1, 0, 0 };
	nghttp2_nv early[] = { NV(":status", "103"), NV("link", "</x>; rel=preload") };
	nghttp2_nv push[] = {
		NV(":method", "GET"), NV(":scheme", "https"),
		NV(":authority", "api.openai.com"), NV(":path", "/pushed/resource/with/a/long/path"),
	};
	nghttp2_nv pushed_resp[] = { NV(":status", "200"), NV("x-pushed", "/pushed/resource/with/a/long/path") };
	nghttp2_nv trailers[] = { NV("x-trailer", "1") };

	side_init(&c, true);
	side_init(&s, false);
	frame(&c.b, T_PING, 0, 0, ping, 8);
	frame(&c.b, 0xfa, 0x3, 1, "unknown", 7);
	chat_request(&c, 1, true);
	data(&c, 1, chat_body, strlen(chat_body), false);
	headers(&c, 1, trailers, 1, true);	/* request trailers end it */
	frame(&s.b, T_PING, 1, 0, ping, 8);
	frame(&s.b, T_WINDOW, 0, 0, win, 4);
	headers(&s, 1, early, 2, false);
	headers_ex(&s, 1, push, 4, false, 0, 0, false, 2);
	headers(&s, 2, pushed_resp, 2, false);
	data(&s, 2, "pushed body", 11, true);
	chat_response(&s, 1);
	feed_random(t, &tc, 0, c.b.p, c.b.len, 20);
	feed_random(t, &tc, 1, s.b.p, s.b.len, 20);
	assert_int_equal(nrecords, 1);
	assert_chat(&records[0]);
	assert_int_equal(stats[STAT_H2_PROTOCOL_ERRORS], 0);
	assert_int_equal(stats[STAT_H2_HPACK_ERRORS], 0);
	conn_table_free(t);
	side_free(&c);
	side_free(&s);
}

/* Joined mid-way: the first requests' blocks refer to table entries we
 * never saw and stay headers-unknown (recognised and priced from the
 * bodies); once the encoders add entries we do see, blocks decode again. */
static void test_joined_midway(void **state)
{
	struct conn_table *t = new_table();
	struct tconn tc = { .tgid = 77, .conn = 9 };
	struct side_w c, s;

	side_init(&c, true);
	side_init(&s, false);
	for (uint32_t sid = 1; sid <= 3; sid += 2) {
		chat_request(&c, sid, false);
		chat_response(&s, sid);
	}
	/* What happened before we started is not seen. */
	c.b.len = s.b.len = 0;
	chat_request(&c, 5, false);
	chat_response(&s, 5);
	feed_call(t, &tc, 0, c.b.p, c.b.len, c.b.len);
	feed_call(t, &tc, 1, s.b.p, s.b.len, s.b.len);
	assert_int_equal(stats[STAT_HTTP2_CONNS], 1);
	assert_int_equal(nrecords, 1);
	assert_string_equal(records[0].api, "chat.completions");
	assert_string_equal(records[0].model, "gpt-4o-mini-2024-07-18");
	assert_int_equal(records[0].usage.input_tokens, 100);
	assert_int_equal(records[0].usage.output_tokens, 20);
	assert_true(records[0].headers_unknown);
	assert_string_equal(records[0].protocol, "h2");
	assert_true(stats[STAT_H2_HEADERS_UNKNOWN] >= 1);
	conn_table_free(t);
	side_free(&c);
	side_free(&s);
}

/* Garbage: after the preface, in place of the server's frames, and a
 * first write that is neither HTTP/1.1 nor frames. Counted, no record, no
 * crash (ASan/UBSan build), memory freed. */
static void test_garbage(void **state)
{
	unsigned char junk[4096];

	for (int round = 0; round < 50; round++) {
		struct conn_table *t = new_table();
		struct tconn tc = { .tgid = 77, .conn = 10 + round };
		struct side_w c, s;

		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = (unsigned char)rnd(256);
		side_init(&c, true);
		side_init(&s, false);
		chat_request(&c, 1, false);
		buf_put(&c.b, junk, 1 + rnd(sizeof(junk)));
		buf_put(&s.b, junk, 1 + rnd(sizeof(junk)));
		chat_response(&s, 1);
		feed_random(t, &tc, 0, c.b.p, c.b.len, 300);
		feed_random(t, &tc, 1, s.b.p, s.b.len, 300);
		feed_close(t, &tc);
		assert_true(stats[STAT_H2_PROTOCOL_ERRORS] >= 1);
		assert_true(nrecords <= 1);
		if (nrecords)
			assert_false(records[0].complete);
		conn_table_free(t);
		side_free(&c);
		side_free(&s);
	}
}

/* Bytes lost inside a request's DATA frame: the frames still line up, the
 * exchange is priced from its response and flagged capture_gap; a loss
 * across frames stops the direction until a call starts with frames. */
static void test_capture_gap(void **state)
{
	struct conn_table *t = new_table();
	struct tconn tc = { .tgid = 77, .conn = 11 };
	struct side_w c, s;
	size_t before;

	side_init(&c, true);
	side_init(&s, false);
	chat_request(&c, 1, false);
	chat_response(&s, 1);
	/* The last 10 bytes of the request body are past the call's cap. */
	feed_call(t, &tc, 0, c.b.p, c.b.len, c.b.len - 10);
	feed_call(t, &tc, 1, s.b.p, s.b.len, s.b.len);
	assert_int_equal(nrecords, 1);
	assert_string_equal(records[0].model, "gpt-4o-mini-2024-07-18");
	assert_int_equal(records[0].usage.input_tokens, 100);
	assert_false(records[0].complete);
	assert_string_equal(records[0].error, "capture_gap");
	/* A response cut in its middle: the stream is lost, the next call of
	 * frames picks up; its headers are HPACK-unknown only if they refer
	 * to what was lost. */
	c.b.len = s.b.len = 0;
	chat_request(&c, 3, false);
	chat_response(&s, 3);
	feed_call(t, &tc, 0, c.b.p, c.b.len, c.b.len);
	before = s.b.len;
	feed_call(t, &tc, 1, s.b.p, before, 20);
	c.b.len = s.b.len = 0;
	chat_request(&c, 5, false);
	chat_response(&s, 5);
	feed_call(t, &tc, 0, c.b.p, c.b.len, c.b.len);
	feed_call(t, &tc, 1, s.b.p, s.b.len, s.b.len);
	assert_int_equal(nrecords, 3);
	assert_false(records[1].complete);	/* noticed at the next event */
	assert_string_equal(records[1].error, "capture_gap");
	assert_string_equal(records[2].model, "gpt-4o-mini-2024-07-18");
	assert_int_equal(records[2].usage.output_tokens, 20);
	conn_table_free(t);
	side_free(&c);
	side_free(&s);
}

/* More open streams than the bound: the excess is counted, not followed. */
static void test_streams_bounded(void **state)
{
	struct conn_table *t = new_table();
	struct tconn tc = { .tgid = 77, .conn = 12 };
	struct side_w c;

	side_init(&c, true);
	for (uint32_t i = 0; i < H2_MAX_STREAMS + 10; i++)
		chat_request(&c, 1 + 2 * i, true);
	feed_call(t, &tc, 0, c.b.p, c.b.len, c.b.len);
	assert_int_equal(stats[STAT_H2_STREAMS_OVER_CAP], 10);
	feed_close(t, &tc);
	assert_int_equal(nrecords, H2_MAX_STREAMS);
	conn_table_free(t);
	side_free(&c);
}

/* ---- corpus: every exchange on one HTTP/2 connection ---- */

struct corpus_run {
	struct conn_table *t;
	struct tconn tc;
	struct side_w c, s;
	const cJSON *lines[MAX_RECORDS];
	int n;
};

static void corpus_one(const cJSON *line, void *ctx)
{
	struct corpus_run *run = ctx;
	uint32_t sid = 1 + 2 * (uint32_t)run->n;
	nghttp2_nv nv[64];
	size_t n = 0, blen = 0;
	unsigned char *body;
	const cJSON *h;
	char status[8];

	if (run->n >= MAX_RECORDS)
		return;
	run->lines[run->n++] = cJSON_Duplicate(line, 1);
	run->c.b.len = run->s.b.len = 0;
	nv[n++] = (nghttp2_nv){ (uint8_t *)":method", (uint8_t *)corpus_str(line, "method"), 7,
				strlen(corpus_str(line, "method")), 0 };
	nv[n++] = (nghttp2_nv)NV(":scheme", "https");
	nv[n++] = (nghttp2_nv){ (uint8_t *)":authority", (uint8_t *)corpus_str(line, "host"), 10,
				strlen(corpus_str(line, "host")), 0 };
	nv[n++] = (nghttp2_nv){ (uint8_t *)":path", (uint8_t *)corpus_str(line, "path"), 5,
				strlen(corpus_str(line, "path")), 0 };
	cJSON_ArrayForEach(h, cJSON_GetObjectItem(line, "req_headers")) {
		const char *k = cJSON_GetArrayItem(h, 0)->valuestring;
		const char *v = cJSON_GetArrayItem(h, 1)->valuestring;

		if (n < 64 && strcasecmp(k, "host") && strcasecmp(k, "content-length") &&
		    strcasecmp(k, "connection") && strcasecmp(k, "transfer-encoding"))
			nv[n++] = (nghttp2_nv){ (uint8_t *)k, (uint8_t *)v, strlen(k), strlen(v), 0 };
	}
	body = corpus_b64(line, "req_body_b64", &blen);
	headers(&run->c, sid, nv, n, blen == 0);
	if (blen)
		data(&run->c, sid, body, blen, true);
	free(body);

	n = 0;
	snprintf(status, sizeof(status), "%d", cJSON_GetObjectItem(line, "status")->valueint);
	nv[n++] = (nghttp2_nv){ (uint8_t *)":status", (uint8_t *)status, 7, strlen(status), 0 };
	cJSON_ArrayForEach(h, cJSON_GetObjectItem(line, "resp_headers")) {
		const char *k = cJSON_GetArrayItem(h, 0)->valuestring;
		const char *v = cJSON_GetArrayItem(h, 1)->valuestring;

		if (n < 64 && strcasecmp(k, "content-length") && strcasecmp(k, "connection") &&
		    strcasecmp(k, "transfer-encoding") && strcasecmp(k, "keep-alive"))
			nv[n++] = (nghttp2_nv){ (uint8_t *)k, (uint8_t *)v, strlen(k), strlen(v), 0 };
	}
	/* Header names are lower-case in HTTP/2. */
	for (size_t i = 0; i < n; i++) {
		char *lc = strndup((const char *)nv[i].name, nv[i].namelen);

		for (char *p = lc; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		nv[i].name = (uint8_t *)lc;
	}
	blen = 0;
	body = corpus_b64(line, "resp_body_b64", &blen);
	headers(&run->s, sid, nv, n, blen == 0);
	for (size_t i = 0; i < n; i++)
		free(nv[i].name);
	if (blen) {
		/* Streams in small frames, the rest in up to 16 KiB ones. */
		size_t at = 0, step = corpus_bool(line, "stream") ? 97 : 16384;

		while (at < blen) {
			size_t k = blen - at < step ? blen - at : step;

			data(&run->s, sid, body + at, k, at + k == blen);
			at += k;
		}
	}
	free(body);
	/* One exchange after the other on the one connection: the HPACK
	 * tables carry over from each to the next. */
	feed_random(run->t, &run->tc, 0, run->c.b.p, run->c.b.len, 5000);
	feed_random(run->t, &run->tc, 1, run->s.b.p, run->s.b.len, 3000);
}

static int64_t expect_i(const cJSON *line, const char *field)
{
	return (int64_t)cJSON_GetObjectItem(cJSON_GetObjectItem(line, "expected"), field)->valuedouble;
}

static void test_corpus_one_connection(void **state)
{
	static struct corpus_run run;
	int bad = 0;

	memset(&run, 0, sizeof(run));
	run.t = new_table();
	run.tc = (struct tconn){ .tgid = 77, .conn = 13 };
	side_init(&run.c, true);
	side_init(&run.s, false);
	if (corpus_foreach(corpus_one, &run) < 0) {
		conn_table_free(run.t);
		side_free(&run.c);
		side_free(&run.s);
		skip();
	}
	feed_close(run.t, &run.tc);
	conn_table_free(run.t);
	assert_int_equal(nrecords, run.n);
	for (int i = 0; i < run.n && i < nrecords; i++) {
		const cJSON *line = run.lines[i];
		const struct exchange_record *r = &records[i];
		const char *model = cJSON_GetObjectItem(cJSON_GetObjectItem(line, "expected"),
							"model")->valuestring;
		bool ok = strcmp(r->model, model ? model : "") == 0 &&
			  r->usage.input_tokens == expect_i(line, "input_tokens") &&
			  r->usage.cached_input_tokens == expect_i(line, "cached_input_tokens") &&
			  r->usage.cache_write_tokens == expect_i(line, "cache_write_tokens") &&
			  r->usage.output_tokens == expect_i(line, "output_tokens") &&
			  r->usage.reasoning_tokens == expect_i(line, "reasoning_tokens") &&
			  r->complete && r->stream == corpus_bool(line, "stream") &&
			  r->status == cJSON_GetObjectItem(line, "status")->valueint &&
			  strcmp(r->host, corpus_str(line, "host")) == 0;

		if (!ok) {
			bad++;
			print_message("mismatch %s: model=%s in=%lld out=%lld complete=%d error=%s\n",
				      corpus_str(line, "id"), r->model,
				      (long long)r->usage.input_tokens,
				      (long long)r->usage.output_tokens, r->complete, r->error);
		}
	}
	print_message("h2 corpus: %d exchanges on one connection, %d mismatches\n", run.n, bad);
	for (int i = 0; i < run.n; i++)
		cJSON_Delete((cJSON *)run.lines[i]);
	side_free(&run.c);
	side_free(&run.s);
	assert_int_equal(bad, 0);
	assert_int_equal(stats[STAT_H2_HPACK_ERRORS], 0);
	assert_int_equal(stats[STAT_H2_PROTOCOL_ERRORS], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_everywhere),
		cmocka_unit_test(test_hpack_dynamic_table),
		cmocka_unit_test(test_continuation_and_padding),
		cmocka_unit_test(test_concurrent_streams),
		cmocka_unit_test(test_rst_stream),
		cmocka_unit_test(test_goaway),
		cmocka_unit_test(test_close_mid_stream),
		cmocka_unit_test(test_other_frames),
		cmocka_unit_test(test_joined_midway),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_capture_gap),
		cmocka_unit_test(test_streams_bounded),
		cmocka_unit_test(test_corpus_one_connection),
	};

	return cmocka_run_group_tests_name("h2", tests, NULL, NULL);
}
