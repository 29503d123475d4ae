/* The attacher: llmobsd's only privileged process once it runs. Command-line
 * options in; BPF programs loaded and attached, a worker process started
 * (and restarted) with the ring and map fds, answers to its requests out.
 *
 * It reads no captured byte: the events ring is the worker's. What it reads
 * is what attaching takes (/proc/PID/maps, root, stat, exe, the library
 * files) and the worker's fixed-size requests, each validated
 * (privsep_proto.c) and answered by a bounded amount of work.
 *
 * A dead worker is restarted with backoff (0.1 s doubling to 5 s); the
 * probes stay attached meanwhile and the ring keeps filling, what overflows
 * being counted by the BPF side as always. Five deaths in a row, each
 * within 30 s of its start, or a worker failing before it is ready
 * (configuration), stop the daemon: the probes are detached then rather
 * than left without a consumer. */
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "log.h"
#include "plain_capture.h"
#include "priv.h"
#include "privsep.h"
#include "privsep_proto.h"
#include "stats.h"

#define RESTART_MIN_MS		100
#define RESTART_MAX_MS		5000
#define STABLE_MS		30000	/* a worker up this long resets the backoff */
#define DEATHS_MAX		5
#define STOP_GRACE_MS		5000	/* SIGTERM to SIGKILL at exit */
#define REQUESTS_PER_WAKE	256
#define TICK_MS			50	/* due rescans are run at this grain */

struct attacher {
	struct tls_capture *tls;
	struct plain_capture *plain;
	struct procattr_table *attr;	/* PROCATTR requests */
	int epfd, sigfd, sock;
	pid_t worker;
	uint32_t generation;
	bool ready;			/* the current worker said READY */
	bool stopping;
	bool unsignalled;		/* no CAP_KILL: its parent-death signal stops it */
	int exit_status;
	int deaths;			/* in a row */
	uint64_t started_ms, restart_at_ms, kill_at_ms;
	sigset_t oldmask;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

static void plain_start(struct attacher *a, const struct privsep_opts *o)
{
	const char *list = o->plain_ports ? o->plain_ports : PLAIN_CAPTURE_DEFAULT_PORTS;
	uint16_t ports[PLAIN_CAPTURE_MAX_PORTS];
	struct plain_capture_opts po = {
		.ports = ports, .self_pid = getpid(), .max_chunks = o->tls.max_chunks,
		.ringbuf_fd = tls_capture_ringbuf_fd(a->tls),
		.drops_fd = tls_capture_drops_fd(a->tls),
		.secret_tgids_fd = tls_capture_secret_tgids_fd(a->tls),
	};
	int n = plain_capture_parse_ports(list, ports, PLAIN_CAPTURE_MAX_PORTS), err;

	if (n <= 0)
		return;
	po.nports = (size_t)n;
	err = plain_capture_open(&po, NULL, NULL, &a->plain);
	if (err)
		p_warn("plain HTTP capture off (%s): TLS capture only; rustls programs (Codex, "
		       "Deno), whose records it copies, are not seen either", strerror(-err));
	else
		p_info("plain HTTP to loopback ports %s captured", list);
}

/* ---- requests ------------------------------------------------------------ */

static void reply(struct attacher *a, const struct privsep_req *r, int status,
		  const void *data, size_t len)
{
	struct privsep_resp resp;

	memset(&resp, 0, sizeof(resp));
	resp.magic = PRIVSEP_MAGIC;
	resp.version = PRIVSEP_VERSION;
	resp.kind = r->kind;
	resp.seq = r->seq;
	resp.status = status;
	if (data && len <= sizeof(resp) - offsetof(struct privsep_resp, counters))
		memcpy(resp.counters, data, len);
	/* A worker that does not read its replies loses them, nothing more. */
	privsep_send(a->sock, &resp, sizeof(resp), NULL, 0);
}

static void serve_exe(struct attacher *a, const struct privsep_req *r)
{
	char link[32], exe[PRIVSEP_EXE_BYTES];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%u/exe", r->pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n <= 0) {
		reply(a, r, n < 0 ? -errno : -ENOENT, NULL, 0);
		return;
	}
	exe[n] = '\0';
	reply(a, r, 0, exe, (size_t)n + 1);
}

static void serve(struct attacher *a, const struct privsep_req *r)
{
	stats_inc(STAT_PRIVSEP_REQUESTS);
	switch (r->kind) {
	case PRIVSEP_REQ_ATTACH_PID:
		if (r->flags & PRIVSEP_ATTACH_EXEC)
			tls_capture_exec_seen(a->tls, (pid_t)r->pid);
		else
			tls_capture_rescan(a->tls, (pid_t)r->pid);
		break;
	case PRIVSEP_REQ_EXE:
		serve_exe(a, r);
		break;
	case PRIVSEP_REQ_COUNTERS:
		reply(a, r, 0, stats, sizeof(stats));
		break;
	case PRIVSEP_REQ_PROCATTR:
		if (a->attr)
			reply(a, r, 0, procattr_resolve(a->attr, (pid_t)r->pid),
			      sizeof(struct procattr));
		else
			reply(a, r, -ENOSYS, NULL, 0);
		break;
	case PRIVSEP_REQ_READY:
		if (!a->ready)
			p_info("worker %d (generation %u) sandboxed and ready", (int)a->worker,
			       a->generation);
		a->ready = true;
		break;
	}
}

static void read_requests(struct attacher *a)
{
	union {
		struct privsep_req req;
		char bytes[512];
	} buf;
	struct privsep_req r;
	int i, err, fds[PRIVSEP_MAX_FDS];
	size_t nfds;

	for (i = 0; i < REQUESTS_PER_WAKE; i++) {
		err = privsep_recv(a->sock, &buf, sizeof(buf.req), fds, 0, &nfds);
		if (err == -EAGAIN || err == -EPIPE)
			return;	/* EOF: the worker's death comes as SIGCHLD */
		if (!err)
			err = privsep_req_parse(&buf, sizeof(buf.req), &r);
		if (err && err != -EMSGSIZE && err != -EPROTO && err != -EINVAL)
			return;	/* the socket itself failed */
		if (err) {
			stats_inc(STAT_PRIVSEP_REQUESTS_MALFORMED);
			/* Said at the first and then every 1000th: a flood
			 * must not become a flood of log lines. */
			if (stats[STAT_PRIVSEP_REQUESTS_MALFORMED] % 1000 == 1)
				p_warn("worker %d: malformed request rejected (%s), %llu so far",
				       (int)a->worker, strerror(-err),
				       (unsigned long long)stats[STAT_PRIVSEP_REQUESTS_MALFORMED]);
			continue;
		}
		serve(a, &r);
	}
}

/* ---- the worker's life --------------------------------------------------- */

/* Returns 0 in the new worker, 1 in the attacher (started or not). */
static int spawn(struct attacher *a, struct privsep_worker **out)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = -1 };
	int sv[2], fds[CAPTURE_RING_FD__MAX], err;
	struct privsep_hello hello = {
		.magic = PRIVSEP_MAGIC, .version = PRIVSEP_VERSION,
		.nfds = CAPTURE_RING_FD__MAX, .generation = a->generation + 1,
	};
	pid_t attacher = getpid(), pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
		p_err("cannot start the worker: socketpair: %s", strerror(errno));
		a->restart_at_ms = now_ms() + RESTART_MAX_MS;
		return 1;
	}
	pid = fork();
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &a->oldmask, NULL);
		signal(SIGPIPE, SIG_DFL);
		/* Nothing of the attacher's stays open here: BPF programs,
		 * links, /proc handles. What the worker may hold comes over the
		 * socket. */
		if (sv[1] > 3)
			close_range(3, sv[1] - 1, 0);
		close_range(sv[1] + 1, ~0u, 0);
		memset(stats, 0, sizeof(stats));	/* the attacher's are its own */
		err = privsep_worker_init(sv[1], attacher, out);
		if (err) {
			p_err("worker: cannot take the capture from the attacher: %s",
			      strerror(-err));
			_exit(1);
		}
		return 0;
	}
	close(sv[1]);
	if (pid < 0) {
		p_err("cannot start the worker: fork: %s", strerror(errno));
		close(sv[0]);
		a->restart_at_ms = now_ms() + RESTART_MAX_MS;
		return 1;
	}
	a->generation++;
	a->worker = pid;
	a->sock = sv[0];
	a->ready = false;
	a->started_ms = now_ms();
	tls_capture_consumer_fds(a->tls, fds);
	err = privsep_send(a->sock, &hello, sizeof(hello), fds, CAPTURE_RING_FD__MAX);
	if (err)
		p_err("cannot hand the capture to worker %d: %s", (int)pid, strerror(-err));
	ev.data.fd = a->sock;
	epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->sock, &ev);
	return 1;
}

static void describe_death(struct attacher *a, int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
		snprintf(buf, size, "was killed by seccomp (SIGSYS: a syscall outside "
			 "the allow-list)");
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "was killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "ended (status %#x)", status);
}

static void reap(struct attacher *a)
{
	uint64_t now = now_ms(), delay;
	char why[128];
	int status;

	if (!a->worker || waitpid(a->worker, &status, WNOHANG) != a->worker)
		return;
	epoll_ctl(a->epfd, EPOLL_CTL_DEL, a->sock, NULL);
	close(a->sock);
	a->sock = -1;
	a->worker = 0;
	describe_death(a, status, why, sizeof(why));
	if (a->stopping) {
		a->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
		if (a->exit_status)
			p_warn("worker %s", why);
		return;
	}
	if (!a->ready && WIFEXITED(status)) {
		/* It never got as far as polling: options, price table,
		 * sandbox. A restart would fail the same way. */
		p_err("worker %s before it was ready: stopping, probes detached", why);
		a->exit_status = WEXITSTATUS(status) ? WEXITSTATUS(status) : 1;
		a->stopping = true;
		return;
	}
	a->deaths = now - a->started_ms >= STABLE_MS ? 1 : a->deaths + 1;
	if (a->deaths > DEATHS_MAX) {
		p_err("worker %s; %d deaths in a row: stopping, probes detached", why, DEATHS_MAX);
		a->exit_status = 1;
		a->stopping = true;
		return;
	}
	delay = (uint64_t)RESTART_MIN_MS << (a->deaths - 1);
	if (delay > RESTART_MAX_MS)
		delay = RESTART_MAX_MS;
	stats_inc(STAT_PRIVSEP_WORKER_RESTARTS);
	p_err("worker %s; restarting it in %llu ms (the ring buffer keeps filling, what "
	      "overflows is counted)", why, (unsigned long long)delay);
	a->restart_at_ms = now + delay;
}

static void on_signal(struct attacher *a)
{
	struct signalfd_siginfo si;

	while (read(a->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			reap(a);
		} else if (!a->stopping) {
			a->stopping = true;
			a->kill_at_ms = now_ms() + STOP_GRACE_MS;
			if (a->worker && kill(a->worker, SIGTERM) && errno == EPERM) {
				p_warn("cannot signal worker %d (no CAP_KILL): it stops on "
				       "the attacher's exit (its parent-death signal)",
				       (int)a->worker);
				a->unsignalled = true;
			}
		}
	}
}

static int setup(struct attacher *a)
{
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, &a->oldmask))
		return -errno;
	a->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	a->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (a->sigfd < 0 || a->epfd < 0)
		return -errno;
	ev.data.fd = a->sigfd;
	if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->sigfd, &ev))
		return -errno;
	ev.data.fd = tls_capture_epoll_fd(a->tls);
	if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, ev.data.fd, &ev))
		return -errno;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int privsep_start(const struct privsep_opts *o, struct privsep_worker **out)
{
	struct attacher a = { .sock = -1, .sigfd = -1, .epfd = -1 };
	struct tls_capture_opts to = o->tls;
	uint16_t ports[PLAIN_CAPTURE_MAX_PORTS];
	struct epoll_event evs[8];
	uint64_t now;
	int err, n, i, timeout;

	*out = NULL;
	/* rustls is seen through the sockets the plain capture copies. */
	to.secrets = plain_capture_parse_ports(o->plain_ports ? o->plain_ports :
					       PLAIN_CAPTURE_DEFAULT_PORTS, ports,
					       PLAIN_CAPTURE_MAX_PORTS) > 0;
	err = tls_capture_open(&to, NULL, NULL, &a.tls);
	if (err) {
		p_err("cannot start BPF capture: %s%s", strerror(-err),
		      err == -EPERM ? " (llmobsd needs root or CAP_BPF+CAP_PERFMON;"
				      " --no-bpf needs neither)" : "");
		return err;
	}
	plain_start(&a, o);
	a.attr = o->attr;
	err = priv_drop_attacher();
	if (err)
		p_warn("attacher: cannot drop capabilities: %s", strerror(-err));
	err = setup(&a);
	if (err) {
		p_err("attacher: %s", strerror(-err));
		goto out;
	}
	p_info("attacher %d: %d TLS libraries attached; the captured bytes are parsed by an "
	       "unprivileged worker", (int)getpid(), tls_capture_attached(a.tls));
	while (!a.stopping || (a.worker && !a.unsignalled)) {
		now = now_ms();
		if (!a.worker && !a.stopping && now >= a.restart_at_ms && spawn(&a, out) == 0)
			return 0;	/* in the worker */
		if (a.stopping && a.worker && now >= a.kill_at_ms) {
			p_warn("worker %d did not stop within %d ms: killed", (int)a.worker,
			       STOP_GRACE_MS);
			kill(a.worker, SIGKILL);
			a.kill_at_ms = UINT64_MAX;
		}
		timeout = TICK_MS;
		if (!a.worker && !a.stopping && a.restart_at_ms - now < (uint64_t)timeout)
			timeout = (int)(a.restart_at_ms - now);
		n = epoll_wait(a.epfd, evs, 8, timeout);
		for (i = 0; i < n; i++) {
			if (evs[i].data.fd == a.sigfd)
				on_signal(&a);
			else if (evs[i].data.fd == a.sock && a.sock >= 0)
				read_requests(&a);
		}
		/* dlopen events and due rescans; never waits */
		tls_capture_poll(a.tls, 0);
	}
out:
	p_info("attacher: detaching");
	plain_capture_close(a.plain);
	tls_capture_close(a.tls);
	exit(err ? 1 : a.exit_status);
}
