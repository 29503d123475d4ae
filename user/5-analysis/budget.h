/* Spend budgets (issue 15): in, the `budgets:` list of llmobsd's YAML
 * config file; out, the budgets, and the arithmetic that judges spend
 * against them: the period a moment falls in, the thresholds crossed, the
 * projection to the period's end at the current rate, and the anomaly
 * rule. No I/O beyond reading the file: the spend itself is summed by
 * the caller (llmobs budget, from the database). */
#ifndef LLMOBS_BUDGET_H
#define LLMOBS_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BUDGET_MAX		64
#define BUDGET_NAME_MAX		64

/* What a budget counts: one scope key (a glob, as the project rules), or
 * everything. */
enum budget_scope {
	BUDGET_ALL,
	BUDGET_PROJECT,
	BUDGET_NAMESPACE,	/* Kubernetes namespace */
	BUDGET_APP,
	BUDGET_ACCOUNT,		/* the API key's keyed fingerprint (export: account) */
	BUDGET_MODEL,
	BUDGET_SCOPE__MAX,
};

enum budget_period { BUDGET_DAY, BUDGET_MONTH };	/* UTC calendar periods */

struct budget {
	char name[BUDGET_NAME_MAX];
	enum budget_scope scope;
	char match[128];		/* the scope's glob; "" for BUDGET_ALL */
	enum budget_period period;
	double limit_usd;
	int line;			/* in the config file */
};

struct budget_set {
	struct budget b[BUDGET_MAX];
	size_t n;
	char webhook[512];		/* budget_webhook: http(s) URL, "" none */
};

/* Reads the `budgets:` and `budget_webhook:` keys of the YAML file at
 * path (the other keys are the daemon's, not looked at here). No
 * budgets: an empty set. On error,
 * err says "path:line: what". Returns 0 or -errno (-EINVAL: content). */
int budget_load(const char *path, struct budget_set *s, char *err, size_t errsize);
/* The same from a buffer; name is used in messages. */
int budget_parse(const char *name, const char *text, size_t len, struct budget_set *s,
		 char *err, size_t errsize);
/* The same from a document already loaded (the daemon's config, read once). */
struct yaml_document_s;
int budget_parse_doc(const char *name, struct yaml_document_s *doc, struct budget_set *s,
		     char *err, size_t errsize);

const char *budget_scope_name(enum budget_scope s);	/* "project", ... "all" */
const char *budget_period_name(enum budget_period p);	/* "day", "month" */

/* The period containing now_s (UTC): [*start_s, *end_s). */
void budget_period_bounds(enum budget_period p, int64_t now_s, int64_t *start_s, int64_t *end_s);

/* The highest of the thresholds 50, 80, 100 (percent of the limit) that
 * spent has reached; 0 below 50. */
int budget_threshold(double spent_usd, double limit_usd);

/* Spend at the period's end if the current rate holds: spent plus
 * rate_usd_per_s for the time left. */
double budget_projection(double spent_usd, double rate_usd_per_s, int64_t now_s, int64_t end_s);

/* The anomaly rule: the last hour's spend is more than BUDGET_ANOMALY_RATIO
 * times the mean spend of the same clock hour on the previous days that
 * had any spend (at least BUDGET_ANOMALY_MIN_DAYS of them), and at least
 * BUDGET_ANOMALY_MIN_USD. A runaway agent loop trips it; a new workload
 * without history does not. */
#define BUDGET_ANOMALY_RATIO	4.0
#define BUDGET_ANOMALY_MIN_DAYS	3
#define BUDGET_ANOMALY_MIN_USD	1.0
bool budget_anomalous(double last_hour_usd, double same_hour_mean_usd, int history_days);

#endif
