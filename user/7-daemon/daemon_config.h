/* llmobsd's config file. In: one YAML file (libyaml; JSON is YAML too);
 * out: the daemon's settings and the project rules, or one error that
 * names the file and line. Values may say ${VAR} (or ${VAR:-default}),
 * replaced from the environment; an unset VAR without a default is an
 * error. Unknown keys are errors, so that a typo cannot silently leave a
 * setting at its default. Command-line flags override the file. */
#ifndef LLMOBS_DAEMON_CONFIG_H
#define LLMOBS_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>
#include "procattr.h"

#define CONFIG_MAX_BYTES	(1024 * 1024)
#define CONFIG_MAX_RULES	256
#define CONFIG_MAX_LABEL_KEYS	16
#define CONFIG_DEFAULT_PATH	"/etc/llm-observer/llmobsd.yaml"

enum config_match {
	CONFIG_MATCH_APP,
	CONFIG_MATCH_EXE,
	CONFIG_MATCH_IMAGE,
	CONFIG_MATCH_NAMESPACE,
	CONFIG_MATCH_POD,
	CONFIG_MATCH_CONTAINER,
	CONFIG_MATCH__MAX,
};

/* A rule matches when every pattern it has matches (fnmatch globs). */
struct config_rule {
	char *pattern[CONFIG_MATCH__MAX];	/* NULL: not part of the rule */
	char *project;
	int line;
};

enum {
	CONFIG_TELEMETRY_ENABLED, CONFIG_TELEMETRY_API_KEY, CONFIG_TELEMETRY_ENDPOINT,
	CONFIG_TELEMETRY_CA_FILE, CONFIG_TELEMETRY_FLUSH_SECONDS, CONFIG_TELEMETRY__MAX,
};

enum {
	CONFIG_OTLP_ENDPOINT, CONFIG_OTLP_TRACES_ENDPOINT, CONFIG_OTLP_HEADERS,
	CONFIG_OTLP_SERVICE_NAME, CONFIG_OTLP_RESOURCE_ATTRIBUTES, CONFIG_OTLP_CERTIFICATE,
	CONFIG_OTLP__MAX,
};

struct daemon_config {
	/* NULL / 0: not set in the file */
	char *db, *prices, *socket, *plain_ports, *listen, *host_root;
	size_t max_body_bytes, max_call_bytes, ringbuf_mb, max_conns;
	size_t metrics_max_series;
	int json;			/* -1 unset, else 0 / 1 */
	char *label_keys[CONFIG_MAX_LABEL_KEYS];	/* pod labels naming the project */
	size_t nlabel_keys;
	struct config_rule *rules;
	size_t nrules;
	/* telemetry: the LLM_OBSERVER_* switches (docs/telemetry.md), by the
	 * name of the variable they stand for; the environment wins. */
	char *telemetry[CONFIG_TELEMETRY__MAX];
	/* otlp: the OTEL_* variables of the OTLP exporter likewise (endpoint,
	 * traces_endpoint, headers, service_name, resource_attributes,
	 * certificate). */
	char *otlp[CONFIG_OTLP__MAX];
	/* budgets: and budget_webhook: (budget.h), read from the same parse;
	 * NULL only when the config failed. */
	struct budget_set *budgets;
};

/* The value for the LLM_OBSERVER_* variable name: the environment's, else
 * the config file's telemetry section's (ctx: a struct daemon_config), else
 * NULL. A lookup for telemetry_config_load(). */
const char *config_telemetry_get(const char *name, void *ctx);

/* The same for the OTEL_* names, from the otlp section (otlp_config.h). */
const char *config_otlp_get(const char *name, void *ctx);

/* Reads and validates path. On error, err holds "path:line: what" and the
 * config is left empty. Returns 0 or -errno (-EINVAL: invalid content). */
int config_load(const char *path, struct daemon_config *c, char *err, size_t errsize);
/* The same from a buffer (tests, fuzzing); name is used in messages. */
int config_parse(const char *name, const char *text, size_t len, struct daemon_config *c,
		 char *err, size_t errsize);
void config_free(struct daemon_config *c);

/* procattr's project hook: the first label key present, then the first
 * rule that matches. */
int config_project(void *ctx, const struct procattr *a, const cJSON *labels, char *out,
		   size_t size);

#endif
