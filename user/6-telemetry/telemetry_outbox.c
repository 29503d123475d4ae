/* The telemetry outbox in SQLite (WAL, like the store): rows of (id, JSON)
 * in arrival order, the open batch marked on its rows, counters and state
 * beside them. One writer (the daemon's telemetry thread); `llmobs
 * telemetry status` reads it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sqlite3.h>
#include "log.h"
#include "telemetry_outbox.h"
#include "telemetry_record.h"

#define DEFAULT_MAX_RECORDS	100000
#define DEFAULT_MAX_AGE_S	(7 * 24 * 3600)

struct telemetry_outbox {
	sqlite3 *db;
	struct telemetry_outbox_limits limits;
};

static const char *const counter_names[TELEMETRY__MAX] = {
#define X(id, name) [TELEMETRY_##id] = name,
	TELEMETRY_COUNTERS(X)
#undef X
};

const char *telemetry_counter_name(enum telemetry_counter c)
{
	return (unsigned)c < TELEMETRY__MAX ? counter_names[c] : "?";
}

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS outbox ("
	" seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	" id TEXT NOT NULL UNIQUE,"
	" created_ns INTEGER NOT NULL,"
	" batch_id TEXT,"
	" json TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS outbox_batch ON outbox(batch_id);"
	"CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);";

static int sql_err(struct telemetry_outbox *o, const char *what)
{
	p_warn("telemetry: outbox %s: %s", what, sqlite3_errmsg(o->db));
	return -EIO;
}

void telemetry_outbox_path(const char *db_path, char *buf, size_t size)
{
	const char *slash = strrchr(db_path, '/');

	if (slash)
		snprintf(buf, size, "%.*s/telemetry-outbox.db", (int)(slash - db_path), db_path);
	else
		snprintf(buf, size, "telemetry-outbox.db");
}

int telemetry_outbox_open(const char *path, bool readonly,
			  const struct telemetry_outbox_limits *limits,
			  struct telemetry_outbox **out)
{
	struct telemetry_outbox *o = calloc(1, sizeof(*o));
	int fd, flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;

	if (!o)
		return -ENOMEM;
	if (limits)
		o->limits = *limits;
	if (!o->limits.max_records)
		o->limits.max_records = DEFAULT_MAX_RECORDS;
	if (!o->limits.max_age_s)
		o->limits.max_age_s = DEFAULT_MAX_AGE_S;
	if (!readonly) {
		/* 0600 before SQLite creates it with the umask's mode. */
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0) {
			free(o);
			return -errno;
		}
		close(fd);
	} else if (access(path, R_OK) < 0) {
		free(o);
		return -errno;
	}
	if (sqlite3_open_v2(path, &o->db, flags, NULL) != SQLITE_OK) {
		sqlite3_close(o->db);
		free(o);
		return -EIO;
	}
	sqlite3_busy_timeout(o->db, 2000);
	if (!readonly &&
	    (sqlite3_exec(o->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
			  NULL, NULL, NULL) != SQLITE_OK ||
	     sqlite3_exec(o->db, schema, NULL, NULL, NULL) != SQLITE_OK)) {
		sql_err(o, "schema");
		telemetry_outbox_close(o);
		return -EIO;
	}
	*out = o;
	return 0;
}

void telemetry_outbox_close(struct telemetry_outbox *o)
{
	if (!o)
		return;
	sqlite3_close(o->db);
	free(o);
}

static int exec1(struct telemetry_outbox *o, const char *sql, int64_t a, int64_t *changes)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(o->db, sql, -1, &st, NULL) != SQLITE_OK)
		return sql_err(o, "prepare");
	sqlite3_bind_int64(st, 1, a);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sql_err(o, "write");
	if (changes)
		*changes = sqlite3_changes(o->db);
	return 0;
}

int telemetry_outbox_count(struct telemetry_outbox *o, enum telemetry_counter c, int64_t n)
{
	sqlite3_stmt *st;
	int rc;

	if (!n)
		return 0;
	if (sqlite3_prepare_v2(o->db,
			       "INSERT INTO counters(name, value) VALUES(?1, ?2) "
			       "ON CONFLICT(name) DO UPDATE SET value = value + ?2",
			       -1, &st, NULL) != SQLITE_OK)
		return sql_err(o, "prepare");
	sqlite3_bind_text(st, 1, telemetry_counter_name(c), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, n);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sql_err(o, "count");
}

/* Past the bounds the oldest go, counted by cause. */
static int apply_bounds(struct telemetry_outbox *o, int64_t now_ns)
{
	int64_t aged = 0, over = 0;
	int err;

	err = exec1(o, "DELETE FROM outbox WHERE created_ns < ?1",
		    now_ns - o->limits.max_age_s * 1000000000LL, &aged);
	if (!err)
		err = exec1(o, "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox "
			       "ORDER BY seq LIMIT max(0, (SELECT count(*) FROM outbox) - ?1))",
			    o->limits.max_records, &over);
	if (!err)
		err = telemetry_outbox_count(o, TELEMETRY_DROPPED_AGE, aged);
	if (!err)
		err = telemetry_outbox_count(o, TELEMETRY_DROPPED_FULL, over);
	return err;
}

int telemetry_outbox_add(struct telemetry_outbox *o, int n, const char *const *ids,
			 const char *const *jsons, int64_t now_ns)
{
	sqlite3_stmt *st = NULL;
	int err = 0;

	if (sqlite3_exec(o->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return sql_err(o, "begin");
	if (sqlite3_prepare_v2(o->db, "INSERT OR IGNORE INTO outbox(id, created_ns, json) "
				      "VALUES(?1, ?2, ?3)", -1, &st, NULL) != SQLITE_OK) {
		err = sql_err(o, "prepare");
		goto out;
	}
	for (int i = 0; i < n && !err; i++) {
		sqlite3_bind_text(st, 1, ids[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, now_ns);
		sqlite3_bind_text(st, 3, jsons[i], -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			err = sql_err(o, "insert");
		sqlite3_reset(st);
	}
	if (!err)
		err = telemetry_outbox_count(o, TELEMETRY_QUEUED, n);
	if (!err)
		err = apply_bounds(o, now_ns);
out:
	sqlite3_finalize(st);
	if (sqlite3_exec(o->db, err ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL) != SQLITE_OK && !err)
		err = sql_err(o, "commit");
	return err;
}

/* Appends s to the growing array text *buf. */
static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 2 > *cap) {
		size_t c = *cap ? *cap : 4096;
		char *p;

		while (*len + n + 2 > c)
			c *= 2;
		p = realloc(*buf, c);
		if (!p)
			return -ENOMEM;
		*buf = p;
		*cap = c;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

int telemetry_outbox_batch(struct telemetry_outbox *o, int max_records, size_t max_bytes,
			   char batch_id[33], char **jsons)
{
	sqlite3_stmt *st = NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int64_t first = 0, last = 0;
	int n = 0, err = 0, rc;
	bool reopened = false;

	*jsons = NULL;
	batch_id[0] = '\0';
	if (sqlite3_prepare_v2(o->db, "SELECT batch_id FROM outbox WHERE batch_id IS NOT NULL "
				      "ORDER BY seq LIMIT 1", -1, &st, NULL) != SQLITE_OK)
		return sql_err(o, "prepare");
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(batch_id, 33, "%s", (const char *)sqlite3_column_text(st, 0));
		reopened = true;
	}
	sqlite3_finalize(st);
	if (reopened)
		rc = sqlite3_prepare_v2(o->db, "SELECT seq, json FROM outbox WHERE batch_id = ?1 "
					       "ORDER BY seq", -1, &st, NULL);
	else
		rc = sqlite3_prepare_v2(o->db, "SELECT seq, json FROM outbox ORDER BY seq LIMIT ?2",
					-1, &st, NULL);
	if (rc != SQLITE_OK)
		return sql_err(o, "prepare");
	if (reopened)
		sqlite3_bind_text(st, 1, batch_id, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int(st, 2, max_records);
	err = append(&buf, &len, &cap, "[", 1);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *j = (const char *)sqlite3_column_text(st, 1);
		size_t jl = (size_t)sqlite3_column_bytes(st, 1);

		/* A new batch stops at max_bytes (but holds at least one). */
		if (!reopened && n && len + jl + 1 > max_bytes)
			break;
		if (n)
			err = append(&buf, &len, &cap, ",", 1);
		if (!err)
			err = append(&buf, &len, &cap, j ? j : "null", j ? jl : 4);
		if (!n)
			first = sqlite3_column_int64(st, 0);
		last = sqlite3_column_int64(st, 0);
		n++;
	}
	sqlite3_finalize(st);
	if (!err)
		err = append(&buf, &len, &cap, "]", 1);
	if (err || !n) {
		free(buf);
		return err;
	}
	if (!reopened) {
		if (telemetry_new_id(batch_id) < 0) {
			free(buf);
			return -EIO;
		}
		if (sqlite3_prepare_v2(o->db, "UPDATE outbox SET batch_id = ?1 "
					      "WHERE seq BETWEEN ?2 AND ?3", -1, &st, NULL) != SQLITE_OK) {
			free(buf);
			return sql_err(o, "prepare");
		}
		sqlite3_bind_text(st, 1, batch_id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, first);
		sqlite3_bind_int64(st, 3, last);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE) {
			free(buf);
			return sql_err(o, "mark batch");
		}
	}
	*jsons = buf;
	return n;
}

int telemetry_outbox_done(struct telemetry_outbox *o, const char *batch_id, bool sent)
{
	sqlite3_stmt *st;
	int64_t n;
	int rc;

	if (sqlite3_prepare_v2(o->db, "DELETE FROM outbox WHERE batch_id = ?1", -1, &st,
			       NULL) != SQLITE_OK)
		return sql_err(o, "prepare");
	sqlite3_bind_text(st, 1, batch_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sql_err(o, "delete batch");
	n = sqlite3_changes(o->db);
	if (sent) {
		telemetry_outbox_count(o, TELEMETRY_SENT_RECORDS, n);
		return telemetry_outbox_count(o, TELEMETRY_SENT_BATCHES, 1);
	}
	return telemetry_outbox_count(o, TELEMETRY_DROPPED_REJECTED, n);
}

int telemetry_outbox_set(struct telemetry_outbox *o, const char *key, const char *value)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(o->db, "INSERT OR REPLACE INTO state(key, value) VALUES(?1, ?2)",
			       -1, &st, NULL) != SQLITE_OK)
		return sql_err(o, "prepare");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sql_err(o, "state");
}

int telemetry_outbox_get(struct telemetry_outbox *o, const char *key, char *buf, size_t size)
{
	sqlite3_stmt *st;

	buf[0] = '\0';
	if (sqlite3_prepare_v2(o->db, "SELECT value FROM state WHERE key = ?1", -1, &st,
			       NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(buf, size, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return 0;
}

int telemetry_outbox_status(struct telemetry_outbox *o, struct telemetry_outbox_status *s)
{
	sqlite3_stmt *st;

	memset(s, 0, sizeof(*s));
	if (sqlite3_prepare_v2(o->db, "SELECT count(*), coalesce(min(created_ns), 0) FROM outbox",
			       -1, &st, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_step(st) == SQLITE_ROW) {
		s->depth = sqlite3_column_int64(st, 0);
		s->oldest_ns = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(o->db, "SELECT name, value FROM counters", -1, &st,
			       NULL) != SQLITE_OK)
		return -EIO;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);

		for (int c = 0; c < TELEMETRY__MAX; c++)
			if (name && !strcmp(name, counter_names[c]))
				s->counters[c] = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return 0;
}
