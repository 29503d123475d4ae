/* Attribution parsers (user/1-capture/cgroup_path.c, app_name.c).
 * Input: [selector] then the bytes. selector & 1: the bytes are a
 * /proc/PID/cgroup file: the picked path must lie inside it, and a parsed
 * container id is 64 lower-case hex, a pod uid 8-4-4-4-12 hex with dashes.
 * Otherwise the bytes are a cmdline (NUL-separated) run by the executable
 * selector >> 1 picks, and every package.json read returns the bytes too:
 * the name is NUL-terminated, within APP_NAME_MAX, of the allowed set, and
 * the package.json climb stays bounded. */
#include <errno.h>
#include <stdbool.h>
#include <sys/types.h>
#include "app_name.h"
#include "cgroup_path.h"
#include "fuzz.h"

static const char *const exes[] = {
	"/usr/bin/node", "/usr/bin/python3.11", "/usr/bin/java", "/usr/bin/bun",
	"/usr/bin/deno", "/usr/bin/ruby", "/usr/bin/curl", "",
};

struct reader {
	const uint8_t *p;
	size_t len;
	int calls;
};

static ssize_t read_same(void *ctx, const char *path, char *buf, size_t size)
{
	struct reader *r = ctx;
	size_t n = r->len < size ? r->len : size;

	r->calls++;
	FUZZ_CHECK(strlen(path) < 4096, "path");
	memcpy(buf, r->p, n);
	return (ssize_t)n;
}

static void check_hex(const char *s, size_t n, bool dashes)
{
	for (size_t i = 0; i < n; i++) {
		bool sep = dashes && (i == 8 || i == 13 || i == 18 || i == 23);
		char c = s[i];

		FUZZ_CHECK(sep ? c == '-' : ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')),
			   "bad char %d at %zu", c, i);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t sel = fuzz_u8(&in);
	char *copy = fuzz_dup(in.p, in.len);

	if (sel & 1) {
		const char *path;
		size_t plen;
		struct cgroup_ident id;

		if (cgroup_file_pick(copy, in.len, &path, &plen) == 0) {
			FUZZ_CHECK(path >= copy && path + plen <= copy + in.len, "path outside");
			if (cgroup_path_parse(path, plen, &id) >= 0) {
				size_t cl = strlen(id.container_id), pl = strlen(id.pod_uid);

				FUZZ_CHECK(cl == 0 || cl == CGROUP_ID_LEN, "id len %zu", cl);
				FUZZ_CHECK(pl == 0 || pl == CGROUP_POD_UID_LEN, "uid len %zu", pl);
				check_hex(id.container_id, cl, false);
				check_hex(id.pod_uid, pl, true);
			}
		}
	} else {
		struct reader r = { in.p, in.len, 0 };
		char out[APP_NAME_MAX];
		int ret = app_name_derive(copy, in.len, exes[(sel >> 1) % 8], "/srv", read_same, &r,
					  out);

		FUZZ_CHECK(ret == 0 || ret == -ENOENT, "ret %d", ret);
		FUZZ_CHECK(memchr(out, '\0', APP_NAME_MAX) != NULL, "not terminated");
		for (const char *c = out; *c; c++)
			FUZZ_CHECK(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					  "0123456789._-@+", *c), "char %d", *c);
		FUZZ_CHECK(r.calls <= 8, "%d package.json reads", r.calls);
	}
	free(copy);
	return 0;
}
