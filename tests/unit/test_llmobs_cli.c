/* The llmobs CLI, in-process (cli_main from the sanitized library).
 * Checks exit codes (0 / 1 failure / 2 usage), the report's sections, that
 * export output parses back, and the price table's update path: --update
 * refuses a malformed table or one that un-prices recent models and keeps
 * the old one, installs a valid one, --diff shows it, reprice rewrites only
 * when told. */
#include <fcntl.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include "cli.h"
#include "store.h"

#include "record_fixture.h"

#define NREC 12

static char tmpdir[64], db[128], outpath[128], errpath[128];

static int setup(void **state)
{
	const char *names[] = { "events", "http_parse_errors", "stream_gaps" };
	const uint64_t vals[] = { 100, 3, 0 };
	struct exchange_record r;
	struct timespec now;
	struct store *s;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_llmobs.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(db, sizeof(db), "%s/llmobs.db", tmpdir);
	snprintf(outpath, sizeof(outpath), "%s/out", tmpdir);
	snprintf(errpath, sizeof(errpath), "%s/err", tmpdir);
	if (store_open(db, false, &s))
		return -1;
	clock_gettime(CLOCK_REALTIME, &now);
	for (int i = 0; i < NREC; i++) {
		fixture_record(&r, i);
		/* Hourly from 10 min ago: --since 3h30m keeps i = 0..3,
		 * --since 1m keeps none. */
		r.ts_start_ns = ((int64_t)now.tv_sec - 600 - i * 3600) * 1000000000LL;
		if (i % 4 == 1) {
			memset(r.model, 0, sizeof(r.model));
			snprintf(r.model, sizeof(r.model), "mystery-\x1b[31m-model");
			r.priced = false;
			r.cost_usd = 0;
		}
		if (store_add(s, &r))
			return -1;
	}
	if (store_put_counters(s, names, vals, 3))
		return -1;
	store_close(s);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, n, f), (size_t)n);
	fclose(f);
	return buf;
}

struct run {
	int rc;
	char *out;
	char *err;
};

/* Runs llmobs with argv (NULL-terminated), capturing stdout and stderr. */
static struct run run_cli(const char *const *args)
{
	char *argv[16];
	int argc = 0, o, e, so, se;
	struct run res;

	argv[argc++] = "llmobs";
	while (*args)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;

	fflush(stdout);
	fflush(stderr);
	so = dup(1);
	se = dup(2);
	o = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	e = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(so >= 0 && se >= 0 && o >= 0 && e >= 0);
	dup2(o, 1);
	dup2(e, 2);
	res.rc = cli_main(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(o), close(e), close(so), close(se);
	res.out = slurp(outpath);
	res.err = slurp(errpath);
	return res;
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void test_exit_codes(void **state)
{
	static const char missing[] = "/nonexistent-llmobs-dir/x.db";
	const struct {
		const char *const *args;
		int rc;
		const char *in_err;	/* substring of stderr, or NULL */
	} cases[] = {
		{ ARGS("help"), 0, NULL },
		{ ARGS("--help"), 0, NULL },
		{ ARGS("frob"), 2, "unknown command 'frob'" },
		{ ARGS("report", "--bogus"), 2, "Usage:" },
		{ ARGS("report", "--db", db, "extra"), 2, "unexpected argument" },
		{ ARGS("report", "--db", db, "--since", "5x"), 2, "bad --since" },
		{ ARGS("report", "--db", missing), 1, missing },
		{ ARGS("report", "--db", missing), 1, "llmobsd" },
		{ ARGS("export", "--format", "xml", "--db", db), 2, "unknown --format" },
		{ ARGS("export", "--db", missing), 1, "no database" },
		{ ARGS("prices", "--prices", "/nonexistent-llmobs-dir/p.json"), 1, NULL },
		{ ARGS("prices", "extra"), 2, NULL },
		{ ARGS("prices", "--db", db), 0, NULL },	/* the table in force beside it */
		{ ARGS("prices", "--force"), 2, "--force goes with --update" },
		{ ARGS("prices", "--diff", "built-in"), 2, "--diff takes two tables" },
		{ ARGS("prices", "--diff", "built-in", "/nonexistent-llmobs-dir/p.json"), 1, NULL },
		{ ARGS("prices", "--update", "/nonexistent-llmobs-dir/p.json", "--db", db), 1,
		  "the table in force is unchanged" },
		{ ARGS("reprice", "--db", db, "--since", "5x"), 2, "bad --since" },
		{ ARGS("reprice", "--db", missing), 1, "no database" },
		{ ARGS("prices", "--check", "--db", missing), 1, "no database" },
		{ ARGS("report", "--db", db), 0, NULL },
		{ ARGS("repo", "--db", db), 0, NULL },	/* unique prefix ("rep" is also reprice) */
	};
	struct run r;

	r = run_cli((const char *const[]){ NULL });
	assert_int_equal(r.rc, 2);
	run_free(&r);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = run_cli(cases[i].args);
		if (r.rc != cases[i].rc)
			fail_msg("case %zu (%s %s): rc %d, want %d; stderr: %s", i,
				 cases[i].args[0], cases[i].args[1] ? cases[i].args[1] : "",
				 r.rc, cases[i].rc, r.err);
		if (cases[i].in_err && !strstr(r.err, cases[i].in_err))
			fail_msg("case %zu: stderr lacks '%s': %s", i, cases[i].in_err, r.err);
		run_free(&r);
	}
}

static void test_report_sections(void **state)
{
	struct run r = run_cli(ARGS("report", "--db", db));

	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "By provider"));
	assert_non_null(strstr(r.out, "By model"));
	assert_non_null(strstr(r.out, "By process"));
	assert_non_null(strstr(r.out, "Total\n         12 "));
	/* 3 of 12 unpriced (i = 1, 5, 9): listed, and never shown as $0. */
	assert_non_null(strstr(r.out, "Unpriced models"));
	assert_non_null(strstr(r.out, "leaves out 3 unpriced"));
	assert_non_null(strstr(r.out, "unpriced  mystery-?[31m-model (anthropic)"));
	assert_non_null(strstr(r.out, "Incomplete/errors"));
	/* Odd fixtures have estimated usage: 6 of 12. */
	assert_non_null(strstr(r.out, "~ 6 exchanges with estimated usage"));
	assert_non_null(strstr(r.out, "error truncated"));	/* i = 3, 7, 11 */
	assert_non_null(strstr(r.out, "http_parse_errors"));
	assert_null(strstr(r.out, "stream_gaps"));		/* zero: not shown */
	/* kinds and counts per app and project (the fixtures' sensitive) */
	assert_non_null(strstr(r.out, "Secrets and personal data sent"));
	assert_non_null(strstr(r.out, "          1    65535  iban          agent-0 (project-0)\n"));
	assert_non_null(strstr(r.out, "          1        2  email         agent-1 (project-1)\n"));
	assert_null(strchr(r.out, '\x1b'));		/* terminal escapes neutralised */
	run_free(&r);

	r = run_cli(ARGS("report", "--db", db, "--since", "3h30m"));
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "Total\n          4 "));
	run_free(&r);

	r = run_cli(ARGS("report", "--db", db, "--since", "1m"));
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "no exchanges recorded"));
	run_free(&r);
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void test_export(void **state)
{
	struct run r;
	char *line, *save;
	int n = 0;

	setenv("LLMOBS_DB", db, 1);	/* the default when --db is absent */
	r = run_cli(ARGS("export", "--format", "jsonl"));
	unsetenv("LLMOBS_DB");
	assert_int_equal(r.rc, 0);
	for (line = strtok_r(r.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		cJSON *j = cJSON_Parse(line);

		assert_non_null(j);
		assert_int_equal(cJSON_GetObjectItem(j, "id")->valuedouble, ++n);
		cJSON_Delete(j);
	}
	assert_int_equal(n, NREC);
	run_free(&r);

	r = run_cli(ARGS("export", "--format", "csv", "--db", db, "--since", "3h30m"));
	assert_int_equal(r.rc, 0);
	assert_int_equal(count_lines(r.out), 1 + 4);
	assert_true(strncmp(r.out, "id,ts_start,ts_end,", 19) == 0);
	run_free(&r);
}

/* prices --check prices every model the DB has seen with the table in
 * force, as the daemon would (response model, else the request's): an
 * unknown one is listed (exit 1), token counting is free whatever the
 * model, and a table that has them all leaves none (exit 0). */
static void test_prices_check(void **state)
{
	static const char *const models[][3] = {	/* model, request model, api */
		{ "gpt-4o-2024-08-06", "gpt-4o", "chat.completions" },
		{ "mystery-\x1b[31m-model", "mystery", "messages" },
		{ "", "mystery", "messages" },
		{ "claude-x", "claude-x", "count_tokens" },
	};
	struct exchange_record rec;
	char path[160], table[160];
	struct store *st;
	struct run r;
	FILE *f;

	snprintf(path, sizeof(path), "%s/check.db", tmpdir);
	assert_int_equal(store_open(path, false, &st), 0);
	for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
		fixture_record(&rec, (int)i);
		snprintf(rec.model, sizeof(rec.model), "%s", models[i][0]);
		snprintf(rec.request_model, sizeof(rec.request_model), "%s", models[i][1]);
		snprintf(rec.api, sizeof(rec.api), "%s", models[i][2]);
		if (i == 0) {	/* a provider prices its own models only, as the source does */
			snprintf(rec.host, sizeof(rec.host), "api.openai.com");
			snprintf(rec.provider, sizeof(rec.provider), "openai");
		}
		assert_int_equal(store_add(st, &rec), 0);
	}
	store_close(st);

	r = run_cli(ARGS("prices", "--check", "--db", path));
	if (r.rc != 1)
		fail_msg("rc %d: %s%s", r.rc, r.out, r.err);
	assert_non_null(strstr(r.out, "mystery-?[31m-model"));
	assert_non_null(strstr(r.out, "? "));		/* no response model */
	assert_null(strchr(r.out, '\x1b'));
	assert_null(strstr(r.out, "gpt-4o"));		/* priced */
	assert_null(strstr(r.out, "claude-x"));		/* free */
	assert_non_null(strstr(r.out, "2 of 4 models seen are missing from the price table"));
	run_free(&r);

	snprintf(table, sizeof(table), "%s/hand-table.json", tmpdir);
	f = fopen(table, "w");
	assert_non_null(f);
	fputs("{\"models\":{\"gpt-4o\":{\"provider\":\"openai\",\"input\":3e-6,"
	      "\"output\":1.5e-5},\"mystery\":{\"provider\":\"x\","
	      "\"input\":1e-6,\"output\":1e-6}}}", f);
	fclose(f);
	r = run_cli(ARGS("prices", "--check", "--db", path, "--prices", table));
	if (r.rc != 0)
		fail_msg("rc %d: %s%s", r.rc, r.out, r.err);
	assert_non_null(strstr(r.out, "all 4 models seen are in the price table"));
	run_free(&r);
}

/* ---- prices --update, --diff, reprice ---- */

extern const char llmobs_prices_json[];	/* the source's data, as embedded */

/* The embedded source data with gpt-4o's input price changed and, when
 * known is false, gpt-4o's rule made to match nothing (un-pricing it);
 * plus a model "mystery-model" at Anthropic. */
static void write_table(const char *path, double gpt4o_input_mtok, bool known)
{
	cJSON *root = cJSON_Parse(llmobs_prices_json), *pv, *m;
	FILE *f;
	char *s;

	assert_non_null(root);
	cJSON_ArrayForEach(pv, root) {
		const char *id = cJSON_GetObjectItem(pv, "id")->valuestring;

		cJSON_ArrayForEach(m, cJSON_GetObjectItem(pv, "models")) {
			if (strcmp(id, "openai") ||
			    strcmp(cJSON_GetObjectItem(m, "id")->valuestring, "gpt-4o"))
				continue;
			cJSON_ReplaceItemInObject(cJSON_GetObjectItem(m, "prices"), "input_mtok",
						  cJSON_CreateNumber(gpt4o_input_mtok));
			if (!known)
				cJSON_ReplaceItemInObject(m, "match",
					cJSON_Parse("{\"equals\":\"no-such-model\"}"));
		}
		if (!strcmp(id, "anthropic"))
			cJSON_AddItemToArray(cJSON_GetObjectItem(pv, "models"), cJSON_Parse(
				"{\"id\":\"mystery-model\",\"match\":{\"equals\":\"mystery\"},"
				"\"prices\":{\"input_mtok\":1,\"output_mtok\":2}}"));
	}
	s = cJSON_PrintUnformatted(root);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(s, f);
	fclose(f);
	free(s);
	cJSON_Delete(root);
}

static void test_prices_update(void **state)
{
	char dir[96], udb[128], installed[128], newer[128], broken[128], unpricing[128];
	struct exchange_record rec;
	struct store *st;
	struct run r;
	char *before;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/update", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(udb, sizeof(udb), "%s/llmobs.db", dir);
	snprintf(installed, sizeof(installed), "%s/prices.json", dir);
	snprintf(newer, sizeof(newer), "%s/newer.json", tmpdir);
	snprintf(broken, sizeof(broken), "%s/broken.json", tmpdir);
	snprintf(unpricing, sizeof(unpricing), "%s/unpricing.json", tmpdir);
	/* Seen an hour ago: gpt-4o at OpenAI (priced), "mystery" at Anthropic
	 * (unpriced), 1000 input and 100 output tokens each. */
	assert_int_equal(store_open(udb, false, &st), 0);
	for (int i = 0; i < 2; i++) {
		fixture_record(&rec, i);
		rec.ts_start_ns = ((int64_t)time(NULL) - 3600) * 1000000000LL;
		snprintf(rec.model, sizeof(rec.model), "%s", i ? "mystery" : "gpt-4o");
		snprintf(rec.host, sizeof(rec.host), "%s", i ? "api.anthropic.com" : "api.openai.com");
		snprintf(rec.provider, sizeof(rec.provider), "%s", i ? "anthropic" : "openai");
		snprintf(rec.api, sizeof(rec.api), "%s", i ? "messages" : "chat.completions");
		memset(&rec.usage, 0, sizeof(rec.usage));
		rec.usage.input_tokens = 1000;
		rec.usage.output_tokens = 100;
		rec.priced = !i;
		rec.cost_usd = i ? 0 : 1000 * 2.5e-6 + 100 * 1e-5;
		assert_int_equal(store_add(st, &rec), 0);
	}
	store_close(st);

	/* A malformed file is refused, saying why; nothing is installed. */
	f = fopen(broken, "w");
	assert_non_null(f);
	fputs("[{\"id\":\"p\",\"api_pattern\":\"(\",\"models\":[]}]", f);
	fclose(f);
	r = run_cli(ARGS("prices", "--update", broken, "--db", udb));
	assert_int_equal(r.rc, 1);
	assert_non_null(strstr(r.err, "bad regex"));
	assert_non_null(strstr(r.err, "the table in force is unchanged"));
	assert_int_equal(access(installed, F_OK), -1);
	run_free(&r);

	/* A valid newer table: installed beside the DB, then in force. */
	write_table(newer, 3.0, true);
	r = run_cli(ARGS("prices", "--update", newer, "--db", udb));
	if (r.rc != 0)
		fail_msg("update: %s%s", r.out, r.err);
	assert_non_null(strstr(r.out, "installed as"));
	run_free(&r);
	r = run_cli(ARGS("prices", "--db", udb));
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, installed));	/* says which table */
	run_free(&r);
	r = run_cli(ARGS("prices", "--diff", "built-in", "installed", "--db", udb));
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "~ gpt-4o: input 2.5 -> 3"));
	assert_non_null(strstr(r.out, "+ mystery-model (anthropic)"));
	assert_non_null(strstr(r.out, "1 added, 0 removed, 1 changed"));
	run_free(&r);

	/* One that would un-price gpt-4o, seen an hour ago: refused, the
	 * installed table unchanged; --force installs it. */
	write_table(unpricing, 3.0, false);
	before = slurp(installed);
	r = run_cli(ARGS("prices", "--update", unpricing, "--db", udb));
	assert_int_equal(r.rc, 1);
	assert_non_null(strstr(r.out, "gpt-4o"));
	assert_non_null(strstr(r.err, "1 model seen in the last 7 days would be unpriced"));
	run_free(&r);
	{
		char *after = slurp(installed);

		assert_string_equal(before, after);
		free(after);
	}
	free(before);

	/* reprice: the mystery row is priced by the installed table; nothing
	 * is written without --apply. */
	r = run_cli(ARGS("reprice", "--db", udb));
	if (r.rc != 0)
		fail_msg("reprice: %s%s", r.out, r.err);
	assert_non_null(strstr(r.out, "mystery"));
	assert_non_null(strstr(r.out, "no -> yes"));
	assert_non_null(strstr(r.out, "1 rows would change ($0.000000 -> $0.001200)"));
	run_free(&r);
	r = run_cli(ARGS("reprice", "--db", udb));	/* still there: nothing written */
	assert_non_null(strstr(r.out, "1 rows would change"));
	run_free(&r);
	r = run_cli(ARGS("reprice", "--apply", "--db", udb));
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "1 rows rewritten"));
	run_free(&r);
	r = run_cli(ARGS("reprice", "--db", udb));
	assert_non_null(strstr(r.out, "nothing to change"));
	run_free(&r);
	/* --all: gpt-4o's stored cost is at 2.5, the installed table says 3. */
	r = run_cli(ARGS("reprice", "--all", "--db", udb));
	assert_non_null(strstr(r.out, "1 rows would change ($0.003500 -> $0.004000)"));
	run_free(&r);

	r = run_cli(ARGS("prices", "--update", unpricing, "--force", "--db", udb));
	assert_int_equal(r.rc, 0);
	run_free(&r);
}

static void test_parse_duration(void **state)
{
	static const struct { const char *in; int ret; int64_t s; } cases[] = {
		{ "90s", 0, 90 }, { "30m", 0, 1800 }, { "24h", 0, 86400 },
		{ "7d", 0, 604800 }, { "2w", 0, 1209600 }, { "1h30m", 0, 5400 },
		{ "45", 0, 45 }, { "0s", 0, 0 },
		{ "", -EINVAL, 0 }, { "h", -EINVAL, 0 }, { "5x", -EINVAL, 0 },
		{ "-5m", -EINVAL, 0 }, { "5m ", -EINVAL, 0 }, { "1.5h", -EINVAL, 0 },
		{ "99999999999d", -EINVAL, 0 }, { "50000d", -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t s = -1;
		int ret = cli_parse_duration(cases[i].in, &s);

		if (ret != cases[i].ret || (ret == 0 && s != cases[i].s))
			fail_msg("'%s': ret %d s %lld", cases[i].in, ret, (long long)s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_prices_check),
		cmocka_unit_test(test_prices_update),
		cmocka_unit_test(test_report_sections),
		cmocka_unit_test(test_export),
		cmocka_unit_test(test_parse_duration),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
