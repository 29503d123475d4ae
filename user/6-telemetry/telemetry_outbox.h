/* The durable outbox: records waiting to be sent, in a SQLite file of their
 * own beside the database (so that a full or locked main database never
 * holds them up, and they survive a restart and an outage of the endpoint).
 * Bounded by count and age; past either, the oldest go, counted. A batch
 * keeps its id until it is acknowledged or dropped, so that a retry, even
 * after a restart, is the same batch to the receiver. */
#ifndef LLMOBS_TELEMETRY_OUTBOX_H
#define LLMOBS_TELEMETRY_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct telemetry_outbox;

struct telemetry_outbox_limits {
	int64_t max_records;	/* 0 = 100,000 */
	int64_t max_age_s;	/* 0 = 7 days */
};

/* The counters kept in the outbox, so that `llmobs telemetry status` reads them. */
#define TELEMETRY_COUNTERS(X) \
	X(QUEUED, "queued") \
	X(SENT_RECORDS, "sent_records") \
	X(SENT_BATCHES, "sent_batches") \
	X(RETRIES, "retries") \
	X(DROPPED_FULL, "dropped_outbox_full") \
	X(DROPPED_AGE, "dropped_too_old") \
	X(DROPPED_REJECTED, "dropped_rejected") \
	X(DROPPED_QUEUE_FULL, "dropped_queue_full") \
	X(ERRORS, "errors")

enum telemetry_counter {
#define X(id, name) TELEMETRY_##id,
	TELEMETRY_COUNTERS(X)
#undef X
	TELEMETRY__MAX
};

const char *telemetry_counter_name(enum telemetry_counter c);

/* Opens or creates path (mode 0600). Returns 0 or -errno. */
int telemetry_outbox_open(const char *path, bool readonly,
			  const struct telemetry_outbox_limits *limits,
			  struct telemetry_outbox **out);
void telemetry_outbox_close(struct telemetry_outbox *o);

/* Appends records (id, JSON) in one transaction, then applies the bounds.
 * Returns 0 or -errno. */
int telemetry_outbox_add(struct telemetry_outbox *o, int n, const char *const *ids,
			 const char *const *jsons, int64_t now_ns);

/* The batch to send: the one already open (an earlier try's, even before a
 * restart), else up to max_records of the oldest, at most max_bytes of JSON,
 * given a new batch_id. *jsons is a JSON array text of the records (free()
 * it). Returns their count (0: nothing to send) or -errno. */
int telemetry_outbox_batch(struct telemetry_outbox *o, int max_records, size_t max_bytes,
			   char batch_id[33], char **jsons);
/* The batch was accepted (sent) or refused for good (dropped): its records
 * go. */
int telemetry_outbox_done(struct telemetry_outbox *o, const char *batch_id, bool sent);

int telemetry_outbox_count(struct telemetry_outbox *o, enum telemetry_counter c, int64_t n);

/* Free-form state for `llmobs telemetry status`: "enabled", "why_off",
 * "endpoint", "key", "last_success", "last_error", ... */
int telemetry_outbox_set(struct telemetry_outbox *o, const char *key, const char *value);
/* Into buf, "" when unset. Returns 0 or -errno. */
int telemetry_outbox_get(struct telemetry_outbox *o, const char *key, char *buf, size_t size);

struct telemetry_outbox_status {
	int64_t depth;			/* records waiting */
	int64_t oldest_ns;		/* 0 when none */
	int64_t counters[TELEMETRY__MAX];
};
int telemetry_outbox_status(struct telemetry_outbox *o, struct telemetry_outbox_status *st);

/* Default path: beside the database at db_path, "telemetry-outbox.db". */
void telemetry_outbox_path(const char *db_path, char *buf, size_t size);

#endif
