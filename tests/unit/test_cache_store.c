/* Prompt-cache analytics through the store and `llmobs cache` (issue 9):
 * a workload whose prompts carry a canary string is analysed and stored,
 * and then (1) the canary is in none of the DB file, its WAL, the cache
 * key file or anything logged; (2) `llmobs cache --json` reads back
 * schema llmobs.cache.v1 with the numbers the workload implies: twelve
 * calls, eleven timestamp misses of the system block, one breaker at
 * system[0]+14, a move_volatile recommendation with dollars a day. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "cache_analyze.h"
#include "cli.h"
#include "cost.h"
#include "log.h"
#include "store.h"

#define CANARY	"CANARY-7f3e-prompt-never-on-disk"
#define MIN_NS	(60LL * 1000000000LL)

static char dir[64];

static bool file_has(const char *path, const char *needle)
{
	FILE *f = fopen(path, "rb");
	size_t n = strlen(needle), len = 0, cap = 1 << 20;
	char *buf;
	bool hit = false;

	if (!f)
		return false;
	buf = malloc(cap);
	for (;;) {
		size_t r = fread(buf + len, 1, cap - len, f);

		len += r;
		if (len < cap || !r)
			break;
		cap *= 2;
		buf = realloc(buf, cap);
	}
	for (size_t i = 0; i + n <= len && !hit; i++)
		hit = !memcmp(buf + i, needle, n);
	fclose(f);
	free(buf);
	return hit;
}

/* Runs f with stdout into a file; returns what it printed (malloc'd). */
static char *capture_stdout(int (*f)(sqlite3 *, void *), sqlite3 *db, void *arg, int *ret)
{
	char path[96];
	int saved = dup(1), fd;
	char *out;
	long len;
	FILE *r;

	snprintf(path, sizeof(path), "%s/stdout", dir);
	fflush(stdout);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	dup2(fd, 1);
	close(fd);
	*ret = f(db, arg);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	r = fopen(path, "rb");
	fseek(r, 0, SEEK_END);
	len = ftell(r);
	fseek(r, 0, SEEK_SET);
	out = calloc(1, (size_t)len + 1);
	assert_int_equal(fread(out, 1, (size_t)len, r), (size_t)len);
	fclose(r);
	return out;
}

static int run_json(sqlite3 *db, void *arg)
{
	return cli_cache(db, INT64_MIN, NULL, true);
}

static int run_text(sqlite3 *db, void *arg)
{
	return cli_cache(db, INT64_MIN, NULL, false);
}

static int run_report(sqlite3 *db, void *arg)
{
	return cli_report(db, INT64_MIN, NULL);
}

static void test_store_cli_canary(void **state)
{
	char db[96], key[112], wal[112], logp[96];
	struct cache_analyzer *a;
	struct cache_analyzer_opts o = { 0 };
	struct price_table *prices;
	struct store *s;
	char *stat = malloc(24001), *body = malloc(30000), *out;
	const struct price *p;
	cJSON *root, *t, *b, *rec;
	int ret, saved_err, logfd;

	snprintf(dir, sizeof(dir), "/tmp/llmobs-cachecli-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/llmobs.db", dir);
	snprintf(key, sizeof(key), "%s.cache-key", db);
	snprintf(wal, sizeof(wal), "%s-wal", db);
	snprintf(logp, sizeof(logp), "%s/log", dir);
	/* everything logged goes to a file we search afterwards */
	saved_err = dup(2);
	logfd = open(logp, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	dup2(logfd, 2);
	close(logfd);
	log_verbosity = LOG_DEBUG;

	assert_int_equal(price_table_load_default(&prices), 0);
	p = price_lookup(prices, "claude-sonnet-4-5");
	assert_non_null(p);
	o.prices = prices;
	o.key_path = key;
	assert_int_equal(cache_analyzer_new(&o, &a), 0);
	assert_int_equal(store_open(db, false, &s), 0);
	/* static prose with the canary, no digits */
	for (int i = 0; i < 24000; i++)
		stat[i] = "the agent reads files and answers "[i % 34];
	memcpy(stat + 5000, CANARY, strlen(CANARY));
	stat[24000] = '\0';
	for (int i = 0; i < 12; i++) {
		struct exchange_record r = { 0 };
		int64_t sys_tok;

		snprintf(body, 30000,
			 "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":64,\"system\":[{\"type\":\"text\","
			 "\"text\":\"Current time: 2026-12-07T18:%02d:00Z\\n%s\",\"cache_control\":"
			 "{\"type\":\"ephemeral\"}}],\"messages\":[{\"role\":\"user\",\"content\":"
			 "\"Summarise " CANARY " for me\"}]}", 10 + i, stat);
		r.ts_start_ns = 1796000000000000000LL + i * MIN_NS;
		r.ts_end_ns = r.ts_start_ns + 1000000000LL;
		r.status = 200;
		r.complete = true;
		r.usage_source = USAGE_PROVIDER;
		strcpy(r.exe, "/usr/bin/agent");
		strcpy(r.comm, "agent");
		strcpy(r.capture, "uprobe");
		strcpy(r.provider, "anthropic");
		strcpy(r.api, "messages");
		strcpy(r.host, "api.anthropic.com");
		strcpy(r.method, "POST");
		strcpy(r.path, "/v1/messages");
		strcpy(r.model, "claude-sonnet-4-5-20250929");
		strcpy(r.request_model, "claude-sonnet-4-5");
		r.latency_ms = r.ttft_ms = RECORD_NULL_MS;
		r.uid = -1;
		r.account_seen = true;
		memset(r.account_digest, 0x5a, 32);
		/* 4 bytes a token; the system block written on every call */
		r.usage.input_tokens = (int64_t)(strlen(stat) + 36 + 30) / 4;
		sys_tok = (int64_t)(strlen(stat) + 36) / 4;
		r.usage.cache_write_tokens = sys_tok;
		r.usage.output_tokens = 20;
		r.request_body = body;
		r.request_body_len = strlen(body);
		assert_int_equal(cache_analyze_record(a, &r), 0);
		cost_price_record(prices, &r);
		r.request_body = NULL;
		assert_int_equal(store_add(s, &r), 0);
	}
	store_close(s);
	cache_analyzer_free(a);

	/* the canary reached none of these */
	assert_false(file_has(db, CANARY));
	assert_false(file_has(wal, CANARY));
	assert_false(file_has(key, CANARY));

	assert_int_equal(store_open(db, true, &s), 0);
	out = capture_stdout(run_json, store_db(s), NULL, &ret);
	assert_int_equal(ret, 0);
	assert_null(strstr(out, CANARY));
	root = cJSON_Parse(out);
	assert_non_null(root);
	assert_string_equal(cJSON_GetObjectItem(root, "schema")->valuestring, "llmobs.cache.v1");
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "totals"), "requests")->valueint, 12);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(root, "templates")), 1);
	t = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "templates"), 0);
	assert_string_equal(cJSON_GetObjectItem(t, "provider")->valuestring, "anthropic");
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(t, "misses"), "prefix_changed")->valueint, 11);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(t, "misses"), "cold")->valueint, 1);
	assert_true(cJSON_GetObjectItem(t, "missed_cache_tokens")->valuedouble > 11 * 6000);
	b = cJSON_GetArrayItem(cJSON_GetObjectItem(t, "breakers"), 0);
	assert_non_null(b);
	assert_string_equal(cJSON_GetObjectItem(b, "kind")->valuestring, "timestamp");
	assert_string_equal(cJSON_GetObjectItem(b, "segment")->valuestring, "system[0]");
	assert_int_equal(cJSON_GetObjectItem(b, "byte_offset")->valueint, 14);
	assert_int_equal(cJSON_GetObjectItem(b, "requests")->valueint, 11);
	assert_string_equal(cJSON_GetObjectItem(b, "shape")->valuestring, "ISO-8601 timestamp");
	rec = cJSON_GetArrayItem(cJSON_GetObjectItem(t, "recommendations"), 0);
	assert_non_null(rec);
	assert_string_equal(cJSON_GetObjectItem(rec, "action")->valuestring, "move_volatile");
	/* 11 misses of ~6,003 tokens at (write - read) each, over 12 calls a
	 * minute apart: a burst shorter than an hour counts as 12 an hour */
	{
		double per_call = (double)cJSON_GetObjectItem(t, "missed_cache_usd")->valuedouble / 12;
		double want = per_call * 12 * 24;
		double got = cJSON_GetObjectItem(rec, "saves_usd_per_day")->valuedouble;

		assert_true(got > 0.99 * want && got < 1.01 * want);
		assert_true(per_call > 0);
	}
	assert_non_null(strstr(cJSON_GetObjectItem(rec, "text")->valuestring,
			       "an ISO-8601 timestamp at system[0]+14 breaks"));
	cJSON_Delete(root);
	free(out);
	out = capture_stdout(run_text, store_db(s), NULL, &ret);
	assert_int_equal(ret, 0);
	assert_non_null(strstr(out, "breaker: timestamp (ISO-8601 timestamp) at system[0]+14"));
	assert_non_null(strstr(out, "misses:"));
	print_message("%s", out);
	free(out);
	out = capture_stdout(run_report, store_db(s), NULL, &ret);
	assert_int_equal(ret, 0);
	assert_non_null(strstr(out, "Prompt cache (details: llmobs cache)"));
	free(out);
	store_close(s);

	fflush(stderr);
	dup2(saved_err, 2);
	close(saved_err);
	assert_false(file_has(logp, CANARY));
	unlink(logp);
	unlink(key);
	unlink(db);
	unlink(wal);
	snprintf(wal, sizeof(wal), "%s-shm", db);
	unlink(wal);
	snprintf(wal, sizeof(wal), "%s/stdout", dir);
	unlink(wal);
	rmdir(dir);
	price_table_free(prices);
	free(stat);
	free(body);
}

/* The account fingerprint comes whatever the analysis makes of the call
 * (an error, no body, analysis off): budgets split spend by it. */
static void test_account_without_analysis(void **state)
{
	struct cache_hash_key k;
	struct exchange_record r, r2;
	static const uint8_t zero[32];

	(void)state;
	assert_int_equal(cache_hash_key_random(&k), 0);
	memset(&r, 0, sizeof(r));
	r.status = 500;
	r.account_seen = true;
	memset(r.account_digest, 0x5a, 32);
	r2 = r;
	r2.account_digest[0] = 0x5b;
	cache_account_fingerprint(&k, &r);
	cache_account_fingerprint(&k, &r2);
	assert_int_equal(strlen(r.account), 16);
	assert_string_not_equal(r.account, r2.account);
	assert_memory_equal(r.account_digest, zero, 32);	/* wiped */
	assert_false(r.account_seen);
	r2 = r;
	cache_account_fingerprint(&k, &r);			/* once only */
	assert_string_equal(r.account, r2.account);
	memset(&r, 0, sizeof(r));
	cache_account_fingerprint(&k, &r);			/* no key seen: none */
	assert_string_equal(r.account, "");
	cache_hash_key_free(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_store_cli_canary),
		cmocka_unit_test(test_account_without_analysis),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
