/* TLS capture, userspace half: loads bpf/tls_capture.bpf.c, finds every
 * TLS library on the host and attaches to it, polls the ring buffer.
 *
 * Libraries are found where processes map them (/proc/PID/maps), opened
 * through /proc/PID/root so other mount namespaces work, and attached once
 * per inode for all processes (pid -1): the kernel puts the breakpoint in
 * the file, so every process mapping it, now or later, is covered.
 *
 * What remains privileged (root has it all; the least set):
 *  - CAP_BPF + CAP_PERFMON: load programs, create maps and the ring buffer,
 *    perf_event_open the uprobes, attach the tracepoints.
 *  - ptrace read access to other users' processes (CAP_SYS_PTRACE): read
 *    /proc/PID/maps and /proc/PID/stat, open /proc/PID/root/<path>.
 *  - CAP_SYS_ADMIN only for /proc/PID/map_files/, used for libraries
 *    deleted since they were mapped (e.g. upgraded in place), and for a
 *    library whose maps path does not lead to it through /proc/PID/root.
 *  - Classic tracepoints need tracefs mounted; without it the raw
 *    tracepoint twins are used, which need nothing more. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <search.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "log.h"
#include "stats.h"
#include "capture_ring.h"
#include "go_capture.h"
#include "bssl_find.h"
#include "awslc_find.h"
#include "find_cache.h"
#include "tls_blind.h"
#include "tls_capture.h"
#include "plain_capture.h"
#include "tls_stream.h"
#include "tls_libs.h"
#include "tls_capture.skel.h"

#define DEFAULT_RINGBUF_BYTES	(16u << 20)
#define FULL_SCAN_MS		2000
#define RESCANS_MAX		1024
/* Libraries load after exec: ld.so at once, dlopen (Python's _ssl) later. */
static const unsigned int exec_rescan_ms[] = { 0, 20, 200, 1000 };

/* Entry + return probes for four calls, SSL_free, dlopen. */
#define LIB_LINKS_MAX		10

/* One file seen mapped executable; kept even without SSL_write so that it
 * is looked at once, not on every scan. */
struct tls_lib {
	dev_t dev;
	ino_t ino;
	/* A file not probed holds no reference to its inode: once deleted,
	 * its number can come back as a new file (a freshly installed node).
	 * Change time and size tell the two apart. A probed inode is pinned
	 * by its uprobes, so its number cannot be reused. */
	struct timespec ctime;
	off_t size;
	int nr_links;
	bool secrets;		/* its TLS is seen by its secrets: mark its processes */
	struct bpf_link *links[LIB_LINKS_MAX];
};

/* A process whose maps were read; unchanged (start time, vsize) means no
 * new mapping worth reading again. */
struct proc_seen {
	pid_t pid;
	uint64_t starttime;
	uint64_t vsize;
};

struct rescan {
	pid_t pid;
	bool force;		/* read maps even if (start time, vsize) held */
	uint64_t due_ms;
};

struct tls_capture {
	struct tls_capture_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *exec_link, *exit_link;
	void *libs;			/* tsearch tree of struct tls_lib */
	void *procs;			/* tsearch tree of struct proc_seen */
	int nr_attached;
	int scan_attached;		/* attached by the scan under way */
	struct rescan rescans[RESCANS_MAX];
	int nr_rescans;
	uint64_t next_full_ms;
	void *dl_handles[2];
	bool task_calls;		/* the *_ts programs: calls in task storage */
	struct go_tls *go;		/* Go crypto/tls probes; NULL if they failed to load */
	bool secrets_ok;		/* the ciphertext capture is there to pair with */
	struct find_cache *finds;	/* the finders' answers; NULL: none kept */
	tls_capture_event_fn cb;
	void *cb_ctx;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

static int lib_cmp(const void *a, const void *b)
{
	const struct tls_lib *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return 0;
}

static int proc_cmp(const void *a, const void *b)
{
	const struct proc_seen *x = a, *y = b;

	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* Links of the libraries being freed, detached together by
 * links_destroy_all(). */
static struct {
	struct bpf_link **links;
	size_t n, cap;
} closing;

static void closing_add(struct bpf_link *link)
{
	if (closing.n == closing.cap) {
		size_t cap = closing.cap ? closing.cap * 2 : 64;
		struct bpf_link **l = realloc(closing.links, cap * sizeof(*l));

		if (!l) {
			bpf_link__destroy(link);
			return;
		}
		closing.links = l;
		closing.cap = cap;
	}
	closing.links[closing.n++] = link;
}

static void lib_free(void *p)
{
	struct tls_lib *lib = p;
	int i;

	for (i = 0; i < lib->nr_links; i++)
		closing_add(lib->links[i]);
	free(lib);
}

/* Releasing a uprobe waits for the kernel's grace periods, one link after
 * another (50-130 ms each here): a few libraries took over a second and the
 * daemon could not exit within one. So a child holding copies of the link
 * fds takes the last references: our own detach and close are then cheap
 * (the probes are disabled at once), and the slow release happens in the
 * child, which exits once we have let go. */
static void links_destroy_all(void)
{
	int gate[2] = { -1, -1 };
	pid_t pid = -1;
	size_t i;
	char c;

	if (closing.n && pipe2(gate, O_CLOEXEC) == 0) {
		pid = fork();
		if (pid == 0) {
			close(gate[1]);
			while (read(gate[0], &c, 1) < 0 && errno == EINTR)
				;
			_exit(0);
		}
	}
	for (i = 0; i < closing.n; i++)
		bpf_link__destroy(closing.links[i]);
	if (gate[0] >= 0) {
		close(gate[0]);
		close(gate[1]);	/* EOF: the child may release */
	}
	free(closing.links);
	memset(&closing, 0, sizeof(closing));
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	static char buf[64 * 1024];	/* verifier logs are long */
	size_t n;

	if (level == LIBBPF_DEBUG && log_verbosity < LOG_DEBUG)
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	log_msg(level == LIBBPF_WARN ? LOG_WARN : LOG_DEBUG, "%s", buf);
	return 0;
}

/* ---- attaching ----------------------------------------------------------- */

/* path, /proc/PID/root/..., no longer leads anywhere: PID exited while we
 * attached to its file, which is no failure of ours and no blind spot. */
static bool gone(const char *path)
{
	struct stat st;

	return stat(path, &st) && (errno == ENOENT || errno == ESRCH);
}

static int attach_probe(struct tls_lib *lib, struct bpf_program *prog, bool ret,
			const char *path, const char *shown, uint64_t offset, const char *sym)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = ret);
	struct bpf_link *link;
	int err;

	link = bpf_program__attach_uprobe_opts(prog, -1, path, offset, &opts);
	if (!link) {
		err = -errno;
		if (gone(path)) {	/* its process exited: on_mapping retries */
			p_debug("%sprobe %s in %s not attached: the process is gone",
				ret ? "uret" : "u", sym, path);
			return err;
		}
		p_err("failed to attach %sprobe %s in %s: %s", ret ? "uret" : "u",
		      sym, shown, strerror(-err));
		stats_inc(STAT_ATTACH_ERRORS);
		return err;
	}
	lib->links[lib->nr_links++] = link;
	return 0;
}

static void attach_lib(struct tls_capture *c, struct tls_lib *lib, const char *path,
		       const char *shown, pid_t pid, const struct tls_lib_syms *syms)
{
	__typeof__(c->skel->progs) *p = &c->skel->progs;
	bool ts = c->task_calls;
	struct bpf_program *enter[] = {
		[TLS_SYM_SSL_WRITE] = ts ? p->ssl_write_enter_ts : p->ssl_write_enter,
		[TLS_SYM_SSL_READ] = ts ? p->ssl_read_enter_ts : p->ssl_read_enter,
		[TLS_SYM_SSL_WRITE_EX] = ts ? p->ssl_write_ex_enter_ts : p->ssl_write_ex_enter,
		[TLS_SYM_SSL_READ_EX] = ts ? p->ssl_read_ex_enter_ts : p->ssl_read_ex_enter,
	};
	struct bpf_program *exit_prog = ts ? p->ssl_call_exit_ts : p->ssl_call_exit;
	int k, ok = 0;

	for (k = TLS_SYM_SSL_WRITE; k <= TLS_SYM_SSL_READ_EX; k++) {
		uint64_t off = syms->offset[k];

		if (!off)
			continue;
		/* Entry first: a return probe without its entry would count a
		 * spurious CAPTURE_DROP_NO_ENTRY for calls under way. */
		if (attach_probe(lib, enter[k], false, path, shown, off, tls_sym_names[k]))
			continue;
		if (attach_probe(lib, exit_prog, true, path, shown, off, tls_sym_names[k])) {
			bpf_link__destroy(lib->links[--lib->nr_links]);
			continue;
		}
		ok++;
	}
	if (syms->offset[TLS_SYM_SSL_FREE])
		attach_probe(lib, c->skel->progs.ssl_free_enter, false, path, shown,
			     syms->offset[TLS_SYM_SSL_FREE], tls_sym_names[TLS_SYM_SSL_FREE]);
	if (!ok)
		return;
	c->nr_attached++;
	c->scan_attached++;
	stats_inc(STAT_TLS_LIBS_ATTACHED);
	p_info("attached to %s (seen in pid %d, dev %u:%u ino %lu): %d calls%s%s",
	       shown, (int)pid, major(lib->dev), minor(lib->dev), (unsigned long)lib->ino, ok,
	       syms->offset[TLS_SYM_SSL_WRITE_EX] ? ", _ex variants" : "",
	       syms->offset[TLS_SYM_SSL_FREE] ? ", SSL_free" : "");
}

/* Where the real dlopen lives: glibc's libc (libdl before 2.34), musl's
 * loader. Sanitizer runtimes and fuzzers export interceptors named dlopen
 * that end up there anyway: probing them too only adds noise. */
static bool is_loader_lib(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "libc.so", 7) || !strncmp(base, "libc-", 5) ||
	       !strncmp(base, "libdl.so", 8) || !strncmp(base, "ld-musl-", 8);
}

/* A process running a binary whose key schedule is probed: its TCP
 * sockets are copied as ciphertext from now on (plain_capture.bpf.c),
 * before it connects anywhere if the scan saw it first. */
static void mark_secret_tgid(struct tls_capture *c, pid_t pid)
{
	plain_capture_mark_tgid(bpf_map__fd(c->skel->maps.tgids), (__u32)pid, CAPTURE_TGID_SECRETS);
}

/* The fingerprinting finders, as find_cache.c runs them. */
static int find_awslc(const char *path, void *out, char *reason, size_t cap)
{
	return awslc_find(path, out, reason, cap);
}

static unsigned int awslc_offsets(const void *out, uint64_t off[FIND_CACHE_MAX_OFFS])
{
	off[0] = ((const struct awslc_target *)out)->expand_off;
	return 1;
}

static int find_bssl(const char *path, void *out, char *reason, size_t cap)
{
	return bssl_find(path, out, reason, cap);
}

static unsigned int bssl_offsets(const void *out, uint64_t off[FIND_CACHE_MAX_OFFS])
{
	off[0] = ((const struct bssl_target *)out)->write_off;
	off[1] = ((const struct bssl_target *)out)->read_off;
	return 2;
}

static const struct find_cache_finder awslc_finder = {
	"awslc_find", 1, AWSLC_FIND_VERSION, sizeof(struct awslc_target), find_awslc, awslc_offsets,
};
static const struct find_cache_finder bssl_finder = {
	"bssl_find", 2, BSSL_FIND_VERSION, sizeof(struct bssl_target), find_bssl, bssl_offsets,
};

/* rustls with aws-lc (Codex, Deno): no read/write call to probe, but the
 * key schedule's HKDF_expand, found by awslc_find.c. 0 when attached. */
static int attach_secrets(struct tls_capture *c, struct tls_lib *lib, const char *path,
			  const char *shown, pid_t pid, char *why, size_t why_cap)
{
	struct awslc_target t;
	bool hit;
	int err = find_cache_run(c->finds, path, &awslc_finder, &t, why, why_cap, &hit);

	if (err)
		return err;
	if (attach_probe(lib, c->skel->progs.hkdf_expand_enter, false, path, shown, t.expand_off,
			 "HKDF_expand")) {
		snprintf(why, why_cap, "attaching failed");
		return -EIO;
	}
	lib->secrets = true;
	mark_secret_tgid(c, pid);
	c->nr_attached++;
	c->scan_attached++;
	stats_inc(STAT_TLS_STATIC_FOUND);
	p_info("tls: aws-lc in %s found by fingerprint: HKDF_expand at %#lx (%u direct callers, "
	       "%s%s); TLS 1.3 records decrypted from its secrets", shown,
	       (unsigned long)t.expand_addr, t.callers,
	       t.fde ? "its .eh_frame FDE agrees" : "no FDE, the calls are the proof",
	       hit ? "; remembered from an earlier run" : "");
	p_info("attached to %s (seen in pid %d, dev %u:%u ino %lu): key schedule", shown, (int)pid,
	       major(lib->dev), minor(lib->dev), (unsigned long)lib->ino);
	return 0;
}

/* An executable with a TLS stack but no SSL_* symbols. BoringSSL linked
 * in (Bun, Claude Code) gets the SSL_* probes where bssl_find.c proves
 * SSL_write and SSL_read are; rustls with aws-lc its key schedule's
 * probe; anything else, or where that fails, is said once per file (the
 * caller remembers it by inode), so that nobody takes its silence for no
 * spend. Returns whether it tried to attach probes. */
static bool attach_static(struct tls_capture *c, struct tls_lib *lib, const char *path,
			  const char *shown, pid_t pid)
{
	struct tls_lib_syms syms = {};
	struct bssl_target t;
	char stack[128], why[160] = "";
	bool hit;
	int err;

	if (tls_blind_guess(path, stack, sizeof(stack)) != 1)
		return false;
	if (strstr(stack, "rustls") && c->secrets_ok) {
		if (!attach_secrets(c, lib, path, shown, pid, why, sizeof(why)))
			return true;
		if (gone(path)) {	/* on_mapping tries another process */
			p_debug("tls: %s: pid %d exited before its probe was attached", shown,
				(int)pid);
			return true;
		}
	}
	if (strstr(stack, "BoringSSL")) {
		err = find_cache_run(c->finds, path, &bssl_finder, &t, why, sizeof(why), &hit);
		if (!err) {
			p_info("tls: BoringSSL in %s found by fingerprint: SSL_write at %#lx, "
			       "SSL_read at %#lx (%u and %u direct callers, %u error sites%s)", shown,
			       (unsigned long)t.write_addr, (unsigned long)t.read_addr,
			       t.write_callers, t.read_callers, t.sites,
			       hit ? "; remembered from an earlier run" : "");
			syms.offset[TLS_SYM_SSL_WRITE] = t.write_off;
			syms.offset[TLS_SYM_SSL_READ] = t.read_off;
			attach_lib(c, lib, path, shown, pid, &syms);
			if (lib->nr_links) {
				stats_inc(STAT_TLS_STATIC_FOUND);
				return true;
			}
			if (gone(path)) {	/* on_mapping tries another process */
				p_debug("tls: %s: pid %d exited before its probes were attached",
					shown, (int)pid);
				return true;
			}
			snprintf(why, sizeof(why), "attaching failed");
		}
	}
	stats_inc(STAT_TLS_BLIND_BINARIES);
	p_warn("tls: cannot observe %s (seen in pid %d): %s%s%s; its LLM calls are not recorded",
	       shown, (int)pid, stack, why[0] ? ": " : "", why);
	return false;
}

/* A live process other than pid that runs m's file (same device and
 * inode as its /proc/PID/exe), or 0. One stat per process, only after an
 * attach that its process's exit cut short. A library is not looked for:
 * the next process to load it is attached at its exec or load. */
static pid_t other_process(pid_t pid, const struct tls_mapping *m)
{
	char path[64];
	struct dirent *de;
	struct stat st;
	pid_t found = 0;
	DIR *dir;

	if (m->deleted || !(dir = opendir("/proc")))
		return 0;
	while (!found && (de = readdir(dir))) {
		char *end;
		long q = strtol(de->d_name, &end, 10);

		if (*end || q <= 0 || q == pid)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/exe", q);
		if (!stat(path, &st) && st.st_dev == m->dev && st.st_ino == m->ino)
			found = (pid_t)q;
	}
	closedir(dir);
	return found;
}

static void schedule_rescan(struct tls_capture *c, pid_t pid, uint64_t due_ms, bool force);

/* The file is opened once, checked to be the mapped inode (tls_libs.c
 * finds it through the process's root, or its map_files), and everything
 * after goes through that fd as /proc/self/fd/N: the inspectors read the
 * very file checked, and the uprobes land on its inode, whatever the name
 * in the process's namespace points to meanwhile: its exit no longer
 * cuts an attach short. */
static int on_mapping(void *ctx, pid_t pid, const struct tls_mapping *m)
{
	struct tls_capture *c = ctx;
	struct tls_lib key = { .dev = m->dev, .ino = m->ino }, *lib;
	struct tls_lib_syms syms;
	char via[PATH_MAX + 64], path[64];
	struct stat st;
	bool tried = false;	/* to attach probes, whatever came of it */
	bool not_elf;
	void *found;
	int fd, err;

	found = tfind(&key, &c->libs, lib_cmp);
	if (found) {
		lib = *(struct tls_lib **)found;
		if (lib->secrets)
			mark_secret_tgid(c, pid);
		if (lib->nr_links)
			return 0;
	}
	fd = tls_mapping_open(pid, m, via, sizeof(via), &st);
	if (fd < 0) {
		/* Gone with its process, or not reachable from here: not
		 * remembered, another process mapping it may do better. */
		p_debug("cannot open %s (pid %d, dev %u:%u ino %lu) as %s: %s", m->path, (int)pid,
			major(m->dev), minor(m->dev), (unsigned long)m->ino, via, strerror(-fd));
		return 0;
	}
	if (found) {
		lib = *(struct tls_lib **)found;
		if (st.st_ctim.tv_sec == lib->ctime.tv_sec &&
		    st.st_ctim.tv_nsec == lib->ctime.tv_nsec && st.st_size == lib->size) {
			close(fd);
			return 0;
		}
		tdelete(&key, &c->libs, lib_cmp);
		free(lib);
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	key.ctime = st.st_ctim;
	key.size = st.st_size;
	err = tls_lib_inspect(path, &syms);
	if (err && err != -ENOEXEC) {
		p_debug("cannot inspect %s: %s", via, strerror(-err));
		close(fd);
		return 0;
	}
	/* Not ELF (a JIT's memfd): remembered, so as not to be read again. */
	not_elf = err == -ENOEXEC;
	err = -ENOMEM;
	lib = calloc(1, sizeof(*lib));
	if (!lib)
		goto out;
	*lib = key;
	if (!tsearch(lib, &c->libs, lib_cmp)) {
		free(lib);
		goto out;
	}
	err = 0;
	if (strlen(via) < strlen(m->path) || strcmp(via + strlen(via) - strlen(m->path), m->path))
		p_debug("%s (pid %d) opened as %s", m->path, (int)pid, via);
	if (not_elf)
		goto out;
	if (syms.offset[TLS_SYM_SSL_WRITE] && syms.offset[TLS_SYM_SSL_READ]) {
		attach_lib(c, lib, path, m->path, pid, &syms);
		tried = true;
	} else if ((err = c->go ? go_tls_attach(c->go, path, m->path, pid, m->dev, m->ino) : 0) ==
		 -ESRCH)
		tried = true;
	else if (err < 0)
		goto out;
	else if (!err)
		tried = attach_static(c, lib, path, m->path, pid);
	err = 0;
	if (syms.offset[TLS_SYM_DLOPEN] && is_loader_lib(m->path) &&
	    !attach_probe(lib, c->skel->progs.dlopen_exit, true, path, m->path,
			  syms.offset[TLS_SYM_DLOPEN], tls_sym_names[TLS_SYM_DLOPEN]))
		p_info("watching dlopen in %s (seen in pid %d)", m->path, (int)pid);
	/* Nothing attached and the process gone (its /proc/PID/root too):
	 * not remembered, or no later process mapping the file would get it
	 * attached; and another process of the same file, if one lives, is
	 * looked at now rather than at its next exec or the periodic scan.
	 * (Attaching through the fd, this is for failures of another kind.) */
	if (!lib->nr_links && gone(via)) {
		pid_t other = tried ? other_process(pid, m) : 0;

		tdelete(lib, &c->libs, lib_cmp);
		free(lib);
		if (other) {
			p_debug("%s: pid %d exited while attaching, trying pid %d", m->path,
				(int)pid, (int)other);
			schedule_rescan(c, other, now_ms(), true);
		}
	}
out:
	close(fd);
	return err;
}

/* ---- scanning ------------------------------------------------------------ */

static int scan_pid(struct tls_capture *c, pid_t pid)
{
	int err = tls_maps_for_each(pid, on_mapping, c);

	/* Gone or kernel thread: nothing to attach. */
	return err == -ENOENT || err == -ESRCH ? 0 : err;
}

/* Reads pid's maps unless its (start time, vsize) is the one remembered in
 * *old; moves or adds its record to *fresh. */
static int visit_pid(struct tls_capture *c, pid_t pid, void **old, void **fresh,
		     bool force)
{
	struct proc_seen key = { .pid = pid }, *p = NULL;
	uint64_t starttime, vsize;
	void *found;
	int err;

	err = tls_proc_stat(pid, &starttime, &vsize);
	if (err)
		return 0;	/* exited meanwhile */
	found = tfind(&key, old, proc_cmp);
	if (found) {
		p = *(struct proc_seen **)found;
		tdelete(&key, old, proc_cmp);
		if (!force && p->starttime == starttime && p->vsize == vsize)
			goto keep;
	}
	if (vsize) {	/* kernel threads map nothing */
		err = scan_pid(c, pid);
		if (err == -ENOMEM) {
			free(p);
			return err;
		}
	}
	if (!p && !(p = malloc(sizeof(*p))))
		return -ENOMEM;
	p->pid = pid;
	p->starttime = starttime;
	p->vsize = vsize;
keep:
	if (!tsearch(p, fresh, proc_cmp)) {
		free(p);
		return -ENOMEM;
	}
	return 0;
}

static int scan_all(struct tls_capture *c)
{
	void *fresh = NULL;
	struct dirent *de;
	DIR *dir;
	int err = 0;

	dir = opendir("/proc");
	if (!dir) {
		err = -errno;
		p_err("failed to open /proc: %s", strerror(-err));
		return err;
	}
	while ((de = readdir(dir))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0)
			continue;
		err = visit_pid(c, pid, &c->procs, &fresh, false);
		if (err)
			break;
	}
	closedir(dir);
	/* What is left of the old tree exited. */
	tdestroy(c->procs, free);
	c->procs = fresh;
	return err;
}

int tls_capture_rescan(struct tls_capture *c, pid_t pid)
{
	int err;

	c->scan_attached = 0;
	if (pid > 0)
		err = visit_pid(c, pid, &c->procs, &c->procs, true);
	else
		err = scan_all(c);
	return err ? err : c->scan_attached;
}

static void schedule_rescan(struct tls_capture *c, pid_t pid, uint64_t due_ms, bool force)
{
	int i;

	for (i = 0; i < c->nr_rescans; i++) {
		if (c->rescans[i].pid == pid && c->rescans[i].due_ms == due_ms) {
			c->rescans[i].force |= force;
			return;
		}
	}
	/* Full: the periodic scan will find it (its vsize changed). */
	if (c->nr_rescans == RESCANS_MAX)
		return;
	c->rescans[c->nr_rescans].pid = pid;
	c->rescans[c->nr_rescans].due_ms = due_ms;
	c->rescans[c->nr_rescans].force = force;
	c->nr_rescans++;
}

/* The new image is mapped by the time of the exec event: read it at once,
 * whatever its vsize. The later looks are for what ld.so and dlopen add;
 * they read maps only if the vsize moved, so a burst of short-lived
 * processes (a build) costs one small read of /proc/PID/stat each. */
static void schedule_exec_rescans(struct tls_capture *c, pid_t pid)
{
	uint64_t now = now_ms();
	size_t i;

	for (i = 0; i < sizeof(exec_rescan_ms) / sizeof(exec_rescan_ms[0]); i++)
		schedule_rescan(c, pid, now + exec_rescan_ms[i], i == 0);
}

/* After dlopen the library is mapped already: one scan, as soon as the
 * ring buffers are drained; a burst of dlopens (interpreter start-up)
 * queues it once. */
static int handle_load(void *ctx, void *data, size_t size)
{
	struct tls_capture *c = ctx;
	uint64_t now = now_ms();
	pid_t pid;
	int i;

	if (size < sizeof(__u32))
		return 0;
	pid = *(__u32 *)data;
	for (i = 0; i < c->nr_rescans; i++)
		if (c->rescans[i].pid == pid && c->rescans[i].due_ms <= now)
			return 0;
	/* Not forced: a dlopen of a library already loaded maps nothing. */
	schedule_rescan(c, pid, now, false);
	return 0;
}

static void run_due_scans(struct tls_capture *c)
{
	uint64_t now = now_ms();
	int i;

	for (i = 0; i < c->nr_rescans;) {
		if (c->rescans[i].due_ms > now) {
			i++;
			continue;
		}
		c->scan_attached = 0;
		visit_pid(c, c->rescans[i].pid, &c->procs, &c->procs, c->rescans[i].force);
		c->rescans[i] = c->rescans[--c->nr_rescans];
	}
	if (now >= c->next_full_ms) {
		tls_capture_rescan(c, 0);
		c->next_full_ms = now_ms() + FULL_SCAN_MS;
	}
}

/* The system libssl, as the dynamic loader would pick it, even if no
 * process maps it yet: loaded here, it shows in our own maps. */
static void find_system_libssl(struct tls_capture *c)
{
	static const char *const names[] = { "libssl.so.3", "libssl.so" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		c->dl_handles[i] = dlopen(names[i], RTLD_LAZY | RTLD_LOCAL);
		if (!c->dl_handles[i])
			p_debug("no system %s: %s", names[i], dlerror());
	}
	tls_capture_rescan(c, getpid());
}

/* ---- events -------------------------------------------------------------- */

static int handle_event(void *ctx, void *data, size_t size)
{
	struct tls_capture *c = ctx;
	const struct capture_event *ev = data;
	struct proc_seen key;
	void *found;

	if (size < sizeof(*ev))
		return 0;
	if (ev->kind == CAPTURE_EXEC) {
		schedule_exec_rescans(c, ev->tgid);
	} else if (ev->kind == CAPTURE_EXIT) {
		key.pid = ev->tgid;
		found = tfind(&key, &c->procs, proc_cmp);
		if (found) {
			struct proc_seen *p = *(struct proc_seen **)found;

			tdelete(&key, &c->procs, proc_cmp);
			free(p);
		}
	}
	return c->cb ? c->cb(c->cb_ctx, ev, size) : 0;
}

int tls_capture_poll(struct tls_capture *c, int timeout_ms)
{
	uint64_t now = now_ms(), next = c->next_full_ms;
	int i, n, m;

	for (i = 0; i < c->nr_rescans; i++)
		if (c->rescans[i].due_ms < next)
			next = c->rescans[i].due_ms;
	if (next <= now)
		timeout_ms = 0;
	else if (timeout_ms < 0 || next - now < (uint64_t)timeout_ms)
		timeout_ms = next - now;
	n = ring_buffer__poll(c->rb, timeout_ms);
	if (n < 0)
		return n;
	/* Data events do not wake us (event_send() in the BPF side): what
	 * came while we slept is taken here. */
	m = ring_buffer__consume(c->rb);
	if (m < 0)
		return m;
	run_due_scans(c);
	return n + m;
}

int tls_capture_drain(struct tls_capture *c)
{
	return ring_buffer__consume(c->rb);
}

int tls_capture_drops(struct tls_capture *c,
		      struct capture_drop_count out[CAPTURE_DROP__MAX])
{
	return capture_maps_sum(bpf_map__fd(c->skel->maps.drops), CAPTURE_DROP__MAX, out);
}

int tls_capture_ignored(struct tls_capture *c, struct capture_drop_count *out)
{
	return capture_maps_sum(bpf_map__fd(c->skel->maps.ignored), 1, out);
}

int tls_capture_ignore(struct tls_capture *c, __u32 tgid, __u64 ssl, __u64 seen_ns)
{
	return capture_maps_ignore(bpf_map__fd(c->skel->maps.stream_pos), tgid, ssl, seen_ns);
}

int tls_capture_attached(const struct tls_capture *c)
{
	return c->nr_attached + go_tls_attached(c->go);
}

int tls_capture_ringbuf_fd(const struct tls_capture *c)
{
	return bpf_map__fd(c->skel->maps.events);
}

int tls_capture_drops_fd(const struct tls_capture *c)
{
	return bpf_map__fd(c->skel->maps.drops);
}

int tls_capture_secret_tgids_fd(const struct tls_capture *c)
{
	return bpf_map__fd(c->skel->maps.tgids);
}


/* ---- privilege separation (user/7-daemon/privsep*.c) ---------------------- */

int tls_capture_consumer_fds(const struct tls_capture *c, int fds[CAPTURE_RING_FD__MAX])
{
	fds[CAPTURE_RING_FD_EVENTS] = bpf_map__fd(c->skel->maps.events);
	fds[CAPTURE_RING_FD_DROPS] = bpf_map__fd(c->skel->maps.drops);
	fds[CAPTURE_RING_FD_IGNORED] = bpf_map__fd(c->skel->maps.ignored);
	fds[CAPTURE_RING_FD_STREAM_POS] = bpf_map__fd(c->skel->maps.stream_pos);
	return 0;
}

void tls_capture_exec_seen(struct tls_capture *c, pid_t pid)
{
	schedule_exec_rescans(c, pid);
}

int tls_capture_epoll_fd(const struct tls_capture *c)
{
	return ring_buffer__epoll_fd(c->rb);
}

/* ---- lifecycle ----------------------------------------------------------- */

static void set_call_probes(struct tls_capture_bpf *skel, bool ts)
{
	struct bpf_program *hash[] = {
		skel->progs.ssl_write_enter, skel->progs.ssl_read_enter,
		skel->progs.ssl_write_ex_enter, skel->progs.ssl_read_ex_enter,
		skel->progs.ssl_call_exit,
	}, *task[] = {
		skel->progs.ssl_write_enter_ts, skel->progs.ssl_read_enter_ts,
		skel->progs.ssl_write_ex_enter_ts, skel->progs.ssl_read_ex_enter_ts,
		skel->progs.ssl_call_exit_ts,
	};

	for (size_t i = 0; i < sizeof(hash) / sizeof(hash[0]); i++) {
		bpf_program__set_autoload(hash[i], !ts);
		bpf_program__set_autoload(task[i], ts);
	}
	bpf_map__set_autocreate(skel->maps.calls, !ts);
	bpf_map__set_autocreate(skel->maps.task_calls, ts);
}

static bool tracefs_has(const char *event)
{
	static const char *const roots[] = { "/sys/kernel/tracing",
					     "/sys/kernel/debug/tracing" };
	char path[256];
	size_t i;

	for (i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		snprintf(path, sizeof(path), "%s/events/%s/id", roots[i], event);
		if (!access(path, R_OK))
			return true;
	}
	return false;
}

int tls_capture_open(const struct tls_capture_opts *opts, tls_capture_event_fn cb,
		     void *ctx, struct tls_capture **out)
{
	size_t rb_bytes = opts && opts->ringbuf_bytes ? opts->ringbuf_bytes
						      : DEFAULT_RINGBUF_BYTES;
	uint32_t chunks = opts && opts->max_chunks ? opts->max_chunks
						   : CAPTURE_MAX_CHUNKS_DEFAULT;
	struct go_tls_opts gopts = {};
	bool classic_tp;
	struct tls_capture *c;
	int err;

	*out = NULL;
	if (rb_bytes & (rb_bytes - 1) || rb_bytes < (size_t)getpagesize() ||
	    rb_bytes > (1u << 31)) {
		p_err("ring buffer size %zu is not a power of two of at least a page",
		      rb_bytes);
		return -EINVAL;
	}
	if (chunks > CAPTURE_MAX_CHUNKS_LIMIT)
		chunks = CAPTURE_MAX_CHUNKS_LIMIT;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cb = cb;
	c->cb_ctx = ctx;
	c->secrets_ok = opts && opts->secrets;
	if (opts && opts->find_cache_path &&
	    find_cache_open(opts->find_cache_path, 0, &c->finds))
		c->finds = NULL;
	libbpf_set_print(libbpf_print);

	c->skel = tls_capture_bpf__open();
	if (!c->skel) {
		err = -errno;
		p_err("failed to open BPF skeleton: %s", strerror(-err));
		goto cleanup;
	}
	c->skel->rodata->targ_self_tgid = opts && opts->self_pid ? opts->self_pid : getpid();
	c->skel->rodata->targ_max_chunks = chunks;
	err = bpf_map__set_max_entries(c->skel->maps.events, rb_bytes);
	if (err)
		goto cleanup;
	/* Classic tracepoints need tracefs; raw ones do not. Load one pair. */
	classic_tp = tracefs_has("sched/sched_process_exec") &&
		     tracefs_has("sched/sched_process_exit");
	bpf_program__set_autoload(c->skel->progs.tp_exec, classic_tp);
	bpf_program__set_autoload(c->skel->progs.tp_exit, classic_tp);
	bpf_program__set_autoload(c->skel->progs.raw_exec, !classic_tp);
	bpf_program__set_autoload(c->skel->progs.raw_exit, !classic_tp);
	/* A call's arguments in task storage where uprobes may use it, else
	 * in the pid_tgid hash: load one set of the five call probes. */
	c->task_calls = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL) > 0 &&
			libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, BPF_FUNC_task_storage_get,
						NULL) > 0 &&
			libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE,
						BPF_FUNC_get_current_task_btf, NULL) > 0 &&
			!getenv("LLMOBS_NO_TASK_STORAGE");
	set_call_probes(c->skel, c->task_calls);

	err = tls_capture_bpf__load(c->skel);
	if (err) {
		p_err("failed to load BPF programs: %s", strerror(-err));
		goto cleanup;
	}
	c->exec_link = bpf_program__attach(classic_tp ? c->skel->progs.tp_exec
						      : c->skel->progs.raw_exec);
	if (!c->exec_link) {
		err = -errno;
		p_err("failed to attach sched_process_exec: %s", strerror(-err));
		goto cleanup;
	}
	c->exit_link = bpf_program__attach(classic_tp ? c->skel->progs.tp_exit
						      : c->skel->progs.raw_exit);
	if (!c->exit_link) {
		err = -errno;
		p_err("failed to attach sched_process_exit: %s", strerror(-err));
		goto cleanup;
	}
	/* Without cb, another process consumes the events (privsep): only
	 * the dlopen ring is ours. */
	c->rb = cb ? ring_buffer__new(bpf_map__fd(c->skel->maps.events), handle_event, c, NULL)
		   : ring_buffer__new(bpf_map__fd(c->skel->maps.loads), handle_load, c, NULL);
	if (!c->rb) {
		err = -errno;
		p_err("failed to create ring buffer: %s", strerror(-err));
		goto cleanup;
	}
	err = cb ? ring_buffer__add(c->rb, bpf_map__fd(c->skel->maps.loads), handle_load, c) : 0;
	if (err) {
		p_err("failed to add the dlopen ring buffer: %s", strerror(-err));
		goto cleanup;
	}
	p_info("tls capture: %s tracepoints, calls in %s, ring buffer %zu bytes, cap %u chunks "
	       "of %u bytes per call", classic_tp ? "classic" : "raw",
	       c->task_calls ? "task storage" : "a hash", rb_bytes, chunks, CAPTURE_CHUNK_BYTES);

	/* Go's crypto/tls: without it the rest still works, so a failure
	 * only costs those programs (and says so). */
	gopts.ringbuf_fd = bpf_map__fd(c->skel->maps.events);
	gopts.drops_fd = bpf_map__fd(c->skel->maps.drops);
	gopts.stream_pos_fd = bpf_map__fd(c->skel->maps.stream_pos);
	gopts.ignored_fd = bpf_map__fd(c->skel->maps.ignored);
	gopts.max_chunks = chunks;
	if (go_tls_open(&gopts, &c->go))
		p_warn("go crypto/tls capture unavailable: Go programs are not seen");

	find_system_libssl(c);
	err = tls_capture_rescan(c, 0);
	if (err < 0)
		goto cleanup;
	c->next_full_ms = now_ms() + FULL_SCAN_MS;
	*out = c;
	return 0;
cleanup:
	tls_capture_close(c);
	return err;
}

void tls_capture_close(struct tls_capture *c)
{
	size_t i;

	if (!c)
		return;
	ring_buffer__free(c->rb);
	tdestroy(c->libs, lib_free);
	go_tls_close(c->go, closing_add);
	links_destroy_all();
	tdestroy(c->procs, free);
	bpf_link__destroy(c->exec_link);
	bpf_link__destroy(c->exit_link);
	tls_capture_bpf__destroy(c->skel);
	find_cache_close(c->finds);
	for (i = 0; i < sizeof(c->dl_handles) / sizeof(c->dl_handles[0]); i++)
		if (c->dl_handles[i])
			dlclose(c->dl_handles[i]);
	free(c);
}
