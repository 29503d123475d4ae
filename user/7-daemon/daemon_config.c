/* YAML config -> struct daemon_config (daemon_config.h). libyaml's
 * document loader gives every node its line, which every error names.
 * Bounded: the file is read up to CONFIG_MAX_BYTES, rules and label keys
 * are capped, and a substituted value up to CONFIG_VALUE_MAX bytes; an
 * alias is refused rather than followed, so no document can make the walk
 * longer than the file. Nothing is applied until the whole file is valid:
 * the daemon never starts half-configured. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>
#include "budget.h"
#include "daemon_config.h"
#include "plain_capture.h"
#include "yaml_doc.h"

#define CONFIG_VALUE_MAX	4096

struct cfg_ctx {
	const char *name;
	yaml_document_t *doc;
	char *err;
	size_t errsize;
};

static const char *const match_keys[CONFIG_MATCH__MAX] = {
	[CONFIG_MATCH_APP] = "app", [CONFIG_MATCH_EXE] = "exe",
	[CONFIG_MATCH_IMAGE] = "image", [CONFIG_MATCH_NAMESPACE] = "namespace",
	[CONFIG_MATCH_POD] = "pod", [CONFIG_MATCH_CONTAINER] = "container",
};

#define fail(x, n, ...) yaml_doc_fail((x)->err, (x)->errsize, (x)->name, (n), __VA_ARGS__)
#define scalar yaml_doc_scalar

static yaml_node_t *node(struct cfg_ctx *x, int id)
{
	return yaml_document_get_node(x->doc, id);
}

/* A key given twice in one mapping is an error, not "the last wins": the
 * walk stops at the first unknown key, so this scans a handful of pairs. */
static int dup_key(struct cfg_ctx *x, const yaml_node_t *map, const yaml_node_pair_t *at)
{
	const yaml_node_t *k = yaml_document_get_node(x->doc, at->key);
	const char *key = scalar(k);

	for (const yaml_node_pair_t *p = map->data.mapping.pairs.start; key && p < at; p++) {
		const char *prev = scalar(yaml_document_get_node(x->doc, p->key));

		if (prev && !strcmp(prev, key))
			return fail(x, k, "'%s' given twice", key);
	}
	return 0;
}

/* ${VAR} and ${VAR:-default} from the environment. */
static int substitute(struct cfg_ctx *x, const yaml_node_t *n, char **out)
{
	const char *s = scalar(n), *p;
	char buf[CONFIG_VALUE_MAX];
	size_t len = 0;

	if (!s)
		return fail(x, n, "expected a single value");
	for (p = s; *p;) {
		const char *add = p, *end, *def = NULL, *val;
		char var[128];
		size_t alen = 1, vn;

		if (p[0] == '$' && p[1] == '{') {
			end = strchr(p + 2, '}');
			if (!end)
				return fail(x, n, "unterminated ${ in '%s'", s);
			vn = (size_t)(end - p - 2);
			if ((def = memchr(p + 2, ':', vn)) && def[1] == '-') {
				vn = (size_t)(def - p - 2);
				def += 2;
			} else {
				def = NULL;
			}
			if (vn == 0 || vn >= sizeof(var))
				return fail(x, n, "bad variable name in '%s'", s);
			memcpy(var, p + 2, vn);
			var[vn] = '\0';
			if (strspn(var, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != vn)
				return fail(x, n, "bad variable name '%s'", var);
			val = getenv(var);
			if (val && (val[0] || !def)) {	/* :- as the shell: unset or empty */
				add = val;
				alen = strlen(val);
			} else if (def) {
				add = def;
				alen = (size_t)(end - def);
			} else {
				return fail(x, n, "environment variable %s is not set (write ${%s:-default} "
					    "for a default)", var, var);
			}
			p = end + 1;
		} else {
			p++;
		}
		if (len + alen >= sizeof(buf))
			return fail(x, n, "value longer than %d bytes", CONFIG_VALUE_MAX);
		memcpy(buf + len, add, alen);
		len += alen;
	}
	buf[len] = '\0';
	*out = strdup(buf);
	return *out ? 0 : -ENOMEM;
}

static int get_string(struct cfg_ctx *x, const yaml_node_t *n, char **dst)
{
	free(*dst);
	*dst = NULL;
	return substitute(x, n, dst);
}

static int get_size(struct cfg_ctx *x, const yaml_node_t *n, const char *key, size_t *dst)
{
	char *v = NULL, *end;
	unsigned long long u;
	int err = substitute(x, n, &v);

	if (err)
		return err;
	errno = 0;
	u = strtoull(v, &end, 10);
	if (errno || end == v || *end || u == 0 || v[0] == '-')
		err = fail(x, n, "%s: '%s' is not a positive integer", key, v);
	else
		*dst = (size_t)u;
	free(v);
	return err;
}

static int get_bool(struct cfg_ctx *x, const yaml_node_t *n, const char *key, int *dst)
{
	const char *v = scalar(n);

	if (v && (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on")))
		*dst = 1;
	else if (v && (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off")))
		*dst = 0;
	else
		return fail(x, n, "%s: expected true or false", key);
	return 0;
}

/* "host:port", "[v6]:port", or "off". */
static bool listen_valid(const char *v)
{
	const char *colon = strrchr(v, ':');
	char *end;
	long port;

	if (!strcmp(v, "off"))
		return true;
	if (!colon || colon == v)
		return false;
	port = strtol(colon + 1, &end, 10);
	return *end == '\0' && port > 0 && port < 65536;
}

static int plain_ports(struct cfg_ctx *x, const yaml_node_t *n, struct daemon_config *c)
{
	uint16_t ports[PLAIN_CAPTURE_MAX_PORTS];
	char buf[512] = "";
	int err;

	if (n->type == YAML_SEQUENCE_NODE) {
		size_t len = 0;

		for (yaml_node_item_t *it = n->data.sequence.items.start;
		     it < n->data.sequence.items.top; it++) {
			const char *v = scalar(node(x, *it));

			if (!v || len + strlen(v) + 2 >= sizeof(buf))
				return fail(x, n, "plain_ports: a list of port numbers");
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", len ? "," : "", v);
		}
		free(c->plain_ports);
		c->plain_ports = strdup(buf[0] ? buf : "none");
		if (!c->plain_ports)
			return -ENOMEM;
	} else if ((err = get_string(x, n, &c->plain_ports))) {
		return err;
	}
	if (plain_capture_parse_ports(c->plain_ports, ports, PLAIN_CAPTURE_MAX_PORTS) < 0)
		return fail(x, n, "plain_ports: '%s' is not a list of ports 1-65535 (or 'none')",
			    c->plain_ports);
	return 0;
}

static int rule(struct cfg_ctx *x, const yaml_node_t *n, struct config_rule *r)
{
	int err, matches = 0;

	if (n->type != YAML_MAPPING_NODE)
		return fail(x, n, "projects.rules: each rule is a mapping (app:, exe:, image:, "
			    "namespace:, pod:, container:, project:)");
	r->line = (int)n->start_mark.line + 1;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(x, p->key), *v = node(x, p->value);
		const char *key = scalar(k);
		int m;

		if (dup_key(x, n, p))
			return -EINVAL;

		for (m = 0; m < CONFIG_MATCH__MAX; m++)
			if (key && !strcmp(key, match_keys[m]))
				break;
		if (key && !strcmp(key, "project")) {
			if ((err = get_string(x, v, &r->project)))
				return err;
			if (!procattr_project_valid(r->project, strlen(r->project)))
				return fail(x, v, "project '%s': 1-63 of A-Z a-z 0-9 . _ - /", r->project);
		} else if (m < CONFIG_MATCH__MAX) {
			if ((err = get_string(x, v, &r->pattern[m])))
				return err;
			matches++;
		} else {
			return fail(x, k, "unknown key '%s' in a project rule", key ? key : "?");
		}
	}
	if (!r->project)
		return fail(x, n, "a project rule needs project:");
	if (!matches)
		return fail(x, n, "a project rule needs one of app:, exe:, image:, namespace:, pod:, "
			    "container:");
	return 0;
}

static int projects(struct cfg_ctx *x, const yaml_node_t *n, struct daemon_config *c)
{
	int err;

	if (n->type != YAML_MAPPING_NODE)
		return fail(x, n, "projects: expected a mapping (from_labels:, rules:)");
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(x, p->key), *v = node(x, p->value);
		const char *key = scalar(k);
		bool labels = key && !strcmp(key, "from_labels"), rules = key && !strcmp(key, "rules");
		size_t count;

		if (dup_key(x, n, p))
			return -EINVAL;

		if (!labels && !rules)
			return fail(x, k, "unknown key '%s' in projects", key ? key : "?");
		if (v->type != YAML_SEQUENCE_NODE)
			return fail(x, v, "projects.%s: expected a list", key);
		count = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
		if (count > (labels ? CONFIG_MAX_LABEL_KEYS : CONFIG_MAX_RULES))
			return fail(x, v, "projects.%s: at most %d entries", key,
				    labels ? CONFIG_MAX_LABEL_KEYS : CONFIG_MAX_RULES);
		if (rules) {
			c->rules = calloc(count ? count : 1, sizeof(*c->rules));
			if (!c->rules)
				return -ENOMEM;
		}
		for (yaml_node_item_t *it = v->data.sequence.items.start;
		     it < v->data.sequence.items.top; it++) {
			yaml_node_t *e = node(x, *it);

			if (labels)
				err = get_string(x, e, &c->label_keys[c->nlabel_keys++]);
			else
				err = rule(x, e, &c->rules[c->nrules++]);
			if (err)
				return err;
		}
	}
	return 0;
}

static int metrics(struct cfg_ctx *x, const yaml_node_t *n, struct daemon_config *c)
{
	if (n->type != YAML_MAPPING_NODE)
		return fail(x, n, "metrics: expected a mapping (max_series:)");
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(x, p->key);
		const char *key = scalar(k);

		if (dup_key(x, n, p))
			return -EINVAL;
		if (!key || strcmp(key, "max_series"))
			return fail(x, k, "unknown key '%s' in metrics", key ? key : "?");
		if (get_size(x, node(x, p->value), "metrics.max_series", &c->metrics_max_series))
			return -EINVAL;
	}
	return 0;
}

/* A section whose keys each stand for an environment variable, which wins
 * over it: telemetry: {enabled, api_key, endpoint, ca_file, flush_seconds}
 * (checked as the variables are, by telemetry_config_load() at start, which
 * logs why it is off), otlp: {endpoint, ...} (by otlp_config_load(), which
 * refuses a bad value at start). */
struct env_key {
	const char *key, *var;
};

static const struct env_key telemetry_keys[CONFIG_TELEMETRY__MAX] = {
	[CONFIG_TELEMETRY_ENABLED] = { "enabled", "LLM_OBSERVER_ENABLED" },
	[CONFIG_TELEMETRY_API_KEY] = { "api_key", "LLM_OBSERVER_API_KEY" },
	[CONFIG_TELEMETRY_ENDPOINT] = { "endpoint", "LLM_OBSERVER_ENDPOINT" },
	[CONFIG_TELEMETRY_CA_FILE] = { "ca_file", "LLM_OBSERVER_CA_FILE" },
	[CONFIG_TELEMETRY_FLUSH_SECONDS] = { "flush_seconds", "LLM_OBSERVER_FLUSH_SECONDS" },
};

static const struct env_key otlp_keys[CONFIG_OTLP__MAX] = {
	[CONFIG_OTLP_ENDPOINT] = { "endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT" },
	[CONFIG_OTLP_TRACES_ENDPOINT] = { "traces_endpoint", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" },
	[CONFIG_OTLP_HEADERS] = { "headers", "OTEL_EXPORTER_OTLP_HEADERS" },
	[CONFIG_OTLP_SERVICE_NAME] = { "service_name", "OTEL_SERVICE_NAME" },
	[CONFIG_OTLP_RESOURCE_ATTRIBUTES] = { "resource_attributes", "OTEL_RESOURCE_ATTRIBUTES" },
	[CONFIG_OTLP_CERTIFICATE] = { "certificate", "OTEL_EXPORTER_OTLP_CERTIFICATE" },
};

static int env_section(struct cfg_ctx *x, const yaml_node_t *n, const char *name,
		       const struct env_key *keys, int nkeys, char **dst)
{
	char known[160] = "";

	for (int i = 0; i < nkeys; i++)
		snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
			 i ? ", " : "", keys[i].key);
	if (n->type != YAML_MAPPING_NODE)
		return fail(x, n, "%s: expected a mapping (%s)", name, known);
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(x, p->key);
		const char *key = scalar(k);
		int i;

		if (dup_key(x, n, p))
			return -EINVAL;
		for (i = 0; i < nkeys; i++)
			if (key && !strcmp(key, keys[i].key))
				break;
		if (i == nkeys)
			return fail(x, k, "unknown key '%s' in %s (known: %s)", key ? key : "?", name,
				    known);
		if (get_string(x, node(x, p->value), &dst[i]))
			return -EINVAL;
	}
	return 0;
}

static const char *env_get(const char *name, char *const *values, const struct env_key *keys,
			   int nkeys)
{
	const char *env = getenv(name);

	if (env)
		return env;
	for (int i = 0; values && i < nkeys; i++)
		if (!strcmp(name, keys[i].var))
			return values[i];
	return NULL;
}

const char *config_telemetry_get(const char *name, void *ctx)
{
	const struct daemon_config *c = ctx;

	return env_get(name, c ? c->telemetry : NULL, telemetry_keys, CONFIG_TELEMETRY__MAX);
}

const char *config_otlp_get(const char *name, void *ctx)
{
	const struct daemon_config *c = ctx;

	return env_get(name, c ? c->otlp : NULL, otlp_keys, CONFIG_OTLP__MAX);
}

static int top_key(struct cfg_ctx *x, const yaml_node_t *k, const yaml_node_t *v,
		   struct daemon_config *c)
{
	static const struct { const char *key; size_t off; } strs[] = {
		{ "db", offsetof(struct daemon_config, db) },
		{ "prices", offsetof(struct daemon_config, prices) },
		{ "socket", offsetof(struct daemon_config, socket) },
		{ "listen", offsetof(struct daemon_config, listen) },
		{ "host_root", offsetof(struct daemon_config, host_root) },
	}, sizes[] = {
		{ "max_body_bytes", offsetof(struct daemon_config, max_body_bytes) },
		{ "max_call_bytes", offsetof(struct daemon_config, max_call_bytes) },
		{ "ringbuf_mb", offsetof(struct daemon_config, ringbuf_mb) },
		{ "max_conns", offsetof(struct daemon_config, max_conns) },
	};
	const char *key = scalar(k);
	int err;

	if (!key)
		return fail(x, k, "keys are plain names");
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (!strcmp(key, strs[i].key)) {
			char **dst = (char **)((char *)c + strs[i].off);

			if ((err = get_string(x, v, dst)))
				return err;
			if (!(*dst)[0])
				return fail(x, v, "%s: empty", key);
			if (!strcmp(key, "listen") && !listen_valid(*dst))
				return fail(x, v, "listen: '%s' is not HOST:PORT (or 'off')", *dst);
			return 0;
		}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (!strcmp(key, sizes[i].key)) {
			size_t *dst = (size_t *)((char *)c + sizes[i].off);

			if ((err = get_size(x, v, key, dst)))
				return err;
			if (!strcmp(key, "ringbuf_mb") && (*dst & (*dst - 1)))
				return fail(x, v, "ringbuf_mb: %zu is not a power of two", *dst);
			return 0;
		}
	if (!strcmp(key, "json"))
		return get_bool(x, v, key, &c->json);
	if (!strcmp(key, "plain_ports"))
		return plain_ports(x, v, c);
	if (!strcmp(key, "projects"))
		return projects(x, v, c);
	if (!strcmp(key, "metrics"))
		return metrics(x, v, c);
	if (!strcmp(key, "telemetry"))
		return env_section(x, v, "telemetry", telemetry_keys, CONFIG_TELEMETRY__MAX,
				   c->telemetry);
	if (!strcmp(key, "otlp"))
		return env_section(x, v, "otlp", otlp_keys, CONFIG_OTLP__MAX, c->otlp);
	if (!strcmp(key, "budgets") || !strcmp(key, "budget_webhook"))
		return 0;	/* budget.c's, checked in config_parse() */
	return fail(x, k, "unknown key '%s' (known: db, prices, socket, listen, host_root, "
		    "max_body_bytes, max_call_bytes, ringbuf_mb, max_conns, json, plain_ports, "
		    "projects, metrics, telemetry, otlp, budgets, budget_webhook)", key);
}

/* An alias would let a few lines name a node many times. */
static int refuse_aliases(const char *name, const char *text, size_t len, char *err,
			  size_t errsize)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int ret = 0;

	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	for (;;) {
		if (!yaml_parser_parse(&p, &ev)) {
			snprintf(err, errsize, "%s:%zu: %s", name, p.problem_mark.line + 1,
				 p.problem ? p.problem : "YAML syntax error");
			ret = -EINVAL;
			break;
		}
		if (ev.type == YAML_ALIAS_EVENT) {
			snprintf(err, errsize, "%s:%zu: aliases (*name) are not supported", name,
				 ev.start_mark.line + 1);
			ret = -EINVAL;
		}
		if (ev.type == YAML_STREAM_END_EVENT || ret) {
			yaml_event_delete(&ev);
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return ret;
}

int config_parse(const char *name, const char *text, size_t len, struct daemon_config *c,
		 char *err, size_t errsize)
{
	struct cfg_ctx x = { .name = name, .err = err, .errsize = errsize };
	yaml_document_t doc;
	yaml_node_t *root;
	int ret = 0;

	memset(c, 0, sizeof(*c));
	c->json = -1;
	err[0] = '\0';
	if (len > CONFIG_MAX_BYTES) {
		snprintf(err, errsize, "%s: larger than %d bytes", name, CONFIG_MAX_BYTES);
		return -EFBIG;
	}
	if ((ret = refuse_aliases(name, text, len, err, errsize)))
		return ret;
	if ((ret = yaml_doc_load(name, text, len, &doc, err, errsize)))
		return ret;
	x.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (root && root->type != YAML_MAPPING_NODE) {
		ret = fail(&x, root, "the top level is a mapping of settings");
	} else if (root) {
		for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
		     pr < root->data.mapping.pairs.top && !ret; pr++)
			ret = dup_key(&x, root, pr) ?: top_key(&x, node(&x, pr->key),
							      node(&x, pr->value), c);
	}
	if (!ret) {	/* budgets (llmobs budget): a bad one stops the daemon too */
		c->budgets = malloc(sizeof(*c->budgets));
		ret = c->budgets ? budget_parse_doc(name, &doc, c->budgets, err, errsize) : -ENOMEM;
	}
	yaml_document_delete(&doc);
	if (ret)
		config_free(c);
	return ret;
}

int config_load(const char *path, struct daemon_config *c, char *err, size_t errsize)
{
	char *buf = malloc(CONFIG_MAX_BYTES + 1);
	struct stat st;
	size_t got = 0;
	int fd, ret;

	memset(c, 0, sizeof(*c));
	c->json = -1;
	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		ret = fd < 0 ? -errno : -EINVAL;
		snprintf(err, errsize, "%s: %s", path,
			 ret == -EINVAL ? "not a regular file" : strerror(-ret));
		goto out;
	}
	while (got <= CONFIG_MAX_BYTES) {
		ssize_t n = read(fd, buf + got, CONFIG_MAX_BYTES + 1 - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	ret = config_parse(path, buf, got, c, err, errsize);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

void config_free(struct daemon_config *c)
{
	free(c->budgets);
	free(c->db);
	free(c->prices);
	free(c->socket);
	free(c->plain_ports);
	free(c->listen);
	free(c->host_root);
	for (int i = 0; i < CONFIG_TELEMETRY__MAX; i++) {
		if (c->telemetry[i])	/* the lok_ key among them */
			explicit_bzero(c->telemetry[i], strlen(c->telemetry[i]));
		free(c->telemetry[i]);
	}
	for (int i = 0; i < CONFIG_OTLP__MAX; i++) {
		if (c->otlp[i])	/* headers may hold a collector's token */
			explicit_bzero(c->otlp[i], strlen(c->otlp[i]));
		free(c->otlp[i]);
	}
	for (size_t i = 0; i < c->nlabel_keys; i++)
		free(c->label_keys[i]);
	for (size_t i = 0; c->rules && i < c->nrules; i++) {
		for (int m = 0; m < CONFIG_MATCH__MAX; m++)
			free(c->rules[i].pattern[m]);
		free(c->rules[i].project);
	}
	free(c->rules);
	memset(c, 0, sizeof(*c));
	c->json = -1;
}

static const char *attr_field(const struct procattr *a, int m)
{
	switch (m) {
	case CONFIG_MATCH_APP:		return a->app;
	case CONFIG_MATCH_EXE:		return a->exe;
	case CONFIG_MATCH_IMAGE:	return a->image;
	case CONFIG_MATCH_NAMESPACE:	return a->k8s_namespace;
	case CONFIG_MATCH_POD:		return a->k8s_pod;
	case CONFIG_MATCH_CONTAINER:	return a->k8s_container;
	}
	return "";
}

int config_project(void *ctx, const struct procattr *a, const cJSON *labels, char *out,
		   size_t size)
{
	const struct daemon_config *c = ctx;

	for (size_t i = 0; i < c->nlabel_keys && labels; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(labels, c->label_keys[i]);

		if (cJSON_IsString(v) && procattr_project_valid(v->valuestring, strlen(v->valuestring))) {
			snprintf(out, size, "%s", v->valuestring);
			return 1;
		}
	}
	for (size_t i = 0; i < c->nrules; i++) {
		const struct config_rule *r = &c->rules[i];
		bool ok = true;

		for (int m = 0; m < CONFIG_MATCH__MAX && ok; m++)
			ok = !r->pattern[m] || fnmatch(r->pattern[m], attr_field(a, m), 0) == 0;
		if (ok) {
			snprintf(out, size, "%s", r->project);
			return 1;
		}
	}
	return 0;
}
