/* argv + config file -> one argv (daemon_args.h). --config and
 * --check-config are taken out here; every other flag is left for
 * llmobsd's getopt, after the file's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "daemon_args.h"
#include "log.h"

static int push(struct daemon_args *a, char *s, bool owned)
{
	if (!s)
		return -ENOMEM;
	a->argv[a->argc++] = s;
	if (owned)
		a->owned[a->nowned++] = s;
	return 0;
}

static int push_flag(struct daemon_args *a, const char *flag, const char *value)
{
	int err = push(a, strdup(flag), true);

	return err ? err : value ? push(a, strdup(value), true) : 0;
}

static int push_size(struct daemon_args *a, const char *flag, size_t v)
{
	char buf[32];

	if (!v)
		return 0;
	snprintf(buf, sizeof(buf), "%zu", v);
	return push_flag(a, flag, buf);
}

static int from_config(struct daemon_args *a, const struct daemon_config *c)
{
	static const struct { const char *flag; size_t off; } strs[] = {
		{ "--db", offsetof(struct daemon_config, db) },
		{ "--prices", offsetof(struct daemon_config, prices) },
		{ "--socket", offsetof(struct daemon_config, socket) },
		{ "--plain-ports", offsetof(struct daemon_config, plain_ports) },
		{ "--listen", offsetof(struct daemon_config, listen) },
		{ "--host-root", offsetof(struct daemon_config, host_root) },
	};
	int err = 0;

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]) && !err; i++) {
		const char *v = *(char *const *)((const char *)c + strs[i].off);

		if (v)
			err = push_flag(a, strs[i].flag, v);
	}
	if (!err)
		err = push_size(a, "--max-body-bytes", c->max_body_bytes);
	if (!err)
		err = push_size(a, "--max-call-bytes", c->max_call_bytes);
	if (!err)
		err = push_size(a, "--ringbuf-mb", c->ringbuf_mb);
	if (!err)
		err = push_size(a, "--max-conns", c->max_conns);
	if (!err)
		err = push_size(a, "--max-series", c->metrics_max_series);
	if (!err && c->json == 1)
		err = push_flag(a, "--json", NULL);
	return err;
}

int daemon_args_build(int argc, char **argv, struct daemon_args *a)
{
	const char *path = NULL, *env = getenv("LLMOBS_CONFIG");
	char errbuf[768];
	int max = argc + 40, err;

	memset(a, 0, sizeof(*a));
	a->cfg.json = -1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--check-config"))
			a->check_config = true;
		else if (!strcmp(argv[i], "--config") && i + 1 < argc)
			path = argv[++i];
		else if (!strcmp(argv[i], "--config")) {
			p_err("--config needs a file");
			return -EINVAL;
		}
		else if (!strncmp(argv[i], "--config=", 9))
			path = argv[i] + 9;
	}
	if (!path && env && env[0])
		path = env;
	if (!path && access(CONFIG_DEFAULT_PATH, F_OK) == 0)
		path = CONFIG_DEFAULT_PATH;
	a->argv = calloc((size_t)max + 1, sizeof(char *));
	a->owned = calloc((size_t)max, sizeof(char *));
	if (!a->argv || !a->owned)
		return -ENOMEM;
	a->argv[a->argc++] = argv[0];
	if (path) {
		err = config_load(path, &a->cfg, errbuf, sizeof(errbuf));
		if (err) {
			p_err("config: %s", errbuf);
			return err;
		}
		a->config_path = path;
		if ((err = from_config(a, &a->cfg)))
			return err;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--check-config") || !strncmp(argv[i], "--config=", 9))
			continue;
		if (!strcmp(argv[i], "--config")) {
			i++;
			continue;
		}
		push(a, argv[i], false);
	}
	a->argv[a->argc] = NULL;
	return 0;
}

void daemon_args_free(struct daemon_args *a)
{
	for (int i = 0; i < a->nowned; i++)
		free(a->owned[i]);
	free(a->owned);
	free(a->argv);
	config_free(&a->cfg);
	memset(a, 0, sizeof(*a));
}
