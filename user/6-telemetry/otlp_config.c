/* OTLP settings: a flag and OTEL_* variables in, a checked struct
 * otlp_config out (otlp_config.h). URLs are parsed by libcurl's URL API,
 * not by hand, so that what is checked is what libcurl will connect to. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "otlp_config.h"
#include "telemetry_send.h"

static int fail(char *err, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Copies [s, s + len) trimmed of blanks into out, percent-decoding when
 * decode; control bytes (after decoding too) are refused. */
static int copy_part(const char *s, size_t len, bool decode, char *out, size_t size)
{
	size_t n = 0;

	while (len && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (decode && c == '%') {
			int hi, lo;

			if (i + 2 >= len || (hi = hexval(s[i + 1])) < 0 ||
			    (lo = hexval(s[i + 2])) < 0)
				return -EINVAL;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f || n + 1 >= size)
			return -EINVAL;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return 0;
}

int otlp_kv_next(const char **p, char *key, size_t key_size, char *value, size_t value_size)
{
	for (;;) {
		const char *s = *p, *end, *eq;

		if (!*s)
			return 0;
		end = strchr(s, ',');
		if (!end)
			end = s + strlen(s);
		*p = *end ? end + 1 : end;
		if (strspn(s, " \t") >= (size_t)(end - s))
			continue;	/* a blank entry: "a=1,,b=2" */
		eq = memchr(s, '=', (size_t)(end - s));
		if (!eq || copy_part(s, (size_t)(eq - s), false, key, key_size) ||
		    !key[0] || copy_part(eq + 1, (size_t)(end - eq - 1), true, value, value_size))
			return -EINVAL;
		return 1;
	}
}

/* RFC 9110 token characters: what a header name may be made of. */
static bool header_name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
			return false;
	return true;
}

static int add_headers(struct otlp_config *c, const char *var, const char *list, char *err,
		       size_t errsize)
{
	char key[128], *value = malloc(OTLP_MAX_VALUE_BYTES);
	const char *p = list;
	int rc = 0, got;

	if (!value)
		return -ENOMEM;
	while ((got = otlp_kv_next(&p, key, sizeof(key), value, OTLP_MAX_VALUE_BYTES)) > 0) {
		size_t len = strlen(key) + strlen(value) + 3;

		if (!header_name_ok(key)) {
			rc = fail(err, errsize, "%s: '%s' is not a header name", var, key);
			break;
		}
		if (c->nheaders == OTLP_MAX_HEADERS) {
			rc = fail(err, errsize, "%s: more than %d headers", var, OTLP_MAX_HEADERS);
			break;
		}
		if (!(c->headers[c->nheaders] = malloc(len))) {
			rc = -ENOMEM;
			break;
		}
		snprintf(c->headers[c->nheaders++], len, "%s: %s", key, value);
	}
	if (got < 0)	/* the entry's text may be a credential: not quoted */
		rc = fail(err, errsize, "%s: an entry is not name=value (percent-encoded, "
			  "under %d bytes)", var, OTLP_MAX_VALUE_BYTES);
	explicit_bzero(value, OTLP_MAX_VALUE_BYTES);
	free(value);
	return rc;
}

static int add_resource(struct otlp_config *c, const char *list, char *err, size_t errsize)
{
	char key[256], value[1024];
	const char *p = list;
	int got;

	while ((got = otlp_kv_next(&p, key, sizeof(key), value, sizeof(value))) > 0) {
		if (!strcmp(key, "service.name")) {
			if (strlen(value) >= sizeof(c->service_name))
				return fail(err, errsize, "OTEL_RESOURCE_ATTRIBUTES: service.name over "
					    "%zu bytes", sizeof(c->service_name) - 1);
			if (!c->service_name[0])	/* OTEL_SERVICE_NAME wins */
				memcpy(c->service_name, value, strlen(value) + 1);
			continue;
		}
		if (c->nres == OTLP_MAX_RESOURCE_ATTRS)
			return fail(err, errsize, "OTEL_RESOURCE_ATTRIBUTES: more than %d attributes",
				    OTLP_MAX_RESOURCE_ATTRS);
		c->res_keys[c->nres] = strdup(key);
		c->res_values[c->nres] = strdup(value);
		c->nres++;	/* freed by otlp_config_free() even if half made */
		if (!c->res_keys[c->nres - 1] || !c->res_values[c->nres - 1])
			return -ENOMEM;
	}
	return got < 0 ? fail(err, errsize, "OTEL_RESOURCE_ATTRIBUTES: an entry is not key=value "
			      "(percent-encoded, key under 256 bytes, value under 1024)") : 0;
}

/* base (a flag or OTEL_EXPORTER_OTLP_ENDPOINT) or a full traces URL ->
 * c->url and c->url_label. */
static int set_url(struct otlp_config *c, const char *var, const char *in, bool append,
		   char *err, size_t errsize)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *user = NULL, *path = NULL, *full = NULL, *label = NULL;
	int rc = -EINVAL;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, in, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		fail(err, errsize, "%s: '%s' is not a URL", var, in);
		goto out;
	}
	if (strcmp(scheme, "http") && strcmp(scheme, "https")) {
		fail(err, errsize, "%s: '%s' is not http:// or https://", var, in);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		fail(err, errsize, "%s: credentials in the URL would be logged; put them in "
		     "OTEL_EXPORTER_OTLP_HEADERS", var);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
		goto out;
	if (append) {
		size_t n = strlen(path), t = strlen(OTLP_TRACES_PATH);
		char joined[1024];

		if (n < t || strcmp(path + n - t, OTLP_TRACES_PATH)) {
			while (n && path[n - 1] == '/')
				n--;
			snprintf(joined, sizeof(joined), "%.*s%s", (int)n, path, OTLP_TRACES_PATH);
			if (curl_url_set(u, CURLUPART_PATH, joined, 0) != CURLUE_OK)
				goto out;
		}
	}
	if (curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK ||
	    strlen(full) >= sizeof(c->url)) {
		fail(err, errsize, "%s: the URL is over %zu bytes", var, sizeof(c->url) - 1);
		goto out;
	}
	snprintf(c->url, sizeof(c->url), "%s", full);
	curl_url_set(u, CURLUPART_QUERY, NULL, 0);
	curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
	if (curl_url_get(u, CURLUPART_URL, &label, 0) == CURLUE_OK)
		snprintf(c->url_label, sizeof(c->url_label), "%s", label);
	rc = 0;
out:
	curl_free(scheme);
	curl_free(user);
	curl_free(path);
	curl_free(full);
	curl_free(label);
	curl_url_cleanup(u);
	return rc;
}

/* A whole number in [min, max], or the default when unset. */
static int get_num(const char *(*get)(const char *, void *), void *ctx, const char *var,
		   long min, long max, long def, long *out, char *err, size_t errsize)
{
	const char *s = get(var, ctx);
	char *end;
	long v;

	*out = def;
	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return fail(err, errsize, "%s: '%s' is not a whole number from %ld to %ld", var, s,
			    min, max);
	*out = v;
	return 0;
}

static const char *first(const char *(*get)(const char *, void *), void *ctx, const char *a,
			 const char *b, const char **which)
{
	const char *v = get(a, ctx);

	*which = a;
	if (v && *v)
		return v;
	*which = b;
	v = get(b, ctx);
	return v && *v ? v : NULL;
}

static int load(struct otlp_config *c, const char *flag_endpoint,
		const char *(*get)(const char *, void *), void *ctx, char *err, size_t errsize)
{
	const char *v, *var;
	long n;
	int rc;

	if (flag_endpoint && *flag_endpoint)
		rc = set_url(c, "--otlp-endpoint", flag_endpoint, true, err, errsize);
	else if ((v = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", ctx)) && *v)
		rc = set_url(c, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", v, false, err, errsize);
	else if ((v = get("OTEL_EXPORTER_OTLP_ENDPOINT", ctx)) && *v)
		rc = set_url(c, "OTEL_EXPORTER_OTLP_ENDPOINT", v, true, err, errsize);
	else
		return 0;	/* nobody asked: off, and nothing else is read */
	if (rc)
		return rc;
	/* The signal-specific list wins, as the SDKs do; one of the two only. */
	if ((v = first(get, ctx, "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS",
		       &var)) && (rc = add_headers(c, var, v, err, errsize)))
		return rc;
	if ((v = get("OTEL_SERVICE_NAME", ctx)) && *v &&
	    copy_part(v, strlen(v), false, c->service_name, sizeof(c->service_name)))
		return fail(err, errsize, "OTEL_SERVICE_NAME: control bytes or over %zu bytes",
			    sizeof(c->service_name) - 1);
	if ((v = get("OTEL_RESOURCE_ATTRIBUTES", ctx)) && (rc = add_resource(c, v, err, errsize)))
		return rc;
	if ((v = first(get, ctx, "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
		       "OTEL_EXPORTER_OTLP_CERTIFICATE", &var)) &&
	    (rc = telemetry_read_ca(v, &c->ca_pem, &c->ca_pem_len)))
		return rc == -ENOMEM ? rc : fail(err, errsize, "%s: cannot read %s: %s", var, v,
						 rc == -EINVAL ? "empty or over 4 MiB" : strerror(-rc));
	if ((v = get("OTEL_EXPORTER_OTLP_PROTOCOL", ctx)))
		snprintf(c->protocol, sizeof(c->protocol), "%s", v);
	if ((rc = get_num(get, ctx, "OTEL_BSP_MAX_QUEUE_SIZE", 1, 1 << 20, 2048, &n, err, errsize)))
		return rc;
	c->queue_max = (int)n;
	if ((rc = get_num(get, ctx, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 1, 1 << 16, 512, &n, err,
			  errsize)))
		return rc;
	c->batch_max = (int)(n < c->queue_max ? n : c->queue_max);
	if ((rc = get_num(get, ctx, "OTEL_BSP_SCHEDULE_DELAY", 1, 3600000, 5000,
			  &c->schedule_delay_ms, err, errsize)))
		return rc;
	v = first(get, ctx, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT", &var);
	return get_num(get, ctx, var, 1, 600000, 10000, &c->timeout_ms, err, errsize);
}

int otlp_config_load(struct otlp_config *c, const char *flag_endpoint,
		     const char *(*get)(const char *name, void *ctx), void *ctx,
		     char *err, size_t errsize)
{
	int rc;

	memset(c, 0, sizeof(*c));
	if (errsize)
		err[0] = '\0';
	rc = load(c, flag_endpoint, get, ctx, err, errsize);
	if (rc == -ENOMEM)
		fail(err, errsize, "out of memory");
	if (rc)
		otlp_config_free(c);
	return rc;
}

void otlp_config_header_names(const struct otlp_config *c, char *buf, size_t size)
{
	size_t n = 0;

	if (!size)
		return;
	buf[0] = '\0';
	for (int i = 0; i < c->nheaders && n < size; i++) {
		int len = (int)strcspn(c->headers[i], ":");
		int w = snprintf(buf + n, size - n, "%s%.*s", i ? ", " : "", len, c->headers[i]);

		if (w < 0)
			break;
		n += (size_t)w;
	}
}

void otlp_config_free(struct otlp_config *c)
{
	for (int i = 0; i < c->nheaders; i++) {
		explicit_bzero(c->headers[i], strlen(c->headers[i]));
		free(c->headers[i]);
	}
	for (int i = 0; i < c->nres; i++) {
		free(c->res_keys[i]);
		free(c->res_values[i]);
	}
	free(c->ca_pem);
	memset(c, 0, sizeof(*c));
}
