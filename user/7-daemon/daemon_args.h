/* The config file as command-line flags. In: argv; out: a new argv whose
 * first flags come from the config file (--config FILE, else
 * $LLMOBS_CONFIG, else /etc/llm-observer/llmobsd.yaml when it exists),
 * followed by the user's own: getopt applies them in order, so a flag on
 * the command line overrides the file with no second code path. The
 * project rules, which have no flag, stay in the loaded config. */
#ifndef LLMOBS_DAEMON_ARGS_H
#define LLMOBS_DAEMON_ARGS_H

#include <stdbool.h>
#include "daemon_config.h"

struct daemon_args {
	int argc;
	char **argv;		/* argv[0], the file's flags, then the user's */
	char **owned;		/* strings we allocated */
	int nowned;
	bool check_config;	/* --check-config: validate, print, exit */
	const char *config_path;	/* NULL: no file */
	struct daemon_config cfg;
};

/* Returns 0, or -errno after printing why (a bad file: "path:line: what"). */
int daemon_args_build(int argc, char **argv, struct daemon_args *a);
void daemon_args_free(struct daemon_args *a);

#endif
