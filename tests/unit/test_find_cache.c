/* find_cache: bssl_find run through the cache on the look-alike programs
 * of test_bssl_find.c. A second run, a restart (the file reloaded) and a
 * copy at another path are answered without running the finder; a
 * refusal is remembered too; a new finder version, changed bytes at a
 * cached offset and a corrupt file make it run again; the entries are
 * capped, the oldest going first. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "bssl_find.h"
#include "find_cache.h"
#include "stats.h"

static char dir[] = "/tmp/test_find_cache.XXXXXX";

#include "bssl_lookalike.h"

static int calls;	/* of the finder itself */

static int find_bssl(const char *path, void *out, char *reason, size_t cap)
{
	calls++;
	return bssl_find(path, out, reason, cap);
}

static unsigned int bssl_offsets(const void *out, uint64_t off[FIND_CACHE_MAX_OFFS])
{
	off[0] = ((const struct bssl_target *)out)->write_off;
	off[1] = ((const struct bssl_target *)out)->read_off;
	return 2;
}

static struct find_cache_finder finder = {
	"bssl_find", 2, BSSL_FIND_VERSION, sizeof(struct bssl_target), find_bssl, bssl_offsets,
};

static char cache_path[256];

static const char *copy(const char *from, const char *name, size_t pad)
{
	static char to[256];
	char cmd[700];

	snprintf(to, sizeof(to), "%s/%s", dir, name);
	snprintf(cmd, sizeof(cmd), "cp %s %s && head -c %zu /dev/zero >> %s", from, to, pad, to);
	assert_int_equal(system(cmd), 0);
	return to;
}

/* One run through a cache freshly loaded from disk, as a daemon start. */
static int run(const char *bin, struct bssl_target *t, bool *hit, unsigned int max)
{
	struct find_cache *fc;
	char why[160];
	int err;

	assert_int_equal(find_cache_open(cache_path, max, &fc), 0);
	err = find_cache_run(fc, bin, &finder, t, why, sizeof(why), hit);
	find_cache_close(fc);
	return err;
}

static void test_hit_miss(void **state)
{
	const char *bin = build("nopie", "", "SSL_read(&s, b, 8)", "-no-pie");
	struct bssl_target first, t;
	struct find_cache *fc;
	struct stat st;
	char why[160];
	bool hit;

	(void)state;
	calls = 0;
	assert_int_equal(run(bin, &first, &hit, 0), 0);
	assert_false(hit);
	assert_int_equal(calls, 1);
	assert_int_equal(stat(cache_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* A restart, then the same binary installed elsewhere: no build-id,
	 * the content key names both. */
	assert_int_equal(run(bin, &t, &hit, 0), 0);
	assert_true(hit);
	assert_memory_equal(&t, &first, sizeof(t));
	assert_int_equal(run(copy(bin, "elsewhere", 0), &t, &hit, 0), 0);
	assert_true(hit);
	assert_int_equal(t.write_off, first.write_off);
	assert_int_equal(calls, 1);
	/* A refusal is remembered with its reason. */
	bin = build("two", "__attribute__((noinline)) int w2(struct ssl *s, int n) {\n"
		    "  if (s->quic) { ERR_put_error(16, 0, 66, F, 1953); return -1; }\n"
		    "  if (!s->hs) { ERR_put_error(16, 0, 226, F, 1958); return -1; }\n"
		    "  if (n < 0) { ERR_put_error(16, 0, 215, F, 1973); return -1; } return n; }\n"
		    "int (*keep)(struct ssl *, int) = w2;\n", "SSL_read(&s, b, 8)", "-no-pie");
	assert_int_equal(run(bin, &t, &hit, 0), -ESRCH);
	assert_false(hit);
	assert_int_equal(find_cache_open(cache_path, 0, &fc), 0);
	assert_int_equal(find_cache_run(fc, bin, &finder, &t, why, sizeof(why), &hit), -ESRCH);
	assert_true(hit);
	assert_non_null(strstr(why, "SSL_write"));
	find_cache_close(fc);
	assert_int_equal(calls, 2);
	/* Not ELF: no key, the finder runs every time. */
	assert_int_equal(run("/etc/passwd", &t, &hit, 0), -ENOENT);
	assert_int_equal(run("/etc/passwd", &t, &hit, 0), -ENOENT);
	assert_false(hit);
	assert_int_equal(calls, 4);
}

static void test_stale(void **state)
{
	const char *bin = build("pie", "", "SSL_read(&s, b, 8)", "-pie -fPIE -Wl,--build-id=sha1");
	struct bssl_target t;
	uint8_t key[32], key2[32], byte;
	bool hit;
	int fd;

	(void)state;
	calls = 0;
	assert_int_equal(run(bin, &t, &hit, 0), 0);
	/* A new finder version ignores the old answer, then keeps its own. */
	finder.version++;
	assert_int_equal(run(bin, &t, &hit, 0), 0);
	assert_false(hit);
	assert_int_equal(run(bin, &t, &hit, 0), 0);
	assert_true(hit);
	assert_int_equal(calls, 2);
	/* Keyed by its build-id, which a byte of code changed does not move:
	 * the bytes at the cached offset no longer match, it runs again. */
	fd = open(bin, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(find_cache_key(fd, key), 0);
	assert_int_equal(pread(fd, &byte, 1, t.read_off + 3), 1);
	byte ^= 0xff;
	assert_int_equal(pwrite(fd, &byte, 1, t.read_off + 3), 1);
	assert_int_equal(find_cache_key(fd, key2), 0);
	assert_memory_equal(key, key2, sizeof(key));
	close(fd);
	run(bin, &t, &hit, 0);
	assert_false(hit);
	assert_int_equal(calls, 3);
}

static void test_corrupt(void **state)
{
	const char *bin = build("nopie", "", "SSL_read(&s, b, 8)", "-no-pie");
	uint64_t corrupt = stats[STAT_FIND_CACHE_CORRUPT];
	struct bssl_target t;
	char cmd[600];
	bool hit;

	(void)state;
	unlink(cache_path);
	calls = 0;
	assert_int_equal(run(bin, &t, &hit, 0), 0);
	/* Cut short, then garbage: ignored, counted, rewritten. */
	assert_int_equal(truncate(cache_path, 100), 0);
	assert_int_equal(run(bin, &t, &hit, 0), 0);
	assert_false(hit);
	assert_int_equal(stats[STAT_FIND_CACHE_CORRUPT], corrupt + 1);
	snprintf(cmd, sizeof(cmd), "head -c 4096 /dev/urandom > %s", cache_path);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(run(bin, &t, &hit, 0), 0);
	assert_false(hit);
	assert_int_equal(stats[STAT_FIND_CACHE_CORRUPT], corrupt + 2);
	assert_int_equal(run(bin, &t, &hit, 0), 0);
	assert_true(hit);
	assert_int_equal(calls, 3);
}

static void test_cap(void **state)
{
	const char *base = build("nopie", "", "SSL_read(&s, b, 8)", "-no-pie");
	char a[256], b[256], c[256];
	struct bssl_target t;
	struct stat st;
	bool hit;

	(void)state;
	unlink(cache_path);
	/* Sizes differ: three binaries to the cache. */
	snprintf(a, sizeof(a), "%s", copy(base, "a", 1));
	snprintf(b, sizeof(b), "%s", copy(base, "b", 2));
	snprintf(c, sizeof(c), "%s", copy(base, "c", 3));
	calls = 0;
	run(a, &t, &hit, 2);
	run(b, &t, &hit, 2);
	run(c, &t, &hit, 2);
	assert_int_equal(calls, 3);
	assert_int_equal(stat(cache_path, &st), 0);
	assert_true(st.st_size < 3 * 400);
	run(c, &t, &hit, 2);
	assert_true(hit);
	run(b, &t, &hit, 2);
	assert_true(hit);
	run(a, &t, &hit, 2);	/* the oldest, dropped */
	assert_false(hit);
	assert_int_equal(calls, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_miss),
		cmocka_unit_test(test_stale),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_cap),
	};
	char cmd[128];
	int rc;

	if (!mkdtemp(dir))
		return 1;
	snprintf(cache_path, sizeof(cache_path), "%s/" FIND_CACHE_NAME, dir);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		rc = 1;
	return rc;
}
