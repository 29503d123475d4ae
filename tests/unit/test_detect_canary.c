/* The matched text never leaves memory. A request carrying one canary of
 * every kind goes through the connection table (the daemon's pipeline),
 * detect_record() (the daemon's step), the store and the JSON export,
 * with debug logging on and stderr kept in a file. Then no canary may be
 * found in the database, its WAL (read while the writer has it open), the
 * export or the log, and the database must hold the right counts: the
 * test fails if detection silently found nothing. */
#include <fcntl.h>
#include <linux/types.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "capture.h"
#include "conn.h"
#include "detect.h"
#include "log.h"
#include "stats.h"
#include "store.h"
#include <sqlite3.h>

/* Each is a valid match of its kind and unique enough to grep for. */
static const struct {
	const char *text;
	enum record_sensitive_kind kind;
} canaries[] = {
	{ "sk-proj-Canary7Qx9Lm2Vb8Nw4Rt6Yp1Zs3Kd5Hf0Jg", RS_API_KEY },
	{ "AKIACANARY7EXAMPLEQZ", RS_CLOUD_KEY },
	{ "ghp_Canary1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o", RS_GITHUB_TOKEN },
	{ "eyJhbGciOiJIUzI1NiJ9.eyJjYW5hcnkiOiJ0d2VldHkifQ.Q2FuYXJ5U2lnbmF0dXJlX3R3ZWV0eQ", RS_JWT },
	{ "-----BEGIN OPENSSH PRIVATE KEY-----\\nY2FuYXJ5a2V5Ym9keQ\\n-----END OPENSSH PRIVATE KEY-----",
	  RS_PRIVATE_KEY },
	{ "canary.tweety@example.org", RS_EMAIL },
	{ "+44 20 7946 0958", RS_PHONE },
	{ "4000 0566 5566 5556", RS_CARD },
	{ "GB82 WEST 1234 5698 7654 32", RS_IBAN },
};
#define NCANARIES (sizeof(canaries) / sizeof(canaries[0]))

static char dir[64];
static struct store *store;
static FILE *export_out;
static int records;

static void on_exchange(void *ctx, struct exchange_record *r)
{
	detect_record(r);
	p_debug("exchange %s %s sensitive %u", r->provider, r->model, r->sensitive[RS_EMAIL]);
	assert_int_equal(store_add(store, r), 0);
	assert_int_equal(record_write_json(export_out, r), 0);
	records++;
}

static void feed(struct conn_table *t, int dir_, const char *data, size_t len, __u64 pos)
{
	struct capture_event *ev = calloc(1, sizeof(*ev) + len);

	assert_non_null(ev);
	assert_true(len <= CAPTURE_CHUNK_BYTES);
	ev->kind = CAPTURE_DATA;
	ev->dir = (__u8)dir_;
	ev->tgid = ev->tid = 777;
	ev->conn = 0xcafe;
	ev->ts_ns = 1000000000ULL + pos;
	ev->call_len = ev->data_len = (__u32)len;
	ev->stream_pos = pos;
	memcpy(ev->data, data, len);
	conn_table_event(t, ev);
	free(ev);
}

/* Whole file in memory (NULL if absent). */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	b = malloc((size_t)n + 1);
	assert_non_null(b);
	*len = fread(b, 1, (size_t)n, f);
	fclose(f);
	return b;
}

/* No canary, nor a distinctive part of one, in path. */
static void assert_clean(const char *path, int must_exist)
{
	static const char *const parts[] = { "Canary7Qx9", "CANARY7EXAMPLE", "Canary1a2B",
					     "Q2FuYXJ5", "Y2FuYXJ5a2V5", "canary.tweety",
					     "7946 0958", "5566 5556", "4000056655665556",
					     "5698 7654", "GB82WEST", "GB82 WEST" };
	size_t len = 0;
	char *b = slurp(path, &len);

	if (!b) {
		assert_false(must_exist);
		return;
	}
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (memmem(b, len, parts[i], strlen(parts[i])))
			fail_msg("canary part \"%s\" found in %s", parts[i], path);
	free(b);
}

static void test_canary(void **state)
{
	char db[128], wal[140], exp[128], log[128], body[4096], head[256], resp[512];
	struct conn_table_opts o = { 0 };
	struct conn_table *t;
	struct exchange_record *r;
	int n = 0, saved_err, logfd, v;
	size_t i;

	snprintf(dir, sizeof(dir), "/tmp/test_canary.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/llmobs.db", dir);
	snprintf(wal, sizeof(wal), "%s-wal", db);
	snprintf(exp, sizeof(exp), "%s/export.jsonl", dir);
	snprintf(log, sizeof(log), "%s/daemon.log", dir);
	n = snprintf(body, sizeof(body), "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":"
		     "\"user\",\"content\":\"please check:");
	for (i = 0; i < NCANARIES; i++)
		n += snprintf(body + n, sizeof(body) - (size_t)n, "\\n%s", canaries[i].text);
	n += snprintf(body + n, sizeof(body) - (size_t)n, "\"}]}");
	snprintf(head, sizeof(head), "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
		 "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", n);
	snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\n\r\n%s", strlen("{\"model\":\"gpt-4o-mini\",\"usage\":"
		 "{\"prompt_tokens\":50,\"completion_tokens\":2,\"total_tokens\":52}}"),
		 "{\"model\":\"gpt-4o-mini\",\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":2,"
		 "\"total_tokens\":52}}");

	/* the daemon's log: debug level, to a file */
	fflush(stderr);
	saved_err = dup(2);
	logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved_err >= 0 && logfd >= 0);
	dup2(logfd, 2);
	v = log_verbosity;
	log_verbosity = LOG_DEBUG;

	assert_int_equal(store_open(db, false, &store), 0);
	export_out = fopen(exp, "w");
	assert_non_null(export_out);
	t = conn_table_new(&o, on_exchange, NULL);
	assert_non_null(t);
	feed(t, CAPTURE_DIR_WRITE, head, strlen(head), 0);
	feed(t, CAPTURE_DIR_WRITE, body, (size_t)n, strlen(head));
	feed(t, CAPTURE_DIR_READ, resp, strlen(resp), 0);
	assert_int_equal(records, 1);
	assert_int_equal(store_flush(store), 0);
	fclose(export_out);
	assert_clean(wal, 1);		/* the committed batch, writer still open */
	conn_table_free(t);
	store_close(store);

	log_verbosity = v;
	fflush(stderr);
	dup2(saved_err, 2);
	close(saved_err);
	close(logfd);

	assert_clean(db, 1);
	assert_clean(wal, 0);
	assert_clean(exp, 1);
	assert_clean(log, 1);

	/* and the counts did arrive, one of each kind */
	assert_int_equal(store_open(db, true, &store), 0);
	r = calloc(1, sizeof(*r));
	assert_non_null(r);
	{
		sqlite3_stmt *st;
		const char *obj;

		assert_int_equal(sqlite3_prepare_v2(store_db(store), "SELECT sensitive FROM exchanges",
						    -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		obj = (const char *)sqlite3_column_text(st, 0);
		assert_non_null(obj);
		assert_int_equal(record_sensitive_parse(obj, r->sensitive), 0);
		for (i = 0; i < NCANARIES; i++)
			if (r->sensitive[canaries[i].kind] != 1)
				fail_msg("%s: %u found, want 1 (stored %s)",
					 record_sensitive_name(canaries[i].kind),
					 r->sensitive[canaries[i].kind], obj);
		sqlite3_finalize(st);
	}
	free(r);
	store_close(store);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canary),
	};

	return cmocka_run_group_tests_name("detect_canary", tests, NULL, NULL);
}
