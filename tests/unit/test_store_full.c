/* The store when writes fail: a full disk (SQLite's max_page_count makes
 * every page past it fail with SQLITE_FULL, as a full file system does) and
 * a read-only database (query_only). Every record given to store_add ends
 * up either in the file or counted in records_dropped (store_add does not
 * fail for each: a batch rolled back loses records added before); the log
 * says why once when writes start failing and once when they work again,
 * never once per record or per flush. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "log.h"
#include "stats.h"
#include "store.h"

struct fixture {
	char dir[64], path[96], log[96];
	struct store *st;
	int saved_stderr;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int fd;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/llmobs-store-full.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/db", f->dir);
	snprintf(f->log, sizeof(f->log), "%s/log", f->dir);
	assert_int_equal(store_open(f->path, false, &f->st), 0);
	memset(stats, 0, sizeof(stats));
	/* the log goes to a file the test reads back */
	fflush(stderr);
	f->saved_stderr = dup(2);
	fd = open(f->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && dup2(fd, 2) == 2);
	close(fd);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[128];

	fflush(stderr);
	dup2(f->saved_stderr, 2);
	close(f->saved_stderr);
	store_close(f->st);
	for (const char *const *s = (const char *const[]){ "", "-wal", "-shm", NULL }; *s; s++) {
		snprintf(p, sizeof(p), "%s%s", f->path, *s);
		unlink(p);
	}
	unlink(f->log);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Lines of the log so far that contain needle. */
static int log_lines(struct fixture *f, const char *needle)
{
	char line[1024];
	int n = 0;
	FILE *in;

	fflush(stderr);
	in = fopen(f->log, "r");
	assert_non_null(in);
	while (fgets(line, sizeof(line), in))
		n += strstr(line, needle) != NULL;
	fclose(in);
	return n;
}

static int64_t rows(struct fixture *f)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	int64_t n;

	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM exchanges", -1, &q, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return n;
}

static void add(struct fixture *f, int n, int *failed)
{
	struct exchange_record r = { 0 };

	snprintf(r.model, sizeof(r.model), "gpt-x");
	/* a long path fills pages fast */
	memset(r.path, 'p', sizeof(r.path) - 1);
	r.latency_ms = r.ttft_ms = RECORD_NULL_MS;
	for (int i = 0; i < n; i++) {
		if (store_add(f->st, &r) < 0)
			(*failed)++;
		if (i % 50 == 49)	/* the daemon flushes every 250 ms */
			store_flush(f->st);
	}
	store_flush(f->st);
}

static void pragma(struct fixture *f, const char *sql)
{
	assert_int_equal(sqlite3_exec(store_db(f->st), sql, NULL, NULL, NULL), SQLITE_OK);
}

static void test_disk_full(void **state)
{
	struct fixture *f = *state;
	int failed = 0;
	char sql[64];
	sqlite3_stmt *q;
	int64_t pages;

	add(f, 100, &failed);
	assert_int_equal(failed, 0);
	assert_int_equal(rows(f), 100);
	assert_int_equal(sqlite3_prepare_v2(store_db(f->st), "PRAGMA page_count", -1, &q,
					    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	pages = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%lld", (long long)pages + 2);
	pragma(f, sql);

	add(f, 2000, &failed);		/* the disk fills up */
	assert_true(failed > 0 && stats[STAT_RECORDS_DROPPED] > 1000);
	assert_true(stats[STAT_STORE_ERRORS] >= (uint64_t)failed);
	assert_int_equal(rows(f) + (int64_t)stats[STAT_RECORDS_DROPPED], 2100);
	assert_int_equal(log_lines(f, "records are dropped"), 1);
	assert_int_equal(log_lines(f, "database or disk is full"), 1);

	pragma(f, "PRAGMA max_page_count=1073741823");	/* space again */
	add(f, 100, &failed);
	assert_int_equal(log_lines(f, "writing again"), 1);
	assert_int_equal(rows(f) + (int64_t)stats[STAT_RECORDS_DROPPED], 2200);
	assert_int_equal(log_lines(f, "records are dropped"), 1);
}

static void test_read_only(void **state)
{
	struct fixture *f = *state;
	int failed = 0;

	add(f, 10, &failed);
	pragma(f, "PRAGMA query_only=ON");
	add(f, 500, &failed);
	assert_int_equal(failed, 500);
	assert_int_equal(stats[STAT_RECORDS_DROPPED], 500);
	assert_int_equal(rows(f), 10);
	/* one line, even though every flush commits an empty batch */
	assert_int_equal(log_lines(f, "records are dropped"), 1);
	assert_int_equal(log_lines(f, "writing again"), 0);
	pragma(f, "PRAGMA query_only=OFF");
	add(f, 10, &failed);
	assert_int_equal(rows(f), 20);
	assert_int_equal(log_lines(f, "writing again"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
	};

	return cmocka_run_group_tests_name("store_full", tests, NULL, NULL);
}
