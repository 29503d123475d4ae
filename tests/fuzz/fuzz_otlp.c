/* The OTLP exporter's parsers and writers (user/6-telemetry/otlp_config.c,
 * otlp_span.c). First byte: 0 a "k=v,..." list (OTEL_EXPORTER_OTLP_HEADERS,
 * OTEL_RESOURCE_ATTRIBUTES); 1 the whole config, from "NAME=value" lines
 * (the lookup the daemon gives it); 2 a record whose strings are the input,
 * written as a span and an export request, which must be JSON a collector
 * can read (cJSON parses it). Never a crash, a leak or an over-read. */
#include <errno.h>
#include <cjson/cJSON.h>
#include "fuzz.h"
#include "otlp_config.h"
#include "otlp_span.h"

struct env {
	char *names[16], *values[16];
	int n;
};

static const char *lookup(const char *name, void *ctx)
{
	struct env *e = ctx;

	for (int i = 0; i < e->n; i++)
		if (!strcmp(e->names[i], name))
			return e->values[i];
	return NULL;
}

static void kv_list(const char *s)
{
	char key[64], value[128];
	const char *p = s;
	int got;

	while ((got = otlp_kv_next(&p, key, sizeof(key), value, sizeof(value))) > 0)
		FUZZ_CHECK(key[0] && strlen(key) < sizeof(key), "key '%s'", key);
	FUZZ_CHECK(got == 0 || got == -EINVAL, "returned %d", got);
}

static void config(char *s)
{
	struct env e = { .n = 0 };
	struct otlp_config c;
	char err[256], *line, *save = NULL;
	int rc;

	for (line = strtok_r(s, "\n", &save); line && e.n < 16; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		if (!eq)
			continue;
		*eq = '\0';
		e.names[e.n] = line;
		e.values[e.n++] = eq + 1;
	}
	rc = otlp_config_load(&c, lookup("FLAG", &e), lookup, &e, err, sizeof(err));
	if (rc == 0) {
		FUZZ_CHECK(!c.url[0] || !strncmp(c.url, "http", 4), "url '%s'", c.url);
		FUZZ_CHECK(!c.url[0] || (c.queue_max > 0 && c.batch_max > 0 &&
					 c.batch_max <= c.queue_max), "sizes");
		otlp_config_free(&c);
	} else {
		FUZZ_CHECK(err[0] && c.nheaders == 0 && !c.url[0], "error '%s', half-filled", err);
	}
}

/* The input's pieces, split at NUL, into the record's strings. */
static void span(const uint8_t *p, size_t len)
{
	struct exchange_record r = { .uid = -1, .ttft_ms = -1 };
	struct { char *dst; size_t size; } f[] = {
		{ r.app, sizeof(r.app) }, { r.exe, sizeof(r.exe) }, { r.model, sizeof(r.model) },
		{ r.host, sizeof(r.host) }, { r.error, sizeof(r.error) }, { r.api, sizeof(r.api) },
		{ r.provider, sizeof(r.provider) }, { r.k8s_pod, sizeof(r.k8s_pod) },
		{ r.project, sizeof(r.project) }, { r.cache_miss_cause, sizeof(r.cache_miss_cause) },
	};
	uint8_t ids[24] = { 1 };
	char *res, *sp, *req;
	size_t i = 0;
	cJSON *doc;

	for (size_t k = 0; k < sizeof(f) / sizeof(f[0]) && i < len; k++) {
		size_t n = 0;

		while (i < len && p[i] && n + 1 < f[k].size)
			f[k].dst[n++] = (char)p[i++];
		f[k].dst[n] = '\0';
		i++;
	}
	r.status = len ? p[0] * 3 : 0;
	r.usage_source = len > 1 ? p[1] % 3 : 0;
	r.cache_analyzed = len > 2 && (p[2] & 1);
	r.stream = len > 2 && (p[2] & 2);
	res = otlp_resource_json(NULL, "host", &r);
	sp = otlp_span_json(&r, ids);
	FUZZ_CHECK(res && sp, "no JSON");
	req = otlp_request_json(1, &res, &sp);
	doc = cJSON_Parse(req);
	FUZZ_CHECK(doc && cJSON_GetArraySize(cJSON_GetObjectItem(doc, "resourceSpans")) == 1,
		   "not a request: %s", req);
	cJSON_Delete(doc);
	free(res);
	free(sp);
	free(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy;

	if (size < 1)
		return 0;
	/* the lists and the lookup's values are C strings: NUL-terminated */
	copy = malloc(size);
	if (!copy)
		abort();
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0: kv_list(copy); break;
	case 1: config(copy); break;
	case 2: span(data + 1, size - 1); break;
	}
	free(copy);
	return 0;
}
