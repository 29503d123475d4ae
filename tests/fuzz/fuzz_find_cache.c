/* find_cache.c's two readers of bytes it did not write itself: the cache
 * file (the state directory's, but whatever a crash or a disk left there)
 * and the binary it keys (anyone's). The input is both: loaded as the
 * cache, then keyed and looked up as the binary, through a finder that
 * refuses, whose -ENOENT must come back whether from the cache or not.
 * Never a crash or a read past either (ASan). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>
#include "fuzz.h"
#include "find_cache.h"

static int refuse(const char *path, void *out, char *reason, size_t cap)
{
	(void)path;
	memset(out, 0, 8);
	snprintf(reason, cap, "none here");
	return -ENOENT;
}

static unsigned int no_offsets(const void *out, uint64_t off[FIND_CACHE_MAX_OFFS])
{
	(void)out;
	(void)off;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct find_cache_finder f = { "refuse", 9, 1, 8, refuse, no_offsets };
	static char cache[] = "/tmp/fuzz_find_cache.XXXXXX";
	static int bin = -1;
	struct find_cache *fc;
	uint8_t key[32], out[8];
	char path[64], why[64];
	bool hit;
	int fd;

	if (bin < 0 && ((bin = memfd_create("fuzz_find_cache", 0)) < 0 ||
			(fd = mkstemp(cache)) < 0 || close(fd)))
		abort();
	fd = open(cache, O_WRONLY | O_TRUNC);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size || close(fd))
		return 0;
	if (ftruncate(bin, 0) || pwrite(bin, data, size, 0) != (ssize_t)size)
		return 0;
	FUZZ_CHECK(find_cache_key(bin, key) <= 0, "find_cache_key");
	if (find_cache_open(cache, 2, &fc))
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", bin);
	FUZZ_CHECK(find_cache_run(fc, path, &f, out, why, sizeof(why), &hit) == -ENOENT,
		   "the finder's answer");
	find_cache_close(fc);
	return 0;
}
