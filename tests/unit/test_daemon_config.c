/* The daemon's config file (user/7-daemon/daemon_config.c, daemon_args.c):
 * every accepted key, ${ENV} substitution, errors that name the line, the
 * config turned into flags that the command line overrides, and the
 * project rules procattr asks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "daemon_args.h"
#include "budget.h"
#include "daemon_config.h"

static const char good[] =
	"# comment\n"
	"db: ${CFG_TEST_DIR:-/var/tmp}/llmobs.db\n"
	"prices: /etc/prices.json\n"
	"listen: 0.0.0.0:9464\n"
	"socket: /run/llmobs/llmobs.sock\n"
	"host_root: /host\n"
	"plain_ports: [11434, 8000]\n"
	"max_body_bytes: 1048576\n"
	"max_call_bytes: 65536\n"
	"ringbuf_mb: 32\n"
	"max_conns: 2048\n"
	"json: true\n"
	"metrics:\n"
	"  max_series: 100\n"
	"projects:\n"
	"  from_labels: [team, app.kubernetes.io/part-of]\n"
	"  rules:\n"
	"    - app: gemini\n"
	"      project: research\n"
	"    - namespace: ml\n"
	"      image: \"registry.local/*\"\n"
	"      project: ml-platform\n"
	"    - exe: /usr/bin/python3*\n"
	"      project: ${CFG_TEST_PROJECT}\n";

static void test_good(void **state)
{
	struct daemon_config c;
	char err[512];

	setenv("CFG_TEST_PROJECT", "data-eng", 1);
	unsetenv("CFG_TEST_DIR");
	assert_int_equal(config_parse("t.yaml", good, strlen(good), &c, err, sizeof(err)), 0);
	assert_string_equal(c.db, "/var/tmp/llmobs.db");
	assert_string_equal(c.listen, "0.0.0.0:9464");
	assert_string_equal(c.host_root, "/host");
	assert_string_equal(c.plain_ports, "11434,8000");
	assert_int_equal(c.max_body_bytes, 1048576);
	assert_int_equal(c.ringbuf_mb, 32);
	assert_int_equal(c.max_conns, 2048);
	assert_int_equal(c.metrics_max_series, 100);
	assert_int_equal(c.json, 1);
	assert_int_equal(c.nlabel_keys, 2);
	assert_string_equal(c.label_keys[1], "app.kubernetes.io/part-of");
	assert_int_equal(c.nrules, 3);
	assert_int_equal(c.rules[1].line, 20);
	assert_string_equal(c.rules[2].project, "data-eng");
	config_free(&c);
	setenv("CFG_TEST_DIR", "", 1);	/* empty: the default, as in the shell */
	assert_int_equal(config_parse("t.yaml", good, strlen(good), &c, err, sizeof(err)), 0);
	assert_string_equal(c.db, "/var/tmp/llmobs.db");
	config_free(&c);
	setenv("CFG_TEST_DIR", "/srv/state", 1);
	assert_int_equal(config_parse("t.yaml", good, strlen(good), &c, err, sizeof(err)), 0);
	assert_string_equal(c.db, "/srv/state/llmobs.db");
	config_free(&c);
	/* an empty file is no settings, not an error */
	assert_int_equal(config_parse("e.yaml", "", 0, &c, err, sizeof(err)), 0);
	assert_null(c.db);
	assert_int_equal(c.json, -1);
	config_free(&c);
	/* JSON is YAML */
	assert_int_equal(config_parse("j.json", "{\"db\": \"/x.db\", \"max_conns\": 5}", 31, &c,
				      err, sizeof(err)), 0);
	assert_string_equal(c.db, "/x.db");
	config_free(&c);
}

static void test_errors_name_the_line(void **state)
{
	static const struct { const char *text, *want; } cases[] = {
		{ "db: /x\nlisten: 1.2.3.4:9464\nbogus: 1\n", "t.yaml:3: unknown key 'bogus'" },
		{ "projects:\n  rules:\n    - app: x\n      projcet: y\n",
		  "t.yaml:4: unknown key 'projcet' in a project rule" },
		{ "projects:\n  rules:\n    - app: x\n", "t.yaml:3: a project rule needs project:" },
		{ "projects:\n  rules:\n    - project: y\n", "t.yaml:3: a project rule needs one of" },
		{ "projects:\n  rules:\n    - app: x\n      project: \"a b\"\n", "t.yaml:4: project 'a b'" },
		{ "ringbuf_mb: 3\n", "t.yaml:1: ringbuf_mb: 3 is not a power of two" },
		{ "\nmax_conns: -4\n", "t.yaml:2: max_conns: '-4' is not a positive integer" },
		{ "max_conns: 12abc\n", "t.yaml:1: max_conns: '12abc'" },
		{ "json: maybe\n", "t.yaml:1: json: expected true or false" },
		{ "listen: localhost\n", "t.yaml:1: listen: 'localhost' is not HOST:PORT" },
		{ "listen: a:70000\n", "t.yaml:1: listen:" },
		{ "plain_ports: [80, 0]\n", "t.yaml:1: plain_ports:" },
		{ "db: ${CFG_TEST_UNSET}/x\n", "t.yaml:1: environment variable CFG_TEST_UNSET is not set" },
		{ "db: ${bad-name}\n", "t.yaml:1: bad variable name" },
		{ "db: ${OPEN\n", "t.yaml:1: unterminated ${" },
		{ "db: [1, 2\n", "t.yaml:2:" },
		{ "a: &x [1]\nb: *x\n", "t.yaml:2: aliases (*name) are not supported" },
		{ "- 1\n- 2\n", "t.yaml:1: the top level is a mapping" },
		{ "db:\n  nested: 1\n", "t.yaml:2: expected a single value" },
		{ "metrics:\n  max_sereis: 4\n", "t.yaml:2: unknown key 'max_sereis' in metrics" },
		{ "db: \"\"\n", "t.yaml:1: db: empty" },
		{ "db: /a\nmax_conns: 3\ndb: /b\n", "t.yaml:3: 'db' given twice" },
		{ "projects:\n  rules: []\nprojects:\n  rules: []\n", "t.yaml:3: 'projects' given twice" },
		{ "projects:\n  from_labels: [a]\n  from_labels: [b]\n", "t.yaml:3: 'from_labels' given twice" },
	};
	struct daemon_config c;
	char err[512];

	unsetenv("CFG_TEST_UNSET");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret = config_parse("t.yaml", cases[i].text, strlen(cases[i].text), &c, err,
				       sizeof(err));

		if (ret != -EINVAL || strncmp(err, cases[i].want, strlen(cases[i].want)))
			fail_msg("case %zu: ret %d, '%s', want '%s'", i, ret, err, cases[i].want);
		/* nothing half-applied */
		assert_null(c.db);
		assert_int_equal(c.nrules, 0);
	}
	{
		char *big = malloc(CONFIG_MAX_BYTES + 2);

		assert_non_null(big);
		memset(big, '#', CONFIG_MAX_BYTES + 1);
		assert_int_equal(config_parse("big", big, CONFIG_MAX_BYTES + 1, &c, err, sizeof(err)),
				 -EFBIG);
		free(big);
	}
	assert_int_equal(config_load("/nonexistent/llmobsd.yaml", &c, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/llmobsd.yaml"));
	assert_int_equal(config_load("/tmp", &c, err, sizeof(err)), -EINVAL);
}

static void test_flags_override_file(void **state)
{
	char path[] = "/tmp/test_daemon_config.XXXXXX";
	int fd = mkstemp(path);
	const char *text = "db: /from/file.db\nmax_conns: 10\nlisten: 127.0.0.1:1\n";
	char *argv[] = { "llmobsd", "--config", path, "--max-conns", "20", "--check-config", NULL };
	struct daemon_args a;
	int last_conns = -1;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(daemon_args_build(6, argv, &a), 0);
	assert_true(a.check_config);
	assert_string_equal(a.config_path, path);
	/* the file's flags first, the user's after: getopt lets the last win */
	assert_string_equal(a.argv[0], "llmobsd");
	for (int i = 1; i < a.argc; i++) {
		assert_string_not_equal(a.argv[i], "--config");
		assert_string_not_equal(a.argv[i], "--check-config");
		if (!strcmp(a.argv[i], "--max-conns"))
			last_conns = atoi(a.argv[i + 1]);
	}
	assert_int_equal(last_conns, 20);
	assert_string_equal(a.argv[1], "--db");
	assert_string_equal(a.argv[2], "/from/file.db");
	assert_null(a.argv[a.argc]);
	daemon_args_free(&a);
	unlink(path);
	/* a missing file named on the command line is an error */
	assert_int_equal(daemon_args_build(3, argv, &a), -ENOENT);
	daemon_args_free(&a);
}

static void test_project_rules(void **state)
{
	static const char text[] =
		"projects:\n"
		"  from_labels: [team]\n"
		"  rules:\n"
		"    - app: gemini\n"
		"      project: research\n"
		"    - namespace: ml\n"
		"      image: \"registry.local/*\"\n"
		"      project: ml-platform\n";
	struct daemon_config c;
	struct procattr a = { .uid = 0 };
	cJSON *labels = cJSON_Parse("{\"team\":\"payments\",\"other\":\"x\"}");
	cJSON *bad = cJSON_Parse("{\"team\":\"no spaces allowed\"}");
	char out[64], err[256];

	assert_int_equal(config_parse("t.yaml", text, strlen(text), &c, err, sizeof(err)), 0);
	strcpy(a.app, "gemini");
	assert_int_equal(config_project(&c, &a, NULL, out, sizeof(out)), 1);
	assert_string_equal(out, "research");
	assert_int_equal(config_project(&c, &a, labels, out, sizeof(out)), 1);
	assert_string_equal(out, "payments");	/* labels first */
	assert_int_equal(config_project(&c, &a, bad, out, sizeof(out)), 1);
	assert_string_equal(out, "research");	/* an invalid label value is skipped */
	strcpy(a.app, "curl");
	strcpy(a.k8s_namespace, "ml");
	assert_int_equal(config_project(&c, &a, NULL, out, sizeof(out)), 0);	/* both must match */
	strcpy(a.image, "registry.local/ranker:1");
	assert_int_equal(config_project(&c, &a, NULL, out, sizeof(out)), 1);
	assert_string_equal(out, "ml-platform");
	cJSON_Delete(labels);
	cJSON_Delete(bad);
	config_free(&c);
}

/* telemetry: the LLM_OBSERVER_* switches from the file; the environment wins. */
static void test_telemetry_section(void **state)
{
	static const char text[] =
		"telemetry:\n"
		"  enabled: \"true\"\n"
		"  api_key: lok_cfgtest1.fromTheConfigFile_123\n"
		"  endpoint: https://telemetry.example\n"
		"  flush_seconds: 5\n";
	struct daemon_config c;
	char err[512];

	(void)state;
	unsetenv("LLM_OBSERVER_ENDPOINT");
	unsetenv("LLM_OBSERVER_ENABLED");
	assert_int_equal(config_parse("t.yaml", text, strlen(text), &c, err, sizeof(err)), 0);
	assert_string_equal(config_telemetry_get("LLM_OBSERVER_ENABLED", &c), "true");
	assert_string_equal(config_telemetry_get("LLM_OBSERVER_ENDPOINT", &c),
			    "https://telemetry.example");
	assert_string_equal(config_telemetry_get("LLM_OBSERVER_FLUSH_SECONDS", &c), "5");
	assert_null(config_telemetry_get("LLM_OBSERVER_CA_FILE", &c));
	setenv("LLM_OBSERVER_ENDPOINT", "https://from-env.example", 1);
	assert_string_equal(config_telemetry_get("LLM_OBSERVER_ENDPOINT", &c),
			    "https://from-env.example");
	unsetenv("LLM_OBSERVER_ENDPOINT");
	config_free(&c);
	assert_int_equal(config_parse("t.yaml", "telemetry:\n  endpoint: x\n  secret: y\n",
				      strlen("telemetry:\n  endpoint: x\n  secret: y\n"), &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "t.yaml:3: unknown key 'secret' in telemetry"));
	assert_int_equal(config_parse("t.yaml", "telemetry: on\n", 14, &c, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "t.yaml:1: telemetry: expected a mapping"));
}

/* otlp: the OTEL_* variables from the file likewise; the environment wins. */
static void test_otlp_section(void **state)
{
	static const char text[] =
		"otlp:\n"
		"  endpoint: http://collector:4318\n"
		"  headers: api-key=from-file\n"
		"  resource_attributes: k8s.cluster.name=prod\n";
	struct daemon_config c;
	char err[512];

	(void)state;
	unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
	assert_int_equal(config_parse("t.yaml", text, strlen(text), &c, err, sizeof(err)), 0);
	assert_string_equal(config_otlp_get("OTEL_EXPORTER_OTLP_ENDPOINT", &c),
			    "http://collector:4318");
	assert_string_equal(config_otlp_get("OTEL_EXPORTER_OTLP_HEADERS", &c), "api-key=from-file");
	assert_string_equal(config_otlp_get("OTEL_RESOURCE_ATTRIBUTES", &c), "k8s.cluster.name=prod");
	assert_null(config_otlp_get("OTEL_SERVICE_NAME", &c));
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://from-env:4318", 1);
	assert_string_equal(config_otlp_get("OTEL_EXPORTER_OTLP_ENDPOINT", &c),
			    "http://from-env:4318");
	unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
	/* the sections do not answer for each other */
	assert_null(config_telemetry_get("OTEL_EXPORTER_OTLP_HEADERS", &c));
	config_free(&c);
	assert_int_equal(config_parse("t.yaml", "otlp:\n  endpoints: x\n", 21, &c, err,
				      sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "t.yaml:2: unknown key 'endpoints' in otlp (known: endpoint, "
				    "traces_endpoint, headers, service_name, resource_attributes, certificate)"));
}

/* The budgets come from the config's one parse: the daemon holds them,
 * and a bad one is the config's error, with its line. */
static void test_budgets_from_one_parse(void **state)
{
	static const char text[] =
		"db: /x.db\n"
		"budget_webhook: https://hooks.example/b\n"
		"budgets:\n"
		"  - project: search\n"
		"    usd: 12.5\n"
		"    period: day\n";
	static const char bad[] = "db: /x.db\nbudgets:\n  - usd: -1\n    period: day\n";
	struct daemon_config c;
	char err[512];

	(void)state;
	assert_int_equal(config_parse("t.yaml", text, strlen(text), &c, err, sizeof(err)), 0);
	assert_non_null(c.budgets);
	assert_int_equal(c.budgets->n, 1);
	assert_string_equal(c.budgets->b[0].match, "search");
	assert_true(c.budgets->b[0].limit_usd == 12.5);
	assert_string_equal(c.budgets->webhook, "https://hooks.example/b");
	config_free(&c);
	assert_null(c.budgets);
	assert_int_equal(config_parse("t.yaml", bad, strlen(bad), &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t.yaml:3: usd: '-1' is not a positive amount");
	assert_null(c.budgets);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_errors_name_the_line),
		cmocka_unit_test(test_flags_override_file),
		cmocka_unit_test(test_project_rules),
		cmocka_unit_test(test_telemetry_section),
		cmocka_unit_test(test_otlp_section),
		cmocka_unit_test(test_budgets_from_one_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
