/* Plain HTTP to local model servers: capture events as the syscall path
 * emits them (source CAPTURE_SOURCE_SYSCALL, conn = the socket) through the
 * connection table. Ollama's native API streams NDJSON; its final object
 * ("done": true) carries prompt_eval_count / eval_count. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "conn.h"
#include "plain_capture.h"
#include "stats.h"

static struct exchange_record records[16];
static int nrecords;

static void collect(void *ctx, struct exchange_record *r)
{
	if (nrecords < 16)
		records[nrecords] = *r;
	nrecords++;
}

static struct conn_table *new_table(void)
{
	struct conn_table_opts o = { 0 };
	struct conn_table *t;

	nrecords = 0;
	memset(stats, 0, sizeof(stats));
	t = conn_table_new(&o, collect, NULL);
	assert_non_null(t);
	return t;
}

static unsigned int seed = 99;
static __u64 clock_ns = 1000000000ULL;

static unsigned int rnd(unsigned int n)
{
	seed = seed * 1103515245u + 12345u;
	return (seed >> 8) % n;
}

/* s as syscalls of random sizes in direction dir. */
static void feed(struct conn_table *t, __u64 *pos, int dir, const char *s)
{
	struct capture_event *ev = malloc(sizeof(*ev) + CAPTURE_CHUNK_BYTES);
	size_t len = strlen(s);

	assert_non_null(ev);
	while (len) {
		size_t n = 1 + rnd(40);

		if (n > len)
			n = len;
		memset(ev, 0, sizeof(*ev));
		ev->kind = CAPTURE_DATA;
		ev->dir = (__u8)dir;
		ev->source = CAPTURE_SOURCE_SYSCALL;
		ev->tgid = ev->tid = 555;
		ev->conn = 0xffff888812345678ULL;	/* a struct sock * */
		ev->ts_ns = clock_ns += 1000000;
		ev->call_len = (__u32)n;
		ev->data_len = (__u32)n;
		ev->stream_pos = pos[dir];
		snprintf(ev->comm, sizeof(ev->comm), "python3");
		memcpy(ev->data, s, n);
		conn_table_event(t, ev);
		pos[dir] += n;
		s += n;
		len -= n;
	}
	free(ev);
}

static void feed_close(struct conn_table *t)
{
	struct capture_event ev = {
		.kind = CAPTURE_CLOSE, .tgid = 555, .conn = 0xffff888812345678ULL,
		.source = CAPTURE_SOURCE_SYSCALL,
	};

	conn_table_event(t, &ev);
}

static const char chat_body[] =
	"{\"model\":\"llama3.2\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

/* Ollama's stream objects, each sent as one chunk. */
static const char *const chat_lines[] = {
	"{\"model\":\"llama3.2\",\"created_at\":\"2026-01-01T00:00:00Z\","
	"\"message\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"done\":false}\n",
	"{\"model\":\"llama3.2\",\"created_at\":\"2026-01-01T00:00:00Z\","
	"\"message\":{\"role\":\"assistant\",\"content\":\"lo\"},\"done\":false}\n",
	"{\"model\":\"llama3.2\",\"created_at\":\"2026-01-01T00:00:01Z\","
	"\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done_reason\":\"stop\","
	"\"done\":true,\"total_duration\":5,\"prompt_eval_count\":26,"
	"\"prompt_eval_duration\":1,\"eval_count\":298,\"eval_duration\":2}\n",
};

static char *request(const char *path, const char *body)
{
	char *r;

	assert_true(asprintf(&r, "POST %s HTTP/1.1\r\nHost: 127.0.0.1:11434\r\n"
			     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			     path, strlen(body), body) > 0);
	return r;
}

/* The chat stream, chunked, its first nlines objects; end: the last chunk. */
static char *chat_stream(size_t nlines, bool end)
{
	char *r = strdup("HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n"
			 "Transfer-Encoding: chunked\r\n\r\n"), *n;

	assert_non_null(r);
	for (size_t i = 0; i < nlines; i++) {
		assert_true(asprintf(&n, "%s%zx\r\n%s\r\n", r, strlen(chat_lines[i]),
				     chat_lines[i]) > 0);
		free(r);
		r = n;
	}
	if (end) {
		assert_true(asprintf(&n, "%s0\r\n\r\n", r) > 0);
		free(r);
		r = n;
	}
	return r;
}

static void test_ollama_chat_stream(void **state)
{
	struct conn_table *t = new_table();
	__u64 pos[2] = { 0 };
	char *req = request("/api/chat", chat_body), *resp = chat_stream(3, true);

	feed(t, pos, CAPTURE_DIR_WRITE, req);
	feed(t, pos, CAPTURE_DIR_READ, resp);
	assert_int_equal(nrecords, 1);
	assert_string_equal(records[0].provider, "ollama");
	assert_string_equal(records[0].api, "ollama.chat");
	assert_string_equal(records[0].model, "llama3.2");
	assert_string_equal(records[0].capture, "syscall");
	assert_string_equal(records[0].protocol, "http/1.1");
	assert_true(records[0].stream);
	assert_int_equal(records[0].usage.input_tokens, 26);
	assert_int_equal(records[0].usage.output_tokens, 298);
	assert_int_equal(records[0].usage_source, USAGE_PROVIDER);
	assert_true(records[0].complete);
	assert_string_equal(records[0].error, "");
	assert_true(records[0].ttft_ms >= 0);
	assert_int_equal(stats[STAT_JSON_ERRORS], 0);
	conn_table_free(t);
	free(req);
	free(resp);
}

/* /api/generate with "stream": false: one JSON body; then a stream framed
 * by the connection's close whose last line has no newline. */
static void test_ollama_generate(void **state)
{
	static const char body[] =
		"{\"model\":\"qwen2.5:0.5b\",\"response\":\"Hello\",\"done\":true,"
		"\"prompt_eval_count\":30,\"eval_count\":10,\"eval_duration\":5}";
	static const char sresp[] =
		"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n\r\n"
		"{\"model\":\"qwen2.5:0.5b\",\"response\":\"He\",\"done\":false}\n"
		"{\"model\":\"qwen2.5:0.5b\",\"response\":\"\",\"done\":true,"
		"\"prompt_eval_count\":31,\"eval_count\":11}";
	struct conn_table *t = new_table();
	__u64 pos[2] = { 0 };
	char *req = request("/api/generate",
			    "{\"model\":\"qwen2.5:0.5b\",\"prompt\":\"hi\",\"stream\":false}");
	char *sreq = request("/api/generate", "{\"model\":\"qwen2.5:0.5b\",\"prompt\":\"hi\"}");
	char *resp;

	assert_true(asprintf(&resp, "HTTP/1.1 200 OK\r\nContent-Type: application/json; "
			     "charset=utf-8\r\nContent-Length: %zu\r\n\r\n%s",
			     strlen(body), body) > 0);
	feed(t, pos, CAPTURE_DIR_WRITE, req);
	feed(t, pos, CAPTURE_DIR_READ, resp);
	feed(t, pos, CAPTURE_DIR_WRITE, sreq);
	feed(t, pos, CAPTURE_DIR_READ, sresp);
	feed_close(t);
	assert_int_equal(nrecords, 2);
	assert_string_equal(records[0].api, "ollama.generate");
	assert_false(records[0].stream);
	assert_int_equal(records[0].usage.input_tokens, 30);
	assert_int_equal(records[0].usage.output_tokens, 10);
	assert_true(records[0].complete);
	assert_true(records[1].stream);
	assert_int_equal(records[1].usage.input_tokens, 31);
	assert_int_equal(records[1].usage.output_tokens, 11);
	assert_true(records[1].complete);
	conn_table_free(t);
	free(req);
	free(sreq);
	free(resp);
}

/* A cut stream: the final object never came, so no usage, incomplete. */
static void test_ollama_cut_stream(void **state)
{
	struct conn_table *t = new_table();
	__u64 pos[2] = { 0 };
	char *req = request("/api/chat", chat_body), *resp = chat_stream(2, false);

	feed(t, pos, CAPTURE_DIR_WRITE, req);
	feed(t, pos, CAPTURE_DIR_READ, resp);
	feed_close(t);
	assert_int_equal(nrecords, 1);
	assert_false(records[0].complete);
	assert_string_equal(records[0].error, "truncated");
	assert_int_equal(records[0].usage_source, USAGE_NONE);
	assert_string_equal(records[0].model, "llama3.2");
	conn_table_free(t);
	free(req);
	free(resp);
}

static void test_parse_ports(void **state)
{
	uint16_t p[PLAIN_CAPTURE_MAX_PORTS];
	char many[PLAIN_CAPTURE_MAX_PORTS * 6 + 16] = "";

	assert_int_equal(plain_capture_parse_ports(PLAIN_CAPTURE_DEFAULT_PORTS, p, 64), 4);
	assert_int_equal(p[0], 11434);
	assert_int_equal(p[3], 8080);
	assert_int_equal(plain_capture_parse_ports("none", p, 64), 0);
	assert_int_equal(plain_capture_parse_ports("", p, 64), 0);
	assert_int_equal(plain_capture_parse_ports("65535", p, 64), 1);
	assert_int_equal(plain_capture_parse_ports("0", p, 64), -EINVAL);
	assert_int_equal(plain_capture_parse_ports("65536", p, 64), -EINVAL);
	assert_int_equal(plain_capture_parse_ports("80,", p, 64), 1);
	assert_int_equal(plain_capture_parse_ports("80,,81", p, 64), -EINVAL);
	assert_int_equal(plain_capture_parse_ports("80;81", p, 64), -EINVAL);
	assert_int_equal(plain_capture_parse_ports("x", p, 64), -EINVAL);
	assert_int_equal(plain_capture_parse_ports(NULL, p, 64), -EINVAL);
	for (int i = 0; i <= PLAIN_CAPTURE_MAX_PORTS; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%d,", 1000 + i);
	assert_int_equal(plain_capture_parse_ports(many, p, PLAIN_CAPTURE_MAX_PORTS), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ollama_chat_stream),
		cmocka_unit_test(test_ollama_generate),
		cmocka_unit_test(test_ollama_cut_stream),
		cmocka_unit_test(test_parse_ports),
	};

	return cmocka_run_group_tests_name("plain", tests, NULL, NULL);
}
