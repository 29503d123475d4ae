/* The worker's end of the attacher's socket: the hello and the ring and map
 * fds in (a capture_ring for the daemon's pipeline), requests out: exec
 * events become ATTACH_PID (the attacher looks at the new image), and what
 * only the attacher may read (another user's /proc/PID/exe) is asked for
 * and cached by procinfo. Then the sandbox, once the daemon's files and
 * sockets are open. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include "log.h"
#include "privsep.h"
#include "privsep_hook.h"
#include "privsep_proto.h"
#include "procinfo.h"
#include "sandbox.h"

#define REPLY_TIMEOUT_MS	200

struct privsep_worker {
	int sock;
	pid_t attacher;
	uint32_t generation, seq;
	int fds[CAPTURE_RING_FD__MAX];
	bool fds_taken;
	capture_ring_event_fn cb;
	void *ctx;
	uint64_t events;
	uint64_t attacher_stats[STAT__MAX];
};

/* procinfo's resolver has no context: there is one worker per process. */
static struct privsep_worker *the_worker;

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int privsep_worker_init(int sock, pid_t attacher, struct privsep_worker **out)
{
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	struct privsep_worker *w;
	struct privsep_hello hello;
	size_t nfds = 0, i;
	int err;

	/* Until it takes the worker's uid (which clears this), the attacher's
	 * death must end it too. */
	prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	if (getppid() != attacher)
		return -ESRCH;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->sock = sock;
	w->attacher = attacher;
	if (poll(&pfd, 1, 5000) != 1) {
		err = -ETIMEDOUT;
		goto fail;
	}
	err = privsep_recv(sock, &hello, sizeof(hello), w->fds, CAPTURE_RING_FD__MAX, &nfds);
	if (!err && (hello.magic != PRIVSEP_MAGIC || hello.version != PRIVSEP_VERSION ||
		     hello.nfds != CAPTURE_RING_FD__MAX || nfds != CAPTURE_RING_FD__MAX))
		err = -EPROTO;
	if (err) {
		for (i = 0; i < nfds; i++)
			close(w->fds[i]);
		goto fail;
	}
	w->generation = hello.generation;
	*out = the_worker = w;
	return 0;
fail:
	free(w);
	return err;
}

static int send_req(struct privsep_worker *w, enum privsep_kind kind, uint32_t pid,
		    uint32_t flags)
{
	struct privsep_req r = {
		.magic = PRIVSEP_MAGIC, .version = PRIVSEP_VERSION, .kind = kind,
		.seq = ++w->seq, .pid = pid, .flags = flags,
	};
	int err = privsep_send(w->sock, &r, sizeof(r), NULL, 0);

	if (err)
		stats_inc(STAT_PRIVSEP_REQUESTS_UNSENT);
	return err;
}

/* Sends, then waits for the reply of that seq (older ones, whose asker
 * gave up, are skipped). Returns the reply's status or -errno. */
static int ask(struct privsep_worker *w, enum privsep_kind kind, uint32_t pid,
	       struct privsep_resp *resp)
{
	struct pollfd pfd = { .fd = w->sock, .events = POLLIN };
	int64_t deadline = mono_ms() + REPLY_TIMEOUT_MS, left;
	size_t nfds;
	int err, fd;

	err = send_req(w, kind, pid, 0);
	if (err)
		return err;
	while ((left = deadline - mono_ms()) > 0) {
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		err = privsep_recv(w->sock, resp, sizeof(*resp), &fd, 0, &nfds);
		if (err == -EMSGSIZE || err == -EAGAIN)
			continue;
		if (err)
			return err;
		if (resp->magic == PRIVSEP_MAGIC && resp->seq == w->seq && resp->kind == kind)
			return resp->status;
	}
	return -ETIMEDOUT;
}

/* procinfo's fallback when /proc/PID/exe is another user's. */
static int resolve_exe(pid_t pid, char *buf, size_t size)
{
	struct privsep_resp resp;
	int err;

	if (!the_worker || pid <= 0 || size == 0)
		return -EINVAL;
	err = ask(the_worker, PRIVSEP_REQ_EXE, (uint32_t)pid, &resp);
	if (err)
		return err;
	resp.exe[sizeof(resp.exe) - 1] = '\0';
	snprintf(buf, size, "%s", resp.exe);
	return 0;
}

int privsep_worker_procattr(void *ctx, pid_t tgid, struct procattr *out)
{
	struct privsep_worker *w = ctx;
	struct privsep_resp resp;
	int err;

	if (!w || tgid <= 0)
		return -EINVAL;
	err = ask(w, PRIVSEP_REQ_PROCATTR, (uint32_t)tgid, &resp);
	if (err)
		return err;
	*out = resp.attr;
	/* Strings as C strings, whatever came. */
	out->app[sizeof(out->app) - 1] = '\0';
	out->exe[sizeof(out->exe) - 1] = '\0';
	out->cmdline_hash[sizeof(out->cmdline_hash) - 1] = '\0';
	out->k8s_namespace[sizeof(out->k8s_namespace) - 1] = '\0';
	out->k8s_pod[sizeof(out->k8s_pod) - 1] = '\0';
	out->k8s_container[sizeof(out->k8s_container) - 1] = '\0';
	out->image[sizeof(out->image) - 1] = '\0';
	out->project[sizeof(out->project) - 1] = '\0';
	out->cg.runtime[sizeof(out->cg.runtime) - 1] = '\0';
	out->cg.container_id[sizeof(out->cg.container_id) - 1] = '\0';
	out->cg.pod_uid[sizeof(out->cg.pod_uid) - 1] = '\0';
	return 0;
}

void privsep_worker_counters(struct privsep_worker *w, uint64_t out[STAT__MAX])
{
	struct privsep_resp resp;

	if (ask(w, PRIVSEP_REQ_COUNTERS, 0, &resp) == 0)
		memcpy(w->attacher_stats, resp.counters, sizeof(w->attacher_stats));
	if (out != w->attacher_stats)
		memcpy(out, w->attacher_stats, sizeof(w->attacher_stats));
}

static int on_ring_event(void *ctx, const struct capture_event *ev, size_t size)
{
	struct privsep_worker *w = ctx;

	/* The attacher no longer sees exec events: it is told, and looks at
	 * the new image (now, then as ld.so and dlopen map libraries). A
	 * message lost to a full socket is counted; the periodic scan finds
	 * the process anyway. */
	if (ev->kind == CAPTURE_EXEC && ev->tgid)
		send_req(w, PRIVSEP_REQ_ATTACH_PID, ev->tgid, PRIVSEP_ATTACH_EXEC);
	privsep_test_hook_event(++w->events);
	return w->cb(w->ctx, ev, size);
}

int privsep_worker_capture(struct privsep_worker *w, capture_ring_event_fn cb, void *ctx,
			   struct capture_ring **out)
{
	if (w->fds_taken)
		return -EBUSY;
	int err;

	w->fds_taken = true;
	w->cb = cb;
	w->ctx = ctx;
	err = capture_ring_open(w->fds, on_ring_event, w, out);
	/* The attacher gone (its parent-death signal may not reach us: it
	 * takes CAP_KILL), the poll says -EPIPE and the worker exits. */
	if (!err && (err = capture_ring_watch(*out, w->sock))) {
		capture_ring_close(*out);
		*out = NULL;
	}
	return err;
}

int privsep_worker_attached(const struct privsep_worker *w)
{
	return (int)w->attacher_stats[STAT_TLS_LIBS_ATTACHED];
}

int privsep_worker_sandbox(struct privsep_worker *w)
{
	struct sandbox_user u;
	int err;

	err = sandbox_find_user(&u);
	if (!err)
		err = sandbox_drop_user(&u);
	if (err) {
		p_err("worker: cannot drop to an unprivileged user: %s", strerror(-err));
		return err;
	}
	/* Cleared by the uid change: again, and the attacher may be gone. */
	prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	if (getppid() != w->attacher)
		return -ESRCH;
	procinfo_set_resolver(resolve_exe);
	/* The attacher's counters once before the filter, for the ready line. */
	privsep_worker_counters(w, w->attacher_stats);
	err = sandbox_seccomp_load();
	if (err) {
		p_err("worker: cannot load the seccomp filter: %s", strerror(-err));
		return err;
	}
	p_info("worker %d: uid %u (%s), no capabilities, seccomp allow-list", (int)getpid(),
	       (unsigned int)u.uid, u.name);
	send_req(w, PRIVSEP_REQ_READY, 0, 0);
	privsep_test_hook_start(w->sock, w->generation);
	return 0;
}

int privsep_sandbox_self(void)
{
	struct sandbox_user u;
	int err = 0;

	if (geteuid() == 0)
		err = sandbox_find_user(&u);
	if (!err)
		err = sandbox_drop_user(geteuid() == 0 ? &u : NULL);
	if (err) {
		p_err("cannot drop to an unprivileged user: %s", strerror(-err));
		return err;
	}
	err = sandbox_seccomp_load();
	if (err)
		p_err("cannot load the seccomp filter: %s", strerror(-err));
	return err;
}
