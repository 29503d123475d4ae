/* pid -> attribution (procattr.h), resolved at the process's first captured
 * event, while it surely lives, and kept past its exit for the exchanges
 * it leaves open. One direct-mapped table: a collision or a pid seen to
 * exit and come back costs one more resolve, never a wrong owner, since a
 * slot is trusted only for the tgid it holds and re-read after an exec or
 * exit. A resolve reads a few small /proc files (each capped), the
 * runtime's state files of a container, and at most a few package.json:
 * once per process, on the daemon's thread, never on the observed one's.
 * Files inside the process's root are opened with RESOLVE_IN_ROOT, so a
 * container's symlinks cannot point the daemon at the host's files. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>
#include "k8s_meta.h"
#include "procattr.h"
#include "stats.h"

#define PROCATTR_CMDLINE_BYTES	(64 * 1024)
#define PROCATTR_ENVIRON_BYTES	(256 * 1024)
#define PROCATTR_SMALL_BYTES	8192
#define PROCATTR_PROJECT_VAR	"LLMOBS_PROJECT="

_Static_assert(sizeof(((struct exchange_record *)0)->app) == APP_NAME_MAX, "app size");
_Static_assert(sizeof(((struct exchange_record *)0)->project) == PROCATTR_PROJECT_MAX, "project");

struct procattr_slot {
	bool valid;
	struct procattr a;
};

struct procattr_table {
	struct procattr_opts o;
	procattr_remote_fn remote;	/* procattr_set_remote */
	void *remote_ctx;
	size_t mask;
	struct procattr_slot *slots;
};

struct procattr_table *procattr_new(const struct procattr_opts *o)
{
	struct procattr_table *t = calloc(1, sizeof(*t));
	size_t n = 1;

	if (!t)
		return NULL;
	if (o)
		t->o = *o;
	if (!t->o.proc_root)
		t->o.proc_root = "/proc";
	if (!t->o.host_root)
		t->o.host_root = "";
	while (n < (t->o.slots ? t->o.slots : 1024) && n < (1u << 20))
		n <<= 1;
	t->mask = n - 1;
	t->slots = calloc(n, sizeof(*t->slots));
	if (!t->slots) {
		free(t);
		return NULL;
	}
	return t;
}

void procattr_free(struct procattr_table *t)
{
	if (!t)
		return;
	free(t->slots);
	free(t);
}

bool procattr_project_valid(const char *s, size_t len)
{
	if (len == 0 || len >= PROCATTR_PROJECT_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == '/'))
			return false;
	}
	return true;
}

static ssize_t read_fd(int fd, char *buf, size_t size)
{
	struct stat st;
	size_t got = 0;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	return (ssize_t)got;
}

static ssize_t read_at(int dfd, const char *name, char *buf, size_t size)
{
	int fd = openat(dfd, name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	return fd < 0 ? -errno : read_fd(fd, buf, size);
}

/* app_name's reader: path inside the process's root. Only a regular file
 * is opened for reading: the path is the observed user's to point
 * anywhere, and opening a device node can act (a watchdog, a tape), so it
 * is first opened as a mere path (O_PATH), checked, then reopened. */
static ssize_t read_in_root(void *ctx, const char *path, char *buf, size_t size)
{
	int rootfd = *(int *)ctx, pfd, fd;
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	struct stat st;
	char self[40];

	if (rootfd < 0)
		return -EBADF;
	pfd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	if (pfd < 0 && errno == ENOSYS)	/* before Linux 5.6 */
		pfd = openat(rootfd, path[0] == '/' ? path + 1 : path, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	if (fstat(pfd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(pfd);
		return -EINVAL;
	}
	snprintf(self, sizeof(self), "/proc/self/fd/%d", pfd);
	fd = open(self, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	close(pfd);
	return fd < 0 ? -errno : read_fd(fd, buf, size);
}

static void read_link(int dfd, const char *name, char *out, size_t size)
{
	ssize_t n = readlinkat(dfd, name, out, size - 1);

	out[n > 0 ? n : 0] = '\0';
}

static void read_uid(int dfd, struct procattr *a, char *buf)
{
	ssize_t n = read_at(dfd, "status", buf, PROCATTR_SMALL_BYTES - 1);
	unsigned long uid;
	char *p;

	if (n <= 0)
		return;
	buf[n] = '\0';
	p = strncmp(buf, "Uid:", 4) ? strstr(buf, "\nUid:") : buf - 1;
	if (p && sscanf(p + 5, "%lu", &uid) == 1)
		a->uid = (int64_t)uid;
}

static void read_cgroup(int dfd, struct procattr *a, char *buf)
{
	ssize_t n = read_at(dfd, "cgroup", buf, PROCATTR_SMALL_BYTES - 1);
	const char *path;
	size_t plen;

	if (n > 0 && cgroup_file_pick(buf, (size_t)n, &path, &plen) == 0)
		cgroup_path_parse(path, plen, &a->cg);
}

/* LLMOBS_PROJECT's value, if valid; the rest of the environment is not kept. */
static void read_project(int dfd, struct procattr *a)
{
	char *env = malloc(PROCATTR_ENVIRON_BYTES);
	size_t vl = strlen(PROCATTR_PROJECT_VAR);
	ssize_t n;

	if (!env)
		return;
	n = read_at(dfd, "environ", env, PROCATTR_ENVIRON_BYTES);
	for (ssize_t off = 0; n > 0 && off < n;) {
		const char *e = env + off;
		const char *nul = memchr(e, '\0', (size_t)(n - off));
		size_t len = nul ? (size_t)(nul - e) : (size_t)(n - off);

		if (len > vl && memcmp(e, PROCATTR_PROJECT_VAR, vl) == 0) {
			if (procattr_project_valid(e + vl, len - vl)) {
				memcpy(a->project, e + vl, len - vl);
				a->project[len - vl] = '\0';
			} else {
				stats_inc(STAT_PROJECT_INVALID);
			}
		}
		off += (ssize_t)len + 1;
	}
	memset(env, 0, (size_t)(n > 0 ? n : 0));	/* it held other variables */
	free(env);
}

static void hash_cmdline(struct procattr_table *t, struct procattr *a, const char *cmd, size_t n)
{
	if (t->o.hash && n)
		snprintf(a->cmdline_hash, sizeof(a->cmdline_hash), "%016" PRIx64,
			 t->o.hash(t->o.hash_ctx, cmd, n));
}

static void resolve(struct procattr_table *t, struct procattr *a, pid_t tgid)
{
	char dir[512], exe[256], cwd[1024], *buf = NULL;
	struct k8s_meta m;
	int dfd, rootfd;
	ssize_t n;

	memset(a, 0, sizeof(*a));
	a->tgid = tgid;
	a->uid = -1;
	if (t->remote && t->remote(t->remote_ctx, tgid, a) == 0) {
		a->tgid = tgid;
		a->exited = false;
		return;
	}
	memset(a, 0, sizeof(*a));
	a->tgid = tgid;
	a->uid = -1;
	snprintf(dir, sizeof(dir), "%s/%d", t->o.proc_root, (int)tgid);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || !(buf = malloc(PROCATTR_CMDLINE_BYTES))) {
		stats_inc(STAT_PROCS_UNREADABLE);
		goto out;
	}
	read_uid(dfd, a, buf);
	read_cgroup(dfd, a, buf);
	read_link(dfd, "exe", exe, sizeof(exe));
	snprintf(a->exe, sizeof(a->exe), "%s", exe);
	read_link(dfd, "cwd", cwd, sizeof(cwd));
	n = read_at(dfd, "cmdline", buf, PROCATTR_CMDLINE_BYTES);
	rootfd = openat(dfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	app_name_derive(buf, n > 0 ? (size_t)n : 0, exe, cwd, read_in_root, &rootfd, a->app);
	if (rootfd >= 0)
		close(rootfd);
	hash_cmdline(t, a, buf, n > 0 ? (size_t)n : 0);
	memset(buf, 0, (size_t)(n > 0 ? n : 0));
	read_project(dfd, a);
	stats_inc(STAT_PROCS_ATTRIBUTED);
	if ((a->cg.container_id[0] || a->cg.pod_uid[0]) &&
	    k8s_meta_read(t->o.host_root, &a->cg, &m) == 0) {
		memcpy(a->k8s_namespace, m.ns, sizeof(m.ns));
		memcpy(a->k8s_pod, m.pod, sizeof(m.pod));
		memcpy(a->k8s_container, m.container, sizeof(m.container));
		memcpy(a->image, m.image, sizeof(m.image));
	} else {
		memset(&m, 0, sizeof(m));
	}
	if (!a->project[0] && t->o.project &&
	    t->o.project(t->o.project_ctx, a, m.labels, a->project, sizeof(a->project)) != 1)
		a->project[0] = '\0';
	k8s_meta_free(&m);
out:
	free(buf);
	if (dfd >= 0)
		close(dfd);
}

const struct procattr *procattr_get(struct procattr_table *t, pid_t tgid)
{
	struct procattr_slot *s = &t->slots[(size_t)tgid & t->mask];

	if (s->valid && s->a.tgid == tgid && !s->a.exited)
		return &s->a;
	resolve(t, &s->a, tgid);
	s->valid = true;
	return &s->a;
}

void procattr_set_remote(struct procattr_table *t, procattr_remote_fn fn, void *ctx)
{
	t->remote = fn;
	t->remote_ctx = ctx;
}

const struct procattr *procattr_resolve(struct procattr_table *t, pid_t tgid)
{
	struct procattr_slot *s = &t->slots[(size_t)tgid & t->mask];

	resolve(t, &s->a, tgid);
	s->valid = true;
	return &s->a;
}

const struct procattr *procattr_peek(struct procattr_table *t, pid_t tgid)
{
	struct procattr_slot *s = &t->slots[(size_t)tgid & t->mask];

	return s->valid && s->a.tgid == tgid ? &s->a : NULL;
}

void procattr_note_exec(struct procattr_table *t, pid_t tgid)
{
	struct procattr_slot *s = &t->slots[(size_t)tgid & t->mask];

	if (s->valid && s->a.tgid == tgid)
		s->valid = false;
}

void procattr_note_exit(struct procattr_table *t, pid_t tgid)
{
	struct procattr_slot *s = &t->slots[(size_t)tgid & t->mask];

	if (s->valid && s->a.tgid == tgid)
		s->a.exited = true;
}

void procattr_to_record(const struct procattr *a, struct exchange_record *r)
{
	r->uid = a->uid;
	memcpy(r->app, a->app, sizeof(r->app));
	memcpy(r->cmdline_hash, a->cmdline_hash, sizeof(r->cmdline_hash));
	memcpy(r->container_id, a->cg.container_id, sizeof(r->container_id));
	memcpy(r->container_runtime, a->cg.runtime, sizeof(r->container_runtime));
	memcpy(r->container_image, a->image, sizeof(r->container_image));
	memcpy(r->k8s_pod_uid, a->cg.pod_uid, sizeof(r->k8s_pod_uid));
	memcpy(r->k8s_namespace, a->k8s_namespace, sizeof(r->k8s_namespace));
	memcpy(r->k8s_pod, a->k8s_pod, sizeof(r->k8s_pod));
	memcpy(r->k8s_container, a->k8s_container, sizeof(r->k8s_container));
	memcpy(r->project, a->project, sizeof(r->project));
}
