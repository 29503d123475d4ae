/* Attaches empty uprobes (bpf/empty_probe.bpf.c) where llmobsd attaches
 * its own: entry and return of SSL_write, SSL_read, SSL_write_ex,
 * SSL_read_ex, entry of SSL_free, in the system libssl (or the files
 * given), for every process; with --go, where llmobsd attaches to a Go
 * program: entries of crypto/tls.(*Conn).Write/Read/Close and each RET of
 * Write and Read (go_elf.c; the time that discovery took is printed).
 * Prints "ready <n> probes" once attached and holds them until
 * SIGINT/SIGTERM. Needs root (or CAP_BPF+CAP_PERFMON).
 *
 *   empty_probe [LIBRARY...]
 *   empty_probe --go GO_BINARY
 *   empty_probe --find BINARY     time bssl_find.c on BINARY (twice: cold
 *                                 page cache, then warm), attach nothing
 *   empty_probe --find-awslc BINARY   the same with awslc_find.c
 *   empty_probe --find-cached CACHE BINARY   bssl_find (or awslc_find, if
 *                                 bssl_find refuses) through find_cache.c:
 *                                 a miss (CACHE emptied first), then a hit
 */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "bssl_find.h"
#include "awslc_find.h"
#include "find_cache.h"
#include "go_elf.h"
#include "tls_libs.h"
#include "empty_probe.skel.h"

#define MAX_LINKS	(64 + 2 * GO_TLS_MAX_RETS)

static volatile sig_atomic_t exiting;
static struct bpf_link *links[MAX_LINKS];
static int nlinks;

static void on_signal(int sig)
{
	exiting = 1;
}

static int attach(struct bpf_program *prog, bool ret, const char *path, uint64_t off)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = ret);
	struct bpf_link *l;

	if (nlinks == MAX_LINKS)
		return -E2BIG;
	l = bpf_program__attach_uprobe_opts(prog, -1, path, off, &opts);
	if (!l)
		return -errno;
	links[nlinks++] = l;
	return 0;
}

static int attach_lib(struct empty_probe_bpf *skel, const char *path)
{
	struct tls_lib_syms syms;
	int err = tls_lib_inspect(path, &syms), k;

	if (err) {
		fprintf(stderr, "empty_probe: %s: %s\n", path, strerror(-err));
		return err;
	}
	for (k = TLS_SYM_SSL_WRITE; k <= TLS_SYM_SSL_READ_EX; k++) {
		if (!syms.offset[k])
			continue;
		err = attach(skel->progs.empty_enter, false, path, syms.offset[k]);
		if (!err)
			err = attach(skel->progs.empty_exit, true, path, syms.offset[k]);
		if (err)
			goto fail;
	}
	if (syms.offset[TLS_SYM_SSL_FREE])
		err = attach(skel->progs.empty_enter, false, path, syms.offset[TLS_SYM_SSL_FREE]);
	if (!err)
		return 0;
fail:
	fprintf(stderr, "empty_probe: attach in %s: %s\n", path, strerror(-err));
	return err;
}

static int attach_go(struct empty_probe_bpf *skel, const char *path)
{
	struct go_tls_target t;
	struct timespec a, b;
	char why[160];
	int err, k;

	clock_gettime(CLOCK_MONOTONIC, &a);
	err = go_elf_inspect(path, &t, why, sizeof(why));
	clock_gettime(CLOCK_MONOTONIC, &b);
	if (err) {
		fprintf(stderr, "empty_probe: %s: %s\n", path, why);
		return err;
	}
	printf("go discovery %.2f ms (%s)\n",
	       (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6, t.version);
	for (k = 0; k < GO_FN__MAX && !err; k++) {
		if (!t.fn[k].entry_off)
			continue;
		err = attach(skel->progs.empty_enter, false, path, t.fn[k].entry_off);
		for (uint32_t i = 0; k != GO_FN_CLOSE && !err && i < t.fn[k].nr_rets; i++)
			err = attach(skel->progs.empty_enter, false, path, t.fn[k].ret_off[i]);
	}
	if (err)
		fprintf(stderr, "empty_probe: attach in %s: %s\n", path, strerror(-err));
	return err;
}

/* The libssl the dynamic loader picks, as llmobsd finds it: by mapping it. */
static int find_mapped(void *ctx, pid_t pid, const struct tls_mapping *m)
{
	char *out = ctx;

	if (!strstr(m->path, "/libssl.so"))
		return 0;
	snprintf(out, 4096, "%s", m->path);
	return 1;
}

static int find_bssl(const char *path)
{
	struct bssl_target t;
	struct timespec a, b;
	char why[200];
	int err = 0;

	for (int i = 0; i < 2; i++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		err = bssl_find(path, &t, why, sizeof(why));
		clock_gettime(CLOCK_MONOTONIC, &b);
		printf("bssl discovery %.1f ms (%s page cache): %s\n",
		       (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6,
		       i ? "warm" : "as found", why);
	}
	return err ? 1 : 0;
}

static int find_awslc(const char *path)
{
	struct awslc_target t;
	struct timespec a, b;
	char why[200];
	int err = 0;

	for (int i = 0; i < 2; i++) {
		clock_gettime(CLOCK_MONOTONIC, &a);
		err = awslc_find(path, &t, why, sizeof(why));
		clock_gettime(CLOCK_MONOTONIC, &b);
		printf("aws-lc discovery %.1f ms (%s page cache): %s, HKDF_expand at %#lx\n",
		       (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6,
		       i ? "warm" : "as found", why, (unsigned long)t.expand_addr);
	}
	return err ? 1 : 0;
}

static int bssl_fn(const char *path, void *out, char *reason, size_t cap)
{
	return bssl_find(path, out, reason, cap);
}

static unsigned int bssl_offs(const void *out, uint64_t off[FIND_CACHE_MAX_OFFS])
{
	off[0] = ((const struct bssl_target *)out)->write_off;
	off[1] = ((const struct bssl_target *)out)->read_off;
	return 2;
}

static int awslc_fn(const char *path, void *out, char *reason, size_t cap)
{
	return awslc_find(path, out, reason, cap);
}

static unsigned int awslc_offs(const void *out, uint64_t off[FIND_CACHE_MAX_OFFS])
{
	off[0] = ((const struct awslc_target *)out)->expand_off;
	return 1;
}

/* The finders as llmobsd runs them: through the cache of its state
 * directory. A miss pays the key and the finder, a hit the key and the
 * check of the bytes at each offset. */
static int find_cached(const char *cache, const char *path)
{
	static const struct find_cache_finder finders[] = {
		{ "bssl_find", 2, BSSL_FIND_VERSION, sizeof(struct bssl_target), bssl_fn, bssl_offs },
		{ "awslc_find", 1, AWSLC_FIND_VERSION, sizeof(struct awslc_target), awslc_fn, awslc_offs },
	};
	union { struct bssl_target b; struct awslc_target a; } t;
	struct find_cache *fc;
	struct timespec a, b;
	char why[200];
	bool hit;
	int err = 0;

	unlink(cache);
	for (size_t f = 0; f < 2; f++) {
		for (int i = 0; i < 2; i++) {
			if (find_cache_open(cache, 0, &fc))
				return 1;
			clock_gettime(CLOCK_MONOTONIC, &a);
			err = find_cache_run(fc, path, &finders[f], &t, why, sizeof(why), &hit);
			clock_gettime(CLOCK_MONOTONIC, &b);
			find_cache_close(fc);
			printf("%s through the cache %.1f ms (%s): %s\n", finders[f].name,
			       (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6,
			       hit ? "hit" : "miss", why);
		}
		if (!err)
			return 0;
	}
	return 1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct empty_probe_bpf *skel;
	static char path[4096];
	int err = 0, i;

	if (argc == 3 && !strcmp(argv[1], "--find"))
		return find_bssl(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "--find-awslc"))
		return find_awslc(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "--find-cached"))
		return find_cached(argv[2], argv[3]);
	skel = empty_probe_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "empty_probe: cannot load BPF: %s\n", strerror(errno));
		return 1;
	}
	if (argc == 3 && !strcmp(argv[1], "--go")) {
		err = attach_go(skel, argv[2]);
	} else if (argc > 1) {
		for (i = 1; i < argc && !err; i++)
			err = attach_lib(skel, argv[i]);
	} else {
		if (!dlopen("libssl.so.3", RTLD_NOW) ||
		    tls_maps_for_each(getpid(), find_mapped, path) != 1) {
			fprintf(stderr, "empty_probe: no system libssl.so.3\n");
			err = -ENOENT;
		} else {
			err = attach_lib(skel, path);
		}
	}
	if (!err) {
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		printf("ready %d probes\n", nlinks);
		fflush(stdout);
		while (!exiting)
			pause();
	}
	for (i = 0; i < nlinks; i++)
		bpf_link__destroy(links[i]);
	empty_probe_bpf__destroy(skel);
	return err ? 1 : 0;
}
