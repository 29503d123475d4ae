/* Go crypto/tls capture, userspace half: loads bpf/go_tls.bpf.c sharing
 * the TLS capture's ring, counters and stream positions, and for each Go
 * executable offered (by tls_capture.c's scan of /proc/PID/maps) attaches
 * an entry probe to (*Conn).Write and .Read, a probe at each of their RET
 * instructions (go_elf.c), and one at the entry of .Close.
 *
 * Each (dev, ino) is looked at once, whatever happens: a Go binary that
 * cannot be probed is logged once with the reason and counted, not
 * retried on every scan. The one exception is the process that offered
 * it exiting before the probes were in: that is not the binary's fault,
 * and another of its processes gets to offer it again. The probes are
 * all-or-nothing per binary: a Write whose RETs could not all be attached
 * is detached again. */
#include <errno.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "capture.h"
#include "go_capture.h"
#include "go_elf.h"
#include "log.h"
#include "stats.h"
#include "go_tls.skel.h"

/* Two entries with their RETs, and Close. */
#define BIN_LINKS_MAX	(2 * (1 + GO_TLS_MAX_RETS) + 1)

struct go_bin {
	dev_t dev;
	ino_t ino;
	int nr_links;
	struct bpf_link **links;
};

struct go_tls {
	struct go_tls_bpf *skel;
	void *bins;		/* tsearch tree of struct go_bin */
	int nr_attached;
};

static int bin_cmp(const void *a, const void *b)
{
	const struct go_bin *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return 0;
}

int go_tls_open(const struct go_tls_opts *opts, struct go_tls **out)
{
	struct go_tls *g;
	int err;

	*out = NULL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->skel = go_tls_bpf__open();
	if (!g->skel) {
		err = -errno;
		p_err("go tls: failed to open BPF skeleton: %s", strerror(-err));
		goto cleanup;
	}
	g->skel->rodata->targ_max_chunks = opts->max_chunks ? opts->max_chunks
							    : CAPTURE_MAX_CHUNKS_DEFAULT;
	err = bpf_map__reuse_fd(g->skel->maps.events, opts->ringbuf_fd);
	if (!err)
		err = bpf_map__reuse_fd(g->skel->maps.drops, opts->drops_fd);
	if (!err)
		err = bpf_map__reuse_fd(g->skel->maps.stream_pos, opts->stream_pos_fd);
	if (!err)
		err = bpf_map__reuse_fd(g->skel->maps.ignored, opts->ignored_fd);
	if (err) {
		p_err("go tls: failed to share the capture maps: %s", strerror(-err));
		goto cleanup;
	}
	err = go_tls_bpf__load(g->skel);
	if (err) {
		p_err("go tls: failed to load BPF programs: %s", strerror(-err));
		goto cleanup;
	}
	*out = g;
	return 0;
cleanup:
	go_tls_close(g, NULL);
	return err;
}

static int attach_one(struct go_bin *bin, struct bpf_program *prog, const char *path,
		      uint64_t off)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts);
	struct bpf_link *link;

	link = bpf_program__attach_uprobe_opts(prog, -1, path, off, &opts);
	if (!link)
		return -errno;
	bin->links[bin->nr_links++] = link;
	return 0;
}

/* Write and Read: the entry first, so that a RET seen has its entry
 * (calls already under way at attach count as CAPTURE_DROP_NO_ENTRY). */
static int attach_fn(struct go_tls *g, struct go_bin *bin, const char *path,
		     const struct go_tls_func *fn, struct bpf_program *enter)
{
	uint32_t i;
	int err;

	err = attach_one(bin, enter, path, fn->entry_off);
	for (i = 0; !err && i < fn->nr_rets; i++)
		err = attach_one(bin, g->skel->progs.go_tls_ret, path, fn->ret_off[i]);
	return err;
}

static int attach_bin(struct go_tls *g, struct go_bin *bin, const char *path,
		      const struct go_tls_target *t)
{
	int err;

	bin->links = calloc(BIN_LINKS_MAX, sizeof(*bin->links));
	if (!bin->links)
		return -ENOMEM;
	err = attach_fn(g, bin, path, &t->fn[GO_FN_WRITE], g->skel->progs.go_tls_write_enter);
	if (!err)
		err = attach_fn(g, bin, path, &t->fn[GO_FN_READ], g->skel->progs.go_tls_read_enter);
	if (!err && t->fn[GO_FN_CLOSE].entry_off)
		err = attach_one(bin, g->skel->progs.go_tls_close_enter, path,
				 t->fn[GO_FN_CLOSE].entry_off);
	if (err) {
		while (bin->nr_links)
			bpf_link__destroy(bin->links[--bin->nr_links]);
	}
	return err;
}

int go_tls_attach(struct go_tls *g, const char *path, const char *shown, pid_t pid,
		  dev_t dev, ino_t ino)
{
	struct go_bin key = { .dev = dev, .ino = ino }, *bin;
	struct go_tls_target t;
	char reason[160];
	struct stat st;
	int err;

	if (tfind(&key, &g->bins, bin_cmp))
		return 0;
	err = go_elf_inspect(path, &t, reason, sizeof(reason));
	if (err == -ENOENT || err == -EACCES || err == -ENOMEM)
		return err == -ENOMEM ? err : 0;	/* not Go; or retry via another pid */
	bin = calloc(1, sizeof(*bin));
	if (!bin)
		return -ENOMEM;
	*bin = key;
	if (!tsearch(bin, &g->bins, bin_cmp)) {
		free(bin);
		return -ENOMEM;
	}
	if (err) {
		stats_inc(STAT_GO_TLS_REFUSED);
		p_warn("go tls: not probing %s (seen in pid %d): %s", shown, (int)pid, reason);
		return 0;
	}
	err = attach_bin(g, bin, path, &t);
	if (err && stat(path, &st) && (errno == ENOENT || errno == ESRCH)) {
		/* pid exited meanwhile (path is in its /proc/PID/root): not a
		 * refusal, and not remembered, so another process of the
		 * binary gets it probed (tls_capture.c's on_mapping). */
		p_debug("go tls: %s: pid %d exited before its probes were attached", shown,
			(int)pid);
		tdelete(bin, &g->bins, bin_cmp);
		free(bin->links);
		free(bin);
		return -ESRCH;
	}
	if (err) {
		stats_inc(STAT_GO_TLS_REFUSED);
		stats_inc(STAT_ATTACH_ERRORS);
		p_warn("go tls: not probing %s (seen in pid %d): attach failed: %s", shown,
		       (int)pid, strerror(-err));
		return err == -ENOMEM ? err : 0;
	}
	g->nr_attached++;
	stats_inc(STAT_GO_TLS_ATTACHED);
	p_info("go tls: attached to %s (%s, seen in pid %d, dev %u:%u ino %lu): "
	       "Write/Read with %u/%u RETs%s", shown, t.version[0] ? t.version : "Go",
	       (int)pid, major(dev), minor(dev), (unsigned long)ino,
	       t.fn[GO_FN_WRITE].nr_rets, t.fn[GO_FN_READ].nr_rets,
	       t.fn[GO_FN_CLOSE].entry_off ? ", Close" : "");
	return 1;
}

int go_tls_attached(const struct go_tls *g)
{
	return g ? g->nr_attached : 0;
}

static void (*release_fn)(struct bpf_link *link);

static void bin_free(void *p)
{
	struct go_bin *bin = p;
	int i;

	for (i = 0; i < bin->nr_links; i++) {
		if (release_fn)
			release_fn(bin->links[i]);
		else
			bpf_link__destroy(bin->links[i]);
	}
	free(bin->links);
	free(bin);
}

void go_tls_close(struct go_tls *g, void (*release)(struct bpf_link *link))
{
	if (!g)
		return;
	release_fn = release;
	tdestroy(g->bins, bin_free);
	release_fn = NULL;
	go_tls_bpf__destroy(g->skel);
	free(g);
}
