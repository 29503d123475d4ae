/* Every model the tests use is priced, or allow-listed here with the reason:
 * the models of the e2e fixtures (tests/e2e/fixtures.jsonl and the Gemini
 * CLI's tests/e2e/clients/gemini_cli.jsonl), of the shared
 * corpus, and those the e2e clients ask for (their sources are scanned for
 * `model: "x"`, `"model": "x"` and `/models/x:`), each priced as the daemon
 * prices its call (its host, its API). An allow-listed model that is priced
 * after all fails too: the list must stay true. */
#include <errno.h>
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include "cost.h"
#include "corpus_util.h"

static const struct { const char *model, *why; } allowed[] = {
	{ "llama3.2", "a local Ollama server: the user's own hardware, no list price" },
	{ "qwen2.5:0.5b", "a local Ollama server: the user's own hardware, no list price" },
	{ "Qwen/Qwen2.5-0.5B-Instruct", "a local vLLM server: the user's own hardware" },
};

struct seen {
	const struct price_table *t;
	int priced, allowed, missing;
};

static const char *allowed_why(const char *model)
{
	size_t i;

	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (!strcmp(model, allowed[i].model))
			return allowed[i].why;
	return NULL;
}

static void check(struct seen *s, const char *from, const char *host, const char *path,
		  const char *provider, const char *api, const char *model)
{
	struct exchange_record r = { 0 };
	const char *why = allowed_why(model);

	snprintf(r.host, sizeof(r.host), "%s", host);
	snprintf(r.path, sizeof(r.path), "%s", path);
	snprintf(r.provider, sizeof(r.provider), "%s", provider);
	snprintf(r.api, sizeof(r.api), "%s", api);
	snprintf(r.model, sizeof(r.model), "%s", model);
	cost_price_record(s->t, &r);
	if (r.priced && why) {
		print_message("%s: %s is allow-listed (%s) but priced: drop it from the list\n",
			      from, model, why);
		s->missing++;
	} else if (r.priced) {
		s->priced++;
	} else if (why) {
		s->allowed++;
	} else {
		print_message("%s: %s at %s (%s) is not priced\n", from, model, host, api);
		s->missing++;
	}
}

static void line_cb(const cJSON *line, void *ctx)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(line, "expected");

	if (!corpus_str(e, "model")[0])
		return;
	check(ctx, corpus_str(line, "id"), corpus_str(line, "host"), corpus_str(line, "path"),
	      corpus_str(line, "provider"), corpus_str(line, "api"), corpus_str(e, "model"));
}

static void test_corpus_and_fixtures(void **state)
{
	struct price_table *t = NULL;
	struct seen s = { 0 };
	const char *saved = getenv("CORPUS");
	char *keep = saved ? strdup(saved) : NULL;

	assert_int_equal(price_table_load_default(&t), 0);
	s.t = t;
	if (corpus_path())
		assert_true(corpus_foreach(line_cb, &s) > 0);
	else
		print_message("CORPUS not set: the shared corpus is not checked\n");
	/* The e2e fixtures (and the Gemini CLI's), read with the same helper. */
	assert_int_equal(setenv("CORPUS", "tests/e2e/fixtures.jsonl", 1), 0);
	assert_true(corpus_foreach(line_cb, &s) > 0);
	assert_int_equal(setenv("CORPUS", "tests/e2e/clients/gemini_cli.jsonl", 1), 0);
	assert_int_equal(corpus_foreach(line_cb, &s), 2);
	if (keep)
		setenv("CORPUS", keep, 1);
	else
		unsetenv("CORPUS");
	free(keep);
	print_message("corpus and fixtures: %d priced, %d allow-listed, %d missing\n",
		      s.priced, s.allowed, s.missing);
	assert_int_equal(s.missing, 0);
	price_table_free(t);
}

/* The host and API an e2e client's model is called at, by its family. */
static void client_model(struct seen *s, const char *from, const char *m)
{
	if (!strncmp(m, "claude", 6))
		check(s, from, "api.anthropic.com", "/v1/messages", "anthropic", "messages", m);
	else if (!strncmp(m, "gemini", 6))
		check(s, from, "generativelanguage.googleapis.com", "/v1beta/models", "google",
		      "generate_content", m);
	else
		check(s, from, "api.openai.com", "/v1/chat/completions", "openai",
		      "chat.completions", m);
}

static void scan(struct seen *s, const char *path)
{
	static const char *const marks[] = { "model: \"", "\"model\": \"", "/models/" };
	char *buf = NULL, name[128];
	size_t cap = 0, i, n;
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	while (getline(&buf, &cap, f) > 0)
		for (i = 0; i < 3; i++) {
			const char *p = strstr(buf, marks[i]);

			if (!p)
				continue;
			p += strlen(marks[i]);
			n = strcspn(p, i == 2 ? ":\"?' " : "\"");
			if (n == 0 || n >= sizeof(name) || (i == 2 && p[n] != ':') ||
			    memchr(p, '{', n) || memchr(p, '$', n))
				continue;	/* a variable, not a name */
			memcpy(name, p, n);
			name[n] = '\0';
			client_model(s, path, name);
		}
	free(buf);
	fclose(f);
}

static void test_e2e_clients(void **state)
{
	static const char *const dirs[] = { "tests/e2e/clients", "tests/e2e/node" };
	struct price_table *t = NULL;
	struct seen s = { 0 };
	struct dirent *de;
	char path[512];
	size_t i;

	assert_int_equal(price_table_load_default(&t), 0);
	s.t = t;
	for (i = 0; i < 2; i++) {
		DIR *d = opendir(dirs[i]);

		assert_non_null(d);
		while ((de = readdir(d))) {
			const char *dot = strrchr(de->d_name, '.');

			if (!dot || (strcmp(dot, ".py") && strcmp(dot, ".sh") && strcmp(dot, ".mjs")))
				continue;
			snprintf(path, sizeof(path), "%s/%s", dirs[i], de->d_name);
			scan(&s, path);
		}
		closedir(d);
	}
	/* The Gemini CLI's (tests/e2e/clients/gemini_cli.sh): its default
	 * small model, unpriced before issue 10, and its answering model. */
	client_model(&s, "gemini-cli", "gemini-3.5-flash-lite");
	client_model(&s, "gemini-cli", "gemini-3.8-flash");
	print_message("e2e clients: %d models priced, %d allow-listed, %d missing\n",
		      s.priced, s.allowed, s.missing);
	assert_true(s.priced >= 8);
	assert_int_equal(s.missing, 0);
	price_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_and_fixtures),
		cmocka_unit_test(test_e2e_clients),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
