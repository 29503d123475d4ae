/* Plain-HTTP capture, userspace half: loads bpf/plain_capture.bpf.c with
 * this architecture's syscall numbers, fills the port map, tells it which
 * processes already have connections to a watched port, attaches the raw
 * tracepoints and (without a shared ring) polls the ring buffer. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "log.h"
#include "plain_capture.h"
#include "plain_capture.skel.h"

#define DEFAULT_RINGBUF_BYTES	(4u << 20)
#define SEED_MAX_INODES		4096	/* open connections to watched ports */
#define SEED_MAX_NETNS		1024

struct plain_capture {
	struct plain_capture_bpf *skel;
	struct ring_buffer *rb;
	plain_capture_event_fn cb;
	void *ctx;
};

int plain_capture_parse_ports(const char *list, uint16_t *ports, size_t max)
{
	const char *p = list;
	size_t n = 0;

	if (!list)
		return -EINVAL;
	if (!strcmp(list, "none") || !*list)
		return 0;
	while (*p) {
		char *end;
		long v = strtol(p, &end, 10);

		if (end == p || v < 1 || v > 65535 || n == max || (*end && *end != ','))
			return -EINVAL;
		ports[n++] = (uint16_t)v;
		p = *end ? end + 1 : end;
	}
	return (int)n;
}

/* ---- connections open before we started ---- */

struct seed {
	const uint16_t *ports;
	size_t nports;
	unsigned long inodes[SEED_MAX_INODES];
	size_t ninodes;
	ino_t netns[SEED_MAX_NETNS];
	size_t nnetns;
};

static bool port_watched(const struct seed *sd, unsigned int port)
{
	for (size_t i = 0; i < sd->nports; i++)
		if (sd->ports[i] == port)
			return true;
	return false;
}

/* A remote address of /proc/net/tcp{,6} (u32 words in host order, as the
 * kernel prints them) on loopback: 127/8, ::1 or ::ffff:127/104. */
static bool rem_loopback(const char *hex)
{
	unsigned int w[4];

	if (strlen(hex) == 8)
		return sscanf(hex, "%8x", &w[0]) == 1 && (w[0] & 0xff) == 127;
	if (strlen(hex) != 32 ||
	    sscanf(hex, "%8x%8x%8x%8x", &w[0], &w[1], &w[2], &w[3]) != 4 || w[0] || w[1])
		return false;
	if (!w[2] && w[3] == 0x01000000)
		return true;
	return w[2] == 0xffff0000 && (w[3] & 0xff) == 127;
}

/* Established client connections of one table to a watched loopback port. */
static void seed_table(struct seed *sd, const char *path)
{
	char line[512], rem[64];
	unsigned int port, st;
	unsigned long inode;
	FILE *f = fopen(path, "re");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " %*u: %*[0-9A-Fa-f]:%*x %63[0-9A-Fa-f]:%x %x %*s %*s %*s %*s %*s %lu",
			   rem, &port, &st, &inode) != 4)
			continue;	/* the header line */
		if (st != 1 || !inode || !port_watched(sd, port) || !rem_loopback(rem))
			continue;
		if (sd->ninodes < SEED_MAX_INODES)
			sd->inodes[sd->ninodes++] = inode;
	}
	fclose(f);
}

/* Each network namespace's tables once, through any process in it. */
static void seed_netns(struct seed *sd, const char *pid)
{
	char path[300];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%s/ns/net", pid);
	if (stat(path, &st))
		return;
	for (size_t i = 0; i < sd->nnetns; i++)
		if (sd->netns[i] == st.st_ino)
			return;
	if (sd->nnetns < SEED_MAX_NETNS)
		sd->netns[sd->nnetns++] = st.st_ino;
	snprintf(path, sizeof(path), "/proc/%s/net/tcp", pid);
	seed_table(sd, path);
	snprintf(path, sizeof(path), "/proc/%s/net/tcp6", pid);
	seed_table(sd, path);
}

/* Does the process hold one of the sockets found? */
static bool seed_owns(const struct seed *sd, const char *pid)
{
	char path[300], link[64];
	struct dirent *e;
	unsigned long inode;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%s/fd", pid);
	d = opendir(path);
	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		char fdpath[600];
		ssize_t n;

		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, e->d_name);
		n = readlink(fdpath, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (sscanf(link, "socket:[%lu]", &inode) != 1)
			continue;
		for (size_t i = 0; i < sd->ninodes && !found; i++)
			found = sd->inodes[i] == inode;
	}
	closedir(d);
	return found;
}

/* The processes with a connection to a watched port already open: the BPF
 * side learns of the others when they connect. Returns how many. */
static int seed_tgids(struct plain_capture *c, const uint16_t *ports, size_t nports,
		      pid_t self)
{
	struct seed *sd = calloc(1, sizeof(*sd));
	int map = bpf_map__fd(c->skel->maps.tgids), n = 0;
	struct dirent *e;
	DIR *proc;

	if (!sd)
		return -ENOMEM;
	sd->ports = ports;
	sd->nports = nports;
	for (int pass = 0; pass < 2; pass++) {
		proc = opendir("/proc");
		if (!proc)
			break;
		while ((e = readdir(proc))) {
			__u32 tgid;

			if (e->d_name[0] < '1' || e->d_name[0] > '9')
				continue;
			if (!pass) {
				seed_netns(sd, e->d_name);
				continue;
			}
			tgid = (__u32)strtoul(e->d_name, NULL, 10);
			if ((pid_t)tgid != self && seed_owns(sd, e->d_name) &&
			    !plain_capture_mark_tgid(map, tgid, CAPTURE_TGID_PLAIN))
				n++;
		}
		closedir(proc);
		if (!sd->ninodes)
			break;	/* nothing open: no need to look at any fd */
	}
	free(sd);
	return n;
}

int plain_capture_mark_tgid(int map_fd, __u32 tgid, __u8 bit)
{
	__u8 v = 0;

	bpf_map_lookup_elem(map_fd, &tgid, &v);
	v |= bit;
	return bpf_map_update_elem(map_fd, &tgid, &v, BPF_ANY) ? -errno : 0;
}

/* ---- lifecycle ---- */

static int on_sample(void *ctx, void *data, size_t size)
{
	struct plain_capture *c = ctx;
	const struct capture_event *ev = data;

	if (size < sizeof(*ev) || size < sizeof(*ev) + ev->data_len)
		return 0;	/* cannot happen: BPF sizes events to their data */
	return c->cb(c->ctx, ev, size);
}

int plain_capture_open(const struct plain_capture_opts *opts, plain_capture_event_fn cb,
		       void *ctx, struct plain_capture **out)
{
	struct plain_capture *c;
	__u8 one = 1;
	int err, fd, n;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cb = cb;
	c->ctx = ctx;
	c->skel = plain_capture_bpf__open();
	if (!c->skel) {
		err = -errno;
		p_err("plain capture: open BPF object: %s", strerror(-err));
		goto fail;
	}
	c->skel->rodata->targ_self_tgid = (__u32)opts->self_pid;
	if (opts->max_chunks)
		c->skel->rodata->targ_max_chunks = opts->max_chunks;
	c->skel->rodata->nr_read = SYS_read;
	c->skel->rodata->nr_write = SYS_write;
	c->skel->rodata->nr_recvfrom = SYS_recvfrom;
	c->skel->rodata->nr_sendto = SYS_sendto;
	c->skel->rodata->nr_close = SYS_close;
	c->skel->rodata->nr_writev = SYS_writev;
	c->skel->rodata->nr_readv = SYS_readv;
	if (opts->ringbuf_fd > 0)
		err = bpf_map__reuse_fd(c->skel->maps.events, opts->ringbuf_fd);
	else
		err = bpf_map__set_max_entries(c->skel->maps.events, opts->ringbuf_bytes ?
					       (__u32)opts->ringbuf_bytes : DEFAULT_RINGBUF_BYTES);
	if (!err && opts->drops_fd > 0)
		err = bpf_map__reuse_fd(c->skel->maps.drops, opts->drops_fd);
	if (!err && opts->secret_tgids_fd > 0)
		err = bpf_map__reuse_fd(c->skel->maps.tgids, opts->secret_tgids_fd);
	if (err) {
		p_err("plain capture: reuse maps: %s", strerror(-err));
		goto fail;
	}
	err = plain_capture_bpf__load(c->skel);
	if (err) {
		p_err("plain capture: load BPF programs: %s", strerror(-err));
		goto fail;
	}
	fd = bpf_map__fd(c->skel->maps.ports);
	for (size_t i = 0; i < opts->nports; i++) {
		__u16 port = opts->ports[i];

		if (bpf_map_update_elem(fd, &port, &one, BPF_ANY)) {
			err = -errno;
			p_err("plain capture: add port %u: %s", port, strerror(-err));
			goto fail;
		}
	}
	/* Connects from now on are seen by the BPF side, those before by the
	 * scan: attach first so that none falls between. */
	c->skel->links.plain_sock_state = bpf_program__attach(c->skel->progs.plain_sock_state);
	if (!c->skel->links.plain_sock_state) {
		err = -errno;
		p_err("plain capture: attach inet_sock_set_state: %s", strerror(-err));
		goto fail;
	}
	n = seed_tgids(c, opts->ports, opts->nports, opts->self_pid);
	if (n > 0)
		p_info("plain capture: %d processes already connected to a watched port", n);
	c->skel->links.plain_sys_enter = bpf_program__attach(c->skel->progs.plain_sys_enter);
	if (!c->skel->links.plain_sys_enter) {
		err = -errno;
		p_err("plain capture: attach sys_enter: %s", strerror(-err));
		goto fail;
	}
	c->skel->links.plain_sys_exit = bpf_program__attach(c->skel->progs.plain_sys_exit);
	if (!c->skel->links.plain_sys_exit) {
		err = -errno;
		p_err("plain capture: attach sys_exit: %s", strerror(-err));
		goto fail;
	}
	if (opts->ringbuf_fd > 0)
		goto done;
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.events), on_sample, c, NULL);
	if (!c->rb) {
		err = -errno;
		p_err("plain capture: ring buffer: %s", strerror(-err));
		goto fail;
	}
done:
	*out = c;
	return 0;
fail:
	plain_capture_close(c);
	return err;
}

int plain_capture_poll(struct plain_capture *c, int timeout_ms)
{
	return c->rb ? ring_buffer__poll(c->rb, timeout_ms) : 0;
}

int plain_capture_drops(struct plain_capture *c,
			struct capture_drop_count out[CAPTURE_DROP__MAX])
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(c->skel->maps.drops);
	struct capture_drop_count *per;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	per = calloc((size_t)ncpu, sizeof(*per));
	if (!per)
		return -ENOMEM;
	memset(out, 0, sizeof(*out) * CAPTURE_DROP__MAX);
	for (__u32 k = 0; k < CAPTURE_DROP__MAX; k++) {
		if (bpf_map_lookup_elem(fd, &k, per))
			continue;
		for (int i = 0; i < ncpu; i++) {
			out[k].events += per[i].events;
			out[k].bytes += per[i].bytes;
		}
	}
	free(per);
	return 0;
}

void plain_capture_close(struct plain_capture *c)
{
	if (!c)
		return;
	ring_buffer__free(c->rb);
	plain_capture_bpf__destroy(c->skel);
	free(c);
}
