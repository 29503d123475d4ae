/* `llmobs top`: the database in, a live view out, refreshed every second:
 * the last minute's exchanges/s, tokens/s and $/h per app and model, the
 * cache hit rate, errors and the capture drops since the last refresh.
 *
 * It reads the daemon's database (WAL: reading never blocks the writer),
 * so it needs no socket to the daemon and shows what is stored, a flush
 * (250 ms) behind capture. On a terminal it draws a full screen with top's
 * habits (q quits, one key per sort order, redraw on resize); when stdout
 * is not a terminal it prints plain lines, one block per refresh, for
 * logs and pipes. Strings come from observed processes: control bytes are
 * shown as '?', they never reach the terminal. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "cli.h"
#include "cli_top.h"
#include "log.h"
#include "store.h"

#define TOP_WINDOW_S	60
#define TOP_MAX_ROWS	64

enum top_sort { SORT_COST, SORT_EXCHANGES, SORT_TOKENS, SORT_ERRORS, SORT_NAME };

static const struct {
	char key;
	const char *name, *order;
} sorts[] = {
	[SORT_COST] = { 'c', "cost", "5 DESC, 3 DESC" },
	[SORT_EXCHANGES] = { 'x', "exchanges", "3 DESC, 5 DESC" },
	[SORT_TOKENS] = { 't', "tokens", "4 DESC, 5 DESC" },
	[SORT_ERRORS] = { 'e', "errors", "6 DESC, 3 DESC" },
	[SORT_NAME] = { 'n', "name", "1, 2" },
};

struct top_row {
	char app[64], model[128];
	long long n, errors;
	double tokens, cost_usd, input, cached;
};

struct top_snap {
	long long n, errors;
	double input, cached, output, cost_usd;
	long long drops;		/* counters' drops, cumulative */
	int nrows;
	struct top_row rows[TOP_MAX_ROWS];
};

struct top {
	sqlite3 *db;
	const char *app_expr;
	enum top_sort sort;
	bool tty;
	int interval_ms;
	long long last_drops;		/* -1: first refresh */
};

static volatile sig_atomic_t top_stop, top_resized;

static void on_stop(int sig) { top_stop = 1; }
static void on_winch(int sig) { top_resized = 1; }

/* Copies s into dst (size n) with control bytes as '?'. */
static void safe_copy(char *dst, size_t n, const char *s)
{
	size_t i;

	for (i = 0; s && s[i] && i + 1 < n; i++)
		dst[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	dst[i] = '\0';
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	const char *v = (const char *)sqlite3_column_text(st, i);

	return v ? v : "";
}

static int step_all(struct top *t, sqlite3_stmt *st, int rc)
{
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		p_err("top: query failed: %s", sqlite3_errmsg(t->db));
		return -EIO;
	}
	return 0;
}

static int snapshot(struct top *t, struct top_snap *s)
{
	char sql[1024];
	sqlite3_stmt *st;
	struct timespec now;
	int64_t since;
	int rc, err;

	memset(s, 0, sizeof(*s));
	clock_gettime(CLOCK_REALTIME, &now);
	since = ((int64_t)now.tv_sec - TOP_WINDOW_S) * 1000000000LL + now.tv_nsec;
	if (sqlite3_prepare_v2(t->db, "SELECT count(*), total(error IS NOT NULL OR status >= 400),"
			       " total(input_tokens), total(cached_input_tokens), total(output_tokens),"
			       " total(CASE WHEN priced THEN cost_usd ELSE 0 END) FROM exchanges"
			       " WHERE ts_start_ns >= ?1", -1, &st, NULL) != SQLITE_OK)
		return step_all(t, NULL, SQLITE_ERROR);
	sqlite3_bind_int64(st, 1, since);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		s->n = sqlite3_column_int64(st, 0);
		s->errors = (long long)sqlite3_column_double(st, 1);
		s->input = sqlite3_column_double(st, 2);
		s->cached = sqlite3_column_double(st, 3);
		s->output = sqlite3_column_double(st, 4);
		s->cost_usd = sqlite3_column_double(st, 5);
	}
	if ((err = step_all(t, st, rc)))
		return err;
	snprintf(sql, sizeof(sql), "SELECT %s, COALESCE(NULLIF(model, ''), '?'), count(*),"
		 " total(input_tokens + output_tokens), total(CASE WHEN priced THEN cost_usd ELSE 0"
		 " END), total(error IS NOT NULL OR status >= 400), total(input_tokens),"
		 " total(cached_input_tokens) FROM exchanges WHERE ts_start_ns >= ?1"
		 " GROUP BY 1, 2 ORDER BY %s LIMIT %d", t->app_expr, sorts[t->sort].order,
		 TOP_MAX_ROWS);
	if (sqlite3_prepare_v2(t->db, sql, -1, &st, NULL) != SQLITE_OK)
		return step_all(t, NULL, SQLITE_ERROR);
	sqlite3_bind_int64(st, 1, since);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && s->nrows < TOP_MAX_ROWS) {
		struct top_row *r = &s->rows[s->nrows++];

		safe_copy(r->app, sizeof(r->app), col_text(st, 0));
		safe_copy(r->model, sizeof(r->model), col_text(st, 1));
		r->n = sqlite3_column_int64(st, 2);
		r->tokens = sqlite3_column_double(st, 3);
		r->cost_usd = sqlite3_column_double(st, 4);
		r->errors = (long long)sqlite3_column_double(st, 5);
		r->input = sqlite3_column_double(st, 6);
		r->cached = sqlite3_column_double(st, 7);
	}
	if ((err = step_all(t, st, rc)))
		return err;
	/* Drops: what capture lost, from the daemon's persisted counters. */
	if (sqlite3_prepare_v2(t->db, "SELECT total(value) FROM counters WHERE name LIKE '%drop%'",
			       -1, &st, NULL) != SQLITE_OK)
		return step_all(t, NULL, SQLITE_ERROR);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		s->drops = (long long)sqlite3_column_double(st, 0);
	return step_all(t, st, rc);
}

static double hit_pct(double cached, double input)
{
	return input > 0 ? 100.0 * cached / input : 0;
}

/* The summary line: the same words on a terminal and in plain lines. */
static void summary(FILE *out, const struct top *t, const struct top_snap *s, long long new_drops)
{
	fprintf(out, "exchanges/s %.2f  tokens/s %.0f  $/h %.4f  cache hit %.0f%%  errors %lld  "
		"drops +%lld (total %lld)", s->n / (double)TOP_WINDOW_S,
		(s->input + s->output) / TOP_WINDOW_S, s->cost_usd * 3600.0 / TOP_WINDOW_S,
		hit_pct(s->cached, s->input), s->errors, new_drops, s->drops);
}

static void row_line(FILE *out, const struct top_row *r, int app_w, int model_w)
{
	fprintf(out, "%-*.*s %-*.*s %8.2f %9.0f %10.4f %5.0f %5lld", app_w, app_w, r->app,
		model_w, model_w, r->model, r->n / (double)TOP_WINDOW_S, r->tokens / TOP_WINDOW_S,
		r->cost_usd * 3600.0 / TOP_WINDOW_S, hit_pct(r->cached, r->input), r->errors);
}

static void header_line(FILE *out, int app_w, int model_w)
{
	fprintf(out, "%-*s %-*s %8s %9s %10s %5s %5s", app_w, "APP", model_w, "MODEL", "EX/S",
		"TOK/S", "$/H", "HIT%", "ERR");
}

static void draw_tty(const struct top *t, const struct top_snap *s, long long new_drops)
{
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };
	char when[16];
	time_t now = time(NULL);
	struct tm tm;
	int rows, model_w, i;

	ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws);
	if (ws.ws_row < 8)
		ws.ws_row = 8;
	/* the model takes what the 20-column app and the numbers (42) leave */
	model_w = (int)ws.ws_col - 20 - 1 - 42 - 1;
	model_w = model_w < 12 ? 12 : model_w > 60 ? 60 : model_w;
	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	fputs("\033[H\033[2J", stdout);
	printf("llmobs top - %s  last %ds, every %.1fs, sorted by %s\r\n", when, TOP_WINDOW_S,
	       t->interval_ms / 1000.0, sorts[t->sort].name);
	summary(stdout, t, s, new_drops);
	fputs("\r\n\r\n\033[7m", stdout);
	header_line(stdout, 20, model_w);
	fputs("\033[0m\r\n", stdout);
	rows = ws.ws_row - 6;
	for (i = 0; i < s->nrows && i < rows; i++) {
		row_line(stdout, &s->rows[i], 20, model_w);
		fputs("\r\n", stdout);
	}
	if (!s->nrows)
		fputs("(no exchanges in the last minute)\r\n", stdout);
	printf("\033[%d;1Hq quit  c cost  x exchanges  t tokens  e errors  n name", ws.ws_row);
	fflush(stdout);
}

static void print_plain(const struct top *t, const struct top_snap *s, long long new_drops)
{
	char when[16];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	printf("%s ", when);
	summary(stdout, t, s, new_drops);
	putchar('\n');
	if (s->nrows) {
		fputs("  ", stdout);
		header_line(stdout, 20, 32);
		putchar('\n');
	}
	for (int i = 0; i < s->nrows; i++) {
		fputs("  ", stdout);
		row_line(stdout, &s->rows[i], 20, 32);
		putchar('\n');
	}
	fflush(stdout);
}

static struct termios saved_tio;
static bool tio_saved;

static void tty_restore(void)
{
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	fputs("\033[?25h\033[?1049l", stdout);	/* cursor back, main screen */
	fflush(stdout);
}

static int tty_enter(void)
{
	struct termios tio;

	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_tio) == 0) {
		tio = saved_tio;
		tio.c_lflag &= ~(ICANON | ECHO);
		tio.c_cc[VMIN] = 0;
		tio.c_cc[VTIME] = 0;
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &tio) == 0)
			tio_saved = true;
	}
	fputs("\033[?1049h\033[?25l", stdout);	/* alternate screen, no cursor */
	return 0;
}

/* Waits up to the interval for keys; returns false to quit. */
static bool wait_keys(struct top *t)
{
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	char c;
	size_t i;

	if (!t->tty || !tio_saved) {
		poll(NULL, 0, t->interval_ms);
		return !top_stop;
	}
	if (poll(&p, 1, t->interval_ms) <= 0)
		return !top_stop;
	while (read(STDIN_FILENO, &c, 1) == 1) {
		if (c == 'q' || c == 'Q' || c == 3)
			return false;
		for (i = 0; i < sizeof(sorts) / sizeof(sorts[0]); i++)
			if (c == sorts[i].key)
				t->sort = (enum top_sort)i;
	}
	return !top_stop;
}

static bool has_app_column(sqlite3 *db)
{
	sqlite3_stmt *st;
	bool found;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info('exchanges') WHERE name = 'app'",
			       -1, &st, NULL) != SQLITE_OK)
		return false;
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

static void top_usage(FILE *out)
{
	fprintf(out, "Usage: llmobs top [--db PATH] [--interval SECONDS] [--iterations N] "
		"[--sort cost|exchanges|tokens|errors|name] [--plain]\n"
		"  A live view of the last minute, refreshed every interval (default 1 s).\n"
		"  Keys: q quit, c x t e n sort by cost, exchanges, tokens, errors, name.\n"
		"  When stdout is not a terminal (or --plain), prints plain lines instead.\n");
}

int cli_top(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "interval", required_argument, NULL, 'i' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "sort", required_argument, NULL, 's' },
		{ "plain", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct top t = { .interval_ms = 1000, .last_drops = -1 };
	struct top_snap *snap = NULL;
	struct store *store = NULL;
	const char *db_arg = NULL;
	char buf[PATH_MAX];
	long iterations = -1, done = 0;
	bool plain = false;
	int opt, err = 0;
	size_t i;

	while ((opt = getopt_long(argc, argv, "d:n:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'd': db_arg = optarg; break;
		case 'i': {
			double s = strtod(optarg, NULL);

			if (!(s >= 0.1 && s <= 3600)) {
				fprintf(stderr, "llmobs: bad --interval '%s' (0.1 to 3600 s)\n", optarg);
				return EXIT_USAGE;
			}
			t.interval_ms = (int)(s * 1000);
			break;
		}
		case 'n':
			iterations = strtol(optarg, NULL, 10);
			if (iterations <= 0) {
				fprintf(stderr, "llmobs: bad --iterations '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 's':
			for (i = 0; i < sizeof(sorts) / sizeof(sorts[0]); i++)
				if (!strcmp(optarg, sorts[i].name))
					break;
			if (i == sizeof(sorts) / sizeof(sorts[0])) {
				fprintf(stderr, "llmobs: unknown --sort '%s'\n", optarg);
				return EXIT_USAGE;
			}
			t.sort = (enum top_sort)i;
			break;
		case 'p': plain = true; break;
		case 'h': top_usage(stdout); return 0;
		default: top_usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		top_usage(stderr);
		return EXIT_USAGE;
	}
	if (!db_arg)
		db_arg = store_default_path(buf, sizeof(buf));
	if (!db_arg[0] || store_open(db_arg, true, &store)) {
		fprintf(stderr, "llmobs: cannot open the database %s (run llmobsd, or --db PATH)\n",
			db_arg);
		return EXIT_FAILURE;
	}
	t.db = store_db(store);
	t.app_expr = has_app_column(t.db) ? "COALESCE(NULLIF(app, ''), NULLIF(comm, ''), '?')" :
					    "COALESCE(NULLIF(comm, ''), '?')";
	t.tty = !plain && isatty(STDOUT_FILENO);
	snap = malloc(sizeof(*snap));
	if (!snap) {
		store_close(store);
		return EXIT_FAILURE;
	}
	top_stop = 0;
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	if (t.tty) {
		signal(SIGWINCH, on_winch);
		tty_enter();
	}
	for (;;) {
		long long new_drops;

		if ((err = snapshot(&t, snap)))
			break;
		new_drops = t.last_drops < 0 ? 0 : snap->drops - t.last_drops;
		t.last_drops = snap->drops;
		if (t.tty)
			draw_tty(&t, snap, new_drops);
		else
			print_plain(&t, snap, new_drops);
		if (++done == iterations || ferror(stdout) || !wait_keys(&t))
			break;
		top_resized = 0;
	}
	if (t.tty)
		tty_restore();
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	free(snap);
	store_close(store);
	return err || ferror(stdout) ? EXIT_FAILURE : 0;
}
