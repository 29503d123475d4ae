/* The opt-in OTLP/HTTP exporter: exchange records -> a bounded queue ->
 * spans (otlp_span.h) -> batches POSTed as OTLP/JSON by a thread of its
 * own (telemetry_post, libcurl) to an OpenTelemetry collector. Unlike
 * telemetry there is no outbox: a collector is the operator's own and
 * near, and what matters is that capture never waits. Submitting is a copy
 * of the record and a pointer push under a mutex the thread holds only to
 * pop pointers (the spans are written on the export thread); a full queue
 * drops the record and counts it; a failed batch is retried with backoff a
 * few times, while the queue (bounded) fills. */
#ifndef LLMOBS_OTLP_H
#define LLMOBS_OTLP_H

#include <stdint.h>
#include "otlp_config.h"
#include "record.h"

#define OTLP_MAX_TRIES		5	/* POSTs of one batch before it is dropped */
#define OTLP_EXIT_FLUSH_MS	2000	/* at stop, for what is queued */

struct otlp;

struct otlp_counts {
	uint64_t exported;		/* spans the collector accepted */
	uint64_t dropped_queue_full;	/* spans that found the queue full */
	uint64_t dropped_export;	/* spans refused (4xx, partial success) or
					 * given up after OTLP_MAX_TRIES, or unsent at exit */
	uint64_t export_failures;	/* POSTs that failed (network, 429, 5xx) */
};

/* Takes c's contents (c is zeroed: the exporter frees them). host_name:
 * the node's, for host.name; NULL: none. Returns 0 or -errno. */
int otlp_start(struct otlp_config *c, const char *host_name, struct otlp **out);
/* Starts the export thread (the daemon: once sandboxed, so that the thread
 * inherits the filter, as telemetry's does). Returns 0 or -errno. */
int otlp_run(struct otlp *o);
/* Queues r as a span; never blocks on I/O. */
void otlp_submit(struct otlp *o, const struct exchange_record *r);
/* Counts so far (any thread). */
void otlp_get_counts(struct otlp *o, struct otlp_counts *c);
/* Stops the thread (cutting off a POST in flight), then tries once, for at
 * most OTLP_EXIT_FLUSH_MS, to send what is queued; what is left is counted
 * in dropped_export. The final counts go to the daemon's counters
 * (otlp_sync_stats). Frees o; NULL is fine. */
void otlp_stop(struct otlp *o);

/* The daemon's calls. At start: logs where spans go (the header names,
 * never their values), warns when OTEL_EXPORTER_OTLP_PROTOCOL asks for
 * something other than http/json, and starts with the node's host name;
 * NULL when c is off, or on failure (logged). Takes c's contents. */
struct otlp *otlp_open_configured(struct otlp_config *c);
/* Copies the counts into the daemon's counters (stats.h), from the
 * daemon's thread; NULL: nothing. */
void otlp_sync_stats(struct otlp *o);

#endif
