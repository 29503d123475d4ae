/* The application a process runs, named the way an operator knows it.
 * In: the process's cmdline (NUL-separated argv), its executable path and
 * working directory, and a way to read its files; out: a short name. For
 * interpreters (node, bun, deno, python, java, ruby, perl, php) that is the
 * script, module or jar being run, and for a generic script name
 * (index.js, main.py, cli.js...) the nearest package.json's "name": so
 * Google's Gemini CLI is "gemini", not "node". */
#ifndef LLMOBS_APP_NAME_H
#define LLMOBS_APP_NAME_H

#include <stddef.h>
#include <sys/types.h>

#define APP_NAME_MAX	64	/* bytes with the NUL */

/* Reads at most size bytes of path (as the process sees it: the caller
 * maps it into the process's root). Returns the bytes read or -errno. */
typedef ssize_t (*app_name_read_fn)(void *ctx, const char *path, char *buf, size_t size);

/* Writes the name into out (APP_NAME_MAX bytes; only [A-Za-z0-9._@+-],
 * anything else becomes '_'). read may be NULL (no package.json lookup).
 * Returns 0, or -ENOENT when neither cmdline nor exe names anything. */
int app_name_derive(const char *cmdline, size_t len, const char *exe, const char *cwd,
		    app_name_read_fn read, void *ctx, char out[APP_NAME_MAX]);

#endif
