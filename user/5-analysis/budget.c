/* Budgets (budget.h): the config file's `budgets:` list in, budgets out;
 * and the arithmetic that judges spend against them.
 *
 * The file is the daemon's config (llmobsd.yaml), read with libyaml's
 * document loader like daemon_config.c, but only its `budgets:` key:
 * `llmobs budget` must read the budgets without the daemon's settings,
 * and the daemon's parser, above this stage, accepts the key and leaves
 * it to this one. Bounded: the file up to 1 MiB, at most BUDGET_MAX
 * budgets (an alias can repeat a budget, not multiply the work). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <yaml.h>
#include "budget.h"
#include "yaml_doc.h"

#define BUDGET_FILE_MAX	(1024 * 1024)

static const char *const scope_names[BUDGET_SCOPE__MAX] = {
	[BUDGET_ALL] = "all", [BUDGET_PROJECT] = "project", [BUDGET_NAMESPACE] = "namespace",
	[BUDGET_APP] = "app", [BUDGET_ACCOUNT] = "account", [BUDGET_MODEL] = "model",
};

const char *budget_scope_name(enum budget_scope s)
{
	return (unsigned)s < BUDGET_SCOPE__MAX ? scope_names[s] : "?";
}

const char *budget_period_name(enum budget_period p)
{
	return p == BUDGET_MONTH ? "month" : "day";
}

struct bctx {
	const char *name;
	yaml_document_t *doc;
	char *err;
	size_t errsize;
};

#define fail(x, n, ...) yaml_doc_fail((x)->err, (x)->errsize, (x)->name, (n), __VA_ARGS__)
#define scalar yaml_doc_scalar

static int one_budget(struct bctx *x, const yaml_node_t *m, struct budget *b)
{
	bool have_usd = false, have_period = false;

	if (m->type != YAML_MAPPING_NODE)
		return fail(x, m, "a budget is a mapping (usd, period, and one of project, "
			    "namespace, app, account, model)");
	memset(b, 0, sizeof(*b));
	b->line = (int)m->start_mark.line + 1;
	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
		const yaml_node_t *kn = yaml_document_get_node(x->doc, p->key);
		const yaml_node_t *vn = yaml_document_get_node(x->doc, p->value);
		const char *k = scalar(kn), *v = scalar(vn);
		int s;

		if (!k || !v)
			return fail(x, kn, "budget keys and values are plain scalars");
		if (!strcmp(k, "usd")) {
			char *end;

			errno = 0;
			b->limit_usd = strtod(v, &end);
			if (errno || *end || !(b->limit_usd > 0) || !isfinite(b->limit_usd))
				return fail(x, vn, "usd: '%s' is not a positive amount", v);
			have_usd = true;
			continue;
		}
		if (!strcmp(k, "period")) {
			if (!strcmp(v, "day"))
				b->period = BUDGET_DAY;
			else if (!strcmp(v, "month"))
				b->period = BUDGET_MONTH;
			else
				return fail(x, vn, "period: '%s' (day or month)", v);
			have_period = true;
			continue;
		}
		if (!strcmp(k, "name")) {
			if (strlen(v) >= sizeof(b->name))
				return fail(x, vn, "name: longer than %zu", sizeof(b->name) - 1);
			snprintf(b->name, sizeof(b->name), "%s", v);
			continue;
		}
		for (s = BUDGET_PROJECT; s < BUDGET_SCOPE__MAX; s++)
			if (!strcmp(k, scope_names[s]))
				break;
		if (s == BUDGET_SCOPE__MAX)
			return fail(x, kn, "unknown key '%s' in a budget (known: name, usd, period, "
				    "project, namespace, app, account, model)", k);
		if (b->scope != BUDGET_ALL)
			return fail(x, kn, "a budget has one scope; '%s' and '%s' given",
				    scope_names[b->scope], k);
		if (!v[0] || strlen(v) >= sizeof(b->match))
			return fail(x, vn, "%s: empty or longer than %zu", k, sizeof(b->match) - 1);
		b->scope = (enum budget_scope)s;
		snprintf(b->match, sizeof(b->match), "%s", v);
	}
	if (!have_usd || !have_period)
		return fail(x, m, "a budget needs usd and period");
	if (!b->name[0]) {	/* "project=devtools-day" */
		char name[sizeof(b->name)];

		snprintf(name, sizeof(name), "%s%s%.40s-%s", budget_scope_name(b->scope),
			 b->match[0] ? "=" : "", b->match, budget_period_name(b->period));
		memcpy(b->name, name, sizeof(name));
	}
	return 0;
}

int budget_parse_doc(const char *name, struct yaml_document_s *doc, struct budget_set *s, char *err,
		     size_t errsize)
{
	struct bctx x = { .name = name, .doc = doc, .err = err, .errsize = errsize };
	yaml_node_t *root = yaml_document_get_root_node(doc), *list = NULL;
	int ret = 0;

	memset(s, 0, sizeof(*s));
	if (root && root->type == YAML_MAPPING_NODE)
		for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
		     p < root->data.mapping.pairs.top; p++) {
			const char *k = scalar(yaml_document_get_node(doc, p->key));

			if (k && !strcmp(k, "budgets"))
				list = yaml_document_get_node(doc, p->value);
			if (k && !strcmp(k, "budget_webhook") && !ret) {
				const yaml_node_t *vn = yaml_document_get_node(doc, p->value);
				const char *v = scalar(vn);

				if (!v || (strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) ||
				    strlen(v) >= sizeof(s->webhook))
					ret = fail(&x, vn, "budget_webhook: an http:// or https:// URL");
				else
					snprintf(s->webhook, sizeof(s->webhook), "%s", v);
			}
		}
	if (!ret && list && list->type != YAML_SEQUENCE_NODE)
		ret = fail(&x, list, "budgets: a list of budgets");
	for (yaml_node_item_t *it = list && !ret ? list->data.sequence.items.start : NULL;
	     it && it < list->data.sequence.items.top && !ret; it++) {
		const yaml_node_t *m = yaml_document_get_node(doc, *it);

		if (s->n == BUDGET_MAX)
			ret = fail(&x, m, "more than %d budgets", BUDGET_MAX);
		else
			ret = one_budget(&x, m, &s->b[s->n++]);
	}
	if (ret)
		memset(s, 0, sizeof(*s));
	return ret;
}

int budget_parse(const char *name, const char *text, size_t len, struct budget_set *s,
		 char *err, size_t errsize)
{
	yaml_document_t doc;
	int ret;

	memset(s, 0, sizeof(*s));
	if (errsize)
		err[0] = '\0';
	if (len > BUDGET_FILE_MAX) {
		snprintf(err, errsize, "%s: larger than %d bytes", name, BUDGET_FILE_MAX);
		return -EFBIG;
	}
	if ((ret = yaml_doc_load(name, text, len, &doc, err, errsize)))
		return ret;
	ret = budget_parse_doc(name, &doc, s, err, errsize);
	yaml_document_delete(&doc);
	return ret;
}

int budget_load(const char *path, struct budget_set *s, char *err, size_t errsize)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;
	int ret;

	memset(s, 0, sizeof(*s));
	if (!f) {
		ret = -errno;
		snprintf(err, errsize, "%s: %s", path, strerror(errno));
		return ret;
	}
	buf = malloc(BUDGET_FILE_MAX + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, BUDGET_FILE_MAX + 1, f);
	ret = ferror(f) ? -EIO : budget_parse(path, buf, n, s, err, errsize);
	if (ret == -EIO)
		snprintf(err, errsize, "%s: read error", path);
	fclose(f);
	free(buf);
	return ret;
}

void budget_period_bounds(enum budget_period p, int64_t now_s, int64_t *start_s, int64_t *end_s)
{
	time_t t = (time_t)now_s;
	struct tm tm;

	gmtime_r(&t, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	if (p == BUDGET_MONTH)
		tm.tm_mday = 1;
	*start_s = (int64_t)timegm(&tm);
	if (p == BUDGET_MONTH)
		tm.tm_mon++;	/* timegm normalises December + 1 */
	else
		tm.tm_mday++;
	*end_s = (int64_t)timegm(&tm);
}

int budget_threshold(double spent_usd, double limit_usd)
{
	static const int pct[] = { 100, 80, 50 };

	for (size_t i = 0; i < sizeof(pct) / sizeof(pct[0]); i++)
		if (limit_usd > 0 && spent_usd >= limit_usd * pct[i] / 100.0)
			return pct[i];
	return 0;
}

double budget_projection(double spent_usd, double rate_usd_per_s, int64_t now_s, int64_t end_s)
{
	return spent_usd + (end_s > now_s && rate_usd_per_s > 0 ?
			    rate_usd_per_s * (double)(end_s - now_s) : 0);
}

bool budget_anomalous(double last_hour_usd, double same_hour_mean_usd, int history_days)
{
	return history_days >= BUDGET_ANOMALY_MIN_DAYS && last_hour_usd >= BUDGET_ANOMALY_MIN_USD &&
	       last_hour_usd > BUDGET_ANOMALY_RATIO * same_hour_mean_usd;
}
