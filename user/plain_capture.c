/* Plain-HTTP capture, userspace half: loads bpf/plain_capture.bpf.c with
 * this architecture's syscall numbers, fills the port map, attaches the
 * two raw syscall tracepoints and polls the ring buffer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "log.h"
#include "plain_capture.h"
#include "plain_capture.skel.h"

#define DEFAULT_RINGBUF_BYTES	(4u << 20)

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
	int err, fd;

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
	if (opts->ringbuf_fd > 0)
		err = bpf_map__reuse_fd(c->skel->maps.events, opts->ringbuf_fd);
	else
		err = bpf_map__set_max_entries(c->skel->maps.events, opts->ringbuf_bytes ?
					       (__u32)opts->ringbuf_bytes : DEFAULT_RINGBUF_BYTES);
	if (!err && opts->drops_fd > 0)
		err = bpf_map__reuse_fd(c->skel->maps.drops, opts->drops_fd);
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
