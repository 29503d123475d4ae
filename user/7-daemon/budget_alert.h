/* The daemon's side of budgets (budget.h): each finished exchange in,
 * once per threshold (50 / 80 / 100 %) and period: a structured warning
 * in the log and, when the config names a webhook, a JSON POST from a
 * thread of its own, with retries and a timeout. Capture never waits:
 * observing an exchange is arithmetic and, at a crossing, a copy into a
 * bounded queue (full: the alert is logged and dropped, counted). The
 * anomaly rule (budget.h) is told likewise, once per clock hour, on the
 * hour's spend so far against the same hour of the week's other days. */
#ifndef LLMOBS_BUDGET_ALERT_H
#define LLMOBS_BUDGET_ALERT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "budget.h"
#include "record.h"

struct budget_alerts;
struct sqlite3;

#define BUDGET_ALERT_QUEUE	32	/* alerts waiting for the webhook */
#define BUDGET_ALERT_TRIES	3	/* POSTs per alert, 1 s then 2 s apart */
#define BUDGET_ALERT_TIMEOUT_MS	5000	/* per POST, connection included */
#define BUDGET_ALERT_DRAIN_MS	2000	/* at exit, for what is queued */

struct budget_alert_counts {
	uint64_t fired;		/* thresholds crossed (logged) */
	uint64_t anomalies;	/* hours whose spend broke budget.h's anomaly rule */
	uint64_t sent;		/* webhook POSTs answered 2xx */
	uint64_t failed;	/* alerts given up after every try */
	uint64_t dropped;	/* alerts the full queue or the exit left unsent */
};

/* set is copied; webhook NULL or "": log only. Returns 0 or -errno. */
int budget_alerts_new(const struct budget_set *set, const char *webhook,
		      struct budget_alerts **out);
/* The current periods' spend from the database (a restart neither fires
 * again what was reached before it, nor forgets the spend). */
int budget_alerts_load(struct budget_alerts *a, struct sqlite3 *db, int64_t now_s);
/* Starts the webhook thread (the daemon: once sandboxed). */
int budget_alerts_run(struct budget_alerts *a);
/* One priced exchange; never blocks. */
void budget_alerts_observe(struct budget_alerts *a, const struct exchange_record *r);
void budget_alerts_counts(struct budget_alerts *a, struct budget_alert_counts *c);
/* /metrics gauges per budget: limit, spent this period, threshold reached
 * (a metrics_extra_fn; ctx is the struct budget_alerts). */
void budget_alerts_render(FILE *out, bool openmetrics, void *ctx);
/* Lets the queue drain for up to BUDGET_ALERT_DRAIN_MS, then stops the
 * thread (an unfinished POST is aborted) and frees. */
void budget_alerts_free(struct budget_alerts *a);

#endif
