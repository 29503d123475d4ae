/* Every bound of the capture pipeline, flooded: connections (LRU), the
 * pending-request queue, head size and header count, body cap, SSE event
 * cap, the decompression-bomb bound, chunk lines, unmatched responses, the
 * store's open batch. Each test checks that the bound holds (memory stays
 * flat, measured through ASan's allocator where available), that what was
 * dropped is counted under its own counter, and that capture goes on. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <zlib.h>
#include "conn.h"
#include "log.h"
#include "stats.h"
#include "store.h"

/* ASan's count of live heap bytes; absent (0) in a build without ASan. */
extern size_t __sanitizer_get_current_allocated_bytes(void) __attribute__((weak));

static size_t heap_bytes(void)
{
	return __sanitizer_get_current_allocated_bytes ?
	       __sanitizer_get_current_allocated_bytes() : 0;
}

#define MAX_KEPT 64

struct sink {
	unsigned long n, incomplete;
	struct exchange_record last[MAX_KEPT];	/* the first MAX_KEPT */
};

static struct sink out;

static void collect(void *ctx, struct exchange_record *r)
{
	if (out.n < MAX_KEPT)
		out.last[out.n] = *r;
	out.n++;
	out.incomplete += !r->complete;
}

static int setup(void **state)
{
	memset(stats, 0, sizeof(stats));
	memset(&out, 0, sizeof(out));
	return 0;
}

/* ---- events ---- */

struct side {
	__u32 tgid;
	__u64 conn;
	__u64 pos[2];
	__u64 ts;
};

/* One TLS call, cut into chunk events as the BPF side does. */
static void call(struct conn_table *t, struct side *s, int dir, const void *data, size_t len)
{
	struct capture_event *ev = malloc(sizeof(*ev) + CAPTURE_CHUNK_BYTES);
	size_t off = 0;

	assert_non_null(ev);
	s->ts += 1000000;
	do {
		size_t n = len - off < CAPTURE_CHUNK_BYTES ? len - off : CAPTURE_CHUNK_BYTES;

		memset(ev, 0, sizeof(*ev));
		ev->kind = CAPTURE_DATA;
		ev->dir = (__u8)dir;
		ev->tgid = ev->tid = s->tgid;
		ev->conn = s->conn;
		ev->ts_ns = s->ts;
		ev->call_len = (__u32)len;
		ev->offset = (__u32)off;
		ev->data_len = (__u32)n;
		ev->stream_pos = s->pos[dir] + off;
		memcpy(ev->comm, "limits", 7);
		memcpy(ev->data, (const char *)data + off, n);
		conn_table_event(t, ev);
		off += n;
	} while (off < len);
	s->pos[dir] += len;
	free(ev);
}

static void call_str(struct conn_table *t, struct side *s, int dir, const char *str)
{
	call(t, s, dir, str, strlen(str));
}

/* Above pid_max: no /proc lookups hit a real process. */
static struct side side_of(unsigned i)
{
	struct side s = { .tgid = 0x3fff0000u + i % 7, .conn = 0x10000 + (__u64)i * 64 };

	return s;
}

static struct conn_table *table(size_t max_conns, size_t max_pending, size_t max_body)
{
	struct conn_table_opts o = { .max_conns = max_conns, .max_pending = max_pending,
				     .max_body_bytes = max_body };
	struct conn_table *t = conn_table_new(&o, collect, NULL);

	assert_non_null(t);
	return t;
}

static const char request[] =
	"POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
	"Content-Type: application/json\r\nContent-Length: 17\r\n\r\n"
	"{\"model\":\"gpt-x\"}";

static const char response[] =
	"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 72\r\n\r\n"
	"{\"model\":\"gpt-x\",\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":22}}   ";

/* ---- connections ---- */

static void test_conns_lru(void **state)
{
	struct conn_table *t = table(16, 0, 0);
	size_t after_1k = 0;
	unsigned i;

	for (i = 0; i < 20000; i++) {
		struct side s = side_of(i);

		call_str(t, &s, CAPTURE_DIR_WRITE, request);
		assert_true(conn_table_count(t) <= 16);
		if (i == 999)
			after_1k = heap_bytes();
	}
	assert_int_equal(stats[STAT_CONNS_EVICTED], 20000 - 16);
	assert_int_equal(stats[STAT_CONNS_OPEN], 16);
	/* an evicted connection's exchange is recorded, not lost */
	assert_int_equal(out.n, 20000 - 16);
	assert_int_equal(out.incomplete, out.n);
	assert_string_equal(out.last[0].error, "no_response");
	/* 19000 more connections cost no memory */
	assert_true(heap_bytes() <= after_1k + 64 * 1024);
	conn_table_free(t);
	assert_int_equal(out.n, 20000);
	assert_int_equal(stats[STAT_CONNS_OPEN], 0);
}

/* ---- pending requests ---- */

static void test_pending_queue(void **state)
{
	struct conn_table *t = table(0, 4, 0);
	struct side s = side_of(1);
	size_t after_100 = 0;
	unsigned i;

	for (i = 0; i < 5000; i++) {
		call_str(t, &s, CAPTURE_DIR_WRITE, request);
		if (i == 99)
			after_100 = heap_bytes();
	}
	assert_int_equal(stats[STAT_PENDING_REQUESTS_DROPPED], 5000 - 4);
	assert_int_equal(out.n, 5000 - 4);
	assert_int_equal(out.incomplete, out.n);
	assert_true(heap_bytes() <= after_100 + 16 * 1024);
	/* the four kept are answered in order */
	for (i = 0; i < 4; i++)
		call_str(t, &s, CAPTURE_DIR_READ, response);
	assert_int_equal(out.n, 5000);
	assert_int_equal(out.incomplete, 5000 - 4);
	conn_table_free(t);
}

/* ---- heads ---- */

static void test_head_too_large(void **state)
{
	const size_t big = 300 * 1024;
	char *head = malloc(big + 64);
	struct conn_table *t = table(0, 0, 0);
	struct side s = side_of(2);
	size_t before = heap_bytes();
	int n;

	assert_non_null(head);
	n = sprintf(head, "POST /v1/chat/completions HTTP/1.1\r\nX-Big: ");
	memset(head + n, 'a', big - (size_t)n);
	/* one call: the head is cut off at the bound, never buffered whole */
	call(t, &s, CAPTURE_DIR_WRITE, head, big);
	assert_int_equal(stats[STAT_HTTP_HEAD_TOO_LARGE], 1);
	assert_true(stats[STAT_HTTP_PARSE_ERRORS] >= 1);
	if (before)
		assert_true(heap_bytes() <= before + 80 * 1024 + 2 * sizeof(struct capture_event));
	/* the next request on the connection is captured */
	call_str(t, &s, CAPTURE_DIR_WRITE, request);
	call_str(t, &s, CAPTURE_DIR_READ, response);
	assert_int_equal(out.n, 1);
	assert_true(out.last[0].complete);
	assert_int_equal(out.last[0].usage.output_tokens, 22);
	conn_table_free(t);
	free(head);
}

static void test_too_many_headers(void **state)
{
	struct conn_table *t = table(0, 0, 0);
	struct side s = side_of(3);
	char head[16384];
	int n = sprintf(head, "POST /v1/chat/completions HTTP/1.1\r\n");

	for (int i = 0; i < 500; i++)
		n += sprintf(head + n, "X-%d: v\r\n", i);
	n += sprintf(head + n, "Content-Length: 0\r\n\r\n");
	call(t, &s, CAPTURE_DIR_WRITE, head, (size_t)n);
	assert_int_equal(stats[STAT_HTTP_PARSE_ERRORS], 1);
	call_str(t, &s, CAPTURE_DIR_WRITE, request);
	call_str(t, &s, CAPTURE_DIR_READ, response);
	assert_int_equal(out.n, 1);
	assert_true(out.last[0].complete);
	conn_table_free(t);
}

/* ---- bodies ---- */

static void test_body_cap(void **state)
{
	const size_t cap = 64 * 1024, body = 3 * 1024 * 1024;
	struct conn_table *t = table(0, 0, cap);
	struct side s = side_of(4);
	char head[256], *b = malloc(body);
	size_t before = heap_bytes();

	assert_non_null(b);
	memset(b, ' ', body);
	memcpy(b, "{\"model\":\"gpt-x\",\"pad\":\"", 24);
	call_str(t, &s, CAPTURE_DIR_WRITE, request);
	snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\n\r\n", body);
	call_str(t, &s, CAPTURE_DIR_READ, head);
	for (size_t off = 0; off < body; off += 16384)
		call(t, &s, CAPTURE_DIR_READ, b + off, 16384);
	assert_int_equal(stats[STAT_BODY_OVER_CAP], 1);
	assert_int_equal(stats[STAT_BODY_OVER_CAP_BYTES], body - cap);
	assert_int_equal(out.n, 1);
	assert_string_equal(out.last[0].error, "body_over_cap");
	assert_true(out.last[0].complete);	/* the framing held: all bytes seen */
	if (before)
		assert_true(heap_bytes() <= before + 2 * cap + 64 * 1024);
	conn_table_free(t);
	free(b);
}

/* ---- streams ---- */

static void test_sse_event_cap(void **state)
{
	const size_t cap = 4096, big = 200 * 1024;
	struct conn_table *t = table(0, 0, cap);
	struct side s = side_of(5);
	char *ev = malloc(big + 32), chunk[64];
	static const char last[] =
		"data: {\"model\":\"gpt-x\",\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":6}}\n\n"
		"data: [DONE]\n\n";
	int n;

	assert_non_null(ev);
	n = sprintf(ev, "data: {\"x\":\"");
	memset(ev + n, 'x', big);
	memcpy(ev + n + big, "\"}\n\n", 4);
	call_str(t, &s, CAPTURE_DIR_WRITE, request);
	call_str(t, &s, CAPTURE_DIR_READ, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n");
	snprintf(chunk, sizeof(chunk), "%zx\r\n", (size_t)n + big + 4);
	call_str(t, &s, CAPTURE_DIR_READ, chunk);
	call(t, &s, CAPTURE_DIR_READ, ev, (size_t)n + big + 4);
	call_str(t, &s, CAPTURE_DIR_READ, "\r\n");
	snprintf(chunk, sizeof(chunk), "%zx\r\n", sizeof(last) - 1);
	call_str(t, &s, CAPTURE_DIR_READ, chunk);
	call_str(t, &s, CAPTURE_DIR_READ, last);
	call_str(t, &s, CAPTURE_DIR_READ, "\r\n0\r\n\r\n");
	assert_int_equal(stats[STAT_SSE_EVENTS_OVER_CAP], 1);
	assert_int_equal(out.n, 1);
	assert_true(out.last[0].complete);
	assert_true(out.last[0].stream);
	/* the event after the cut one is still read */
	assert_int_equal(out.last[0].usage.output_tokens, 6);
	conn_table_free(t);
	free(ev);
}

/* A stream that never ends a line: memory stays at the cap. */
static void test_sse_endless_line(void **state)
{
	const size_t cap = 8192;
	struct conn_table *t = table(0, 0, cap);
	struct side s = side_of(6);
	char junk[16384];
	size_t before;

	memset(junk, 'y', sizeof(junk));
	call_str(t, &s, CAPTURE_DIR_WRITE, request);
	call_str(t, &s, CAPTURE_DIR_READ, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n");
	call_str(t, &s, CAPTURE_DIR_READ, "data: ");
	before = heap_bytes();
	for (int i = 0; i < 1000; i++)	/* 16 MB, no newline */
		call(t, &s, CAPTURE_DIR_READ, junk, sizeof(junk));
	if (before)
		assert_true(heap_bytes() <= before + 4 * cap + 4096);
	conn_table_free(t);	/* closed by the end of the table: until-close body */
	assert_int_equal(out.n, 1);
}

/* ---- decoding ---- */

static unsigned char *gzip_zeros(size_t len, size_t *out_len)
{
	z_stream z = { 0 };
	size_t cap = len / 500 + 4096;
	unsigned char *outb = malloc(cap), *in = calloc(1, 1 << 20);
	size_t left = len;

	assert_non_null(outb);
	assert_non_null(in);
	assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 9,
				      Z_DEFAULT_STRATEGY), Z_OK);
	z.next_out = outb;
	z.avail_out = (uInt)cap;
	while (left) {
		size_t n = left < (1 << 20) ? left : (1 << 20);

		left -= n;
		z.next_in = in;
		z.avail_in = (uInt)n;
		assert_int_not_equal(deflate(&z, left ? Z_NO_FLUSH : Z_FINISH), Z_STREAM_ERROR);
	}
	*out_len = z.total_out;
	deflateEnd(&z);
	free(in);
	return outb;
}

static void test_decode_bomb(void **state)
{
	size_t zlen;
	unsigned char *z = gzip_zeros(80u << 20, &zlen);	/* past the 64 MiB bound */
	struct conn_table *t = table(0, 0, 64 * 1024);
	struct side s = side_of(7);
	char head[256];

	assert_true(zlen < 200 * 1024);
	call_str(t, &s, CAPTURE_DIR_WRITE, request);
	snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		 "Content-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", zlen);
	call_str(t, &s, CAPTURE_DIR_READ, head);
	call(t, &s, CAPTURE_DIR_READ, z, zlen);
	assert_int_equal(stats[STAT_DECODED_OVER_CAP], 1);
	assert_int_equal(stats[STAT_DECODE_ERRORS], 0);
	assert_int_equal(out.n, 1);
	assert_true(out.last[0].complete);
	/* the connection goes on */
	call_str(t, &s, CAPTURE_DIR_WRITE, request);
	call_str(t, &s, CAPTURE_DIR_READ, response);
	assert_int_equal(out.n, 2);
	assert_int_equal(out.last[1].usage.input_tokens, 11);
	conn_table_free(t);
	free(z);
}

/* ---- framing ---- */

static void test_chunk_line_flood(void **state)
{
	struct conn_table *t = table(0, 0, 0);
	struct side s = side_of(8);
	char ext[16384];

	memset(ext, 'e', sizeof(ext));
	call_str(t, &s, CAPTURE_DIR_WRITE, request);
	call_str(t, &s, CAPTURE_DIR_READ, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		 "Transfer-Encoding: chunked\r\n\r\n10;");
	for (int i = 0; i < 64; i++)	/* a 1 MB chunk extension */
		call(t, &s, CAPTURE_DIR_READ, ext, sizeof(ext));
	assert_int_equal(stats[STAT_HTTP_PARSE_ERRORS], 1);
	assert_int_equal(out.n, 1);
	assert_false(out.last[0].complete);
	/* and the connection picks up at the next message */
	call_str(t, &s, CAPTURE_DIR_WRITE, request);
	call_str(t, &s, CAPTURE_DIR_READ, response);
	assert_int_equal(out.n, 2);
	assert_true(out.last[1].complete);
	conn_table_free(t);
}

static void test_unmatched_responses(void **state)
{
	struct conn_table *t = table(0, 0, 0);
	struct side s = side_of(9);
	size_t after_100 = 0;

	call_str(t, &s, CAPTURE_DIR_WRITE, request);
	for (int i = 0; i < 3000; i++) {
		call_str(t, &s, CAPTURE_DIR_READ, response);
		if (i == 99)
			after_100 = heap_bytes();
	}
	assert_int_equal(out.n, 1);
	assert_int_equal(stats[STAT_UNMATCHED_RESPONSES], 2999);
	assert_true(heap_bytes() <= after_100 + 16 * 1024);
	conn_table_free(t);
}

/* ---- store ---- */

/* The open batch is bounded: records become visible to readers (and safe
 * from a crash) every STORE_BATCH_MAX (512), however long between flushes. */
static void test_store_batch(void **state)
{
	char dir[] = "/tmp/llmobs-limits.XXXXXX", path[64];
	struct exchange_record r = { 0 };
	struct store *st;
	sqlite3 *db;
	sqlite3_stmt *q;
	int64_t rows = -1;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/db", dir);
	assert_int_equal(store_open(path, false, &st), 0);
	snprintf(r.model, sizeof(r.model), "gpt-x");
	r.latency_ms = r.ttft_ms = RECORD_NULL_MS;
	for (int i = 0; i < 1500; i++)
		assert_int_equal(store_add(st, &r), 0);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM exchanges", -1, &q, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	rows = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	assert_true(rows >= 1024 && rows < 1500);
	store_close(st);
	unlink(path);
	snprintf(path, sizeof(path), "%s/db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/db-shm", dir);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_conns_lru, setup),
		cmocka_unit_test_setup(test_pending_queue, setup),
		cmocka_unit_test_setup(test_head_too_large, setup),
		cmocka_unit_test_setup(test_too_many_headers, setup),
		cmocka_unit_test_setup(test_body_cap, setup),
		cmocka_unit_test_setup(test_sse_event_cap, setup),
		cmocka_unit_test_setup(test_sse_endless_line, setup),
		cmocka_unit_test_setup(test_decode_bomb, setup),
		cmocka_unit_test_setup(test_chunk_line_flood, setup),
		cmocka_unit_test_setup(test_unmatched_responses, setup),
		cmocka_unit_test_setup(test_store_batch, setup),
	};

	log_verbosity = LOG_ERROR;
	if (getenv("TEST_FILTER"))
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests_name("limits", tests, NULL, NULL);
}
