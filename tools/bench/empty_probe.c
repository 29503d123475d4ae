/* Attaches empty uprobes (bpf/empty_probe.bpf.c) where llmobsd attaches
 * its own: entry and return of SSL_write, SSL_read, SSL_write_ex,
 * SSL_read_ex, entry of SSL_free, in the system libssl (or the files
 * given), for every process. Prints "ready <n> probes" once attached and
 * holds them until SIGINT/SIGTERM. Needs root (or CAP_BPF+CAP_PERFMON).
 *
 *   empty_probe [LIBRARY...]
 */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "tls_libs.h"
#include "empty_probe.skel.h"

#define MAX_LINKS	64

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

/* The libssl the dynamic loader picks, as llmobsd finds it: by mapping it. */
static int find_mapped(void *ctx, pid_t pid, const struct tls_mapping *m)
{
	char *out = ctx;

	if (!strstr(m->path, "/libssl.so"))
		return 0;
	snprintf(out, 4096, "%s", m->path);
	return 1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct empty_probe_bpf *skel;
	static char path[4096];
	int err = 0, i;

	skel = empty_probe_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "empty_probe: cannot load BPF: %s\n", strerror(errno));
		return 1;
	}
	if (argc > 1) {
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
