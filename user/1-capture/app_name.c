/* cmdline -> application name. Interpreters are told by the executable's
 * base name; their own options are skipped (those that take a value with
 * their value) to reach the script. A lookup climbs at most
 * APP_NAME_PKG_DEPTH directories and reads at most APP_NAME_PKG_BYTES of a
 * package.json, once per process (procattr caches the result), so a
 * hostile tree costs a bounded amount. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "app_name.h"

#define APP_NAME_ARGS		64
#define APP_NAME_PKG_DEPTH	8
#define APP_NAME_PKG_BYTES	(64 * 1024)
#define APP_NAME_PATH_MAX	1024

enum interp { INTERP_NONE, INTERP_NODE, INTERP_DENO, INTERP_PYTHON, INTERP_JAVA, INTERP_SCRIPT };

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static enum interp interp_of(const char *base)
{
	if (!strcmp(base, "node") || !strcmp(base, "nodejs") || !strcmp(base, "bun"))
		return INTERP_NODE;
	if (!strcmp(base, "deno"))
		return INTERP_DENO;
	if (!strncmp(base, "python", 6) || !strncmp(base, "pypy", 4))
		return INTERP_PYTHON;
	if (!strcmp(base, "java"))
		return INTERP_JAVA;
	if (!strcmp(base, "ruby") || !strcmp(base, "perl") || !strncmp(base, "php", 3))
		return INTERP_SCRIPT;
	return INTERP_NONE;
}

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

/* Options whose value is the next argument. */
static const char *const node_valued[] = {
	"-r", "--require", "--import", "--loader", "--experimental-loader",
	"--inspect-port", "--title", "--env-file", "--conditions", "-C", NULL,
};
static const char *const python_valued[] = { "-W", "-X", "-Q", NULL };
static const char *const java_valued[] = {
	"-cp", "-classpath", "--class-path", "-p", "--module-path",
	"--add-modules", "--add-opens", "--add-exports", NULL,
};
/* Script names that say nothing: the package or directory says more. */
static const char *const generic_names[] = {
	"index", "main", "cli", "app", "server", "start", "run", "__main__",
	"entry", "bin", "dist", "build", "src", "lib", NULL,
};

static void put_name(char out[APP_NAME_MAX], const char *s, size_t n)
{
	size_t j = 0;

	for (size_t i = 0; i < n && j < APP_NAME_MAX - 1; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
			  c == '@' || c == '+';

		out[j++] = ok ? c : '_';
	}
	out[j] = '\0';
}

/* The base name without its extension (.js, .py, .jar...). */
static size_t stem_len(const char *base)
{
	const char *dot = strrchr(base, '.');

	return dot && dot != base ? (size_t)(dot - base) : strlen(base);
}

/* "name" of the nearest package.json above the script, "@scope/" dropped. */
static bool package_name(const char *script, const char *cwd, app_name_read_fn rd, void *ctx,
			 char out[APP_NAME_MAX])
{
	char dir[APP_NAME_PATH_MAX], file[APP_NAME_PATH_MAX + 16];
	char *buf, *slash;
	bool found = false;
	int n;

	if (!rd)
		return false;
	n = script[0] == '/' ? snprintf(dir, sizeof(dir), "%s", script)
			     : snprintf(dir, sizeof(dir), "%s/%s", cwd ? cwd : "", script);
	if (n < 0 || (size_t)n >= sizeof(dir))
		return false;
	buf = malloc(APP_NAME_PKG_BYTES + 1);
	if (!buf)
		return false;
	for (int depth = 0; depth < APP_NAME_PKG_DEPTH && !found; depth++) {
		cJSON *pkg, *name;
		ssize_t got;

		slash = strrchr(dir, '/');
		if (!slash)
			break;
		*slash = '\0';
		snprintf(file, sizeof(file), "%s/package.json", dir);
		got = rd(ctx, file, buf, APP_NAME_PKG_BYTES);
		if (got <= 0)
			continue;
		buf[got] = '\0';
		pkg = cJSON_ParseWithLength(buf, (size_t)got);
		name = cJSON_GetObjectItemCaseSensitive(pkg, "name");
		if (cJSON_IsString(name) && name->valuestring[0]) {
			const char *v = name->valuestring, *sl = strchr(v, '/');

			if (v[0] == '@' && sl && sl[1])
				v = sl + 1;
			put_name(out, v, strlen(v));
			found = true;
		}
		cJSON_Delete(pkg);
	}
	free(buf);
	return found;
}

/* The name of a script path: its stem, else its package, else its directory. */
static void script_name(const char *script, const char *cwd, app_name_read_fn rd, void *ctx,
			char out[APP_NAME_MAX])
{
	const char *base = base_name(script);
	char stem[APP_NAME_MAX];

	put_name(stem, base, stem_len(base));
	if (stem[0] && !in_list(stem, generic_names)) {
		memcpy(out, stem, sizeof(stem));
		return;
	}
	if (package_name(script, cwd, rd, ctx, out))
		return;
	if (base != script) {	/* the directory holding main.py, index.js */
		const char *end = base - 1, *start = end;

		while (start > script && start[-1] != '/')
			start--;
		if (end > start) {
			put_name(out, start, (size_t)(end - start));
			return;
		}
	}
	memcpy(out, stem, sizeof(stem));
}

/* Short options that take inline code, alone or in a cluster (-c, -uc,
 * -pe, -ne): what follows is code, never a script to name the app by. */
static const char *code_flags(enum interp k)
{
	switch (k) {
	case INTERP_PYTHON: return "c";
	case INTERP_NODE: return "ep";		/* node/bun -e, -p */
	case INTERP_SCRIPT: return "eEr";	/* ruby/perl -e, perl -E, php -r */
	default: return "";
	}
}

/* An operand that holds what no script path does (spaces, quotes,
 * brackets, '=', '?'): inline code that slipped past the flags, which may
 * hold a key or a prompt, so it never becomes a name. */
static bool looks_like_code(const char *a)
{
	return strpbrk(a, " \t\n'\"`(){}[];=?$<>|&*,") != NULL;
}

/* The first argument that is not an option or an option's value; sets
 * *how to 'm' (python -m) or 'j' (java -jar). NULL for inline code. */
static const char *first_operand(enum interp k, char **argv, int argc, int *how)
{
	const char *const *valued = k == INTERP_NODE ? node_valued :
				    k == INTERP_PYTHON ? python_valued :
				    k == INTERP_JAVA ? java_valued : NULL;
	int i = 1;

	*how = 0;
	if (k == INTERP_DENO && argc > 1 && !strcmp(argv[1], "eval"))
		return NULL;	/* deno eval CODE */
	if (k == INTERP_DENO || (k == INTERP_NODE && argc > 1 && !strcmp(argv[1], "run")))
		i = 2;	/* deno run x.ts, bun run x.ts */
	for (; i < argc; i++) {
		const char *a = argv[i];

		if (k == INTERP_PYTHON && !strcmp(a, "-m") && i + 1 < argc) {
			*how = 'm';
			return looks_like_code(argv[i + 1]) ? NULL : argv[i + 1];
		}
		if (k == INTERP_JAVA && !strcmp(a, "-jar") && i + 1 < argc) {
			*how = 'j';
			return looks_like_code(argv[i + 1]) ? NULL : argv[i + 1];
		}
		if (valued && in_list(a, valued)) {
			i++;
			continue;
		}
		if (!strcmp(a, "--eval") || !strcmp(a, "--print") ||
		    (a[0] == '-' && a[1] && a[1] != '-' && strpbrk(a + 1, code_flags(k))))
			return NULL;	/* inline code: the interpreter is the name */
		if (a[0] != '-' || !a[1])
			return a[0] == '-' || looks_like_code(a) ? NULL : a;	/* "-": stdin */
	}
	return NULL;
}

int app_name_derive(const char *cmdline, size_t len, const char *exe, const char *cwd,
		    app_name_read_fn rd, void *ctx, char out[APP_NAME_MAX])
{
	char *args[APP_NAME_ARGS], *copy = NULL;
	const char *interp_base, *operand;
	enum interp k;
	int argc = 0, how;

	out[0] = '\0';
	if (len) {
		copy = malloc(len + 1);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, cmdline, len);
		copy[len] = '\0';
		for (size_t off = 0; off < len && argc < APP_NAME_ARGS;) {
			args[argc++] = copy + off;
			off += strlen(copy + off) + 1;
		}
	}
	interp_base = exe && exe[0] ? base_name(exe) : argc ? base_name(args[0]) : "";
	k = interp_of(interp_base);
	if (k == INTERP_NONE && argc)	/* /proc/PID/exe resolved python3 -> python3.11, or a wrapper */
		k = interp_of(base_name(args[0]));
	operand = k != INTERP_NONE ? first_operand(k, args, argc, &how) : NULL;
	if (operand && how == 'm') {
		const char *dot = strchr(operand, '.');

		put_name(out, operand, dot ? (size_t)(dot - operand) : strlen(operand));
	} else if (operand && k == INTERP_JAVA && how != 'j') {
		const char *cls = strrchr(operand, '.');
		const char *mod = strrchr(operand, '/');

		cls = mod ? mod + 1 : cls ? cls + 1 : operand;
		put_name(out, cls, strlen(cls));
	} else if (operand) {
		script_name(operand, cwd, rd, ctx, out);
	}
	if (!out[0] && interp_base[0])
		put_name(out, interp_base, strlen(interp_base));
	if (copy)	/* the command line may hold a key: not left in freed memory */
		explicit_bzero(copy, len);
	free(copy);
	return out[0] ? 0 : -ENOENT;
}
