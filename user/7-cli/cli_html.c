/* `llmobs report --html`: the database in, one self-contained HTML page
 * out. Every figure is a GROUP BY over `exchanges` (the filters on
 * indexed ts_start_ns first), so the page's size depends on the number of
 * time buckets, series and timeline lanes, all bounded, never on the
 * number of rows. Columns of later schemas (attribution, cache analytics,
 * sensitive data) are used when the file has them; without them their
 * section says so and the rest of the report is unchanged. A Content-
 * Security-Policy forbids every fetch: the page never touches the network. */
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli_html.h"
#include "html_svg.h"
#include "log.h"
#include "store.h"

#define TOP_SERIES	(SVG_MAX_SERIES - 1)	/* named series; the rest is "other" */

/* Appends s to buf (size n) at *at; false when it does not fit. */
static bool put(char *buf, size_t n, size_t *at, const char *s, size_t len)
{
	if (*at + len >= n)
		return false;
	memcpy(buf + *at, s, len);
	*at += len;
	buf[*at] = '\0';
	return true;
}

static void setup_filters(struct html *h)
{
	const struct cli_html_opts *o = h->o;
	size_t at = 0;
	char part[256];

	h->has_app = store_has_column(h->db, "app");
	h->has_project = store_has_column(h->db, "project");
	h->has_sensitive = store_has_column(h->db, "sensitive");
	h->has_cache = store_has_column(h->db, "missed_cache_usd");
	h->has_breakers = store_has_column(h->db, "breakers");
	h->has_tools = store_has_column(h->db, "tool_calls");
	/* Without attribution (or for a process it could not name) the app
	 * is the command name: a filter on it still means something. */
	h->app_expr = h->has_app ? "COALESCE(NULLIF(app, ''), NULLIF(comm, ''), '(unknown)')" :
				   "COALESCE(NULLIF(comm, ''), '(unknown)')";
	h->project_expr = h->has_project ? "COALESCE(NULLIF(project, ''), '(none)')" : "'(none)'";
	h->where[0] = '\0';
	put(h->where, sizeof(h->where), &at, "ts_start_ns >= :since", 21);
	if (o->app) {
		snprintf(part, sizeof(part), " AND %s = :app", h->app_expr);
		put(h->where, sizeof(h->where), &at, part, strlen(part));
	}
	if (o->project) {
		snprintf(part, sizeof(part), " AND %s = :project", h->project_expr);
		put(h->where, sizeof(h->where), &at, part, strlen(part));
	}
	if (o->provider)
		put(h->where, sizeof(h->where), &at, " AND provider = :provider", 25);
}

static const char STYLE[] =
	"body{font:14px/1.4 system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#222}"
	"h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}"
	"table{border-collapse:collapse;margin:6px 0}td,th{padding:2px 10px;text-align:right}"
	"td:first-child,th:first-child{text-align:left}tr:nth-child(even){background:#f6f6f6}"
	".chart{margin:0}.chart svg{width:100%;height:auto}.grid{stroke:#e3e3e3}"
	".ax{font-size:11px;fill:#666}.legend{font-size:12px}.key{margin-right:14px}"
	".key i{display:inline-block;width:10px;height:10px;margin-right:4px}"
	"#totals{display:flex;gap:28px}#totals div b{display:block;font-size:20px}"
	".lane{display:flex;align-items:center}.lanelabel{width:330px;font-size:12px;"
	"overflow:hidden;white-space:nowrap;text-overflow:ellipsis}.timeline{flex:1;height:24px}"
	".err{stroke:#d00;stroke-width:2}.note{color:#666;font-size:12px}.warn{color:#a40}";

/* A tiny check that the browser laid the charts out: every <svg> has a
 * box. The browser test reads the attributes it sets. */
static const char SCRIPT[] =
	"addEventListener('load',function(){var s=document.querySelectorAll('svg'),ok=s.length>0;"
	"for(var i=0;i<s.length;i++){var r=s[i].getBoundingClientRect();"
	"if(!(r.width>0&&r.height>0))ok=false}"
	"document.body.setAttribute('data-svg-count',s.length);"
	"document.body.setAttribute('data-rendered',ok?'yes':'no')});";

static void page_head(struct html *h)
{
	const struct cli_html_opts *o = h->o;
	char now[32];
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(now, sizeof(now), "%Y-%m-%d %H:%M UTC", &tm);
	fprintf(h->out, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		"style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
		"<title>llm-observer report</title><style>%s</style></head><body>\n"
		"<h1>LLM spend %s", STYLE, o->since_label ? "in the last " : "(all time)");
	html_text(h->out, o->since_label);
	fputs("</h1>\n<p class=\"note\">", h->out);
	if (o->app || o->project || o->provider) {
		fputs("Filters:", h->out);
		if (o->app) {
			fputs(" app = ", h->out);
			html_text(h->out, o->app);
		}
		if (o->project) {
			fputs(" project = ", h->out);
			html_text(h->out, o->project);
		}
		if (o->provider) {
			fputs(" provider = ", h->out);
			html_text(h->out, o->provider);
		}
		fputs(". ", h->out);
	}
	fprintf(h->out, "Generated %s by llmobs. Costs leave out unpriced models (listed below). "
		"Times are UTC.%s</p>\n", now, h->has_app ? "" :
		" This database has no app or project attribution: apps are command names.");
}

/* Totals, with their exact values in data-value for the browser test. */
static int totals(struct html *h, int64_t *n)
{
	sqlite3_stmt *st;
	int rc, err;

	if ((err = html_prepare(h, "SELECT count(*), total(input_tokens), total(cached_input_tokens),"
				" total(output_tokens), total({COST}), total(priced = 0)"
				" FROM exchanges WHERE {W}", &st)))
		return err;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*n = sqlite3_column_int64(st, 0);
		fprintf(h->out, "<div id=\"totals\">"
			"<div>exchanges<b id=\"total-exchanges\" data-value=\"%lld\">%lld</b></div>"
			"<div>cost<b id=\"total-cost\" data-value=\"%.6f\">$%.2f</b></div>"
			"<div>input tokens<b id=\"total-input\" data-value=\"%.0f\">%.0f</b></div>"
			"<div>cached<b id=\"total-cached\" data-value=\"%.0f\">%.0f</b></div>"
			"<div>output tokens<b id=\"total-output\" data-value=\"%.0f\">%.0f</b></div>"
			"<div>unpriced<b id=\"total-unpriced\" data-value=\"%.0f\">%.0f</b></div></div>\n",
			(long long)*n, (long long)*n, sqlite3_column_double(st, 4),
			sqlite3_column_double(st, 4), sqlite3_column_double(st, 1),
			sqlite3_column_double(st, 1), sqlite3_column_double(st, 2),
			sqlite3_column_double(st, 2), sqlite3_column_double(st, 3),
			sqlite3_column_double(st, 3), sqlite3_column_double(st, 5),
			sqlite3_column_double(st, 5));
	}
	return html_finish(h, st, rc);
}

/* Bucket width: the first round step giving at most 48 buckets. */
static int choose_buckets(struct html *h)
{
	static const int64_t steps[] = { 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 86400,
					 7 * 86400, 30 * 86400 };
	sqlite3_stmt *st;
	int64_t lo = 0, hi = 0;
	size_t i;
	int rc, err;

	if ((err = html_prepare(h, "SELECT min(ts_start_ns), max(ts_start_ns) FROM exchanges"
				" WHERE {W}", &st)))
		return err;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		lo = sqlite3_column_int64(st, 0) / 1000000000;
		hi = sqlite3_column_int64(st, 1) / 1000000000;
	}
	if ((err = html_finish(h, st, rc)))
		return err;
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if ((hi - lo) / steps[i] < 48)
			break;
	if (i == sizeof(steps) / sizeof(steps[0]))
		i--;
	h->width_s = steps[i];
	h->t0_s = lo - lo % h->width_s;
	h->nbuckets = (int)((hi - h->t0_s) / h->width_s) + 1;
	if (h->nbuckets > SVG_MAX_BUCKETS)	/* only past 5 years of data */
		h->nbuckets = SVG_MAX_BUCKETS;
	return 0;
}

static int bucket_of(struct html *h, sqlite3_stmt *st, int col)
{
	int64_t b = sqlite3_column_int64(st, col);

	return b < 0 ? 0 : b >= h->nbuckets ? h->nbuckets - 1 : (int)b;
}

/* value (SQL, dollars) over time stacked by dim (SQL): the 8 largest
 * values of dim, the rest as "other". */
static int stack_by(struct html *h, const char *title, const char *id, const char *dim,
		    const char *value)
{
	struct svg_stack *c = calloc(1, sizeof(*c));
	char *names[SVG_MAX_SERIES] = { 0 };
	char sql[1024];
	sqlite3_stmt *st;
	int rc, err, s, n = 0;

	if (!c)
		return -ENOMEM;
	snprintf(sql, sizeof(sql), "SELECT %s AS k, total(%s) FROM exchanges WHERE {W}"
		 " GROUP BY k ORDER BY 2 DESC, k LIMIT %d", dim, value, TOP_SERIES + 1);
	if ((err = html_prepare(h, sql, &st)))
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < TOP_SERIES + 1)
		names[n++] = strdup(html_col(st, 0));
	if ((err = html_finish(h, st, rc)))
		goto out;
	if (n == TOP_SERIES + 1) {	/* more than 8: the 9th and later are "other" */
		free(names[TOP_SERIES]);
		names[TOP_SERIES] = strdup("other");
	}
	for (s = 0; s < n; s++)
		if (!names[s]) {
			err = -ENOMEM;
			goto out;
		}
	snprintf(sql, sizeof(sql), "SELECT (ts_start_ns / 1000000000 - :t0) / :w, %s,"
		 " total(%s) FROM exchanges WHERE {W} GROUP BY 1, 2", dim, value);
	if ((err = html_prepare(h, sql, &st)))
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *k = html_col(st, 1);

		for (s = 0; s < n && (!strcmp(names[s], "other") || strcmp(names[s], k)); s++)
			;
		if (s == n)
			s = n - 1;	/* past the top 8: "other", the last */
		c->v[s][bucket_of(h, st, 0)] += sqlite3_column_double(st, 2);
	}
	if ((err = html_finish(h, st, rc)))
		goto out;
	fprintf(h->out, "<h3>%s</h3>\n", title);
	c->id = id;
	c->nseries = n;
	c->nbuckets = h->nbuckets;
	c->t0_s = h->t0_s;
	c->width_s = h->width_s;
	c->unit = "$";
	for (s = 0; s < n; s++)
		c->names[s] = names[s];
	svg_stacked_bars(h->out, c);
out:
	for (s = 0; s < SVG_MAX_SERIES; s++)
		free(names[s]);
	free(c);
	return err;
}

static int spend_by(struct html *h, const char *title, const char *id, const char *dim)
{
	return stack_by(h, title, id, dim, "{COST}");
}

static int tokens_by_type(struct html *h)
{
	static const char *const names[] = { "fresh input", "cached input", "cache writes",
					     "output", "reasoning" };
	struct svg_stack *c = calloc(1, sizeof(*c));
	sqlite3_stmt *st;
	int rc, err, s;

	if (!c)
		return -ENOMEM;
	err = html_prepare(h, "SELECT (ts_start_ns / 1000000000 - :t0) / :w,"
			   " total(max(input_tokens - cached_input_tokens - cache_write_tokens, 0)),"
			   " total(cached_input_tokens), total(cache_write_tokens),"
			   " total(max(output_tokens - reasoning_tokens, 0)), total(reasoning_tokens)"
			   " FROM exchanges WHERE {W} GROUP BY 1", &st);
	if (err)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		for (s = 0; s < 5; s++)
			c->v[s][bucket_of(h, st, 0)] += sqlite3_column_double(st, s + 1);
	if ((err = html_finish(h, st, rc)))
		goto out;
	fputs("<h2>Tokens by type</h2>\n", h->out);
	c->id = "tokens-by-type";
	c->nseries = 5;
	c->nbuckets = h->nbuckets;
	c->t0_s = h->t0_s;
	c->width_s = h->width_s;
	c->unit = "";
	for (s = 0; s < 5; s++)
		c->names[s] = names[s];
	svg_stacked_bars(h->out, c);
out:
	free(c);
	return err;
}

/* What to do about each kind of cache breaker (cache_breaker.h). */
static const char *breaker_advice(const char *kind)
{
	static const struct { const char *kind, *advice; } a[] = {
		{ "timestamp", "move the time to the end of the prompt, or round it to the day" },
		{ "date", "put the date after the cached prefix" },
		{ "epoch", "move the epoch value out of the system prompt" },
		{ "uuid", "send request ids as metadata, not in the prompt" },
		{ "hex_id", "keep per-call ids out of the prefix" },
		{ "base64_id", "keep per-call ids out of the prefix" },
		{ "counter", "move the counter after the cached prefix" },
		{ "random_number", "keep per-call numbers out of the prefix" },
		{ "reordered_tools", "sort the tool list the same way every call" },
		{ "reordered_keys", "serialise JSON with a stable key order" },
		{ "reordered_blocks", "keep the blocks of the prompt in a fixed order" },
		{ "whitespace", "normalise whitespace before sending" },
	};

	for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++)
		if (!strcmp(kind, a[i].kind))
			return a[i].advice;
	return "find what differs between calls at this point of the prompt";
}

static int cache_section(struct html *h)
{
	double *ratio = malloc(sizeof(double) * SVG_MAX_BUCKETS);
	sqlite3_stmt *st;
	int rc, err, b;

	if (!ratio)
		return -ENOMEM;
	for (b = 0; b < SVG_MAX_BUCKETS; b++)
		ratio[b] = NAN;
	err = html_prepare(h, "SELECT (ts_start_ns / 1000000000 - :t0) / :w,"
			   " total(cached_input_tokens) / total(input_tokens) FROM exchanges"
			   " WHERE {W} AND input_tokens > 0 GROUP BY 1", &st);
	if (err)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		ratio[bucket_of(h, st, 0)] = sqlite3_column_double(st, 1);
	if ((err = html_finish(h, st, rc)))
		goto out;
	fputs("<h2>Prompt cache</h2>\n", h->out);
	svg_ratio_line(h->out, "cache-hit-rate", ratio, h->nbuckets, h->t0_s, h->width_s);
	if (h->has_cache)
		err = stack_by(h, "Missed cache dollars by model (estimate)", "cache-missed",
			       "COALESCE(NULLIF(model, ''), '(unknown)')", "missed_cache_usd");
	if (!h->has_cache) {
		fputs("<p class=\"note\">This database has no cache analytics: missed dollars and "
		      "breakers need a daemon with prompt-cache analysis.</p>\n", h->out);
		goto out;
	}
	if (err || !h->has_breakers)
		goto out;
	err = html_prepare(h, "SELECT json_extract(j.value, '$.kind'), count(*),"
			   " total(json_extract(j.value, '$.missed_usd')) FROM exchanges,"
			   " json_each(CASE WHEN json_valid(breakers) THEN breakers ELSE '[]' END) j"
			   " WHERE {W} GROUP BY 1 ORDER BY 3 DESC LIMIT 10", &st);
	if (err)
		goto out;
	fputs("<h3>Top cache breakers</h3><table id=\"breakers\"><tr><th>kind</th><th>calls</th>"
	      "<th>missed $</th><th>advice</th></tr>\n", h->out);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		fputs("<tr><td>", h->out);
		html_text(h->out, html_col(st, 0));
		fprintf(h->out, "</td><td>%lld</td><td>$%.4f</td><td style=\"text-align:left\">",
			(long long)sqlite3_column_int64(st, 1), sqlite3_column_double(st, 2));
		html_text(h->out, breaker_advice(html_col(st, 0)));
		fputs("</td></tr>\n", h->out);
	}
	fputs("</table>\n", h->out);
	err = html_finish(h, st, rc);
out:
	free(ratio);
	return err;
}

int cli_html_report(struct sqlite3 *db, FILE *out, const struct cli_html_opts *o)
{
	struct html h = { .db = db, .out = out, .o = o };
	int64_t n = 0;
	int err;

	setup_filters(&h);
	page_head(&h);
	if ((err = totals(&h, &n)))
		return err;
	if (n == 0)
		fputs("<p>No exchanges recorded in this window.</p>\n", out);
	else
		err = choose_buckets(&h) ?:
		      (fputs("<h2>Spend over time</h2>\n", out), 0) ?:
		      spend_by(&h, "By provider", "spend-provider", "provider") ?:
		      spend_by(&h, "By model", "spend-model",
			       "COALESCE(NULLIF(model, ''), '(unknown)')") ?:
		      spend_by(&h, "By app", "spend-app", h.app_expr) ?:
		      (h.has_project ? spend_by(&h, "By project", "spend-project",
						h.project_expr) : 0) ?:
		      tokens_by_type(&h) ?:
		      cache_section(&h) ?:
		      html_reliability(&h) ?:
		      html_unpriced_and_blind_spots(&h) ?:
		      html_sensitive(&h) ?:
		      html_budgets(&h) ?:
		      html_advice(&h) ?:
		      html_timeline(&h);
	fprintf(out, "<script>%s</script></body></html>\n", SCRIPT);
	if (!err && ferror(out))
		err = -EIO;
	return err;
}
