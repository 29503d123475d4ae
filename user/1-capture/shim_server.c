/* LD_PRELOAD shim clients: accept (SO_PEERCRED says who), take the hello
 * and its ring (shim_client.c), drain every ring on a short timer or when
 * a shim kicks, and end a client's connections when its socket closes.
 * See shim_server.h for what is trusted (nothing the shim says). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include "shim_client.h"
#include "shim_path.h"
#include "shim_server.h"
#include "shim_sock.h"
#include "stats.h"

#define DEFAULT_MAX_CLIENTS	1024
#define DEFAULT_MAX_MAP		(1ull << 30)
#define DEFAULT_MAX_USER_MAP	(256ull << 20)
#define DEFAULT_HELLO_MS	5000
#define DRAIN_MIN_MS		10	/* ring drain timer while data flows */
#define DRAIN_MAX_MS		100	/* ... backing off to this while idle */
#define MSGS_PER_WAKE		16
#define MALFORMED_MAX		16	/* bad messages before a client is dropped */
#define PID_LIMIT		(4u << 20)	/* PID_MAX_LIMIT on 64-bit */
#define MAX_FDS_IN		4

struct shim_server {
	struct shim_server_opts opts;
	shim_event_fn cb;
	void *cb_ctx;
	int lfd, epfd, spare_fd;
	dev_t sock_dev;
	ino_t sock_ino;
	char path[SHIM_PATH_MAX];
	struct shim_client *clients;	/* opts.max_clients slots */
	size_t nclients;
	size_t mapped_bytes;
	__u8 *pid_count;		/* attached clients per pid */
	__u64 accepted_ns;		/* pending connections last accepted */
	int drain_ms;
	_Alignas(8) __u8 buf[SHIM_EVENT_MAX_BYTES];
};

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void client_free(struct shim_server *s, struct shim_client *c)
{
	if (c->active) {
		struct capture_event ev = {
			.ts_ns = mono_ns(), .tgid = c->pid, .uid = c->uid,
			.kind = CAPTURE_EXIT, .source = CAPTURE_SOURCE_PRELOAD,
		};

		s->mapped_bytes -= c->map_bytes;
		shim_client_detach(c);
		/* Its connections end with it (exit, exec, or dropped); the
		 * process may come back as a new client. */
		if (--s->pid_count[c->pid] == 0)
			s->cb(s->cb_ctx, &ev);
	}
	close(c->fd);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	s->nclients--;
}

static void client_drop(struct shim_server *s, struct shim_client *c, const char *why)
{
	stats_inc(STAT_SHIM_MESSAGES_MALFORMED);
	stats_inc(STAT_SHIM_CLIENTS_DROPPED);
	p_warn("shim client pid %u uid %u dropped: %s", c->pid, c->uid, why);
	shim_client_account(c);
	client_free(s, c);
}

/* Returns the events delivered. */
static int client_drain(struct shim_server *s, struct shim_client *c, __u64 now)
{
	const char *why = NULL;
	int n = shim_client_drain(c, now, s->cb, s->cb_ctx, s->buf, &why);

	if (n >= 0)
		return n;
	client_drop(s, c, why);
	return 0;
}

/* The end of a connection: what the ring still holds is the process's
 * last words (it may have exited right after writing them). */
static void client_finish(struct shim_server *s, struct shim_client *c)
{
	const char *why = NULL;

	if (c->active && shim_client_drain(c, mono_ns(), s->cb, s->cb_ctx, s->buf, &why) < 0) {
		client_drop(s, c, why);
		return;
	}
	client_free(s, c);
}

/* A new client for a pid that still has one: after exec the old socket is
 * closed (CLOEXEC) before the new image connects, so its end of file is
 * there already; finishing it first keeps its EXIT from ending the new
 * image's connections, and a reconnecting shim's ring from being read
 * twice. */
static void finish_same_pid(struct shim_server *s, struct shim_client *nc)
{
	char b;

	for (size_t i = 0; i < s->opts.max_clients; i++) {
		struct shim_client *c = &s->clients[i];

		if (c != nc && c->fd >= 0 && c->active && c->pid == nc->pid &&
		    recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
			client_finish(s, c);
	}
}

static size_t budget_for(const struct shim_server *s, __u32 uid)
{
	size_t total = s->opts.max_map_bytes - s->mapped_bytes, user = 0;

	if (uid == geteuid())
		return total;
	for (size_t i = 0; i < s->opts.max_clients; i++)
		if (s->clients[i].fd >= 0 && s->clients[i].active && s->clients[i].uid == uid)
			user += s->clients[i].map_bytes;
	user = user < s->opts.max_user_map_bytes ? s->opts.max_user_map_bytes - user : 0;
	return user < total ? user : total;
}

/* The first message: the hello and its memfd. */
static int client_hello(struct shim_server *s, struct shim_client *c,
			const struct shim_hello *h, int memfd)
{
	int err;

	/* The same process's previous connection first: its last records,
	 * then its EXIT, before anything of the new one. */
	finish_same_pid(s, c);
	err = shim_client_attach(c, h, memfd, budget_for(s, c->uid));
	if (err) {
		stats_inc(STAT_SHIM_CLIENTS_REJECTED);
		if (err == -EPROTO)
			stats_inc(STAT_SHIM_MESSAGES_MALFORMED);
		p_warn("shim client pid %u uid %u refused: %s", c->pid, c->uid,
		       err == -EPROTO ? "bad hello" :
		       err == -ENOSPC ? "ring memory budget used up" : strerror(-err));
		return err;
	}
	s->mapped_bytes += c->map_bytes;
	s->pid_count[c->pid]++;
	stats_inc(STAT_SHIM_CLIENTS);
	p_debug("shim client pid %u uid %u: ring of %u bytes", c->pid, c->uid, h->ring_bytes);
	return 0;
}

/* Reads what a client sent: first the hello with its memfd, later only
 * one-byte kicks. Anything else is counted; a client whose hello is bad,
 * or that keeps sending anything else, is dropped. */
static void client_read(struct shim_server *s, struct shim_client *c)
{
	for (int m = 0; m < MSGS_PER_WAKE; m++) {
		union {
			struct shim_hello hello;
			char raw[sizeof(struct shim_hello) + 64];
		} in;
		union {
			char buf[CMSG_SPACE(MAX_FDS_IN * sizeof(int))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { .iov_base = &in, .iov_len = sizeof(in) };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
		};
		int fds[MAX_FDS_IN], nfds = 0, err = 0;
		ssize_t n = recvmsg(c->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		bool whole, hello = !c->active;

		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			client_finish(s, c);
			return;
		}
		/* Every descriptor that came is closed, whatever came with it. */
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
				if (nfds < MAX_FDS_IN)
					memcpy(&fds[nfds++], CMSG_DATA(cm) + i * sizeof(int),
					       sizeof(int));
		}
		whole = !(msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC));
		if (hello && whole && n == sizeof(in.hello) && nfds == 1) {
			err = client_hello(s, c, &in.hello, fds[0]);
		} else if (hello) {
			stats_inc(STAT_SHIM_CLIENTS_REJECTED);
			stats_inc(STAT_SHIM_MESSAGES_MALFORMED);
			p_warn("shim client pid %u uid %u refused: %zd bytes and %d descriptors "
			       "instead of a hello", c->pid, c->uid, n, nfds);
			err = -EPROTO;
		} else if (!whole || n != 1 || nfds) {
			stats_inc(STAT_SHIM_MESSAGES_MALFORMED);
			if (++c->malformed >= MALFORMED_MAX)
				err = -EPROTO;
		}
		/* else a kick: the drain after the poll answers it */
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		if (err && hello) {
			client_free(s, c);
			return;
		}
		if (err) {
			client_drop(s, c, "too many malformed messages");
			return;
		}
	}
}

static bool uid_allowed(const struct shim_server *s, __u32 uid)
{
	return s->opts.any_user || uid == 0 || uid == geteuid();
}

/* On the system daemon one user cannot take every slot from the others. */
static bool uid_has_room(const struct shim_server *s, __u32 uid)
{
	size_t n = 0;

	if (uid == 0 || uid == geteuid())
		return true;
	for (size_t i = 0; i < s->opts.max_clients; i++)
		if (s->clients[i].fd >= 0 && s->clients[i].uid == uid)
			n++;
	return n < s->opts.max_user_clients;
}

/* A connection that never says hello only holds a slot. */
static void expire_if_silent(struct shim_server *s, struct shim_client *c, __u64 now)
{
	if (now - c->accepted_ns <= (__u64)s->opts.hello_timeout_ms * 1000000)
		return;
	stats_inc(STAT_SHIM_CLIENTS_REJECTED);
	p_warn("shim client pid %u uid %u refused: no hello in %d ms", c->pid, c->uid,
	       s->opts.hello_timeout_ms);
	client_free(s, c);
}

/* Out of descriptors: refuse one connection rather than spin on a
 * listener that stays readable. */
static void refuse_one(struct shim_server *s)
{
	int fd;

	if (s->spare_fd >= 0)
		close(s->spare_fd);
	fd = accept(s->lfd, NULL, NULL);
	if (fd >= 0)
		close(fd);
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	stats_inc(STAT_SHIM_CLIENTS_REJECTED);
	p_warn("shim client refused: out of file descriptors");
}

static void accept_pending(struct shim_server *s)
{
	s->accepted_ns = mono_ns();
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN };
		struct ucred cred = {};
		socklen_t len = sizeof(cred);
		struct shim_client *c = NULL;
		int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
			refuse_one(s);
			continue;
		}
		if (fd < 0)
			return;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
		    cred.pid <= 0 || (__u32)cred.pid >= PID_LIMIT || !uid_allowed(s, cred.uid) ||
		    s->nclients >= s->opts.max_clients || !uid_has_room(s, cred.uid)) {
			stats_inc(STAT_SHIM_CLIENTS_REJECTED);
			p_warn("shim client pid %d uid %u refused: %s", (int)cred.pid,
			       (unsigned int)cred.uid, !uid_allowed(s, cred.uid) ?
			       "another user's socket" : "too many clients");
			close(fd);
			continue;
		}
		for (size_t i = 0; i < s->opts.max_clients && !c; i++)
			if (s->clients[i].fd < 0)
				c = &s->clients[i];
		c->fd = fd;
		c->pid = (__u32)cred.pid;
		c->uid = cred.uid;
		c->accepted_ns = s->accepted_ns;
		s->nclients++;
		ev.data.ptr = c;
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			stats_inc(STAT_SHIM_CLIENTS_REJECTED);
			client_free(s, c);
			continue;
		}
		/* The hello went out with the connect: take it now, so that
		 * shim_server_owns() knows the process from here on. */
		client_read(s, c);
	}
}

bool shim_server_owns(struct shim_server *s, __u32 tgid, __u64 ts_ns)
{
	if (ts_ns >= s->accepted_ns)
		accept_pending(s);
	return tgid < PID_LIMIT && s->pid_count[tgid] > 0;
}

int shim_server_poll(struct shim_server *s, int timeout_ms)
{
	struct epoll_event evs[32];
	int n, delivered = 0;
	__u64 now;

	if (s->nclients && (timeout_ms < 0 || timeout_ms > s->drain_ms))
		timeout_ms = s->drain_ms;
	n = epoll_wait(s->epfd, evs, 32, timeout_ms);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		struct shim_client *c = evs[i].data.ptr;

		if (!c)
			accept_pending(s);
		else if (c->fd >= 0)
			client_read(s, c);
	}
	now = mono_ns();
	for (size_t i = 0; i < s->opts.max_clients; i++) {
		struct shim_client *c = &s->clients[i];

		if (c->fd >= 0 && c->active)
			delivered += client_drain(s, c, now);
		else if (c->fd >= 0)
			expire_if_silent(s, c, now);
	}
	/* Short ticks while data flows, longer ones while every ring idles:
	 * a ring filling up faster than that kicks us awake anyway. */
	if (delivered)
		s->drain_ms = DRAIN_MIN_MS;
	else if (s->drain_ms < DRAIN_MAX_MS)
		s->drain_ms *= 2;
	return delivered;
}

size_t shim_server_clients(const struct shim_server *s)
{
	return s->nclients;
}

const char *shim_server_path(const struct shim_server *s)
{
	return s->path;
}

int shim_server_open(const struct shim_server_opts *opts, shim_event_fn cb, void *ctx,
		     struct shim_server **out)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	struct shim_server *s;
	int err;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->opts = *opts;
	if (!s->opts.max_clients)
		s->opts.max_clients = DEFAULT_MAX_CLIENTS;
	if (!s->opts.max_map_bytes)
		s->opts.max_map_bytes = DEFAULT_MAX_MAP;
	if (!s->opts.max_user_map_bytes)
		s->opts.max_user_map_bytes = DEFAULT_MAX_USER_MAP;
	if (!s->opts.max_user_clients)
		s->opts.max_user_clients = s->opts.max_clients / 4 ? s->opts.max_clients / 4 : 1;
	if (!s->opts.hello_timeout_ms)
		s->opts.hello_timeout_ms = DEFAULT_HELLO_MS;
	s->cb = cb;
	s->cb_ctx = ctx;
	s->lfd = s->epfd = s->spare_fd = -1;
	s->drain_ms = DRAIN_MIN_MS;
	s->clients = calloc(s->opts.max_clients, sizeof(*s->clients));
	s->pid_count = calloc(PID_LIMIT, 1);	/* pages appear as pids are used */
	if (!s->clients || !s->pid_count) {
		err = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < s->opts.max_clients; i++)
		s->clients[i].fd = -1;
	if (opts->path)
		snprintf(s->path, sizeof(s->path), "%s", opts->path);
	else if (shim_socket_path(0, geteuid(), s->path, sizeof(s->path))) {
		err = -ENAMETOOLONG;
		p_err("no usable shim socket path (is LLMOBS_SOCKET or XDG_RUNTIME_DIR too long?)");
		goto fail;
	}
	err = shim_sock_listen(s->path, opts->any_user, &s->lfd, &s->sock_dev, &s->sock_ino);
	if (err)
		goto fail;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (s->epfd < 0 || epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev) < 0) {
		err = -errno;
		p_err("shim socket %s: epoll: %s", s->path, strerror(-err));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	shim_server_close(s);
	return err;
}

void shim_server_close(struct shim_server *s)
{
	if (!s)
		return;
	for (size_t i = 0; s->clients && i < s->opts.max_clients; i++)
		if (s->clients[i].fd >= 0)
			client_finish(s, &s->clients[i]);
	if (s->lfd >= 0) {
		shim_sock_unlink(s->path, s->sock_dev, s->sock_ino);
		close(s->lfd);
	}
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->spare_fd >= 0)
		close(s->spare_fd);
	free(s->clients);
	free(s->pid_count);
	free(s);
}
