/* SQLite store for exchange records and daemon counters.
 *
 * WAL so `llmobs` can read while llmobsd writes; records are batched into
 * one transaction per flush because a commit per exchange would fsync per
 * LLM call. The file holds prompts' metadata (paths, exe names), so it is
 * created 0600 in a 0700 directory before SQLite ever touches it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include "stats.h"
#include "store.h"

/* Bounds the work a crash can lose and the time a reader waits on a commit. */
#define STORE_BATCH_MAX		512
#define STORE_BUSY_TIMEOUT_MS	5000
#define STORE_FAIL_LOG_NS	(60LL * 1000000000)

struct store {
	sqlite3 *db;
	sqlite3_stmt *insert;
	char *path;
	bool readonly;
	int pending;		/* rows in the open transaction */
	bool failing;		/* writes fail, until a commit stores rows */
	bool said;		/* the failure was logged */
	int64_t said_ns;	/* when (CLOCK_MONOTONIC) */
	int version;		/* schema version of the file (readers) */
};

/* Attribution (issue 14): who made the call. A step of its own, found by
 * address (attribution_version), so that steps others append before or
 * after it keep the readers right. NULL: not attributed. */
static const char migration_attribution[] =
	"ALTER TABLE exchanges ADD COLUMN uid INTEGER;"
	"ALTER TABLE exchanges ADD COLUMN app TEXT;"
	"ALTER TABLE exchanges ADD COLUMN cmdline_hash TEXT;"
	"ALTER TABLE exchanges ADD COLUMN container_id TEXT;"
	"ALTER TABLE exchanges ADD COLUMN container_runtime TEXT;"
	"ALTER TABLE exchanges ADD COLUMN container_image TEXT;"
	"ALTER TABLE exchanges ADD COLUMN k8s_pod_uid TEXT;"
	"ALTER TABLE exchanges ADD COLUMN k8s_namespace TEXT;"
	"ALTER TABLE exchanges ADD COLUMN k8s_pod TEXT;"
	"ALTER TABLE exchanges ADD COLUMN k8s_container TEXT;"
	"ALTER TABLE exchanges ADD COLUMN project TEXT;";
#define ATTRIBUTION_COLS \
	", uid, app, cmdline_hash, container_id, container_runtime, container_image," \
	" k8s_pod_uid, k8s_namespace, k8s_pod, k8s_container, project"
#define ATTRIBUTION_NULLS ", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL"
#define ATTRIBUTION_PARAMS ",?,?,?,?,?,?,?,?,?,?,?"

/* Prompt-cache analytics (issue 9, user/5-analysis): a step of its own,
 * found by address like the attribution's. NULL: not analysed (no body
 * kept, an API without a prompt, an older row). prefix_hashes: keyed
 * (HMAC-SHA256, truncated) prefix hashes at segment ends, 8 bytes each. */
static const char migration_cache[] =
	"ALTER TABLE exchanges ADD COLUMN template TEXT;"
	"ALTER TABLE exchanges ADD COLUMN account TEXT;"
	"ALTER TABLE exchanges ADD COLUMN cacheable_tokens INTEGER;"
	"ALTER TABLE exchanges ADD COLUMN missed_cache_tokens INTEGER;"
	"ALTER TABLE exchanges ADD COLUMN missed_cache_usd REAL;"
	"ALTER TABLE exchanges ADD COLUMN cache_miss_cause TEXT;"
	"ALTER TABLE exchanges ADD COLUMN breakers TEXT;"
	"ALTER TABLE exchanges ADD COLUMN prefix_hashes BLOB;"
	"ALTER TABLE exchanges ADD COLUMN cache_duplicate INTEGER;"
	"CREATE INDEX exchanges_template ON exchanges(template);";
#define CACHE_COLS \
	", template, account, cacheable_tokens, missed_cache_tokens, missed_cache_usd," \
	" cache_miss_cause, breakers, prefix_hashes, cache_duplicate"
#define CACHE_NULLS ", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL"
#define CACHE_PARAMS ",?,?,?,?,?,?,?,?,?"

/* Secrets and personal data in the request (issue 15, detect*.c): the
 * kinds and counts only, as a JSON object ({"email":2}); NULL: none seen
 * or not scanned. A step found by address like the two above. */
static const char migration_sensitive[] =
	"ALTER TABLE exchanges ADD COLUMN sensitive TEXT;";
#define SENSITIVE_COLS ", sensitive"
#define SENSITIVE_NULLS ", NULL"
#define SENSITIVE_PARAMS ",?"

/* The tools a response asked to run, names only (issue 15's agent
 * timeline); NULL: none, or an older row. */
static const char migration_tools[] =
	"ALTER TABLE exchanges ADD COLUMN tool_calls TEXT;";
#define TOOLS_COLS ", tool_calls"
#define TOOLS_NULLS ", NULL"
#define TOOLS_PARAMS ",?"

/* Append-only: a released schema is never edited, only followed by a new
 * step, so any older DB can be brought forward. Index i takes the DB from
 * user_version i to i + 1. */
static const char *const migrations[] = {
	/* v1 */
	"CREATE TABLE exchanges ("
	" id INTEGER PRIMARY KEY,"
	" ts_start_ns INTEGER NOT NULL,"
	" ts_end_ns INTEGER NOT NULL,"
	" pid INTEGER NOT NULL,"
	" tid INTEGER NOT NULL,"
	" exe TEXT NOT NULL,"
	" comm TEXT NOT NULL,"
	" cgroup_id INTEGER NOT NULL,"
	" capture TEXT NOT NULL,"
	" provider TEXT NOT NULL,"
	" api TEXT NOT NULL,"
	" host TEXT NOT NULL,"
	" method TEXT NOT NULL,"
	" path TEXT NOT NULL,"
	" status INTEGER NOT NULL,"
	" model TEXT NOT NULL,"
	" request_model TEXT NOT NULL,"
	" stream INTEGER NOT NULL,"
	" input_tokens INTEGER NOT NULL,"
	" cached_input_tokens INTEGER NOT NULL,"
	" cache_write_tokens INTEGER NOT NULL,"
	" cache_write_1h_tokens INTEGER NOT NULL,"
	" output_tokens INTEGER NOT NULL,"
	" reasoning_tokens INTEGER NOT NULL,"
	" usage_source TEXT NOT NULL,"
	" cost_usd REAL NOT NULL,"
	" priced INTEGER NOT NULL,"
	" latency_ms INTEGER,"		/* NULL: unknown */
	" ttft_ms INTEGER,"
	" complete INTEGER NOT NULL,"
	" error TEXT"			/* NULL: none */
	");"
	/* `llmobs report --since` filters on time, then groups. */
	"CREATE INDEX exchanges_ts ON exchanges(ts_start_ns);"
	"CREATE INDEX exchanges_model ON exchanges(provider, model);"
	"CREATE INDEX exchanges_exe ON exchanges(exe, comm);"
	"CREATE TABLE counters ("
	" name TEXT PRIMARY KEY,"
	" value INTEGER NOT NULL,"
	" updated_ns INTEGER NOT NULL"
	");",
	/* v2: error exchanges' rate-limit headers, the Azure deployment (the
	 * model is priced by the response's name), the provider-stated cost. */
	"ALTER TABLE exchanges ADD COLUMN deployment TEXT;"	/* NULL: none */
	"ALTER TABLE exchanges ADD COLUMN ratelimit TEXT;"	/* JSON object */
	"ALTER TABLE exchanges ADD COLUMN provider_cost_usd REAL;",
	/* v3: HTTP/1.1 or HTTP/2, and h2 exchanges whose head was not
	 * decodable. NULL in older rows: not known. */
	"ALTER TABLE exchanges ADD COLUMN protocol TEXT;"
	"ALTER TABLE exchanges ADD COLUMN headers_unknown INTEGER;",
	/* v4: attribution */
	migration_attribution,
	/* v5: prompt-cache analytics */
	migration_cache,
	/* v6: sensitive-data counts */
	migration_sensitive,
	/* v7: tool calls' names */
	migration_tools,
};

#define STORE_SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* The schema version that added the attribution columns. */
static int attribution_version(void)
{
	for (int i = 0; i < STORE_SCHEMA_VERSION; i++)
		if (migrations[i] == migration_attribution)
			return i + 1;
	return STORE_SCHEMA_VERSION + 1;
}

/* The schema version that added the tool_calls column. */
static int tools_version(void)
{
	for (int i = 0; i < STORE_SCHEMA_VERSION; i++)
		if (migrations[i] == migration_tools)
			return i + 1;
	return STORE_SCHEMA_VERSION + 1;
}

/* The schema version that added the sensitive column. */
static int sensitive_version(void)
{
	for (int i = 0; i < STORE_SCHEMA_VERSION; i++)
		if (migrations[i] == migration_sensitive)
			return i + 1;
	return STORE_SCHEMA_VERSION + 1;
}

/* The schema version that added the prompt-cache columns. */
static int cache_version(void)
{
	for (int i = 0; i < STORE_SCHEMA_VERSION; i++)
		if (migrations[i] == migration_cache)
			return i + 1;
	return STORE_SCHEMA_VERSION + 1;
}

#define EXCHANGE_COLS \
	"id, ts_start_ns, ts_end_ns, pid, tid, exe, comm, cgroup_id, capture," \
	" provider, api, host, method, path, status, model, request_model," \
	" stream, input_tokens, cached_input_tokens, cache_write_tokens," \
	" cache_write_1h_tokens, output_tokens, reasoning_tokens, usage_source," \
	" cost_usd, priced, latency_ms, ttft_ms, complete, error," \
	" deployment, ratelimit, provider_cost_usd, protocol, headers_unknown"
/* What a reader selects from older files in place of the newer columns. */
#define EXCHANGE_COLS_V1 \
	"id, ts_start_ns, ts_end_ns, pid, tid, exe, comm, cgroup_id, capture," \
	" provider, api, host, method, path, status, model, request_model," \
	" stream, input_tokens, cached_input_tokens, cache_write_tokens," \
	" cache_write_1h_tokens, output_tokens, reasoning_tokens, usage_source," \
	" cost_usd, priced, latency_ms, ttft_ms, complete, error," \
	" NULL, NULL, NULL, NULL, NULL"
#define EXCHANGE_COLS_V2 \
	"id, ts_start_ns, ts_end_ns, pid, tid, exe, comm, cgroup_id, capture," \
	" provider, api, host, method, path, status, model, request_model," \
	" stream, input_tokens, cached_input_tokens, cache_write_tokens," \
	" cache_write_1h_tokens, output_tokens, reasoning_tokens, usage_source," \
	" cost_usd, priced, latency_ms, ttft_ms, complete, error," \
	" deployment, ratelimit, provider_cost_usd, NULL, NULL"

static int sqlite_to_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:		return 0;
	case SQLITE_NOMEM:	return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:	return -EBUSY;
	case SQLITE_READONLY:	return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:	return -EACCES;
	case SQLITE_FULL:	return -ENOSPC;
	case SQLITE_CANTOPEN:	return -ENOENT;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:	return -EBADMSG;
	case SQLITE_TOOBIG:	return -E2BIG;
	case SQLITE_CONSTRAINT:	return -EEXIST;
	default:		return -EIO;
	}
}

/* Logs "what: path: sqlite message" and returns the errno equivalent. */
static int store_fail(struct store *s, int rc, const char *what)
{
	p_err("store %s: %s: %s", what, s->path,
	      s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
	return sqlite_to_errno(rc);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const char *store_default_path(char *buf, size_t size)
{
	const char *env = getenv("LLMOBS_DB"), *state, *home;
	struct passwd *pw;
	int n;

	if (!buf || size == 0)
		return buf;
	if (env && env[0])
		n = snprintf(buf, size, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(buf, size, "/var/lib/llm-observer/llmobs.db");
	else if ((state = getenv("XDG_STATE_HOME")) && state[0] == '/')
		/* XDG: a relative value is invalid and must be ignored. */
		n = snprintf(buf, size, "%s/llm-observer/llmobs.db", state);
	else {
		home = getenv("HOME");
		if ((!home || !home[0]) && (pw = getpwuid(geteuid())))
			home = pw->pw_dir;
		n = snprintf(buf, size, "%s/.local/state/llm-observer/llmobs.db",
			     home ? home : ".");
	}
	if (n < 0 || (size_t)n >= size)
		buf[0] = '\0';	/* a truncated path would name another file */
	return buf;
}

/* mkdir -p of path's parent; new directories are 0700 because the DB
 * inside them is private. Existing ones are left as the admin set them. */
static int make_parent_dirs(const char *path)
{
	char dir[PATH_MAX];
	size_t n = strlen(path);
	char *p;

	if (n >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, n + 1);
	p = strrchr(dir, '/');
	if (!p || p == dir)
		return 0;
	*p = '\0';
	for (p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/* Creates the file 0600 ourselves: SQLite would create it 0644 & ~umask,
 * and gives -wal/-shm the main file's mode, so this also covers those. */
static int create_private_file(const char *path)
{
	struct stat st;
	int fd, err = 0;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st))
		err = -errno;
	else if (!S_ISREG(st.st_mode))
		err = -EINVAL;
	else if ((st.st_mode & 077) && st.st_uid == geteuid() &&
		 fchmod(fd, st.st_mode & 0700))
		err = -errno;
	close(fd);
	return err;
}

/* SQLite gives a new -wal/-shm the DB's mode, but one left from a looser
 * DB would keep its old mode and expose the records it holds. */
static void tighten_sidecars(const char *path)
{
	static const char *const suffix[] = { "-wal", "-shm", "-journal" };
	char side[PATH_MAX];
	struct stat st;

	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		if (snprintf(side, sizeof(side), "%s%s", path, suffix[i]) >= (int)sizeof(side))
			continue;
		if (lstat(side, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) &&
		    st.st_uid == geteuid() && chmod(side, st.st_mode & 0700))
			p_warn("store: cannot make %s private: %s", side, strerror(errno));
	}
}

/* A failed write (disk full, read-only file, I/O error) is logged when
 * writes start failing and when they work again; in between, each record
 * lost is only counted. A line per record would flood the log exactly when
 * the disk is full. Returns the errno equivalent of rc. */
static int write_fail(struct store *s, int rc, const char *what)
{
	struct timespec ts;
	int64_t now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	/* A nearly full disk lets some batches through: however often writes
	 * flap, the line comes at most once a minute. */
	if (!s->failing && (!s->said_ns || now - s->said_ns >= STORE_FAIL_LOG_NS)) {
		p_err("store: %s: %s failed: %s; records are dropped (counted as "
		      "records_dropped) until it can write again", s->path, what,
		      sqlite3_errmsg(s->db));
		s->said = true;
		s->said_ns = now;
	}
	s->failing = true;
	stats_inc(STAT_STORE_ERRORS);
	/* A full disk or an I/O error makes SQLite roll back the batch. */
	if (sqlite3_get_autocommit(s->db) && s->pending) {
		stats_add(STAT_RECORDS_DROPPED, (uint64_t)s->pending);
		s->pending = 0;
	}
	return sqlite_to_errno(rc);
}

static int exec_write(struct store *s, const char *sql, const char *what)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return write_fail(s, rc, what);
	return 0;
}

static int exec_sql(struct store *s, const char *sql, const char *what)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store_fail(s, rc, what);
}

static int user_version(struct store *s, int *version)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, "read schema version");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : store_fail(s, rc, "read schema version");
}

/* Each step in its own IMMEDIATE transaction, so two daemons starting at
 * once cannot both apply it, and a failed step leaves the previous version. */
static int migrate(struct store *s)
{
	char sql[64];
	int v, err;

	for (;;) {
		if ((err = exec_sql(s, "BEGIN IMMEDIATE", "begin migration")))
			return err;
		if ((err = user_version(s, &v)))
			goto rollback;
		if (v > STORE_SCHEMA_VERSION) {
			p_err("store: %s: schema version %d is newer than this build's %d; upgrade llm-observer",
			      s->path, v, STORE_SCHEMA_VERSION);
			err = -EPROTO;
			goto rollback;
		}
		if (v == STORE_SCHEMA_VERSION)
			return exec_sql(s, "COMMIT", "commit migration");
		if ((err = exec_sql(s, migrations[v], "migrate schema")))
			goto rollback;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if ((err = exec_sql(s, sql, "set schema version")) ||
		    (err = exec_sql(s, "COMMIT", "commit migration")))
			goto rollback;
		p_debug("store: %s: schema migrated to v%d", s->path, v + 1);
	}
rollback:
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return err;
}

static bool journal_is_wal(struct store *s)
{
	sqlite3_stmt *st;
	bool wal = false;

	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode", -1, &st, NULL) != SQLITE_OK)
		return false;
	if (sqlite3_step(st) == SQLITE_ROW)
		wal = !sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal");
	sqlite3_finalize(st);
	return wal;
}

static int open_writer(struct store *s)
{
	int err, rc;

	if ((err = make_parent_dirs(s->path))) {
		p_err("store: cannot create directory for %s: %s", s->path, strerror(-err));
		return err;
	}
	if ((err = create_private_file(s->path))) {
		p_err("store: cannot create %s: %s", s->path, strerror(-err));
		return err;
	}
	tighten_sidecars(s->path);
	rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, "open");
	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
	/* NORMAL is durable to the last checkpoint-safe commit in WAL mode;
	 * FULL would fsync every batch for records we can afford to lose. */
	if ((err = exec_sql(s, "PRAGMA journal_mode=WAL", "enable WAL")) ||
	    (err = exec_sql(s, "PRAGMA synchronous=NORMAL", "set synchronous")) ||
	    (err = migrate(s)))
		return err;
	if (!journal_is_wal(s))
		p_warn("store: %s: WAL unavailable; readers will block the daemon", s->path);
	rc = sqlite3_prepare_v3(s->db,
		"INSERT INTO exchanges (" EXCHANGE_COLS ATTRIBUTION_COLS CACHE_COLS SENSITIVE_COLS
		TOOLS_COLS ") VALUES ("
		"NULL,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?"
		ATTRIBUTION_PARAMS CACHE_PARAMS SENSITIVE_PARAMS TOOLS_PARAMS ")",
		-1, SQLITE_PREPARE_PERSISTENT, &s->insert, NULL);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, "prepare insert");
	return 0;
}

static int open_reader(struct store *s)
{
	struct stat st;
	int err, rc, v;

	/* SQLite's "unable to open database file" does not say it is missing. */
	if (stat(s->path, &st)) {
		err = -errno;
		p_err("store: cannot open %s: %s", s->path, strerror(errno));
		return err;
	}
	/* Likewise SQLite reports a private (0600) DB only as "cannot open". */
	if (access(s->path, R_OK)) {
		err = -errno;
		p_err("store: cannot read %s: %s", s->path, strerror(errno));
		return err;
	}
	rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, "open read-only");
	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
	if ((err = user_version(s, &v)))
		return err;
	s->version = v;
	if (v == 0) {
		p_err("store: %s: not an llm-observer database (no schema)", s->path);
		return -EPROTO;
	}
	/* Later migrations only add, so a newer DB is still readable. */
	if (v > STORE_SCHEMA_VERSION)
		p_warn("store: %s: schema v%d is newer than this build's v%d",
		       s->path, v, STORE_SCHEMA_VERSION);
	return 0;
}

int store_open(const char *path, bool readonly, struct store **out)
{
	struct store *s;
	int err;

	if (!path || !path[0] || !out)
		return -EINVAL;
	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->path = strdup(path))) {
		free(s);
		return -ENOMEM;
	}
	s->readonly = readonly;
	err = readonly ? open_reader(s) : open_writer(s);
	if (err) {
		store_close(s);
		return err;
	}
	*out = s;
	return 0;
}

int store_flush(struct store *s)
{
	int err;

	if (!s || !s->db)
		return -EINVAL;
	if (sqlite3_get_autocommit(s->db)) {
		/* nothing open, or SQLite rolled it back: those are lost */
		stats_add(STAT_RECORDS_DROPPED, (uint64_t)s->pending);
		s->pending = 0;
		return 0;
	}
	/* On BUSY the transaction stays open and the next flush retries. */
	if ((err = exec_write(s, "COMMIT", "commit")))
		return err;
	/* Only rows committed show that writes work: a batch whose inserts
	 * all failed commits nothing, and does not count. */
	if (s->failing && s->pending) {
		if (s->said)
			p_info("store: %s: writing again", s->path);
		s->said = false;
		s->failing = false;
	}
	s->pending = 0;
	return 0;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	if (s->db && !s->readonly && store_flush(s))
		p_warn("store: %s: %d records lost at close", s->path, s->pending);
	sqlite3_finalize(s->insert);
	sqlite3_close_v2(s->db);
	free(s->path);
	free(s);
}

static void bind_str(sqlite3_stmt *st, int i, const char *v, size_t max)
{
	/* Fixed arrays from the capture path may lack a NUL; bind the bound. */
	sqlite3_bind_text(st, i, v, (int)strnlen(v, max), SQLITE_STATIC);
}

#define BIND_STR(st, i, r, f) bind_str(st, i, (r)->f, sizeof((r)->f))

static void bind_str_null(sqlite3_stmt *st, int i, const char *v, size_t max)
{
	if (strnlen(v, max) == 0)
		sqlite3_bind_null(st, i);
	else
		bind_str(st, i, v, max);
}

#define BIND_STR_NULL(st, i, r, f) bind_str_null(st, i, (r)->f, sizeof((r)->f))

static void bind_attribution(sqlite3_stmt *st, int i, const struct exchange_record *r)
{
	if (r->uid < 0)
		sqlite3_bind_null(st, i++);
	else
		sqlite3_bind_int64(st, i++, r->uid);
	BIND_STR_NULL(st, i++, r, app);
	BIND_STR_NULL(st, i++, r, cmdline_hash);
	BIND_STR_NULL(st, i++, r, container_id);
	BIND_STR_NULL(st, i++, r, container_runtime);
	BIND_STR_NULL(st, i++, r, container_image);
	BIND_STR_NULL(st, i++, r, k8s_pod_uid);
	BIND_STR_NULL(st, i++, r, k8s_namespace);
	BIND_STR_NULL(st, i++, r, k8s_pod);
	BIND_STR_NULL(st, i++, r, k8s_container);
	BIND_STR_NULL(st, i++, r, project);
}

/* After the attribution's 11 columns. */
static void bind_cache(sqlite3_stmt *st, int i, const struct exchange_record *r)
{
	if (!r->cache_analyzed) {
		for (int k = 0; k < 9; k++)
			sqlite3_bind_null(st, i++);
		return;
	}
	BIND_STR_NULL(st, i++, r, cache_template);
	BIND_STR_NULL(st, i++, r, account);
	sqlite3_bind_int64(st, i++, r->cacheable_tokens);
	sqlite3_bind_int64(st, i++, r->missed_cache_tokens);
	sqlite3_bind_double(st, i++, isfinite(r->missed_cache_usd) ? r->missed_cache_usd : 0.0);
	BIND_STR_NULL(st, i++, r, cache_miss_cause);
	BIND_STR_NULL(st, i++, r, breakers);
	if (r->prefix_hashes_len && r->prefix_hashes_len <= sizeof(r->prefix_hashes))
		sqlite3_bind_blob(st, i++, r->prefix_hashes, r->prefix_hashes_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i++);
	sqlite3_bind_int(st, i++, r->cache_duplicate);
}

/* After the cache's 9 columns. */
static void bind_sensitive(sqlite3_stmt *st, int i, const struct exchange_record *r)
{
	char obj[256];

	if (record_sensitive_json(r, obj, sizeof(obj)))
		sqlite3_bind_text(st, i, obj, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

int store_add(struct store *s, struct exchange_record *r)
{
	sqlite3_stmt *st;
	int rc, err, i = 1;
	bool finite;

	if (!s || !r)
		return -EINVAL;
	if (s->readonly)
		return -EROFS;
	st = s->insert;
	if (sqlite3_get_autocommit(s->db)) {
		if ((err = exec_write(s, "BEGIN", "begin batch"))) {
			stats_inc(STAT_RECORDS_DROPPED);
			return err;
		}
		s->pending = 0;
	}
	sqlite3_bind_int64(st, i++, r->ts_start_ns);
	sqlite3_bind_int64(st, i++, r->ts_end_ns);
	sqlite3_bind_int64(st, i++, r->pid);
	sqlite3_bind_int64(st, i++, r->tid);
	BIND_STR(st, i++, r, exe);
	BIND_STR(st, i++, r, comm);
	sqlite3_bind_int64(st, i++, (int64_t)r->cgroup_id);	/* same bits back */
	BIND_STR(st, i++, r, capture);
	BIND_STR(st, i++, r, provider);
	BIND_STR(st, i++, r, api);
	BIND_STR(st, i++, r, host);
	BIND_STR(st, i++, r, method);
	BIND_STR(st, i++, r, path);
	sqlite3_bind_int(st, i++, r->status);
	BIND_STR(st, i++, r, model);
	BIND_STR(st, i++, r, request_model);
	sqlite3_bind_int(st, i++, r->stream);
	sqlite3_bind_int64(st, i++, r->usage.input_tokens);
	sqlite3_bind_int64(st, i++, r->usage.cached_input_tokens);
	sqlite3_bind_int64(st, i++, r->usage.cache_write_tokens);
	sqlite3_bind_int64(st, i++, r->usage.cache_write_1h_tokens);
	sqlite3_bind_int64(st, i++, r->usage.output_tokens);
	sqlite3_bind_int64(st, i++, r->usage.reasoning_tokens);
	sqlite3_bind_text(st, i++, usage_source_name(r->usage_source), -1, SQLITE_STATIC);
	/* A non-finite cost is a pricing bug: keep the record, but as unpriced
	 * so the report flags it instead of summing NaN or a silent $0. */
	finite = isfinite(r->cost_usd);
	sqlite3_bind_double(st, i++, finite ? r->cost_usd : 0.0);
	sqlite3_bind_int(st, i++, finite && r->priced);
	if (r->latency_ms == RECORD_NULL_MS)
		sqlite3_bind_null(st, i++);
	else
		sqlite3_bind_int64(st, i++, r->latency_ms);
	if (r->ttft_ms == RECORD_NULL_MS)
		sqlite3_bind_null(st, i++);
	else
		sqlite3_bind_int64(st, i++, r->ttft_ms);
	sqlite3_bind_int(st, i++, r->complete);
	if (strnlen(r->error, sizeof(r->error)) == 0)
		sqlite3_bind_null(st, i++);
	else
		BIND_STR(st, i++, r, error);
	if (strnlen(r->deployment, sizeof(r->deployment)) == 0)
		sqlite3_bind_null(st, i++);
	else
		BIND_STR(st, i++, r, deployment);
	if (strnlen(r->ratelimit, sizeof(r->ratelimit)) == 0)
		sqlite3_bind_null(st, i++);
	else
		BIND_STR(st, i++, r, ratelimit);
	if (r->provider_cost_known && isfinite(r->provider_cost_usd))
		sqlite3_bind_double(st, i++, r->provider_cost_usd);
	else
		sqlite3_bind_null(st, i++);
	if (strnlen(r->protocol, sizeof(r->protocol)) == 0)
		sqlite3_bind_null(st, i++);
	else
		BIND_STR(st, i++, r, protocol);
	sqlite3_bind_int(st, i++, r->headers_unknown);
	bind_attribution(st, i, r);
	bind_cache(st, i + 11, r);
	bind_sensitive(st, i + 11 + 9, r);
	BIND_STR_NULL(st, i + 11 + 9 + 1, r, tool_calls);

	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		r->id = sqlite3_last_insert_rowid(s->db);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		stats_inc(STAT_RECORDS_DROPPED);
		return write_fail(s, rc, "insert");
	}
	if (++s->pending >= STORE_BATCH_MAX)
		return store_flush(s);
	return 0;
}

int store_put_counters(struct store *s, const char *const *names,
		       const uint64_t *values, int n)
{
	sqlite3_stmt *st;
	int64_t ts = now_ns();
	int i, rc, err = 0;

	if (!s || (n > 0 && (!names || !values)) || n < 0)
		return -EINVAL;
	if (s->readonly)
		return -EROFS;
	rc = sqlite3_prepare_v2(s->db,
		"INSERT OR REPLACE INTO counters (name, value, updated_ns) VALUES (?, ?, ?)",
		-1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, "prepare counters");
	if (sqlite3_get_autocommit(s->db) &&
	    (err = exec_write(s, "BEGIN", "begin batch")))
		goto out;
	for (i = 0; i < n; i++) {
		if (!names[i])
			continue;
		sqlite3_bind_text(st, 1, names[i], -1, SQLITE_STATIC);
		/* SQLite integers are signed; counters will not reach 2^63. */
		sqlite3_bind_int64(st, 2, (int64_t)values[i]);
		sqlite3_bind_int64(st, 3, ts);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			err = write_fail(s, rc, "write counters");
			goto out;
		}
	}
	/* Counters are what a report trusts after a crash: make them durable
	 * together with the records they describe. */
	err = store_flush(s);
out:
	sqlite3_finalize(st);
	return err;
}

static void column_str(sqlite3_stmt *st, int i, char *dst, size_t size)
{
	const unsigned char *v = sqlite3_column_text(st, i);
	size_t n = v ? (size_t)sqlite3_column_bytes(st, i) : 0;

	if (n >= size)
		n = size - 1;	/* a DB edited by hand must not overflow us */
	if (n)
		memcpy(dst, v, n);
	dst[n] = '\0';
}

static enum usage_source usage_source_parse(const char *s)
{
	if (!strcmp(s, "provider"))
		return USAGE_PROVIDER;
	if (!strcmp(s, "estimated"))
		return USAGE_ESTIMATED;
	return USAGE_NONE;
}

#define COL_STR(st, i, r, f) column_str(st, i, (r)->f, sizeof((r)->f))

static void row_to_record(sqlite3_stmt *st, struct exchange_record *r)
{
	char src[16];
	int i = 0;

	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, i++);
	r->ts_start_ns = sqlite3_column_int64(st, i++);
	r->ts_end_ns = sqlite3_column_int64(st, i++);
	r->pid = (uint32_t)sqlite3_column_int64(st, i++);
	r->tid = (uint32_t)sqlite3_column_int64(st, i++);
	COL_STR(st, i++, r, exe);
	COL_STR(st, i++, r, comm);
	r->cgroup_id = (uint64_t)sqlite3_column_int64(st, i++);
	COL_STR(st, i++, r, capture);
	COL_STR(st, i++, r, provider);
	COL_STR(st, i++, r, api);
	COL_STR(st, i++, r, host);
	COL_STR(st, i++, r, method);
	COL_STR(st, i++, r, path);
	r->status = sqlite3_column_int(st, i++);
	COL_STR(st, i++, r, model);
	COL_STR(st, i++, r, request_model);
	r->stream = sqlite3_column_int(st, i++) != 0;
	r->usage.input_tokens = sqlite3_column_int64(st, i++);
	r->usage.cached_input_tokens = sqlite3_column_int64(st, i++);
	r->usage.cache_write_tokens = sqlite3_column_int64(st, i++);
	r->usage.cache_write_1h_tokens = sqlite3_column_int64(st, i++);
	r->usage.output_tokens = sqlite3_column_int64(st, i++);
	r->usage.reasoning_tokens = sqlite3_column_int64(st, i++);
	column_str(st, i++, src, sizeof(src));
	r->usage_source = usage_source_parse(src);
	r->cost_usd = sqlite3_column_double(st, i++);
	r->priced = sqlite3_column_int(st, i++) != 0;
	r->latency_ms = sqlite3_column_type(st, i) == SQLITE_NULL ?
			RECORD_NULL_MS : sqlite3_column_int64(st, i);
	i++;
	r->ttft_ms = sqlite3_column_type(st, i) == SQLITE_NULL ?
		     RECORD_NULL_MS : sqlite3_column_int64(st, i);
	i++;
	r->complete = sqlite3_column_int(st, i++) != 0;
	COL_STR(st, i++, r, error);
	COL_STR(st, i++, r, deployment);
	COL_STR(st, i++, r, ratelimit);
	r->provider_cost_known = sqlite3_column_type(st, i) != SQLITE_NULL;
	r->provider_cost_usd = sqlite3_column_double(st, i++);
	COL_STR(st, i++, r, protocol);
	r->headers_unknown = sqlite3_column_int(st, i++) != 0;
	r->uid = sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, i);
	i++;
	COL_STR(st, i++, r, app);
	COL_STR(st, i++, r, cmdline_hash);
	COL_STR(st, i++, r, container_id);
	COL_STR(st, i++, r, container_runtime);
	COL_STR(st, i++, r, container_image);
	COL_STR(st, i++, r, k8s_pod_uid);
	COL_STR(st, i++, r, k8s_namespace);
	COL_STR(st, i++, r, k8s_pod);
	COL_STR(st, i++, r, k8s_container);
	COL_STR(st, i++, r, project);
	/* prompt-cache analytics: NULL cacheable_tokens means not analysed */
	r->cache_analyzed = sqlite3_column_type(st, i + 2) != SQLITE_NULL;
	COL_STR(st, i++, r, cache_template);
	COL_STR(st, i++, r, account);
	r->cacheable_tokens = sqlite3_column_int64(st, i++);
	r->missed_cache_tokens = sqlite3_column_int64(st, i++);
	r->missed_cache_usd = sqlite3_column_double(st, i++);
	COL_STR(st, i++, r, cache_miss_cause);
	COL_STR(st, i++, r, breakers);
	{
		int n = sqlite3_column_bytes(st, i);
		const void *b = sqlite3_column_blob(st, i++);

		r->prefix_hashes_len = 0;
		if (b && n > 0 && (size_t)n <= sizeof(r->prefix_hashes)) {
			memcpy(r->prefix_hashes, b, (size_t)n);
			r->prefix_hashes_len = (uint16_t)n;
		}
	}
	r->cache_duplicate = sqlite3_column_int(st, i++) != 0;
	if (record_sensitive_parse((const char *)sqlite3_column_text(st, i), r->sensitive))
		memset(r->sensitive, 0, sizeof(r->sensitive));	/* edited by hand */
	i++;
	COL_STR(st, i++, r, tool_calls);
}

int store_foreach(struct store *s, store_record_fn cb, void *ctx)
{
	struct exchange_record *r;
	sqlite3_stmt *st;
	char sql[1024];
	int rc, ret = 0;
	bool attributed, cached, sensitive, tools;

	if (!s || !cb)
		return -EINVAL;
	attributed = !s->readonly || s->version >= attribution_version();
	cached = !s->readonly || s->version >= cache_version();
	sensitive = !s->readonly || s->version >= sensitive_version();
	tools = !s->readonly || s->version >= tools_version();
	r = malloc(sizeof(*r));		/* ~1.5 KiB: keep it off small stacks */
	if (!r)
		return -ENOMEM;
	/* A reader cannot migrate: an older file lacks the new columns. */
	snprintf(sql, sizeof(sql), "SELECT %s%s%s%s%s FROM exchanges ORDER BY id",
		 s->readonly && s->version < 2 ? EXCHANGE_COLS_V1 :
		 s->readonly && s->version < 3 ? EXCHANGE_COLS_V2 : EXCHANGE_COLS,
		 attributed ? ATTRIBUTION_COLS : ATTRIBUTION_NULLS,
		 cached ? CACHE_COLS : CACHE_NULLS, sensitive ? SENSITIVE_COLS : SENSITIVE_NULLS,
		 tools ? TOOLS_COLS : TOOLS_NULLS);
	rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		free(r);
		return store_fail(s, rc, "prepare read");
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_to_record(st, r);
		if ((ret = cb(ctx, r)))
			break;
	}
	if (!ret && rc != SQLITE_DONE)
		ret = store_fail(s, rc, "read");
	sqlite3_finalize(st);
	free(r);
	return ret;
}

struct sqlite3 *store_db(struct store *s)
{
	return s ? s->db : NULL;
}

bool store_has_column(struct sqlite3 *db, const char *col)
{
	sqlite3_stmt *st;
	bool found;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info('exchanges') WHERE name = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_text(st, 1, col, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}
