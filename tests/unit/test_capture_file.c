/* Capture files (user/1-capture/capture_file.c) and their replay (user/7-daemon/replay.c):
 * events written come back byte for byte and aligned, an append keeps the
 * header, a foreign or cut file is refused or stops where it is cut, and a
 * replayed exchange comes out of the connection table as a record. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "capture_file.h"
#include "conn.h"
#include "replay.h"
#include "stats.h"

static char path[64];

static int setup(void **state)
{
	int fd;

	snprintf(path, sizeof(path), "/tmp/llmobs-capfile-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	close(fd);
	unlink(path);	/* capture_file_create makes it */
	return 0;
}

static int teardown(void **state)
{
	unlink(path);
	return 0;
}

static struct capture_event *make_event(__u64 conn, __u8 dir, __u64 pos, const char *data)
{
	size_t n = strlen(data);
	struct capture_event *ev = calloc(1, sizeof(*ev) + n);

	assert_non_null(ev);
	ev->kind = CAPTURE_DATA;
	ev->dir = dir;
	ev->tgid = 77;
	ev->tid = 78;
	ev->conn = conn;
	ev->ts_ns = 1000 + pos;
	ev->stream_pos = pos;
	ev->call_len = (__u32)n;
	ev->data_len = (__u32)n;
	memcpy(ev->comm, "capfile", 8);
	memcpy(ev->data, data, n);
	return ev;
}

static void write_events(const char *const *datas, int n)
{
	struct capture_file_writer *w;

	assert_int_equal(capture_file_create(path, &w), 0);
	for (int i = 0; i < n; i++) {
		struct capture_event *ev = make_event(1, CAPTURE_DIR_WRITE, 0, datas[i]);

		assert_int_equal(capture_file_write(w, ev), 0);
		free(ev);
	}
	assert_int_equal(capture_file_close(w), 0);
}

static void test_roundtrip_and_append(void **state)
{
	static const char *const first[] = { "a", "hello world", "" };
	static const char *const second[] = { "0123456789abcdef" };
	struct capture_file_map m;
	const struct capture_event *ev;
	struct stat st;
	size_t off, size;
	int i = 0;

	write_events(first, 3);
	write_events(second, 1);	/* appended after the same header */
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(capture_file_open(path, &m), 0);
	off = m.first;
	while (capture_file_next(&m, &off, &ev, &size) == 1) {
		const char *want = i < 3 ? first[i] : second[0];

		assert_true((uintptr_t)ev % 8 == 0);
		assert_int_equal(size, sizeof(*ev) + strlen(want));
		assert_int_equal(ev->data_len, strlen(want));
		assert_memory_equal(ev->data, want, strlen(want));
		assert_int_equal(ev->tgid, 77);
		i++;
	}
	assert_int_equal(i, 4);
	capture_file_unmap(&m);
}

static void test_foreign_and_cut(void **state)
{
	static const char *const datas[] = { "first event", "second event" };
	struct capture_file_writer *w;
	struct capture_file_map m;
	const struct capture_event *ev;
	struct stat st;
	size_t off, size;
	FILE *f;

	f = fopen(path, "w");
	assert_non_null(f);
	fputs("not a capture file at all, just text", f);
	fclose(f);
	assert_int_equal(capture_file_create(path, &w), -EPROTO);
	assert_int_equal(capture_file_open(path, &m), -EPROTO);
	unlink(path);

	write_events(datas, 2);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size - 3), 0);	/* a crash mid-record */
	assert_int_equal(capture_file_open(path, &m), 0);
	off = m.first;
	assert_int_equal(capture_file_next(&m, &off, &ev, &size), 1);
	assert_int_equal(capture_file_next(&m, &off, &ev, &size), -EBADMSG);
	capture_file_unmap(&m);
}

static int nrecords;
static char model[128];

static void on_record(void *ctx, struct exchange_record *r)
{
	nrecords++;
	snprintf(model, sizeof(model), "%s", r->model);
}

static void test_replay(void **state)
{
	static const char req[] =
		"POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
		"Content-Type: application/json\r\nContent-Length: 43\r\n\r\n"
		"{\"model\":\"gpt-4o-mini\",\"messages\":[],\"n\":1}";
	static const char resp[] =
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 90\r\n\r\n"
		"{\"model\":\"gpt-4o-mini\",\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,"
		"\"total_tokens\":7}}";
	struct capture_event *evs[3] = {
		make_event(9, CAPTURE_DIR_WRITE, 0, req),
		make_event(9, CAPTURE_DIR_READ, 0, resp),
		make_event(9, CAPTURE_DIR_WRITE, 0, ""),
	};
	struct conn_table_opts o = {};
	struct capture_file_writer *w;
	struct capture_file_map m;
	struct replay_result r;
	struct conn_table *t;

	evs[2]->kind = CAPTURE_CLOSE;
	assert_int_equal(capture_file_create(path, &w), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(capture_file_write(w, evs[i]), 0);
		free(evs[i]);
	}
	assert_int_equal(capture_file_close(w), 0);
	memset(stats, 0, sizeof(stats));
	t = conn_table_new(&o, on_record, NULL);
	assert_non_null(t);
	assert_int_equal(capture_file_open(path, &m), 0);
	assert_int_equal(replay_run(&m, 3, t, &r), 0);
	assert_int_equal(r.events, 9);
	assert_int_equal(r.exchanges, 3);
	assert_int_equal(nrecords, 3);
	assert_string_equal(model, "gpt-4o-mini");
	assert_int_equal(r.conns_open, 0);
	capture_file_unmap(&m);
	conn_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip_and_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreign_and_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
