/* SQLite store: WAL, versioned schema with migrations, batched inserts,
 * file mode 0600. Readers (llmobs) work while the daemon writes. */
#ifndef LLMOBS_STORE_H
#define LLMOBS_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include "record.h"

struct store;
struct sqlite3;

/* Default DB path: $LLMOBS_DB, else /var/lib/llm-observer/llmobs.db for root,
 * else $XDG_STATE_HOME (or ~/.local/state)/llm-observer/llmobs.db.
 * Writes into buf; returns buf. */
const char *store_default_path(char *buf, size_t size);

/* Opens (creating parent dir and file 0600, migrating the schema) for writing,
 * or read-only. Returns 0 or -errno. */
int store_open(const char *path, bool readonly, struct store **out);
void store_close(struct store *s);	/* flushes first */

/* Queues r into the open batch (sets r->id). Returns 0 or -errno. */
int store_add(struct store *s, struct exchange_record *r);
/* Commits the batch. Returns 0 or -errno. */
int store_flush(struct store *s);

/* Persist the daemon's counters (name -> value), replacing earlier values. */
int store_put_counters(struct store *s, const char *const *names,
		       const uint64_t *values, int n);

/* Calls cb for every record in id order; stops on a non-zero return. */
typedef int (*store_record_fn)(void *ctx, const struct exchange_record *r);
int store_foreach(struct store *s, store_record_fn cb, void *ctx);

/* Whether the exchanges table of db has column col: reports read databases
 * written by older daemons, whose rows lack the newer columns. */
bool store_has_column(struct sqlite3 *db, const char *col);

/* Raw access for reports. */
struct sqlite3 *store_db(struct store *s);

#endif
