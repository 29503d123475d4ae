/* The llmobs commands: reads what llmobsd stored. `report` for humans,
 * `export` for pipelines, `prices` to see the table costs are computed with.
 * Library code (tools/llmobs.c is only main) so the unit tests run the real
 * commands in-process under the sanitizers. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "cli_advise.h"
#include "cli_budget.h"
#include "cli_html.h"
#include "cli_top.h"
#include "cost.h"
#include "log.h"
#include "record.h"
#include "store.h"


struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: llmobs report [--db PATH] [--since DURATION]\n"
		"       llmobs budget [--config FILE] [--db PATH]\n"
		"       llmobs advise [--db PATH] [--since DURATION]\n"
		"       llmobs top [--db PATH] [--interval S] [--sort KEY] [--plain]\n"
		"       llmobs report --html FILE [--db PATH] [--since DURATION] [--app APP]\n"
		"                     [--project PROJECT] [--provider PROVIDER]\n"
		"       llmobs export [--format jsonl|csv] [--db PATH] [--since DURATION]\n"
		"       llmobs cache [--db PATH] [--since DURATION] [--json]\n"
		"       llmobs prices [--prices FILE] [--check] [--db PATH]\n"
		"       llmobs prices --update FILE [--force] [--db PATH]\n"
		"       llmobs prices --diff OLD NEW\n"
		"       llmobs reprice [--since DURATION] [--all] [--apply] [--prices FILE] [--db PATH]\n"
		"       llmobs telemetry status [--db PATH]\n"
		"       llmobs telemetry --dry-run [--db PATH] [--since DURATION] [--limit N]\n"
		"       llmobs help\n"
		"\n"
		"  --db PATH          database (default: $LLMOBS_DB, else the daemon's default)\n"
		"  --since DURATION   only exchanges that started within DURATION, e.g.\n"
		"                     90s, 30m, 24h, 7d, 2w, 1h30m\n"
		"  --html FILE        one self-contained HTML page with charts (- for stdout);\n"
		"                     --app, --project, --provider keep only those exchanges\n"
		"  --format FMT       jsonl (one JSON object per line, default) or csv\n"
		"  --prices FILE      price table JSON instead of the one in force (the file\n"
		"                     --update installed beside the database, else the built-in one)\n"
		"  --check            list the models seen in the database that the price\n"
		"                     table cannot price (exit 1 when there are any)\n"
		"  --update FILE      validate a newer table (genai-prices data.json or our\n"
		"                     format) and install it beside the database, where llmobsd\n"
		"                     and llmobs read it at start; refused if a model seen in the\n"
		"                     last 7 days would be unpriced, unless --force\n"
		"  --diff OLD NEW     prices changed between two tables (FILE, 'built-in' or\n"
		"                     'installed')\n"
		"  reprice            recompute stored costs with the table in force: unpriced\n"
		"                     rows (--all: every row); prints what would change and\n"
		"                     writes only with --apply\n");
}

static __attribute__((format(printf, 1, 2)))
int bad_usage(const char *fmt, ...)
{
	va_list ap;

	if (fmt) {
		fputs("llmobs: ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	usage(stderr);
	return EXIT_USAGE;
}

static int64_t since_ns_from(int64_t seconds)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec - seconds) * 1000000000;
}

/* Opens the DB for reading with an error that tells the user what to do. */
#define ROOT_DB "/var/lib/llm-observer/llmobs.db"	/* store_default_path as root */

static int open_db_mode(const char *db_arg, bool readonly, struct store **s)
{
	char buf[PATH_MAX];
	const char *path = db_arg ? db_arg : store_default_path(buf, sizeof(buf));
	struct stat st;
	int err;

	if (!path[0]) {
		fprintf(stderr, "llmobs: cannot work out the database path; pass --db PATH\n");
		return EXIT_FAILURE;
	}
	if (stat(path, &st) && errno == ENOENT) {
		fprintf(stderr,
			"llmobs: no database at %s\n"
			"  It is created by the daemon: run llmobsd (as root: `make run`),\n"
			"  or point to an existing one with --db PATH or LLMOBS_DB.\n", path);
		/* The daemon runs as root, so a user's default is rarely its DB. */
		if (!db_arg && strcmp(path, ROOT_DB) && stat(ROOT_DB, &st) == 0)
			fprintf(stderr, "  The system daemon's database is %s (root only).\n",
				ROOT_DB);
		return EXIT_FAILURE;
	}
	err = store_open(path, readonly, s);	/* logs path and cause */
	if (err == -EACCES || err == -EPERM)
		fprintf(stderr, "  The daemon's database is private (0600): run as its owner.\n");
	return err ? EXIT_FAILURE : 0;
}

static int open_db(const char *db_arg, struct store **s)
{
	return open_db_mode(db_arg, true, s);
}

/* The database path the commands use: --db, else the default. */
static const char *db_path_of(const char *db_arg, char *buf, size_t size)
{
	return db_arg ? db_arg : store_default_path(buf, size);
}

/* A table named on the command line: a file, "built-in" or "installed". */
static int load_named(const char *name, const char *db_arg, struct price_table **t)
{
	char db[PATH_MAX], inst[PATH_MAX];

	if (!strcmp(name, "built-in"))
		return price_table_load_default(t);
	if (!strcmp(name, "installed")) {
		price_table_installed_path(db_path_of(db_arg, db, sizeof(db)), inst, sizeof(inst));
		return price_table_load_file(inst, t);
	}
	return price_table_load_file(name, t);
}

/* --html: the page goes to a temporary file renamed into place, so a
 * failed report never leaves half a page under the name asked for. */
static int write_html(struct store *s, const char *path, const struct cli_html_opts *o)
{
	char tmp[PATH_MAX];
	FILE *f;
	int err;

	if (!strcmp(path, "-"))
		return cli_html_report(store_db(s), stdout, o);
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if (!(f = fopen(tmp, "w"))) {
		err = -errno;
		p_err("cannot write %s: %s", tmp, strerror(errno));
		return err;
	}
	err = cli_html_report(store_db(s), f, o);
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		p_err("html report %s: %s", path, strerror(-err));
		unlink(tmp);
	}
	return err;
}

static int do_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "since", required_argument, NULL, 's' },
		{ "html", required_argument, NULL, 'H' },
		{ "app", required_argument, NULL, 'a' },
		{ "project", required_argument, NULL, 'P' },
		{ "provider", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct cli_html_opts html = { 0 };
	const char *html_path = NULL;
	const char *db_arg = NULL, *since_arg = NULL;
	int64_t since_s = 0, since_ns = INT64_MIN;
	struct store *s = NULL;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': db_arg = optarg; break;
		case 's': since_arg = optarg; break;
		case 'H': html_path = optarg; break;
		case 'a': html.app = optarg; break;
		case 'P': html.project = optarg; break;
		case 'p': html.provider = optarg; break;
		case 'h': usage(stdout); return 0;
		default: return bad_usage(NULL);
		}
	}
	if (optind < argc)
		return bad_usage("unexpected argument '%s'", argv[optind]);
	if (!html_path && (html.app || html.project || html.provider))
		return bad_usage("--app, --project and --provider go with --html");
	if (since_arg) {
		if (cli_parse_duration(since_arg, &since_s))
			return bad_usage("bad --since '%s' (e.g. 30m, 24h, 7d)", since_arg);
		since_ns = since_ns_from(since_s);
	}
	if ((ret = open_db(db_arg, &s)))
		return ret;
	if (html_path) {
		html.since_ns = since_ns;
		html.since_label = since_arg;
		ret = write_html(s, html_path, &html);
		store_close(s);
		return ret ? EXIT_FAILURE : 0;
	}
	ret = cli_report(store_db(s), since_ns, since_arg);
	store_close(s);
	if (!ret && (fflush(stdout) || ferror(stdout))) {
		p_err("writing the report: %s", strerror(errno));
		ret = -EIO;
	}
	return ret ? EXIT_FAILURE : 0;
}

struct export_ctx {
	bool csv;
	int64_t since_ns;
	uint64_t n;
};

static int export_one(void *ctx, const struct exchange_record *r)
{
	struct export_ctx *c = ctx;

	if (r->ts_start_ns < c->since_ns)
		return 0;
	c->n++;
	return c->csv ? record_write_csv(stdout, r) : record_write_json(stdout, r);
}

/* `llmobs cache`: prompt-cache misses, breakers and advice (cli_cache.c). */
static int do_cache(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "since", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *db_arg = NULL, *since_arg = NULL;
	int64_t since_s = 0, since_ns = INT64_MIN;
	struct store *s = NULL;
	bool json = false;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': db_arg = optarg; break;
		case 's': since_arg = optarg; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return 0;
		default: return bad_usage(NULL);
		}
	}
	if (optind < argc)
		return bad_usage("unexpected argument '%s'", argv[optind]);
	if (since_arg) {
		if (cli_parse_duration(since_arg, &since_s))
			return bad_usage("bad --since '%s' (e.g. 30m, 24h, 7d)", since_arg);
		since_ns = since_ns_from(since_s);
	}
	if ((ret = open_db(db_arg, &s)))
		return ret;
	ret = cli_cache(store_db(s), since_ns, since_arg, json);
	store_close(s);
	if (!ret && (fflush(stdout) || ferror(stdout))) {
		p_err("writing the cache report: %s", strerror(errno));
		ret = -EIO;
	}
	return ret ? EXIT_FAILURE : 0;
}

static int do_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "db", required_argument, NULL, 'd' },
		{ "since", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct export_ctx ctx = { .since_ns = INT64_MIN };
	const char *db_arg = NULL;
	struct store *s = NULL;
	int64_t since_s;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			if (!strcmp(optarg, "csv"))
				ctx.csv = true;
			else if (strcmp(optarg, "jsonl") && strcmp(optarg, "json"))
				return bad_usage("unknown --format '%s' (jsonl or csv)", optarg);
			break;
		case 'd': db_arg = optarg; break;
		case 's':
			if (cli_parse_duration(optarg, &since_s))
				return bad_usage("bad --since '%s' (e.g. 30m, 24h, 7d)", optarg);
			ctx.since_ns = since_ns_from(since_s);
			break;
		case 'h': usage(stdout); return 0;
		default: return bad_usage(NULL);
		}
	}
	if (optind < argc)
		return bad_usage("unexpected argument '%s'", argv[optind]);
	if ((ret = open_db(db_arg, &s)))
		return ret;
	ret = ctx.csv ? record_write_csv_header(stdout) : 0;
	if (!ret)
		ret = store_foreach(s, export_one, &ctx);
	store_close(s);
	if (!ret && fflush(stdout))
		ret = -errno;
	if (ret == -EIO || (ret && ferror(stdout)))
		p_err("export: writing output failed after %" PRIu64 " records", ctx.n);
	return ret ? EXIT_FAILURE : 0;
}

static int prices_update(const char *file, const char *db_arg, bool force)
{
	char db[PATH_MAX], inst[PATH_MAX];
	const char *path = db_path_of(db_arg, db, sizeof(db));
	struct store *s = NULL;
	struct stat st;
	int rc;

	if (!path[0]) {
		fprintf(stderr, "llmobs: cannot work out the database path; pass --db PATH\n");
		return EXIT_FAILURE;
	}
	price_table_installed_path(path, inst, sizeof(inst));
	if (stat(path, &st) == 0 && open_db(db_arg, &s))
		return EXIT_FAILURE;
	rc = cli_prices_update(s ? store_db(s) : NULL, file, inst, force);
	store_close(s);
	return rc;
}

static int prices_diff(const char *old, const char *new, const char *db_arg)
{
	struct price_table *a = NULL, *b = NULL;
	int err;

	if ((err = load_named(old, db_arg, &a)) || (err = load_named(new, db_arg, &b))) {
		p_err("prices --diff: cannot load %s: %s", a ? new : old, strerror(-err));
		price_table_free(a);
		return EXIT_FAILURE;
	}
	cli_prices_diff(a, b);
	price_table_free(a);
	price_table_free(b);
	return fflush(stdout) || ferror(stdout) ? EXIT_FAILURE : 0;
}

static int do_prices(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "prices", required_argument, NULL, 'p' },
		{ "check", no_argument, NULL, 'c' },
		{ "db", required_argument, NULL, 'd' },
		{ "update", required_argument, NULL, 'u' },
		{ "force", no_argument, NULL, 'f' },
		{ "diff", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *file = NULL, *db_arg = NULL, *update = NULL;
	char db[PATH_MAX];
	struct price_table *t = NULL;
	struct store *s = NULL;
	bool check = false, force = false, diff = false;
	int opt, err, missing = 0;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': file = optarg; break;
		case 'c': check = true; break;
		case 'd': db_arg = optarg; break;
		case 'u': update = optarg; break;
		case 'f': force = true; break;
		case 'D': diff = true; break;
		case 'h': usage(stdout); return 0;
		default: return bad_usage(NULL);
		}
	}
	if (diff) {
		if (argc - optind != 2 || update || check || file)
			return bad_usage("--diff takes two tables: OLD NEW");
		return prices_diff(argv[optind], argv[optind + 1], db_arg);
	}
	if (optind < argc)
		return bad_usage("unexpected argument '%s'", argv[optind]);
	if (update) {
		if (check || file)
			return bad_usage("--update goes alone (with --force, --db)");
		return prices_update(update, db_arg, force);
	}
	if (force)
		return bad_usage("--force goes with --update");
	err = price_table_load_in_force(file, db_path_of(db_arg, db, sizeof(db)), &t);
	if (err) {
		p_err("cannot load the price table %s: %s", file ? file : "(in force)",
		      strerror(-err));
		return EXIT_FAILURE;
	}
	if (!check) {
		price_table_print(t, stdout);
	} else if ((err = open_db(db_arg, &s)) == 0) {
		err = cli_prices_check(store_db(s), t, &missing) ? EXIT_FAILURE : 0;
		store_close(s);
	}
	price_table_free(t);
	if (fflush(stdout) || ferror(stdout))
		return EXIT_FAILURE;
	return err || missing ? EXIT_FAILURE : 0;
}

static int do_reprice(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "prices", required_argument, NULL, 'p' },
		{ "db", required_argument, NULL, 'd' },
		{ "since", required_argument, NULL, 's' },
		{ "all", no_argument, NULL, 'a' },
		{ "apply", no_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *file = NULL, *db_arg = NULL;
	int64_t since_ns = INT64_MIN, since_s;
	struct price_table *t = NULL;
	struct store *s = NULL;
	bool all = false, write = false;
	char db[PATH_MAX];
	int opt, err;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p': file = optarg; break;
		case 'd': db_arg = optarg; break;
		case 's':
			if (cli_parse_duration(optarg, &since_s))
				return bad_usage("bad --since '%s'", optarg);
			since_ns = ((int64_t)time(NULL) - since_s) * 1000000000;
			break;
		case 'a': all = true; break;
		case 'w': write = true; break;
		case 'h': usage(stdout); return 0;
		default: return bad_usage(NULL);
		}
	}
	if (optind < argc)
		return bad_usage("unexpected argument '%s'", argv[optind]);
	err = price_table_load_in_force(file, db_path_of(db_arg, db, sizeof(db)), &t);
	if (err) {
		p_err("cannot load the price table %s: %s", file ? file : "(in force)",
		      strerror(-err));
		return EXIT_FAILURE;
	}
	if ((err = open_db_mode(db_arg, !write, &s)) == 0) {
		err = cli_reprice(store_db(s), t, since_ns, all, write) ? EXIT_FAILURE : 0;
		store_close(s);
	}
	price_table_free(t);
	if (fflush(stdout) || ferror(stdout))
		return EXIT_FAILURE;
	return err ? EXIT_FAILURE : 0;
}

static int do_help(int argc, char **argv)
{
	usage(stdout);
	return 0;
}

static const struct cmd cmds[] = {
	{ "report", do_report },
	{ "export", do_export },
	{ "cache", do_cache },
	{ "prices", do_prices },
	{ "reprice", do_reprice },
	{ "telemetry", cli_telemetry },
	{ "budget", cli_budget },
	{ "advise", cli_advise },
	{ "top", cli_top },
	{ "help", do_help },
	{ 0 },
};

/* bpftool-style: a unique prefix selects a command ("repo" -> report). */
static const struct cmd *find_cmd(const char *name)
{
	const struct cmd *c, *found = NULL;
	size_t len = strlen(name);

	for (c = cmds; c->name; c++) {
		if (!strcmp(c->name, name))
			return c;
		if (len && !strncmp(c->name, name, len)) {
			if (found)
				return NULL;	/* ambiguous */
			found = c;
		}
	}
	return found;
}

int cli_main(int argc, char **argv)
{
	const struct cmd *c;

	if (argc < 2)
		return bad_usage(NULL);
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return do_help(argc - 1, argv + 1);
	c = find_cmd(argv[1]);
	if (!c)
		return bad_usage("unknown command '%s'", argv[1]);
	optind = 0;	/* glibc: full re-init, argv now starts at the command */
	return c->fn(argc - 1, argv + 1);
}
