/* store.c against real SQLite files in a temp directory: permissions,
 * migrations, batching, WAL readers beside a writer, exact round-trips. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
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
#include <sqlite3.h>
#include "log.h"
#include "store.h"
#include "record_fixture.h"

static char tmpdir[64];

static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_store.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void path_in_tmp(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", tmpdir, name);
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static int64_t query_int(struct store *s, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

struct collect {
	struct exchange_record *recs;
	int n, cap;
	int stop_after;		/* 0: never */
};

static int collect_cb(void *ctx, const struct exchange_record *r)
{
	struct collect *c = ctx;

	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->recs = realloc(c->recs, c->cap * sizeof(*r));
		assert_non_null(c->recs);
	}
	c->recs[c->n++] = *r;
	return c->stop_after && c->n == c->stop_after ? 42 : 0;
}

static int count_records(struct store *s)
{
	struct collect c = { 0 };

	assert_int_equal(store_foreach(s, collect_cb, &c), 0);
	free(c.recs);
	return c.n;
}

static void assert_record_equal(const struct exchange_record *got,
				const struct exchange_record *want)
{
	/* Both sides are memset before filling, so padding compares too. */
	if (memcmp(got, want, sizeof(*got)) == 0)
		return;
	print_error("record %lld differs: exe '%s'/'%s' path '%s'/'%s' "
		    "latency %lld/%lld ttft %lld/%lld error '%s'/'%s'\n",
		    (long long)want->id, got->exe, want->exe, got->path, want->path,
		    (long long)got->latency_ms, (long long)want->latency_ms,
		    (long long)got->ttft_ms, (long long)want->ttft_ms,
		    got->error, want->error);
	fail();
}

static void test_create_modes_and_migration(void **state)
{
	char dir[128], path[160], wal[170];
	struct store *s;
	mode_t old = umask(0);	/* SQLite's own default would be 0666 here */

	path_in_tmp(dir, sizeof(dir), "a/b");
	snprintf(path, sizeof(path), "%s/llmobs.db", dir);
	assert_int_equal(store_open(path, false, &s), 0);
	assert_int_equal(mode_of(path), 0600);
	assert_int_equal(mode_of(dir), 0700);
	path_in_tmp(dir, sizeof(dir), "a");
	assert_int_equal(mode_of(dir), 0700);
	assert_int_equal(query_int(s, "PRAGMA user_version"), 7);
	assert_int_equal(query_int(s, "SELECT count(*) FROM sqlite_master WHERE name IN "
				  "('exchanges','counters','exchanges_ts')"), 3);
	assert_int_equal(query_int(s, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);

	struct exchange_record r;
	fixture_record(&r, 0);
	assert_int_equal(store_add(s, &r), 0);
	assert_int_equal(store_flush(s), 0);
	snprintf(wal, sizeof(wal), "%s-wal", path);
	assert_int_equal(mode_of(wal), 0600);
	snprintf(wal, sizeof(wal), "%s-shm", path);
	assert_int_equal(mode_of(wal), 0600);
	store_close(s);
	umask(old);

	/* Idempotent reopen: same version, data kept. */
	assert_int_equal(store_open(path, false, &s), 0);
	assert_int_equal(query_int(s, "PRAGMA user_version"), 7);
	assert_int_equal(count_records(s), 1);
	store_close(s);
}

static void test_migrate_empty_file_and_fix_mode(void **state)
{
	char path[128];
	struct store *s;
	int fd;

	path_in_tmp(path, sizeof(path), "empty.db");
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0644), 0);
	close(fd);

	/* Readers refuse a file that has no schema yet. */
	log_verbosity = -1;	/* expected error: keep the output clean */
	assert_int_equal(store_open(path, true, &s), -EPROTO);
	log_verbosity = LOG_INFO;
	assert_null(s);

	assert_int_equal(store_open(path, false, &s), 0);
	assert_int_equal(mode_of(path), 0600);	/* tightened: it holds our data */
	assert_int_equal(query_int(s, "PRAGMA user_version"), 7);
	store_close(s);
	assert_int_equal(store_open(path, true, &s), 0);
	assert_int_equal(count_records(s), 0);
	store_close(s);
}

/* A live -wal that some older build left world-readable: SQLite keeps the
 * mode of a sidecar that exists, so the store must tighten it on open. */
static void test_loose_sidecar_tightened(void **state)
{
	struct exchange_record r;
	char path[128], wal[140];
	struct store *w1, *w2;

	path_in_tmp(path, sizeof(path), "loose.db");
	snprintf(wal, sizeof(wal), "%s-wal", path);
	assert_int_equal(store_open(path, false, &w1), 0);
	fixture_record(&r, 0);
	assert_int_equal(store_add(w1, &r), 0);
	assert_int_equal(store_flush(w1), 0);
	assert_int_equal(chmod(wal, 0644), 0);
	assert_int_equal(store_open(path, false, &w2), 0);
	assert_int_equal(mode_of(wal), 0600);
	assert_int_equal(count_records(w2), 1);
	store_close(w2);
	store_close(w1);
}

static void test_newer_schema(void **state)
{
	char path[128];
	struct store *s;

	path_in_tmp(path, sizeof(path), "newer.db");
	assert_int_equal(store_open(path, false, &s), 0);
	assert_int_equal(sqlite3_exec(store_db(s), "PRAGMA user_version = 99",
				      NULL, NULL, NULL), SQLITE_OK);
	store_close(s);
	log_verbosity = -1;	/* expected error and warning */
	/* A writer must not write into a schema it does not know... */
	assert_int_equal(store_open(path, false, &s), -EPROTO);
	/* ...a reader may still read the columns it knows. */
	assert_int_equal(store_open(path, true, &s), 0);
	log_verbosity = LOG_INFO;
	assert_int_equal(count_records(s), 0);
	store_close(s);
}

/* A file the v1 daemon wrote: readers of this build read it (the v2 fields
 * null), and the writer brings it forward to v2 keeping its rows. */
static void test_v1_file(void **state)
{
	static const char v1[] =
		"CREATE TABLE exchanges (id INTEGER PRIMARY KEY, ts_start_ns INTEGER NOT NULL,"
		" ts_end_ns INTEGER NOT NULL, pid INTEGER NOT NULL, tid INTEGER NOT NULL,"
		" exe TEXT NOT NULL, comm TEXT NOT NULL, cgroup_id INTEGER NOT NULL,"
		" capture TEXT NOT NULL, provider TEXT NOT NULL, api TEXT NOT NULL,"
		" host TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL,"
		" status INTEGER NOT NULL, model TEXT NOT NULL, request_model TEXT NOT NULL,"
		" stream INTEGER NOT NULL, input_tokens INTEGER NOT NULL,"
		" cached_input_tokens INTEGER NOT NULL, cache_write_tokens INTEGER NOT NULL,"
		" cache_write_1h_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,"
		" reasoning_tokens INTEGER NOT NULL, usage_source TEXT NOT NULL,"
		" cost_usd REAL NOT NULL, priced INTEGER NOT NULL, latency_ms INTEGER,"
		" ttft_ms INTEGER, complete INTEGER NOT NULL, error TEXT);"
		"CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL,"
		" updated_ns INTEGER NOT NULL);"
		"INSERT INTO exchanges VALUES (1, 5, 6, 7, 8, 'exe', 'comm', 9, 'uprobe',"
		" 'openai', 'chat.completions', 'api.openai.com', 'POST', '/v1/chat/completions',"
		" 429, 'gpt-4o', 'gpt-4o', 0, 0, 0, 0, 0, 0, 0, 'none', 0, 1, 12, NULL, 1,"
		" 'rate_limit_exceeded');"
		"PRAGMA user_version = 1;";
	struct collect c = { 0 };
	char path[128];
	sqlite3 *db;
	struct store *s;

	path_in_tmp(path, sizeof(path), "v1.db");
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, v1, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(store_open(path, true, &s), 0);
	assert_int_equal(store_foreach(s, collect_cb, &c), 0);
	store_close(s);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.recs[0].error, "rate_limit_exceeded");
	assert_string_equal(c.recs[0].deployment, "");
	assert_string_equal(c.recs[0].ratelimit, "");
	assert_false(c.recs[0].provider_cost_known);
	assert_string_equal(c.recs[0].protocol, "");
	assert_false(c.recs[0].headers_unknown);
	assert_int_equal(c.recs[0].uid, -1);	/* older rows: not attributed */
	assert_string_equal(c.recs[0].project, "");
	assert_false(c.recs[0].cache_analyzed);	/* older rows: not analysed */
	assert_int_equal(c.recs[0].prefix_hashes_len, 0);
	free(c.recs);

	assert_int_equal(store_open(path, false, &s), 0);
	assert_int_equal(query_int(s, "PRAGMA user_version"), 7);
	assert_int_equal(query_int(s, "SELECT count(*) FROM exchanges WHERE status = 429"
				  " AND ratelimit IS NULL AND provider_cost_usd IS NULL"
				  " AND protocol IS NULL AND headers_unknown IS NULL"
				  " AND uid IS NULL AND app IS NULL AND project IS NULL"
				  " AND template IS NULL AND cacheable_tokens IS NULL"
				  " AND breakers IS NULL AND prefix_hashes IS NULL"), 1);
	store_close(s);
}

static void test_batches_round_trip(void **state)
{
	enum { N = 1300 };	/* crosses the store's auto-commit bound twice */
	struct exchange_record *want = calloc(N, sizeof(*want));
	struct collect c = { 0 };
	char path[128];
	struct store *s;

	assert_non_null(want);
	path_in_tmp(path, sizeof(path), "batch.db");
	assert_int_equal(store_open(path, false, &s), 0);
	for (int i = 0; i < N; i++) {
		fixture_record(&want[i], i);
		assert_int_equal(store_add(s, &want[i]), 0);
		assert_int_equal(want[i].id, i + 1);
		if (i % 100 == 99)
			assert_int_equal(store_flush(s), 0);
	}
	assert_int_equal(store_flush(s), 0);
	assert_int_equal(store_flush(s), 0);	/* nothing open: still fine */
	store_close(s);

	assert_int_equal(store_open(path, true, &s), 0);
	assert_int_equal(store_foreach(s, collect_cb, &c), 0);
	assert_int_equal(c.n, N);
	for (int i = 0; i < N; i++)
		assert_record_equal(&c.recs[i], &want[i]);
	free(c.recs);

	/* A callback's non-zero return stops the walk and is returned. */
	memset(&c, 0, sizeof(c));
	c.stop_after = 3;
	assert_int_equal(store_foreach(s, collect_cb, &c), 42);
	assert_int_equal(c.n, 3);
	free(c.recs);
	store_close(s);
	free(want);
}

static void test_reader_beside_writer(void **state)
{
	struct exchange_record r;
	struct store *w, *ro;
	char path[128];

	path_in_tmp(path, sizeof(path), "wal.db");
	assert_int_equal(store_open(path, false, &w), 0);
	for (int i = 0; i < 10; i++) {
		fixture_record(&r, i);
		assert_int_equal(store_add(w, &r), 0);
	}
	assert_int_equal(store_flush(w), 0);
	/* Left uncommitted: the reader must not see these, nor block on them. */
	for (int i = 10; i < 15; i++) {
		fixture_record(&r, i);
		assert_int_equal(store_add(w, &r), 0);
	}

	assert_int_equal(store_open(path, true, &ro), 0);
	assert_int_equal(count_records(ro), 10);
	assert_int_equal(store_add(ro, &r), -EROFS);
	assert_int_equal(store_put_counters(ro, NULL, NULL, 0), -EROFS);
	assert_int_equal(store_flush(w), 0);
	assert_int_equal(count_records(ro), 15);

	/* More than one batch without flush: auto-committed at the bound. */
	for (int i = 0; i < 600; i++) {
		fixture_record(&r, i);
		assert_int_equal(store_add(w, &r), 0);
	}
	assert_int_equal(count_records(ro), 15 + 512);
	store_close(w);		/* close flushes */
	assert_int_equal(count_records(ro), 615);
	store_close(ro);
}

static void test_counters(void **state)
{
	static const char *const names1[] = { "drops", "parse_errors", "exchanges" };
	static const uint64_t vals1[] = { 3, 7, 1ULL << 40 };
	static const char *const names2[] = { "drops" };
	static const uint64_t vals2[] = { 9 };
	char path[128];
	struct store *s, *ro;

	path_in_tmp(path, sizeof(path), "counters.db");
	assert_int_equal(store_open(path, false, &s), 0);
	assert_int_equal(store_put_counters(s, names1, vals1, 3), 0);
	assert_int_equal(store_put_counters(s, names2, vals2, 1), 0);
	assert_int_equal(store_put_counters(s, NULL, NULL, 1), -EINVAL);
	assert_int_equal(store_put_counters(s, names1, vals1, -1), -EINVAL);

	/* Durable on return: a reader sees them with the writer still open. */
	assert_int_equal(store_open(path, true, &ro), 0);
	assert_int_equal(query_int(ro, "SELECT count(*) FROM counters"), 3);
	assert_int_equal(query_int(ro, "SELECT value FROM counters WHERE name='drops'"), 9);
	assert_int_equal(query_int(ro, "SELECT value FROM counters WHERE name='parse_errors'"), 7);
	assert_int_equal(query_int(ro, "SELECT value FROM counters WHERE name='exchanges'"),
			 1LL << 40);
	assert_true(query_int(ro, "SELECT min(updated_ns) FROM counters") > 1700000000LL * 1000000000LL);
	store_close(ro);
	store_close(s);
}

static const char *const hostile[] = {
	"'); DROP TABLE exchanges; --",
	"quote\" back\\slash",
	"line\nbreak\r\ttab",
	"bad utf8 \xff\xfe \xc0\xaf \xed\xa0\x80",
	"\x01\x02\x1b[31mred",
	"%s%n%p",
};

static void test_hostile_strings(void **state)
{
	enum { N = sizeof(hostile) / sizeof(hostile[0]) };
	struct exchange_record want[N];
	struct collect c = { 0 };
	char path[128];
	struct store *s;

	path_in_tmp(path, sizeof(path), "hostile.db");
	assert_int_equal(store_open(path, false, &s), 0);
	for (int i = 0; i < (int)N; i++) {
		fixture_record(&want[i], i);
		/* Cleared first: bytes left after the NUL would fail memcmp. */
#define SET(f) (memset(want[i].f, 0, sizeof(want[i].f)), \
		snprintf(want[i].f, sizeof(want[i].f), "%s", hostile[i]))
		SET(exe);
		SET(path);
		SET(model);
		SET(error);
		SET(comm);	/* cut to 15 bytes + NUL */
#undef SET
		assert_int_equal(store_add(s, &want[i]), 0);
	}
	assert_int_equal(store_flush(s), 0);
	assert_int_equal(store_foreach(s, collect_cb, &c), 0);
	assert_int_equal(c.n, N);
	for (int i = 0; i < (int)N; i++)
		assert_record_equal(&c.recs[i], &want[i]);
	free(c.recs);
	store_close(s);
}

/* Edge values: extremes survive; a field without NUL is cut, not over-read;
 * a NaN cost is kept as an unpriced record rather than failing the insert. */
static void test_edge_values(void **state)
{
	struct exchange_record r, want;
	struct collect c = { 0 };
	char path[128];
	struct store *s;

	path_in_tmp(path, sizeof(path), "edge.db");
	assert_int_equal(store_open(path, false, &s), 0);

	fixture_record(&r, 0);
	r.cgroup_id = UINT64_MAX;
	r.pid = UINT32_MAX;
	r.ts_start_ns = INT64_MAX;
	r.usage.input_tokens = INT64_MIN;
	r.latency_ms = 0;
	r.ttft_ms = 0;
	r.status = -1;
	want = r;
	assert_int_equal(store_add(s, &r), 0);
	want.id = r.id;

	fixture_record(&r, 1);
	memset(r.comm, 'C', sizeof(r.comm));	/* no NUL */
	r.cost_usd = NAN;
	assert_int_equal(store_add(s, &r), 0);
	assert_int_equal(store_flush(s), 0);

	assert_int_equal(store_foreach(s, collect_cb, &c), 0);
	assert_int_equal(c.n, 2);
	assert_record_equal(&c.recs[0], &want);
	assert_int_equal(strlen(c.recs[1].comm), sizeof(r.comm) - 1);
	assert_true(c.recs[1].cost_usd == 0.0);
	assert_false(c.recs[1].priced);
	free(c.recs);
	store_close(s);
}

static void test_open_errors(void **state)
{
	char path[160], file[128];
	struct store *s = (struct store *)1;
	int saved = log_verbosity;
	FILE *f;

	log_verbosity = -1;	/* expected errors: keep the test output clean */
	assert_int_equal(store_open(NULL, false, &s), -EINVAL);
	assert_int_equal(store_open("", true, &s), -EINVAL);
	assert_int_equal(store_open("/x", true, NULL), -EINVAL);

	path_in_tmp(path, sizeof(path), "missing.db");
	assert_int_equal(store_open(path, true, &s), -ENOENT);
	assert_null(s);
	assert_int_equal(access(path, F_OK), -1);	/* a reader creates nothing */

	path_in_tmp(file, sizeof(file), "plainfile");
	f = fopen(file, "w");
	assert_non_null(f);
	fputs("this is not a database, it is a text file long enough to have a header\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/sub.db", file);
	assert_int_equal(store_open(path, false, &s), -ENOTDIR);
	assert_int_equal(store_open(file, false, &s), -EBADMSG);
	assert_int_equal(store_open(file, true, &s), -EBADMSG);

	assert_int_equal(store_add(NULL, NULL), -EINVAL);
	assert_int_equal(store_flush(NULL), -EINVAL);
	assert_int_equal(store_foreach(NULL, collect_cb, NULL), -EINVAL);
	assert_null(store_db(NULL));
	store_close(NULL);
	log_verbosity = saved;
}

static void test_default_path(void **state)
{
	char buf[512], tiny[8];
	const char *old = getenv("LLMOBS_DB");

	setenv("LLMOBS_DB", "/srv/x.db", 1);
	assert_string_equal(store_default_path(buf, sizeof(buf)), "/srv/x.db");
	/* Truncation would silently name a different file. */
	assert_string_equal(store_default_path(tiny, sizeof(tiny)), "");
	unsetenv("LLMOBS_DB");
	store_default_path(buf, sizeof(buf));
	if (geteuid() == 0)
		assert_string_equal(buf, "/var/lib/llm-observer/llmobs.db");
	else
		assert_non_null(strstr(buf, "/llm-observer/llmobs.db"));
	if (old)
		setenv("LLMOBS_DB", old, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_modes_and_migration),
		cmocka_unit_test(test_migrate_empty_file_and_fix_mode),
		cmocka_unit_test(test_loose_sidecar_tightened),
		cmocka_unit_test(test_newer_schema),
		cmocka_unit_test(test_v1_file),
		cmocka_unit_test(test_batches_round_trip),
		cmocka_unit_test(test_reader_beside_writer),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_hostile_strings),
		cmocka_unit_test(test_edge_values),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_default_path),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
