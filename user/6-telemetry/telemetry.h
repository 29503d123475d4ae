/* Opt-in telemetry, the daemon's side: exchange records -> metadata
 * records (telemetry_record.h) -> the durable outbox -> batches POSTed by a
 * thread of its own. Fail-open: submitting never waits on the network or
 * the disk (a full queue drops and counts), and a slow, dead or hostile
 * endpoint only makes the outbox longer. */
#ifndef LLMOBS_TELEMETRY_H
#define LLMOBS_TELEMETRY_H

#include <stdbool.h>
#include <stdint.h>
#include "record.h"
#include "telemetry_config.h"
#include "telemetry_outbox.h"

struct telemetry;

struct telemetry_opts {
	int batch_max_records;		/* 0 = 500 */
	size_t batch_max_bytes;		/* JSON before gzip; 0 = 4 MiB */
	int queue_max;			/* records between submit and the outbox; 0 = 8192 */
	struct telemetry_outbox_limits limits;
	long connect_timeout_ms, total_timeout_ms;	/* 0: telemetry_send's defaults */
};

/* Opens the outbox at outbox_path (created 0600) for c, which must be
 * enabled (it is copied). Records submitted from now on are queued.
 * Returns 0 or -errno. */
int telemetry_start(const struct telemetry_config *c, const struct telemetry_opts *opts,
		    const char *outbox_path, struct telemetry **out);
/* Starts the delivery thread. Apart from telemetry_start() so that the
 * daemon opens files while it may and starts the thread once sandboxed,
 * where the thread inherits the seccomp filter. Returns 0 or -errno. */
int telemetry_run(struct telemetry *t);
/* Queues r's metadata; never blocks on I/O. */
void telemetry_submit(struct telemetry *t, const struct exchange_record *r);
/* Moves what is queued into the outbox, stops the thread (cutting off a
 * send in flight), frees t. What was not sent stays in the outbox. */
void telemetry_stop(struct telemetry *t);

/* The daemon's call at start: reads the LLM_OBSERVER_* switches through get
 * (the environment, then the config file), logs once whether telemetry is
 * on (to which endpoint, the key by its prefix) or why not, and opens it
 * beside the database at db_path (telemetry_run() then sends). NULL when off. */
struct telemetry *telemetry_open_configured(bool insecure, const char *db_path,
					    const char *(*get)(const char *name, void *ctx),
					    void *ctx);

/* When telemetry is off but an outbox exists (it was on before), records
 * why in it for `llmobs telemetry status`; creates nothing. */
void telemetry_note_off(const struct telemetry_config *c, const char *outbox_path);

#endif
