/* Whether the OTLP exporter runs, and where to: --otlp-endpoint, else the
 * OpenTelemetry SDKs' own variables (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
 * OTEL_EXPORTER_OTLP_ENDPOINT, ..._HEADERS, OTEL_SERVICE_NAME,
 * OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_CERTIFICATE, OTEL_BSP_*),
 * read through a lookup (the
 * environment, then the config file's otlp: section). A value that is set
 * but wrong is an error naming the variable: the daemon does not start
 * exporting half-configured. Header values may hold a collector's token:
 * they stay in this struct, only their names are ever logged. */
#ifndef LLMOBS_OTLP_CONFIG_H
#define LLMOBS_OTLP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define OTLP_MAX_HEADERS	16
#define OTLP_MAX_RESOURCE_ATTRS	32
#define OTLP_MAX_VALUE_BYTES	4096	/* one header or attribute value */
#define OTLP_TRACES_PATH	"/v1/traces"

struct otlp_config {
	char url[1024];			/* where spans go; "" = off */
	char url_label[1024];		/* url without its query: what is logged */
	char *headers[OTLP_MAX_HEADERS];	/* "Name: value" lines */
	int nheaders;
	char *res_keys[OTLP_MAX_RESOURCE_ATTRS];	/* OTEL_RESOURCE_ATTRIBUTES */
	char *res_values[OTLP_MAX_RESOURCE_ATTRS];
	int nres;
	char service_name[128];		/* for a process with no app name; "" */
	int queue_max;			/* OTEL_BSP_MAX_QUEUE_SIZE, default 2048 */
	int batch_max;			/* OTEL_BSP_MAX_EXPORT_BATCH_SIZE, default 512 */
	long schedule_delay_ms;		/* OTEL_BSP_SCHEDULE_DELAY, default 5000 */
	long timeout_ms;		/* OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT, default 10000 */
	char protocol[32];		/* OTEL_EXPORTER_OTLP_PROTOCOL as set; we send http/json */
	/* OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE: a CA bundle for an https
	 * collector, read at start (the sandboxed worker may not read it
	 * later); NULL: the system's CAs. */
	char *ca_pem;
	size_t ca_pem_len;
};

/* One entry of a "k1=v1,k2=v2" list (OTEL_EXPORTER_OTLP_HEADERS,
 * OTEL_RESOURCE_ATTRIBUTES: the W3C Baggage form, values percent-decoded).
 * From *p: returns 1 with the key and value NUL-terminated in their
 * buffers and *p past the entry, 0 at the end, -EINVAL for an entry with
 * no '=', an empty key, a bad %-escape, a control byte or one that does not
 * fit. Blank entries are skipped. */
int otlp_kv_next(const char **p, char *key, size_t key_size, char *value, size_t value_size);

/* Fills *c (zeroed first). flag_endpoint: --otlp-endpoint, which wins over
 * everything; like OTEL_EXPORTER_OTLP_ENDPOINT it is a base URL that
 * /v1/traces is appended to, unless its path already ends so.
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is taken as is. get: a lookup (NULL
 * for unset). Returns 0 (c->url "" when nothing asks for export), or
 * -EINVAL with err saying which setting is wrong and why. */
int otlp_config_load(struct otlp_config *c, const char *flag_endpoint,
		     const char *(*get)(const char *name, void *ctx), void *ctx,
		     char *err, size_t errsize);

/* The header names, comma-separated, for the log line ("" none). */
void otlp_config_header_names(const struct otlp_config *c, char *buf, size_t size);

/* Wipes the header values and frees what load allocated. */
void otlp_config_free(struct otlp_config *c);

#endif
