/* binfile and tls_mapping_open: what the attacher opens of other
 * processes' files. A FIFO planted where a library should be is refused at
 * once (no reader blocks on it, here or in the five inspectors); a file
 * that is not the inode the maps entry showed is refused; a file cut short
 * after it was opened fails a read instead of killing the reader; and a
 * process chroot()ed below our root (its maps paths start with its root's
 * own path) has its library found through /proc/PID/root all the same. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "awslc_find.h"
#include "binfile.h"
#include "bssl_find.h"
#include "go_elf.h"
#include "stats.h"
#include "tls_blind.h"
#include "tls_libs.h"

static char dir[] = "/tmp/test_binfile.XXXXXX";

/* On overlayfs any regular file passes the inode check (binfile.c says
 * why): the refusals below need another filesystem for dir. */
static bool on_overlay(void)
{
	struct statfs sfs;

	return statfs(dir, &sfs) == 0 && (unsigned long)sfs.f_type == 0x794c7630;
}

static void path_of(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "%s/%s", dir, name);
}

static void copy(const char *from, const char *to)
{
	char cmd[PATH_MAX * 2 + 16];

	snprintf(cmd, sizeof(cmd), "cp %s %s", from, to);
	assert_int_equal(system(cmd), 0);
}

/* Each call must return, and at once: alarm() ends the test otherwise. */
static void test_fifo_refused(void **state)
{
	struct tls_lib_syms syms;
	struct go_tls_target gt;
	struct bssl_target bt;
	struct awslc_target at;
	char fifo[PATH_MAX], why[160], stack[128];
	uint64_t before = stats[STAT_BINFILES_REFUSED];

	(void)state;
	path_of(fifo, sizeof(fifo), "libssl.so.3");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	alarm(10);
	assert_int_equal(binfile_open(fifo, BINFILE_NOFOLLOW, NULL, NULL), -EINVAL);
	assert_int_equal(tls_lib_inspect(fifo, &syms), -EINVAL);
	assert_int_equal(go_elf_inspect(fifo, &gt, why, sizeof(why)), -EINVAL);
	assert_int_equal(bssl_find(fifo, &bt, why, sizeof(why)), -EINVAL);
	assert_int_equal(tls_blind_guess(fifo, stack, sizeof(stack)), -EINVAL);
	assert_int_equal(awslc_find(fifo, &at, why, sizeof(why)), -EINVAL);
	alarm(0);
	assert_true(stats[STAT_BINFILES_REFUSED] >= before + 6);
	unlink(fifo);
}

static void test_inode_checked(void **state)
{
	char a[PATH_MAX], b[PATH_MAX], link[PATH_MAX];
	struct binfile_want want;
	struct stat sa, sb, st;
	int fd;

	(void)state;
	if (on_overlay()) {
		skip();
		return;
	}
	path_of(a, sizeof(a), "a.so");
	path_of(b, sizeof(b), "b.so");
	path_of(link, sizeof(link), "link.so");
	copy("/bin/true", a);
	copy("/bin/true", b);
	assert_int_equal(stat(a, &sa), 0);
	assert_int_equal(stat(b, &sb), 0);
	want.dev = sa.st_dev;
	want.ino = sa.st_ino;
	fd = binfile_open(a, BINFILE_NOFOLLOW, &want, &st);
	assert_true(fd >= 0);
	assert_int_equal(st.st_ino, sa.st_ino);
	close(fd);
	/* Same bytes, another inode: what a swapped path would give. */
	assert_int_equal(binfile_open(b, BINFILE_NOFOLLOW, &want, NULL), -ESTALE);
	/* A symlink as the last component, where maps shows resolved paths. */
	assert_int_equal(symlink(a, link), 0);
	assert_int_equal(binfile_open(link, BINFILE_NOFOLLOW, &want, NULL), -EINVAL);
	fd = binfile_open(link, 0, &want, NULL);
	assert_true(fd >= 0);
	close(fd);
	unlink(link);
	unlink(a);
	unlink(b);
}

/* A file cut short after libelf was given it: reads fail, nothing faults. */
static void test_truncated(void **state)
{
	char a[PATH_MAX];
	GElf_Shdr sh;
	uint8_t buf[64];
	Elf *elf;
	int fd;

	(void)state;
	path_of(a, sizeof(a), "cut");
	copy("/bin/true", a);
	fd = binfile_open(a, 0, NULL, NULL);
	assert_true(fd >= 0);
	elf = binfile_elf(fd);
	assert_non_null(elf);
	assert_true(binfile_has_section(elf, ".text", &sh));
	assert_int_equal(truncate(a, 64), 0);
	assert_null(binfile_section(elf, ".text", 0, &sh));
	assert_int_equal(binfile_pread(fd, buf, sizeof(buf), sh.sh_offset), -EIO);
	elf_end(elf);
	close(fd);
	unlink(a);
}

/* A child chroot()ed into dir: its maps would name dir/lib.so, its root is
 * dir. Needs root (chroot); skipped without. */
static void test_chrooted_process(void **state)
{
	char lib[PATH_MAX], via[PATH_MAX + 64], c;
	struct tls_mapping m = {};
	struct stat sl, st;
	int gate[2], fd;
	pid_t pid;

	(void)state;
	if (geteuid() != 0) {
		skip();
		return;
	}
	path_of(lib, sizeof(lib), "lib.so");
	copy("/bin/true", lib);
	assert_int_equal(stat(lib, &sl), 0);
	assert_int_equal(pipe(gate), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(gate[1]);
		if (chroot(dir) || chdir("/"))
			_exit(1);
		while (read(gate[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(gate[0]);
	/* Until its root is dir, /proc/PID/root is ours. */
	for (int i = 0; i < 200; i++) {
		char link[64], root[PATH_MAX];
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/%d/root", (int)pid);
		n = readlink(link, root, sizeof(root) - 1);
		if (n > 1)
			break;
		usleep(10000);
	}
	m.dev = sl.st_dev;
	m.ino = sl.st_ino;
	m.start = 0x1000;
	m.end = 0x2000;
	m.path = lib;
	fd = tls_mapping_open(pid, &m, via, sizeof(via), &st);
	assert_true(fd >= 0);
	assert_int_equal(st.st_ino, sl.st_ino);
	snprintf(lib, sizeof(lib), "/proc/%d/root/lib.so", (int)pid);
	assert_string_equal(via, lib);
	close(fd);
	/* Another inode at that path is not taken for it (nor is there a
	 * map_files entry for the made-up range). */
	m.ino++;
	if (!on_overlay())
		assert_true(tls_mapping_open(pid, &m, via, sizeof(via), &st) < 0);
	close(gate[1]);
	waitpid(pid, NULL, 0);
	path_of(lib, sizeof(lib), "lib.so");
	unlink(lib);
}

static void on_alarm(int sig)
{
	(void)sig;
	fprintf(stderr, "binfile: a call blocked on the FIFO\n");
	_exit(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fifo_refused),
		cmocka_unit_test(test_inode_checked),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_chrooted_process),
	};
	int rc;

	signal(SIGALRM, on_alarm);
	if (!mkdtemp(dir))
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(dir);
	return rc;
}
