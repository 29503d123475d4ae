/* record.c: the export contract as JSON Lines and CSV. Output is parsed
 * back (cJSON, a small RFC 4180 reader) rather than compared as text, and
 * checked to be valid UTF-8 whatever bytes the record held. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include "record.h"
#include "record_fixture.h"

static char *capture_out(int (*fn)(FILE *, const struct exchange_record *),
			 const struct exchange_record *r, int *ret)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*ret = fn(f, r);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/* Strict UTF-8 check written independently of record.c's decoder. */
static int utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint32_t cp, min;
		int more;

		if (s[i] < 0x80) { i++; continue; }
		if ((s[i] & 0xe0) == 0xc0) { cp = s[i] & 0x1f; more = 1; min = 0x80; }
		else if ((s[i] & 0xf0) == 0xe0) { cp = s[i] & 0x0f; more = 2; min = 0x800; }
		else if ((s[i] & 0xf8) == 0xf0) { cp = s[i] & 0x07; more = 3; min = 0x10000; }
		else return 0;
		for (int k = 1; k <= more; k++) {
			if (i + k >= n || (s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
			return 0;
		i += more + 1;
	}
	return 1;
}

static cJSON *json_of(const struct exchange_record *r)
{
	int ret;
	char *s = capture_out(record_write_json, r, &ret);
	size_t n = strlen(s);
	cJSON *j;

	assert_int_equal(ret, 0);
	assert_true(n > 2);
	assert_int_equal(s[n - 1], '\n');
	assert_null(memchr(s, '\n', n - 1));	/* one line per record */
	assert_true(utf8_valid((const unsigned char *)s, n));
	for (size_t i = 0; i < n - 1; i++)
		assert_true((unsigned char)s[i] >= 0x20);	/* no raw controls */
	j = cJSON_Parse(s);
	assert_non_null(j);
	free(s);
	return j;
}

static void test_json_fields_order_and_types(void **state)
{
	struct exchange_record r;
	cJSON *j, *it;
	int i = 0;

	fixture_record(&r, 1);
	r.id = 77;
	j = json_of(&r);
	cJSON_ArrayForEach(it, j) {
		assert_true(i < CONTRACT_NFIELDS);
		assert_string_equal(it->string, contract_fields[i]);
		i++;
	}
	assert_int_equal(i, CONTRACT_NFIELDS);

	static const struct { const char *name; int type; } types[] = {
		{ "id", cJSON_Number }, { "ts_start", cJSON_String },
		{ "ts_end", cJSON_String }, { "pid", cJSON_Number },
		{ "tid", cJSON_Number }, { "exe", cJSON_String },
		{ "comm", cJSON_String }, { "cgroup_id", cJSON_Number },
		{ "capture", cJSON_String }, { "provider", cJSON_String },
		{ "api", cJSON_String }, { "host", cJSON_String },
		{ "method", cJSON_String }, { "path", cJSON_String },
		{ "status", cJSON_Number }, { "model", cJSON_String },
		{ "request_model", cJSON_String }, { "stream", cJSON_True },
		{ "input_tokens", cJSON_Number }, { "cached_input_tokens", cJSON_Number },
		{ "cache_write_tokens", cJSON_Number }, { "cache_write_1h_tokens", cJSON_Number },
		{ "output_tokens", cJSON_Number }, { "reasoning_tokens", cJSON_Number },
		{ "usage_source", cJSON_String }, { "cost_usd", cJSON_Number },
		{ "priced", cJSON_True }, { "latency_ms", cJSON_Number },
		{ "ttft_ms", cJSON_Number }, { "complete", cJSON_True },
		{ "error", cJSON_NULL }, { "deployment", cJSON_String },
		{ "ratelimit", cJSON_String }, { "provider_cost_usd", cJSON_Number },
		{ "protocol", cJSON_String }, { "headers_unknown", cJSON_True },
		{ "uid", cJSON_Number }, { "app", cJSON_String }, { "project", cJSON_String },
		{ "sensitive", cJSON_Object },
	};
	for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
		it = cJSON_GetObjectItemCaseSensitive(j, types[k].name);
		assert_non_null(it);
		if ((it->type & 0xff) != types[k].type)
			fail_msg("field %s: type %d, want %d", types[k].name,
				 it->type & 0xff, types[k].type);
	}
	assert_int_equal(cJSON_GetObjectItem(j, "id")->valuedouble, 77);
	assert_int_equal(cJSON_GetObjectItem(j, "pid")->valuedouble, 4243);
	assert_int_equal(cJSON_GetObjectItem(j, "status")->valuedouble, 201);
	assert_int_equal(cJSON_GetObjectItem(j, "input_tokens")->valuedouble, 1001);
	assert_int_equal(cJSON_GetObjectItem(j, "reasoning_tokens")->valuedouble, 51);
	assert_int_equal(cJSON_GetObjectItem(j, "latency_ms")->valuedouble, 2501);
	assert_string_equal(cJSON_GetObjectItem(j, "usage_source")->valuestring, "estimated");
	assert_string_equal(cJSON_GetObjectItem(j, "ts_start")->valuestring,
			    "2026-11-23T18:40:02.123Z");
	assert_string_equal(cJSON_GetObjectItem(j, "path")->valuestring, "/v1/messages?n=1");
	assert_string_equal(cJSON_GetObjectItem(j, "deployment")->valuestring, "prod-gpt4o-1");
	/* The rate-limit object travels as a string that is itself JSON. */
	it = cJSON_Parse(cJSON_GetObjectItem(j, "ratelimit")->valuestring);
	assert_non_null(it);
	assert_string_equal(cJSON_GetObjectItem(it, "retry-after")->valuestring, "1");
	cJSON_Delete(it);
	assert_true(fabs(cJSON_GetObjectItem(j, "provider_cost_usd")->valuedouble - 0.000226) < 1e-12);
	/* Kinds and counts only, in the contract's order; none is null. */
	it = cJSON_GetObjectItem(j, "sensitive");
	assert_int_equal(cJSON_GetArraySize(it), 3);
	assert_int_equal(cJSON_GetObjectItem(it, "email")->valuedouble, 2);
	assert_int_equal(cJSON_GetObjectItem(it, "card")->valuedouble, 1);
	assert_int_equal(cJSON_GetObjectItem(it, "iban")->valuedouble, 65535);
	cJSON_Delete(j);
}

static void test_json_nulls_and_bools(void **state)
{
	struct exchange_record r;
	cJSON *j;

	fixture_record(&r, 3);	/* error "truncated", complete false */
	r.latency_ms = RECORD_NULL_MS;
	r.ttft_ms = RECORD_NULL_MS;
	r.stream = false;
	r.priced = false;
	j = json_of(&r);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "latency_ms")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "ttft_ms")));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "stream")));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "priced")));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "complete")));
	assert_string_equal(cJSON_GetObjectItem(j, "error")->valuestring, "truncated");
	cJSON_Delete(j);

	/* 0 is a real latency, not null. */
	r.latency_ms = 0;
	r.error[0] = '\0';
	j = json_of(&r);
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(j, "latency_ms")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "error")));
	cJSON_Delete(j);

	/* v2 fields: empty strings and an unknown provider cost are null. */
	r.deployment[0] = '\0';
	r.ratelimit[0] = '\0';
	r.provider_cost_known = false;
	j = json_of(&r);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "deployment")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "ratelimit")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "provider_cost_usd")));
	cJSON_Delete(j);
	/* A provider may state a cost of exactly 0 (free models): not null. */
	r.provider_cost_known = true;
	r.provider_cost_usd = 0;
	j = json_of(&r);
	assert_true(cJSON_IsNumber(cJSON_GetObjectItem(j, "provider_cost_usd")));
	cJSON_Delete(j);
}

static void test_json_cost_precision(void **state)
{
	static const double costs[] = {
		0, 1e-9, 0.000123456789, 0.0123456789, 1.5, 12345.678901, 3e-7 * 7,
	};
	struct exchange_record r;

	fixture_record(&r, 0);
	for (size_t i = 0; i < sizeof(costs) / sizeof(costs[0]); i++) {
		cJSON *j, *c;

		r.cost_usd = costs[i];
		j = json_of(&r);
		c = cJSON_GetObjectItem(j, "cost_usd");
		assert_true(cJSON_IsNumber(c));
		assert_true(fabs(c->valuedouble - costs[i]) <= 1e-9 * fabs(costs[i]));
		cJSON_Delete(j);
	}
	/* NaN is not a JSON number: must still be valid JSON. */
	r.cost_usd = NAN;
	cJSON *j = json_of(&r);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "cost_usd")));
	cJSON_Delete(j);
}

static void test_json_uint64_cgroup(void **state)
{
	struct exchange_record r;
	int ret;
	char *s;

	fixture_record(&r, 0);
	r.cgroup_id = UINT64_MAX;
	s = capture_out(record_write_json, &r, &ret);
	assert_int_equal(ret, 0);
	/* Printed exactly, not via double (which would round). */
	assert_non_null(strstr(s, "\"cgroup_id\":18446744073709551615,"));
	free(s);
}

static const struct {
	const char *in;
	const char *want;	/* decoded string value */
} escapes[] = {
	{ "plain", "plain" },
	{ "a\"b", "a\"b" },
	{ "back\\slash", "back\\slash" },
	{ "nl\nret\rtab\t", "nl\nret\rtab\t" },
	{ "\x01\x1f\x7f", "\x01\x1f\x7f" },
	{ "caf\xc3\xa9", "caf\xc3\xa9" },			/* valid 2-byte */
	{ "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" },		/* valid 4-byte */
	{ "x\xffy", "x\xef\xbf\xbdy" },				/* invalid byte */
	{ "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },		/* overlong '/' */
	{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* surrogate */
	{ "\xe2\x82", "\xef\xbf\xbd\xef\xbf\xbd" },		/* truncated */
	{ "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
	{ "</script>\\u0000", "</script>\\u0000" },
};

static void test_json_escaping(void **state)
{
	struct exchange_record r;

	fixture_record(&r, 0);
	for (size_t i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
		cJSON *j;

		snprintf(r.path, sizeof(r.path), "%s", escapes[i].in);
		snprintf(r.model, sizeof(r.model), "%s", escapes[i].in);
		snprintf(r.error, sizeof(r.error), "%s", escapes[i].in);
		j = json_of(&r);
		assert_string_equal(cJSON_GetObjectItem(j, "path")->valuestring, escapes[i].want);
		assert_string_equal(cJSON_GetObjectItem(j, "model")->valuestring, escapes[i].want);
		assert_string_equal(cJSON_GetObjectItem(j, "error")->valuestring, escapes[i].want);
		cJSON_Delete(j);
	}
}

/* A char[] filled to the brim without a NUL must not be over-read. */
static void test_json_unterminated_field(void **state)
{
	struct exchange_record r;
	cJSON *j;

	fixture_record(&r, 0);
	memset(r.comm, 'A', sizeof(r.comm));
	memset(r.method, '"', sizeof(r.method));
	j = json_of(&r);
	assert_string_equal(cJSON_GetObjectItem(j, "comm")->valuestring, "AAAAAAAAAAAAAAAA");
	assert_int_equal(strlen(cJSON_GetObjectItem(j, "method")->valuestring), sizeof(r.method));
	cJSON_Delete(j);
}

static void test_rfc3339(void **state)
{
	static const struct { int64_t ns; const char *want; } cases[] = {
		{ 0, "1970-01-01T00:00:00.000Z" },
		{ 1795459201123456789LL, "2026-11-23T18:40:01.123Z" },
		{ 1795459201999999999LL, "2026-11-23T18:40:01.999Z" },	/* truncates */
		{ 951868799000000000LL, "2000-02-29T23:59:59.000Z" },
		{ 999999, "1970-01-01T00:00:00.000Z" },
		{ -1, "1969-12-31T23:59:59.999Z" },
	};
	struct exchange_record r;

	fixture_record(&r, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *j;

		r.ts_start_ns = cases[i].ns;
		r.ts_end_ns = cases[i].ns;
		j = json_of(&r);
		assert_string_equal(cJSON_GetObjectItem(j, "ts_start")->valuestring, cases[i].want);
		assert_string_equal(cJSON_GetObjectItem(j, "ts_end")->valuestring, cases[i].want);
		cJSON_Delete(j);
	}
}

static void test_usage_source_name(void **state)
{
	assert_string_equal(usage_source_name(USAGE_NONE), "none");
	assert_string_equal(usage_source_name(USAGE_PROVIDER), "provider");
	assert_string_equal(usage_source_name(USAGE_ESTIMATED), "estimated");
	assert_string_equal(usage_source_name((enum usage_source)99), "none");
}

/* Minimal RFC 4180 reader: splits one record (ending CRLF) into fields. */
static int csv_parse(const char *s, char fields[][600], int max, const char **end)
{
	int n = 0;

	for (;;) {
		size_t k = 0;

		assert_true(n < max);
		if (*s == '"') {
			for (s++;; s++) {
				assert_true(*s != '\0');	/* unterminated quote */
				if (*s == '"' && s[1] == '"') { fields[n][k++] = '"'; s++; }
				else if (*s == '"') { s++; break; }
				else fields[n][k++] = *s;
				assert_true(k < 600);
			}
		} else {
			while (*s && *s != ',' && *s != '\r' && *s != '\n') {
				assert_true(*s != '"');	/* bare quote: bad quoting */
				fields[n][k++] = *s++;
				assert_true(k < 600);
			}
		}
		fields[n++][k] = '\0';
		if (*s == ',') { s++; continue; }
		assert_true(s[0] == '\r' && s[1] == '\n');
		*end = s + 2;
		return n;
	}
}

static void test_csv(void **state)
{
	static char f[64][600];
	struct exchange_record r;
	const char *end;
	char *s;
	int ret, n;

	size_t len = 0;
	FILE *mf = open_memstream(&s, &len);

	assert_non_null(mf);
	assert_int_equal(record_write_csv_header(mf), 0);
	assert_int_equal(fclose(mf), 0);
	n = csv_parse(s, f, 64, &end);
	assert_int_equal(n, CONTRACT_NFIELDS);
	for (int i = 0; i < n; i++)
		assert_string_equal(f[i], contract_fields[i]);
	assert_string_equal(end, "");
	free(s);

	fixture_record(&r, 0);	/* latency null, error null */
	r.id = 5;
	snprintf(r.path, sizeof(r.path), "/v1/a,b?q=\"x\"");
	snprintf(r.exe, sizeof(r.exe), "multi\r\nline");
	snprintf(r.model, sizeof(r.model), "bad\xff");
	s = capture_out(record_write_csv, &r, &ret);
	assert_int_equal(ret, 0);
	assert_true(utf8_valid((const unsigned char *)s, strlen(s)));
	n = csv_parse(s, f, 64, &end);
	assert_int_equal(n, CONTRACT_NFIELDS);
	assert_string_equal(end, "");
	assert_string_equal(f[0], "5");
	assert_string_equal(f[1], "2026-11-23T18:40:01.123Z");
	assert_string_equal(f[5], "multi\r\nline");
	assert_string_equal(f[13], "/v1/a,b?q=\"x\"");
	assert_string_equal(f[15], "bad\xef\xbf\xbd");
	assert_string_equal(f[17], "false");
	assert_string_equal(f[24], "provider");
	assert_string_equal(f[27], "");		/* latency null */
	assert_string_equal(f[28], "");		/* ttft null */
	assert_string_equal(f[30], "");		/* error null */
	assert_string_equal(f[31], "prod-gpt4o-0");
	assert_string_equal(f[32], "{\"retry-after\":\"0\",\"x-ratelimit-remaining-requests\":\"0\"}");
	assert_string_equal(f[33], "0.000113");
	assert_string_equal(f[34], "http/1.1");
	assert_string_equal(f[35], "false");
	assert_string_equal(f[9], "anthropic");	/* unquoted when plain */
	assert_non_null(strstr(s, ",anthropic,"));
	free(s);
}

static void test_bad_args_and_write_errors(void **state)
{
	struct exchange_record r;
	FILE *ro;

	fixture_record(&r, 0);
	assert_int_equal(record_write_json(NULL, &r), -EINVAL);
	assert_int_equal(record_write_json(stdout, NULL), -EINVAL);
	assert_int_equal(record_write_csv(stdout, NULL), -EINVAL);
	assert_int_equal(record_write_csv_header(NULL), -EINVAL);
	/* A stream that cannot be written reports -EIO, not success. */
	ro = fopen("/dev/null", "r");
	assert_non_null(ro);
	assert_int_equal(record_write_json(ro, &r), -EIO);
	assert_int_equal(record_write_csv(ro, &r), -EIO);
	fclose(ro);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_fields_order_and_types),
		cmocka_unit_test(test_json_nulls_and_bools),
		cmocka_unit_test(test_json_cost_precision),
		cmocka_unit_test(test_json_uint64_cgroup),
		cmocka_unit_test(test_json_escaping),
		cmocka_unit_test(test_json_unterminated_field),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_usage_source_name),
		cmocka_unit_test(test_csv),
		cmocka_unit_test(test_bad_args_and_write_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
