/* BPF capture, consuming half: events ring fd + counter map fds in,
 * struct capture_event and counters out, no capability needed.
 *
 * Holding a map's fd is what grants access to it: mapping a BPF ring buffer
 * and looking up or updating a map through an fd are allowed to any process
 * since Linux 6.5, whatever kernel.unprivileged_bpf_disabled says (that
 * sysctl gates creating maps and loading programs, which stay with the
 * attacher). So the process that parses the captured bytes can run with no
 * capability at all, and a bug in it reaches these maps and nothing else. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "capture_ring.h"
#include "tls_stream.h"

struct capture_ring {
	int fds[CAPTURE_RING_FD__MAX];
	struct ring_buffer *rb;
	int epfd, watch_fd;		/* capture_ring_watch: the ring's and fd */
	capture_ring_event_fn cb;
	void *ctx;
};

static int handle_event(void *ctx, void *data, size_t size)
{
	struct capture_ring *r = ctx;

	if (size < sizeof(struct capture_event))
		return 0;
	return r->cb(r->ctx, data, size);
}

int capture_ring_open(const int fds[CAPTURE_RING_FD__MAX], capture_ring_event_fn cb,
		      void *ctx, struct capture_ring **out)
{
	struct capture_ring *r;
	int i, err;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (!r) {
		for (i = 0; i < CAPTURE_RING_FD__MAX; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		return -ENOMEM;
	}
	memcpy(r->fds, fds, sizeof(r->fds));
	r->epfd = r->watch_fd = -1;
	r->cb = cb;
	r->ctx = ctx;
	for (i = 0; i < CAPTURE_RING_FD__MAX; i++) {
		if (r->fds[i] < 0) {
			err = -EBADF;
			goto fail;
		}
	}
	r->rb = ring_buffer__new(r->fds[CAPTURE_RING_FD_EVENTS], handle_event, r, NULL);
	if (!r->rb) {
		err = -errno;
		goto fail;
	}
	*out = r;
	return 0;
fail:
	capture_ring_close(r);
	return err;
}

int capture_ring_watch(struct capture_ring *r, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };

	if (r->epfd < 0) {
		r->epfd = epoll_create1(EPOLL_CLOEXEC);
		if (r->epfd < 0)
			return -errno;
		ev.data.fd = ring_buffer__epoll_fd(r->rb);
		if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev))
			return -errno;
	}
	/* Hang-ups only: replies that come late must not wake us. */
	ev.events = EPOLLRDHUP;
	ev.data.fd = fd;
	if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev))
		return -errno;
	r->watch_fd = fd;
	return 0;
}

int capture_ring_poll(struct capture_ring *r, int timeout_ms)
{
	struct epoll_event evs[2];
	bool hup = false;
	int n, m, i;

	if (r->epfd >= 0) {
		n = epoll_wait(r->epfd, evs, 2, timeout_ms);
		if (n < 0)
			return -errno;
		for (i = 0; i < n; i++)
			if (evs[i].data.fd == r->watch_fd)
				hup = true;
		m = ring_buffer__consume(r->rb);
		if (m < 0)
			return m;
		return hup ? -EPIPE : m;
	}
	n = ring_buffer__poll(r->rb, timeout_ms);
	if (n < 0)
		return n;
	m = ring_buffer__consume(r->rb);
	if (m < 0)
		return m;
	return n + m;
}

int capture_ring_drain(struct capture_ring *r)
{
	return ring_buffer__consume(r->rb);
}

int capture_maps_sum(int fd, __u32 n, struct capture_drop_count *out)
{
	int ncpus = libbpf_num_possible_cpus(), err = 0, cpu;
	struct capture_drop_count *vals;
	__u32 key;

	if (ncpus <= 0)
		return ncpus ? ncpus : -EINVAL;
	vals = calloc(ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	memset(out, 0, sizeof(*out) * n);
	for (key = 0; key < n; key++) {
		if (bpf_map_lookup_elem(fd, &key, vals)) {
			err = -errno;
			break;
		}
		for (cpu = 0; cpu < ncpus; cpu++) {
			out[key].events += vals[cpu].events;
			out[key].bytes += vals[cpu].bytes;
		}
	}
	free(vals);
	return err;
}

int capture_maps_ignore(int fd, __u32 tgid, __u64 ssl, __u64 seen_ns)
{
	struct tls_stream_key key = { .ssl = ssl, .tgid = tgid };
	struct tls_stream_pos v;
	int marked = 0;

	/* Only the connection the decision was about: by the time we get to
	 * it, it may be gone and its SSL* reused by a new one, born after
	 * seen_ns. A direction with no entry yet takes the mark from the
	 * other when it starts (BPF side). */
	for (key.dir = CAPTURE_DIR_WRITE; key.dir <= CAPTURE_DIR_READ; key.dir++) {
		if (bpf_map_lookup_elem(fd, &key, &v) || v.birth_ns > seen_ns)
			continue;
		v.pos |= TLS_STREAM_IGNORED;
		if (!bpf_map_update_elem(fd, &key, &v, BPF_EXIST))
			marked++;
	}
	return marked ? 0 : -ENOENT;
}

int capture_ring_drops(struct capture_ring *r, struct capture_drop_count out[CAPTURE_DROP__MAX])
{
	return capture_maps_sum(r->fds[CAPTURE_RING_FD_DROPS], CAPTURE_DROP__MAX, out);
}

int capture_ring_ignored(struct capture_ring *r, struct capture_drop_count *out)
{
	return capture_maps_sum(r->fds[CAPTURE_RING_FD_IGNORED], 1, out);
}

int capture_ring_ignore(struct capture_ring *r, __u32 tgid, __u64 ssl, __u64 seen_ns)
{
	return capture_maps_ignore(r->fds[CAPTURE_RING_FD_STREAM_POS], tgid, ssl, seen_ns);
}

void capture_ring_close(struct capture_ring *r)
{
	int i;

	if (!r)
		return;
	ring_buffer__free(r->rb);
	if (r->epfd >= 0)
		close(r->epfd);
	for (i = 0; i < CAPTURE_RING_FD__MAX; i++)
		if (r->fds[i] >= 0)
			close(r->fds[i]);
	free(r);
}
