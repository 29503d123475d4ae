/* Serialisers for the export contract: JSON Lines and RFC 4180 CSV.
 *
 * Both walk one field table so the two formats cannot drift apart. Strings
 * come from hostile traffic (paths, model names, exe names), so every byte
 * that is not valid UTF-8 becomes U+FFFD: a consumer must always get valid
 * JSON / valid UTF-8 CSV, whatever the captured process sent. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "record.h"

enum field_kind {
	F_STR,		/* char[] */
	F_STR_NULL,	/* char[], "" is null */
	F_I64,
	F_U32,
	F_U64,
	F_INT,
	F_BOOL,
	F_TS,		/* int64 ns -> RFC 3339 */
	F_MS,		/* int64, RECORD_NULL_MS is null */
	F_USAGE_SRC,
	F_COST,
	F_PROVIDER_COST,	/* provider_cost_usd, null unless known */
	F_CACHE_STR,	/* char[], null when "" or not cache-analysed */
	F_CACHE_I64,	/* null when not cache-analysed */
	F_CACHE_USD,
	F_CACHE_JSON,	/* our own JSON array, as is; [] when analysed and empty */
	F_SENSITIVE,	/* counts per kind: a JSON object, null when none */
};

struct field {
	const char *name;
	enum field_kind kind;
	size_t off;
	size_t size;
};

#define FLD(name, kind, member) \
	{ name, kind, offsetof(struct exchange_record, member), \
	  sizeof(((struct exchange_record *)0)->member) }

/* The contract's order; changing it changes the export format. */
static const struct field fields[] = {
	FLD("id", F_I64, id),
	FLD("ts_start", F_TS, ts_start_ns),
	FLD("ts_end", F_TS, ts_end_ns),
	FLD("pid", F_U32, pid),
	FLD("tid", F_U32, tid),
	FLD("exe", F_STR, exe),
	FLD("comm", F_STR, comm),
	FLD("cgroup_id", F_U64, cgroup_id),
	FLD("capture", F_STR, capture),
	FLD("provider", F_STR, provider),
	FLD("api", F_STR, api),
	FLD("host", F_STR, host),
	FLD("method", F_STR, method),
	FLD("path", F_STR, path),
	FLD("status", F_INT, status),
	FLD("model", F_STR, model),
	FLD("request_model", F_STR, request_model),
	FLD("stream", F_BOOL, stream),
	FLD("input_tokens", F_I64, usage.input_tokens),
	FLD("cached_input_tokens", F_I64, usage.cached_input_tokens),
	FLD("cache_write_tokens", F_I64, usage.cache_write_tokens),
	FLD("cache_write_1h_tokens", F_I64, usage.cache_write_1h_tokens),
	FLD("output_tokens", F_I64, usage.output_tokens),
	FLD("reasoning_tokens", F_I64, usage.reasoning_tokens),
	FLD("usage_source", F_USAGE_SRC, usage_source),
	FLD("cost_usd", F_COST, cost_usd),
	FLD("priced", F_BOOL, priced),
	FLD("latency_ms", F_MS, latency_ms),
	FLD("ttft_ms", F_MS, ttft_ms),
	FLD("complete", F_BOOL, complete),
	FLD("error", F_STR_NULL, error),
	FLD("deployment", F_STR_NULL, deployment),
	FLD("ratelimit", F_STR_NULL, ratelimit),
	FLD("provider_cost_usd", F_PROVIDER_COST, provider_cost_usd),
	FLD("protocol", F_STR_NULL, protocol),
	FLD("headers_unknown", F_BOOL, headers_unknown),
	/* v5: attribution (issue 14); uid -1 is null, as RECORD_NULL_MS. */
	FLD("uid", F_MS, uid),
	FLD("app", F_STR_NULL, app),
	FLD("cmdline_hash", F_STR_NULL, cmdline_hash),
	FLD("container_id", F_STR_NULL, container_id),
	FLD("container_runtime", F_STR_NULL, container_runtime),
	FLD("container_image", F_STR_NULL, container_image),
	FLD("k8s_pod_uid", F_STR_NULL, k8s_pod_uid),
	FLD("k8s_namespace", F_STR_NULL, k8s_namespace),
	FLD("k8s_pod", F_STR_NULL, k8s_pod),
	FLD("k8s_container", F_STR_NULL, k8s_container),
	FLD("project", F_STR_NULL, project),
	/* v6: prompt-cache analytics (issue 9); null when not analysed. */
	FLD("template", F_CACHE_STR, cache_template),
	FLD("account", F_CACHE_STR, account),
	FLD("cacheable_tokens", F_CACHE_I64, cacheable_tokens),
	FLD("missed_cache_tokens", F_CACHE_I64, missed_cache_tokens),
	FLD("missed_cache_usd", F_CACHE_USD, missed_cache_usd),
	FLD("cache_miss_cause", F_CACHE_STR, cache_miss_cause),
	FLD("breakers", F_CACHE_JSON, breakers),
	FLD("sensitive", F_SENSITIVE, sensitive),
	FLD("tool_calls", F_STR_NULL, tool_calls),
};

#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

const char *usage_source_name(enum usage_source s)
{
	switch (s) {
	case USAGE_PROVIDER:	return "provider";
	case USAGE_ESTIMATED:	return "estimated";
	case USAGE_NONE:	return "none";
	}
	return "none";	/* a corrupt value must still export as a contract value */
}

const char *record_sensitive_name(enum record_sensitive_kind k)
{
	static const char *const names[RS__MAX] = {
		[RS_API_KEY] = "api_key",
		[RS_CLOUD_KEY] = "cloud_key",
		[RS_GITHUB_TOKEN] = "github_token",
		[RS_JWT] = "jwt",
		[RS_PRIVATE_KEY] = "private_key",
		[RS_EMAIL] = "email",
		[RS_PHONE] = "phone",
		[RS_CARD] = "card",
		[RS_IBAN] = "iban",
	};

	return (unsigned)k < RS__MAX ? names[k] : NULL;
}

size_t record_sensitive_json(const struct exchange_record *r, char *buf, size_t size)
{
	size_t n = 0;
	int k, w;

	if (!buf || size < 2)
		return 0;
	buf[0] = '\0';
	for (k = 0; k < RS__MAX; k++) {
		if (!r->sensitive[k])
			continue;
		w = snprintf(buf + n, size - n, "%c\"%s\":%u", n ? ',' : '{',
			     record_sensitive_name(k), r->sensitive[k]);
		if (w < 0 || (size_t)w >= size - n - 1) {
			buf[0] = '\0';	/* never half an object */
			return 0;
		}
		n += (size_t)w;
	}
	if (n) {
		buf[n++] = '}';
		buf[n] = '\0';
	}
	return n;
}

int record_sensitive_parse(const char *json, uint16_t counts[RS__MAX])
{
	char key[24];
	const char *p;
	int k;

	memset(counts, 0, sizeof(counts[0]) * RS__MAX);
	if (!json || !*json)
		return 0;
	if (json[0] != '{')
		return -EINVAL;
	for (k = 0; k < RS__MAX; k++) {
		unsigned long v;

		snprintf(key, sizeof(key), "\"%s\":", record_sensitive_name(k));
		if (!(p = strstr(json, key)))
			continue;
		v = strtoul(p + strlen(key), NULL, 10);
		counts[k] = (uint16_t)(v > UINT16_MAX ? UINT16_MAX : v);
	}
	return 0;
}

/* Length of the valid UTF-8 sequence at p (n bytes available), 0 if the
 * bytes there are not one: rejects overlongs, surrogates and > U+10FFFF. */
size_t record_utf8_seq_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len, i;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

static const char REPLACEMENT[] = "\xef\xbf\xbd";	/* U+FFFD */

static void json_string(FILE *out, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strnlen(s, max), i = 0, len;

	fputc('"', out);
	while (i < n) {
		unsigned char c = p[i];

		if (c == '"' || c == '\\') {
			fputc('\\', out);
			fputc(c, out);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			/* DEL is legal JSON but breaks terminals reading jsonl. */
			fprintf(out, "\\u%04x", c);
			i++;
		} else if ((len = record_utf8_seq_len(p + i, n - i)) == 0) {
			fputs(REPLACEMENT, out);
			i++;
		} else {
			fwrite(p + i, 1, len, out);
			i += len;
		}
	}
	fputc('"', out);
}

/* RFC 4180: quote when the field holds a separator, quote or line break. */
static void csv_string(FILE *out, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strnlen(s, max), i = 0, len;
	bool quote = false;

	for (i = 0; i < n && !quote; i++)
		quote = p[i] == ',' || p[i] == '"' || p[i] == '\r' || p[i] == '\n';
	i = 0;
	if (quote)
		fputc('"', out);
	while (i < n) {
		if (p[i] == '"') {
			fputs("\"\"", out);
			i++;
		} else if ((len = record_utf8_seq_len(p + i, n - i)) == 0) {
			fputs(REPLACEMENT, out);
			i++;
		} else {
			fwrite(p + i, 1, len, out);
			i += len;
		}
	}
	if (quote)
		fputc('"', out);
}

/* "2026-11-23T18:40:01.123Z"; floors so pre-1970 values stay consistent. */
static int format_ts(int64_t ns, char *buf, size_t size)
{
	int64_t sec = ns / 1000000000, rem = ns % 1000000000;
	struct tm tm;
	time_t t;
	size_t n;

	if (rem < 0) {
		rem += 1000000000;
		sec--;
	}
	t = (time_t)sec;
	if (!gmtime_r(&t, &tm))
		return -EOVERFLOW;
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0 || n + 6 > size)
		return -EOVERFLOW;
	snprintf(buf + n, size - n, ".%03dZ", (int)(rem / 1000000));
	return 0;
}

/* Emits one field's value; JSON and CSV differ only in strings and null. */
static void write_value(FILE *out, const struct exchange_record *r,
			const struct field *f, bool json)
{
	const char *base = (const char *)r + f->off;
	const char *null = json ? "null" : "";
	char ts[64];
	int64_t i64;

	switch (f->kind) {
	case F_STR_NULL:
		if (base[0] == '\0') {
			fputs(null, out);
			break;
		}
		/* fallthrough */
	case F_STR:
		if (json)
			json_string(out, base, f->size);
		else
			csv_string(out, base, f->size);
		break;
	case F_I64:
		memcpy(&i64, base, sizeof(i64));
		fprintf(out, "%" PRId64, i64);
		break;
	case F_U32:
		fprintf(out, "%" PRIu32, *(const uint32_t *)base);
		break;
	case F_U64:
		fprintf(out, "%" PRIu64, *(const uint64_t *)base);
		break;
	case F_INT:
		fprintf(out, "%d", *(const int *)base);
		break;
	case F_BOOL:
		fputs(*(const bool *)base ? "true" : "false", out);
		break;
	case F_TS:
		memcpy(&i64, base, sizeof(i64));
		if (format_ts(i64, ts, sizeof(ts)) == 0)
			fprintf(out, json ? "\"%s\"" : "%s", ts);
		else
			fputs(null, out);
		break;
	case F_MS:
		memcpy(&i64, base, sizeof(i64));
		if (i64 == RECORD_NULL_MS)
			fputs(null, out);
		else
			fprintf(out, "%" PRId64, i64);
		break;
	case F_USAGE_SRC:
		fprintf(out, json ? "\"%s\"" : "%s",
			usage_source_name(*(const enum usage_source *)base));
		break;
	case F_COST:
		/* NaN/inf are not JSON numbers: null says "unknown" honestly. */
		if (isfinite(r->cost_usd))
			fprintf(out, "%.10g", r->cost_usd);
		else
			fputs(null, out);
		break;
	case F_SENSITIVE: {
		char obj[256];

		if (!record_sensitive_json(r, obj, sizeof(obj)))
			fputs(null, out);
		else if (json)
			fputs(obj, out);
		else
			csv_string(out, obj, sizeof(obj));
		break;
	}
	case F_PROVIDER_COST:
		if (r->provider_cost_known && isfinite(r->provider_cost_usd))
			fprintf(out, "%.10g", r->provider_cost_usd);
		else
			fputs(null, out);
		break;
	case F_CACHE_STR:
		if (!r->cache_analyzed || base[0] == '\0')
			fputs(null, out);
		else if (json)
			json_string(out, base, f->size);
		else
			csv_string(out, base, f->size);
		break;
	case F_CACHE_I64:
		memcpy(&i64, base, sizeof(i64));
		if (r->cache_analyzed)
			fprintf(out, "%" PRId64, i64);
		else
			fputs(null, out);
		break;
	case F_CACHE_USD:
		if (r->cache_analyzed && isfinite(r->missed_cache_usd))
			fprintf(out, "%.10g", r->missed_cache_usd);
		else
			fputs(null, out);
		break;
	case F_CACHE_JSON:
		/* cache_analyze.c writes it whole or not at all; a value that
		 * is not one JSON array (a bad DB row) is not passed on */
		if (!r->cache_analyzed)
			fputs(null, out);
		else if (base[0] != '[' || base[strnlen(base, f->size) - 1] != ']' ||
			 strnlen(base, f->size) == f->size)
			fputs(json ? "[]" : "[]", out);
		else if (json)
			fwrite(base, 1, strnlen(base, f->size), out);
		else
			csv_string(out, base, f->size);
		break;
	}
}

static int finish(FILE *out)
{
	return ferror(out) ? -EIO : 0;
}

int record_write_json(FILE *out, const struct exchange_record *r)
{
	size_t i;

	if (!out || !r)
		return -EINVAL;
	fputc('{', out);
	for (i = 0; i < NFIELDS; i++) {
		fprintf(out, "%s\"%s\":", i ? "," : "", fields[i].name);
		write_value(out, r, &fields[i], true);
	}
	fputs("}\n", out);
	return finish(out);
}

int record_write_csv_header(FILE *out)
{
	size_t i;

	if (!out)
		return -EINVAL;
	for (i = 0; i < NFIELDS; i++)
		fprintf(out, "%s%s", i ? "," : "", fields[i].name);
	fputs("\r\n", out);
	return finish(out);
}

int record_write_csv(FILE *out, const struct exchange_record *r)
{
	size_t i;

	if (!out || !r)
		return -EINVAL;
	for (i = 0; i < NFIELDS; i++) {
		if (i)
			fputc(',', out);
		write_value(out, r, &fields[i], false);
	}
	fputs("\r\n", out);	/* RFC 4180 line break */
	return finish(out);
}
