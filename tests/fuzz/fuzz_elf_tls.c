/* The three readers of executables we do not trust (user/1-capture/:
 * go_elf.c, bssl_find.c, tls_blind.c), on whatever file the input is:
 * written to a memfd and opened by path, as the daemon opens
 * /proc/PID/root/... . Each returns 0, 1 or -errno, never a probe point
 * outside the file, and never crashes or reads past it (ASan). */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>
#include "fuzz.h"
#include "bssl_find.h"
#include "go_elf.h"
#include "tls_blind.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct go_tls_target g;
	struct bssl_target b;
	char path[64], why[200], stack[128];
	int err;

	if (fd < 0 && (fd = memfd_create("fuzz_elf_tls", 0)) < 0)
		return 0;
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	err = go_elf_inspect(path, &g, why, sizeof(why));
	FUZZ_CHECK(err <= 0, "go_elf_inspect %d", err);
	if (!err)
		for (int k = 0; k < GO_FN__MAX; k++)
			for (uint32_t i = 0; i < g.fn[k].nr_rets; i++)
				FUZZ_CHECK(g.fn[k].ret_off[i] < size, "RET past the file");
	err = bssl_find(path, &b, why, sizeof(why));
	FUZZ_CHECK(err <= 0, "bssl_find %d", err);
	if (!err)
		FUZZ_CHECK(b.write_off < size && b.read_off < size && b.write_callers &&
			   b.read_callers, "bssl_find result");
	err = tls_blind_guess(path, stack, sizeof(stack));
	FUZZ_CHECK(err <= 1, "tls_blind_guess %d", err);
	return 0;
}
