/* The HTML report's tables and its agent timeline (cli_html.h): errors,
 * 429s and latency percentiles per provider and model; unpriced models
 * and what capture lost; secrets and personal data per app and project;
 * and, per process, its recent exchanges as bars on a time axis.
 *
 * Percentiles are nearest-rank, computed in SQL with window functions, so
 * no row leaves SQLite. The timeline is the one place rows are shown, and
 * only metadata: the last TIMELINE_CALLS exchanges of the TIMELINE_LANES
 * most recently active processes, which bounds the page's size. */
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cli_advise.h"
#include "cli_budget.h"
#include "cli_html.h"
#include "html_svg.h"

#define TIMELINE_LANES	8
#define TIMELINE_CALLS	120
#define RUN_GAP_S	600	/* a pause this long ends an agent's run */

/* The 50th and 95th percentiles (nearest rank) of metric per provider
 * and model, over f (the filtered rows). */
#define PCT_CTE(name, metric) \
	name " AS (SELECT provider, model, max(CASE WHEN rn = (n * 50 + 99) / 100 THEN v END) AS p50," \
	" max(CASE WHEN rn = (n * 95 + 99) / 100 THEN v END) AS p95 FROM (SELECT provider, model," \
	" " metric " AS v, row_number() OVER (PARTITION BY provider, model ORDER BY " metric ") AS rn," \
	" count(*) OVER (PARTITION BY provider, model) AS n FROM f WHERE " metric \
	" IS NOT NULL) GROUP BY provider, model)"

static void cell_ms(FILE *out, sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		fputs("<td>-</td>", out);
	else
		fprintf(out, "<td>%lld</td>", (long long)sqlite3_column_int64(st, i));
}

int html_reliability(struct html *h)
{
	sqlite3_stmt *st;
	int rc, err;

	err = html_prepare(h, "WITH f AS (SELECT provider, model, error, status, latency_ms,"
			   " ttft_ms FROM exchanges WHERE {W}), " PCT_CTE("lat", "latency_ms") ", "
			   PCT_CTE("ttft", "ttft_ms")
			   " SELECT e.provider, e.model, count(*), sum(e.error IS NOT NULL),"
			   " sum(e.status = 429), lat.p50, lat.p95, ttft.p50, ttft.p95"
			   " FROM f e LEFT JOIN lat ON lat.provider = e.provider AND"
			   " lat.model = e.model LEFT JOIN ttft ON ttft.provider = e.provider AND"
			   " ttft.model = e.model GROUP BY e.provider, e.model"
			   " ORDER BY 3 DESC LIMIT 40", &st);
	if (err)
		return err;
	fputs("<h2>Errors and latency</h2><table id=\"reliability\"><tr><th>model (provider)</th>"
	      "<th>calls</th><th>errors</th><th>429s</th><th>latency p50 ms</th><th>p95</th>"
	      "<th>TTFT p50 ms</th><th>p95</th></tr>\n", h->out);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		fputs("<tr><td>", h->out);
		html_text(h->out, html_col(st, 1));
		fputs(" (", h->out);
		html_text(h->out, html_col(st, 0));
		fprintf(h->out, ")</td><td>%lld</td><td>%lld</td><td>%lld</td>",
			(long long)sqlite3_column_int64(st, 2), (long long)sqlite3_column_int64(st, 3),
			(long long)sqlite3_column_int64(st, 4));
		for (int i = 5; i <= 8; i++)
			cell_ms(h->out, st, i);
		fputs("</tr>\n", h->out);
	}
	fputs("</table>\n", h->out);
	return html_finish(h, st, rc);
}

int html_unpriced_and_blind_spots(struct html *h)
{
	sqlite3_stmt *st;
	int rc, err, rows = 0;

	if ((err = html_prepare(h, "SELECT provider, model, count(*) FROM exchanges"
				" WHERE {W} AND priced = 0 GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 40", &st)))
		return err;
	fputs("<h2>Unpriced models and blind spots</h2>\n<table id=\"unpriced\"><tr><th>unpriced "
	      "model (provider)</th><th>calls</th></tr>\n", h->out);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		fputs("<tr><td>", h->out);
		html_text(h->out, html_col(st, 1));
		fputs(" (", h->out);
		html_text(h->out, html_col(st, 0));
		fprintf(h->out, ")</td><td>%lld</td></tr>\n", (long long)sqlite3_column_int64(st, 2));
		rows++;
	}
	fprintf(h->out, "</table>%s\n", rows ? "" : "<p class=\"note\">Every model was priced.</p>");
	if ((err = html_finish(h, st, rc)))
		return err;
	/* What capture lost or could not read: the daemon's counters of
	 * drops and gaps (totals since it started, not filtered). */
	if ((err = html_prepare(h, "SELECT name, value FROM counters WHERE value != 0 AND"
				" (name LIKE '%drop%' OR name LIKE '%gap%' OR name LIKE '%over_cap%'"
				" OR name LIKE '%evicted%' OR name LIKE '%malformed%' OR name LIKE"
				" '%error%' OR name LIKE '%refused%' OR name LIKE 'unsupported%' OR"
				" name LIKE '%unknown%' OR name LIKE '%incomplete%') ORDER BY 2 DESC",
				&st)))
		return err;
	rows = 0;
	fputs("<table id=\"blind-spots\"><tr><th>capture loss (daemon counter)</th><th>count</th>"
	      "</tr>\n", h->out);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		fputs("<tr><td>", h->out);
		html_text(h->out, html_col(st, 0));
		fprintf(h->out, "</td><td>%lld</td></tr>\n", (long long)sqlite3_column_int64(st, 1));
		rows++;
	}
	fprintf(h->out, "</table>%s\n", rows ? "<p class=\"note\">Counters are the daemon's "
		"totals since it started, whatever the filters.</p>" :
		"<p class=\"note\">No capture loss counted.</p>");
	return html_finish(h, st, rc);
}

int html_sensitive(struct html *h)
{
	sqlite3_stmt *st;
	int rc, err, rows = 0;

	fputs("<h2>Secrets and personal data sent</h2>\n", h->out);
	if (!h->has_sensitive) {
		fputs("<p class=\"note\">This database has no sensitive-data counts.</p>\n", h->out);
		return 0;
	}
	err = html_prepare(h, "SELECT {APP}, {PROJ}, j.key, count(*), total(j.value) FROM exchanges,"
			   " json_each(CASE WHEN json_valid(sensitive) THEN sensitive ELSE '{}' END) j"
			   " WHERE {W} GROUP BY 1, 2, 3 ORDER BY 5 DESC LIMIT 60", &st);
	if (err)
		return err;
	fputs("<table id=\"sensitive\"><tr><th>app</th><th>project</th><th>kind</th>"
	      "<th>exchanges</th><th>found</th></tr>\n", h->out);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int i = 0; i < 3; i++) {
			fputs(i ? "<td>" : "<tr><td>", h->out);
			html_text(h->out, html_col(st, i));
			fputs("</td>", h->out);
		}
		fprintf(h->out, "<td>%lld</td><td>%.0f</td></tr>\n",
			(long long)sqlite3_column_int64(st, 3), sqlite3_column_double(st, 4));
		rows++;
	}
	fprintf(h->out, "</table><p class=\"note\">%s Only kinds and counts are recorded, never "
		"the text.</p>\n", rows ? "" : "None found.");
	return html_finish(h, st, rc);
}

int html_advice(struct html *h)
{
	struct advice_list *l = calloc(1, sizeof(*l));
	int err;

	if (!l)
		return -ENOMEM;
	if ((err = cli_advise_collect(h->db, h->o->since_ns, l)))
		goto out;
	fprintf(h->out, "<h2>Recommendations (estimates)</h2><p class=\"note\">Dollars a month "
		"at the rate observed over %.1f days; none on fewer than %d calls of an app and "
		"model; all exchanges of the window, whatever the filters (llmobs advise).</p>\n"
		"<table id=\"advice\"><tr><th>$/month</th><th>confidence</th><th>what</th></tr>\n",
		l->window_s / 86400, ADVISE_MIN_CALLS);
	for (int i = 0; i < l->n; i++) {
		fprintf(h->out, "<tr><td>%.2f</td><td>%s</td><td style=\"text-align:left\">",
			l->a[i].usd_month, l->a[i].confidence);
		html_text(h->out, l->a[i].what);
		fputs("</td></tr>\n", h->out);
	}
	fprintf(h->out, "</table>%s\n", l->n ? "" :
		"<p class=\"note\">Nothing to advise on what was observed.</p>");
out:
	free(l);
	return err;
}

int html_budgets(struct html *h)
{
	struct budget_set *set = calloc(1, sizeof(*set));
	const char *config = cli_budget_config(NULL);
	struct budget_status st;
	int64_t now_s = (int64_t)time(NULL);
	char err[512];
	int ret = 0;

	if (!set)
		return -ENOMEM;
	/* no config file, or no budgets in it: no section */
	if (access(config, R_OK) || budget_load(config, set, err, sizeof(err)) || !set->n)
		goto out;
	fputs("<h2>Budgets</h2><p class=\"note\">", h->out);
	html_text(h->out, config);
	fputs(": this UTC day's or month's spend, whatever the filters; projected at the last "
	      "hour's rate (llmobs budget).</p>\n<table id=\"budgets\"><tr><th>budget</th>"
	      "<th>period</th><th>limit $</th><th>spent $</th><th>used</th><th>projected $</th>"
	      "<th>state</th></tr>\n", h->out);
	for (size_t i = 0; i < set->n && !ret; i++) {
		const struct budget *b = &set->b[i];

		if ((ret = cli_budget_status(h->db, b, now_s, &st)))
			break;
		fputs("<tr><td>", h->out);
		html_text(h->out, b->name);
		if (st.no_column) {
			fprintf(h->out, "</td><td>%s</td><td>%.2f</td><td colspan=\"4\">no %s column "
				"in this database</td></tr>\n", budget_period_name(b->period),
				b->limit_usd, budget_scope_name(b->scope));
			continue;
		}
		fprintf(h->out, "</td><td>%s</td><td>%.2f</td><td>%.4f</td><td>%.0f%%</td>"
			"<td>%.4f</td><td%s>%s%s%s</td></tr>\n", budget_period_name(b->period),
			b->limit_usd, st.spent, 100 * st.spent / b->limit_usd, st.projected,
			st.threshold >= 80 || st.anomaly ? " class=\"warn\"" : "",
			st.threshold >= 100 ? "over" : st.threshold ? (st.threshold == 80 ?
			"80% reached" : "50% reached") : "ok",
			st.threshold < 100 && st.projected >= b->limit_usd ? ", projected over" : "",
			st.anomaly ? ", spend rate anomaly" : "");
	}
	fputs("</table>\n", h->out);
out:
	free(set);
	return ret;
}

struct lane {
	long long pid;
	char *comm, *app;
	long long calls;
};

/* Index of model in the timeline's legend, adding it while there is room
 * (the last slot is "other"). */
static int legend_index(char **legend, int *n, const char *model)
{
	int i;

	for (i = 0; i < *n; i++)
		if (!strcmp(legend[i], model))
			return i;
	if (*n >= SVG_MAX_SERIES - 1)
		return SVG_MAX_SERIES - 1;
	legend[*n] = strdup(model);
	return legend[*n] ? (*n)++ : SVG_MAX_SERIES - 1;
}

static int one_lane(struct html *h, const struct lane *l, char **legend, int *nlegend,
		    struct svg_bar *bars)
{
	char label[200], sql[1024], when[16];
	double run_cost[TIMELINE_CALLS];
	static char models[TIMELINE_CALLS][128];	/* the CLI is single-threaded */
	sqlite3_stmt *st;
	double first = 0, last = 0, cost = 0;
	int rc, err, n = 0, from;
	struct tm tm;
	time_t t;

	snprintf(sql, sizeof(sql), "SELECT * FROM (SELECT ts_start_ns, ts_end_ns, model,"
		 " input_tokens, output_tokens, {COST}, priced, latency_ms, status, error, %s FROM"
		 " exchanges WHERE {W} AND pid = %lld AND comm = :comm ORDER BY ts_start_ns DESC"
		 " LIMIT %d) ORDER BY 1", h->has_tools ? "COALESCE(tool_calls, '')" : "''", l->pid,
		 TIMELINE_CALLS);
	if ((err = html_prepare(h, sql, &st)))
		return err;
	sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":comm"), l->comm, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < TIMELINE_CALLS) {
		double s = sqlite3_column_int64(st, 0) / 1e9, e = sqlite3_column_int64(st, 1) / 1e9;
		const char *model = html_col(st, 2), *error = html_col(st, 9), *tools = html_col(st, 10);
		struct svg_bar *b = &bars[n++];

		if (e > last)
			last = e;
		b->start_s = s;
		b->end_s = e > s ? e : s;
		snprintf(models[n - 1], sizeof(models[n - 1]), "%s", model[0] ? model : "(unknown)");
		b->error = error[0] || sqlite3_column_int(st, 8) >= 400;
		run_cost[n - 1] = sqlite3_column_double(st, 5);
		b->tools = tools[0] != 0;
		snprintf(b->title, sizeof(b->title), "%s | in %lld, out %lld tokens | %s%.6f | "
			 "%lld ms | status %d%s%s%s%.60s", model, (long long)sqlite3_column_int64(st, 3),
			 (long long)sqlite3_column_int64(st, 4), sqlite3_column_int(st, 6) ? "$" :
			 "unpriced $", sqlite3_column_double(st, 5),
			 (long long)sqlite3_column_int64(st, 7), sqlite3_column_int(st, 8),
			 error[0] ? " | error " : "", error, tools[0] ? " | tools: " : "", tools);
	}
	if ((err = html_finish(h, st, rc)))
		return err;
	/* Its last run: from the last pause of RUN_GAP_S or more, so that a
	 * day of sessions does not squeeze each one into a sliver. */
	for (from = n - 1; from > 0; from--)
		if (bars[from].start_s - bars[from - 1].end_s >= RUN_GAP_S)
			break;
	first = n ? bars[from].start_s : 0;
	cost = 0;
	for (int i = from; i < n; i++) {
		bars[i].start_s -= first;
		bars[i].end_s -= first;
		cost += run_cost[i];
		bars[i].series = legend_index(legend, nlegend, models[i]);
	}
	t = (time_t)first;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	snprintf(label, sizeof(label), "%s[%lld] %s%s| %s, %d calls, %.0f s, $%.4f",
		 l->comm, l->pid, strcmp(l->app, l->comm) ? l->app : "",
		 strcmp(l->app, l->comm) ? " " : "", when, n - from, last - first, cost);
	svg_timeline_lane(h->out, label, bars + from, n - from, last - first);
	return 0;
}

int html_timeline(struct html *h)
{
	struct lane lanes[TIMELINE_LANES];
	char *legend[SVG_MAX_SERIES] = { 0 };
	struct svg_bar *bars = calloc(TIMELINE_CALLS, sizeof(*bars));
	sqlite3_stmt *st;
	int rc, err, n = 0, nlegend = 0, i;

	if (!bars)
		return -ENOMEM;
	err = html_prepare(h, "SELECT pid, comm, {APP}, count(*) FROM exchanges WHERE {W}"
			   " GROUP BY pid, comm ORDER BY max(ts_start_ns) DESC LIMIT 8", &st);
	if (err)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < TIMELINE_LANES) {
		lanes[n].pid = sqlite3_column_int64(st, 0);
		lanes[n].comm = strdup(html_col(st, 1));
		lanes[n].app = strdup(html_col(st, 2));
		lanes[n].calls = sqlite3_column_int64(st, 3);
		n++;
		if (!lanes[n - 1].comm || !lanes[n - 1].app) {
			err = -ENOMEM;
			break;
		}
	}
	if (!err)
		err = html_finish(h, st, rc);
	else
		sqlite3_finalize(st);
	if (err)
		goto out;
	fprintf(h->out, "<h2>Agent timeline</h2><p class=\"note\">The %d most recently active "
		"processes, their last run each (calls with no pause of 10 minutes, at most %d), "
		"UTC; a bar spans a call, coloured by model, marked on top when the response asked "
		"for tool calls (their names in the tooltip), "
		"outlined red on error. Hover a bar for its tokens, cost and latency.</p>"
		"<div id=\"timeline\">\n", TIMELINE_LANES, TIMELINE_CALLS);
	for (i = 0; i < n && !err; i++)
		err = one_lane(h, &lanes[i], legend, &nlegend, bars);
	fputs("</div><p class=\"legend\" id=\"timeline-legend\">", h->out);
	for (i = 0; i < nlegend; i++) {
		fprintf(h->out, "<span class=\"key\"><i style=\"background:%s\"></i>", svg_colour(i));
		html_text(h->out, legend[i]);
		fputs("</span>", h->out);
	}
	fprintf(h->out, "%s</p>\n", nlegend == SVG_MAX_SERIES - 1 ?
		"<span class=\"key\"><i style=\"background:#bab0ac\"></i>other</span>" : "");
out:
	for (i = 0; i < n; i++) {
		free(lanes[i].comm);
		free(lanes[i].app);
	}
	for (i = 0; i < SVG_MAX_SERIES; i++)
		free(legend[i]);
	free(bars);
	return err;
}
