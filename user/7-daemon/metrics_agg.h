/* Prometheus metrics of what the daemon recorded. In: each exchange record
 * as it is stored, and the daemon's counters at scrape time; out: the text
 * exposition format 0.0.4, or OpenMetrics 1.0 when asked. Label sets are
 * bounded: past max_series per family, new ones are summed into one series
 * whose labels all say "other", and each such record is counted
 * (llmobs_metrics_series_overflow_total), so totals stay right while the
 * scrape stays small. Metadata only: no prompt, key or header value. */
#ifndef LLMOBS_METRICS_AGG_H
#define LLMOBS_METRICS_AGG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "record.h"

#define METRICS_DEFAULT_MAX_SERIES	500

struct metrics_agg;

/* Extra samples at scrape time: the capture's drops by cause. */
struct metrics_drop {
	const char *cause;
	uint64_t events, bytes;
};

struct metrics_agg *metrics_agg_new(size_t max_series);
void metrics_agg_free(struct metrics_agg *m);

void metrics_agg_observe(struct metrics_agg *m, const struct exchange_record *r);

/* Another module's families (gauges), written before OpenMetrics' EOF. */
typedef void (*metrics_extra_fn)(FILE *out, bool openmetrics, void *ctx);
void metrics_agg_set_extra(struct metrics_agg *m, metrics_extra_fn fn, void *ctx);

/* Writes every family to out. drops may be NULL. Returns 0 or -errno. */
int metrics_agg_render(struct metrics_agg *m, FILE *out, bool openmetrics,
		       const struct metrics_drop *drops, size_t ndrops);

#endif
