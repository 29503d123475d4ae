/* The daemon side of the LD_PRELOAD path (user/1-capture/shim_server.c, shim_client.c)
 * against the shim's own producer (preload/ring.h): records arrive exact,
 * in order, attributed by SO_PEERCRED whatever the shim claims; hostile
 * sockets and rings are counted and never crash or leak. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include "../../preload/ring.h"
#include "log.h"
#include "shim_server.h"
#include "stats.h"

#define MAX_EVENTS	20000

struct got {
	struct capture_event ev;
	__u8 data[64];
};

static struct got *got;
static int ngot, nexit;
static char dir[40], sock_path[64];

static void on_event(void *ctx, const struct capture_event *ev)
{
	if (ev->kind == CAPTURE_EXIT) {
		nexit++;
		return;
	}
	if (ngot < MAX_EVENTS) {
		got[ngot].ev = *ev;
		memcpy(got[ngot].data, ev->data, ev->data_len < 64 ? ev->data_len : 64);
	}
	ngot++;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

/* A fake shim: a socket connected to the server and a ring. */
struct fake {
	int sock, memfd;
	struct shim_ring ring;
	size_t bytes;
};

static int make_memfd(size_t bytes, unsigned int seals)
{
	int fd = memfd_create("test-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, bytes), 0);
	if (seals)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, seals), 0);
	return fd;
}

static int connect_sock(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	return fd;
}

/* Sends len bytes with nfds descriptors. */
static void send_msg(int sock, const void *buf, size_t len, const int *fds, int nfds)
{
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} ctl = {};
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
		struct cmsghdr *cm;

		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	}
	assert_int_equal(sendmsg(sock, &msg, MSG_NOSIGNAL), (ssize_t)len);
}

static void fake_open(struct fake *f, __u32 ring_bytes)
{
	struct shim_hello h = { .magic = SHIM_MAGIC, .version = SHIM_VERSION,
				.ring_bytes = ring_bytes };
	void *map;

	f->bytes = SHIM_HDR_BYTES + ring_bytes;
	f->memfd = make_memfd(f->bytes, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	map = mmap(NULL, f->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
	assert_true(map != MAP_FAILED);
	shim_ring_init(&f->ring, map, ring_bytes);
	h.start_pos = f->ring.hdr->producer_pos;
	f->sock = connect_sock();
	send_msg(f->sock, &h, sizeof(h), &f->memfd, 1);
}

static void fake_close(struct fake *f)
{
	close(f->sock);
	close(f->memfd);
	munmap(f->ring.hdr, f->bytes);
}

/* Writes one DATA record the way preload/shim.c does. */
static bool fake_write(struct fake *f, __u64 conn, __u32 tid, __u64 pos, const void *data,
		       __u32 len)
{
	__u64 rpos, used;
	struct capture_event *ev = shim_ring_reserve(&f->ring, sizeof(*ev) + len, &rpos, &used);

	if (!ev)
		return false;
	memset(ev, 0, sizeof(*ev));
	ev->kind = CAPTURE_DATA;
	ev->conn = conn;
	ev->tid = tid;
	ev->tgid = 1;		/* lies the daemon must ignore */
	ev->uid = 4242;
	ev->stream_pos = pos;
	ev->call_len = len;
	ev->data_len = len;
	memcpy(ev->data, data, len);
	shim_ring_commit(ev, rpos);
	return true;
}

static struct shim_server *server;

static int setup(void **state)
{
	struct shim_server_opts o = { .path = sock_path };

	snprintf(dir, sizeof(dir), "/tmp/test_shim.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/s/llmobs.sock", dir);
	got = calloc(MAX_EVENTS, sizeof(*got));
	ngot = nexit = 0;
	memset(stats, 0, sizeof(stats));
	assert_int_equal(shim_server_open(&o, on_event, NULL, &server), 0);
	return 0;
}

static int teardown(void **state)
{
	char p[64];

	shim_server_close(server);
	server = NULL;
	free(got);
	snprintf(p, sizeof(p), "%s/s", dir);
	rmdir(p);
	rmdir(dir);
	return 0;
}

static void poll_until(int want_events, int want_exits)
{
	for (int i = 0; i < 500 && (ngot < want_events || nexit < want_exits); i++)
		assert_true(shim_server_poll(server, 10) >= 0);
}

/* ---- tests ---------------------------------------------------------------- */

static void test_socket_file(void **state)
{
	struct shim_server_opts o = { .path = sock_path };
	struct shim_server *other;
	struct stat st;
	char p[64];

	assert_int_equal(stat(sock_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(p, sizeof(p), "%s/s", dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	/* A live daemon's socket is never taken over. */
	assert_int_equal(shim_server_open(&o, on_event, NULL, &other), -EADDRINUSE);
	assert_int_equal(stat(sock_path, &st), 0);
	/* A stale one (its daemon gone) is. */
	shim_server_close(server);
	{
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

		snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock_path);
		assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
		close(fd);	/* leaves the file, nobody listening */
	}
	assert_int_equal(shim_server_open(&o, on_event, NULL, &server), 0);
	/* A file that is not a socket is left alone. */
	shim_server_close(server);
	close(open(sock_path, O_CREAT | O_WRONLY, 0600));
	assert_int_equal(shim_server_open(&o, on_event, NULL, &other), -EEXIST);
	unlink(sock_path);
	assert_int_equal(shim_server_open(&o, on_event, NULL, &server), 0);
}

static void test_records_exact(void **state)
{
	struct fake f;
	char msg[64];
	__u64 pos = 0;
	int n = 2000;

	fake_open(&f, SHIM_RING_MIN_BYTES);
	/* The process is known as soon as it connected: the root daemon
	 * drops BPF events of its calls from then on. */
	assert_true(shim_server_owns(server, (__u32)getpid(), 0));
	assert_false(shim_server_owns(server, (__u32)getpid() + 1, 0));
	for (int i = 0; i < n; i++) {
		int len = snprintf(msg, sizeof(msg), "record %d", i);

		/* Small ring: wraps many times, with pad records. */
		while (!fake_write(&f, 0xabc, (__u32)gettid(), pos, msg, len))
			assert_true(shim_server_poll(server, 0) >= 0);
		pos += len;
		if (i % 7 == 0)
			assert_true(shim_server_poll(server, 0) >= 0);
	}
	poll_until(n, 0);
	assert_int_equal(ngot, n);
	pos = 0;
	for (int i = 0; i < n; i++) {
		int len = snprintf(msg, sizeof(msg), "record %d", i);
		const struct capture_event *ev = &got[i].ev;

		assert_int_equal(ev->tgid, getpid());	/* SO_PEERCRED, not the claim */
		assert_int_equal(ev->uid, geteuid());
		assert_int_equal(ev->tid, gettid());	/* a thread of that process */
		assert_int_equal(ev->source, CAPTURE_SOURCE_PRELOAD);
		assert_int_equal(ev->stream_pos, pos);
		assert_int_equal(ev->data_len, len);
		assert_memory_equal(got[i].data, msg, len);
		pos += len;
	}
	assert_int_equal(stats[STAT_SHIM_MESSAGES_MALFORMED], 0);
	assert_int_equal(stats[STAT_SHIM_CLIENTS], 1);
	/* A kick is no error. */
	send_msg(f.sock, "k", 1, NULL, 0);
	poll_until(n, 0);
	assert_int_equal(stats[STAT_SHIM_MESSAGES_MALFORMED], 0);
	fake_close(&f);
	poll_until(n, 1);
	assert_int_equal(nexit, 1);
	assert_false(shim_server_owns(server, (__u32)getpid(), 0));
}

/* A daemon that keeps up leaves the whole ring to the next burst, wherever
 * in the ring the writing has got to: a call up to the per-call cap, copied
 * faster than any daemon wakes, fits without the consumer running. */
static void test_burst_after_drain(void **state)
{
	static char chunk[CAPTURE_CHUNK_BYTES];
	struct fake f;
	__u64 pos = 0;

	fake_open(&f, SHIM_RING_DEFAULT_BYTES);
	memset(chunk, 'x', sizeof(chunk));
	for (int round = 0; round < 24; round++) {
		int want;

		/* Small traffic, drained: the burst starts elsewhere each time. */
		for (int i = 0; i < 2 * (round % 12); i++) {
			assert_true(fake_write(&f, 0xabc, (__u32)gettid(), pos, chunk, 16000));
			pos += 16000;
			poll_until(ngot + 1, 0);
		}
		/* Then a 1 MiB prompt with the daemon asleep. */
		want = ngot + CAPTURE_MAX_CHUNKS_DEFAULT;
		for (int i = 0; i < CAPTURE_MAX_CHUNKS_DEFAULT; i++) {
			assert_true(fake_write(&f, 0xabc, (__u32)gettid(), pos, chunk, sizeof(chunk)));
			pos += sizeof(chunk);
		}
		poll_until(want, 0);
		assert_int_equal(ngot, want);
	}
	fake_close(&f);
	poll_until(ngot, 1);
}

static void test_tid_checked(void **state)
{
	struct fake f;

	fake_open(&f, SHIM_RING_MIN_BYTES);
	assert_true(fake_write(&f, 1, 1, 0, "a", 1));		/* pid 1 is no thread of ours */
	assert_true(fake_write(&f, 1, 0x7fffffff, 1, "b", 1));
	assert_true(fake_write(&f, 1, (__u32)gettid(), 2, "c", 1));
	poll_until(3, 0);
	assert_int_equal(got[0].ev.tid, 0);
	assert_int_equal(got[1].ev.tid, 0);
	assert_int_equal(got[2].ev.tid, gettid());
	assert_int_equal(stats[STAT_SHIM_TIDS_UNVERIFIED], 2);
	fake_close(&f);
	poll_until(3, 1);
}

/* What a daemon that went away left unread is the next one's: the shim's
 * hello starts at the ring's consumer position. */
static void test_unread_by_previous(void **state)
{
	struct shim_hello h = { .magic = SHIM_MAGIC, .version = SHIM_VERSION,
				.ring_bytes = SHIM_RING_MIN_BYTES };
	struct fake f;
	void *map;

	f.bytes = SHIM_HDR_BYTES + SHIM_RING_MIN_BYTES;
	f.memfd = make_memfd(f.bytes, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	map = mmap(NULL, f.bytes, PROT_READ | PROT_WRITE, MAP_SHARED, f.memfd, 0);
	assert_true(map != MAP_FAILED);
	shim_ring_init(&f.ring, map, SHIM_RING_MIN_BYTES);
	for (int i = 0; i < 3; i++)	/* written while the old daemon died */
		assert_true(fake_write(&f, 9, 0, i, "u", 1));
	h.start_pos = f.ring.hdr->consumer_pos;
	f.sock = connect_sock();
	send_msg(f.sock, &h, sizeof(h), &f.memfd, 1);
	assert_true(fake_write(&f, 9, 0, 3, "n", 1));
	poll_until(4, 0);
	assert_int_equal(ngot, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(got[i].ev.stream_pos, i);
	/* Reconnecting to the same daemon: the old connection is finished
	 * (and its EXIT sent) first, nothing is delivered twice. */
	{
		int old = f.sock;

		f.sock = connect_sock();
		close(old);
		assert_true(fake_write(&f, 9, 0, 4, "m", 1));
		h.start_pos = f.ring.hdr->consumer_pos - 64;	/* stale view */
		send_msg(f.sock, &h, sizeof(h), &f.memfd, 1);
	}
	poll_until(5, 1);
	assert_int_equal(ngot, 5);
	assert_int_equal(got[4].ev.stream_pos, 4);
	assert_int_equal(nexit, 1);
	assert_true(shim_server_owns(server, (__u32)getpid(), 0));
	fake_close(&f);
	poll_until(5, 2);
}

/* Everything a process wrote before it exited is delivered, then EXIT. */
static void test_last_words(void **state)
{
	struct fake f;

	fake_open(&f, SHIM_RING_MIN_BYTES);
	for (int i = 0; i < 10; i++)
		assert_true(fake_write(&f, 7, 0, i, "x", 1));
	fake_close(&f);
	poll_until(10, 1);
	assert_int_equal(ngot, 10);
	assert_int_equal(nexit, 1);
}

struct producer {
	struct fake *f;
	int id, n;
};

static void *produce(void *arg)
{
	struct producer *p = arg;
	char msg[32];
	__u64 pos = 0;

	for (int i = 0; i < p->n; i++) {
		int len = snprintf(msg, sizeof(msg), "%d:%d", p->id, i);

		while (!fake_write(p->f, 100 + p->id, (__u32)gettid(), pos, msg, len))
			sched_yield();
		pos += len;
	}
	return NULL;
}

/* Threads reserve concurrently while the daemon drains: each thread's
 * records arrive whole and in order. */
static void test_threads(void **state)
{
	enum { THREADS = 4, PER = 3000 };
	struct producer p[THREADS];
	pthread_t th[THREADS];
	int next[THREADS] = {};
	__u64 pos[THREADS] = {};
	struct fake f;

	fake_open(&f, SHIM_RING_MIN_BYTES);
	for (int i = 0; i < THREADS; i++) {
		p[i] = (struct producer){ .f = &f, .id = i, .n = PER };
		assert_int_equal(pthread_create(&th[i], NULL, produce, &p[i]), 0);
	}
	poll_until(THREADS * PER, 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(ngot, THREADS * PER);
	for (int i = 0; i < ngot; i++) {
		const struct capture_event *ev = &got[i].ev;
		int t = (int)(ev->conn - 100);
		char want[32];
		int len;

		assert_true(t >= 0 && t < THREADS);
		len = snprintf(want, sizeof(want), "%d:%d", t, next[t]++);
		assert_int_equal(ev->data_len, len);
		assert_memory_equal(got[i].data, want, len);
		assert_int_equal(ev->stream_pos, pos[t]);
		pos[t] += len;
	}
	assert_int_equal(stats[STAT_SHIM_MESSAGES_MALFORMED], 0);
	fake_close(&f);
	poll_until(ngot, 1);
}

/* The shim's counters: what grew since the daemon last looked, once. */
static void test_shim_counters(void **state)
{
	struct fake f;

	fake_open(&f, SHIM_RING_MIN_BYTES);
	f.ring.hdr->stats[SHIM_STAT_DROP_RING_FULL_EVENTS] = 5;
	f.ring.hdr->stats[SHIM_STAT_CALLS] = 9;
	assert_true(shim_server_poll(server, 0) >= 0);
	assert_true(shim_server_poll(server, 0) >= 0);
	assert_int_equal(stats[STAT_SHIM_DROP_RING_FULL_EVENTS], 5);
	assert_int_equal(stats[STAT_SHIM_CALLS], 9);
	f.ring.hdr->stats[SHIM_STAT_DROP_RING_FULL_EVENTS] = 7;
	f.ring.hdr->stats[SHIM_STAT_CALLS] = 1;	/* went back: ignored */
	f.ring.hdr->stats[SHIM_STAT_DROP_NO_DAEMON_BYTES] = ~0ull;	/* absurd: ignored */
	assert_true(shim_server_poll(server, 0) >= 0);
	assert_int_equal(stats[STAT_SHIM_DROP_RING_FULL_EVENTS], 7);
	assert_int_equal(stats[STAT_SHIM_CALLS], 9);
	assert_int_equal(stats[STAT_SHIM_DROP_NO_DAEMON_BYTES], 0);
	fake_close(&f);
	poll_until(0, 1);
}

/* Bad hellos: each refused and counted, descriptors never kept. */
static void test_bad_hellos(void **state)
{
	struct shim_hello good = { .magic = SHIM_MAGIC, .version = SHIM_VERSION,
				   .ring_bytes = SHIM_RING_MIN_BYTES };
	size_t bytes = SHIM_HDR_BYTES + SHIM_RING_MIN_BYTES;
	int fds_before, pipefd[2], rejected = 0;

	assert_true(shim_server_poll(server, 0) >= 0);
	fds_before = count_fds();
	assert_int_equal(pipe(pipefd), 0);
	struct {
		const char *name;
		struct shim_hello h;
		int fd;		/* -1: none */
		int nfds;
		size_t len;
	} cases[] = {
		{ "garbage", { 0x41414141, 1, 2, 3, 4 }, -1, 0, sizeof(good) },
		{ "no memfd", good, -1, 0, sizeof(good) },
		{ "short", good, -2, 1, 5 },
		{ "long", good, -2, 1, sizeof(good) + 8 },
		{ "pipe", good, pipefd[0], 1, sizeof(good) },
		{ "unsealed", good, make_memfd(bytes, 0), 1, sizeof(good) },
		{ "too small", good, make_memfd(bytes - 4096, F_SEAL_SHRINK), 1, sizeof(good) },
		{ "write-sealed", good, make_memfd(bytes, F_SEAL_SHRINK | F_SEAL_WRITE), 1,
		  sizeof(good) },
		{ "two fds", good, -3, 2, sizeof(good) },
		{ "bad magic", { .magic = 1, .version = SHIM_VERSION,
				 .ring_bytes = SHIM_RING_MIN_BYTES }, -2, 1, sizeof(good) },
		{ "not pow2", { .magic = SHIM_MAGIC, .version = SHIM_VERSION,
				.ring_bytes = SHIM_RING_MIN_BYTES + 16 }, -2, 1, sizeof(good) },
		{ "huge ring", { .magic = SHIM_MAGIC, .version = SHIM_VERSION,
				 .ring_bytes = 1u << 31 }, -2, 1, sizeof(good) },
		{ "start past producer", { .magic = SHIM_MAGIC, .version = SHIM_VERSION,
					   .ring_bytes = SHIM_RING_MIN_BYTES,
					   .start_pos = 1ull << 40 }, -2, 1, sizeof(good) },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int sealed = make_memfd(bytes, F_SEAL_SHRINK);
		int fds[2] = { cases[i].fd, sealed }, sock = connect_sock();
		char buf[64] = {};

		if (cases[i].fd == -2)
			fds[0] = sealed;
		else if (cases[i].fd == -3)
			fds[0] = dup(sealed);
		memcpy(buf, &cases[i].h, sizeof(cases[i].h));
		send_msg(sock, buf, cases[i].len, fds, cases[i].nfds);
		assert_true(shim_server_poll(server, 0) >= 0);
		print_message("%s\n", cases[i].name);
		assert_int_equal(stats[STAT_SHIM_CLIENTS_REJECTED], ++rejected);
		assert_false(shim_server_owns(server, (__u32)getpid(), 0));
		close(sock);
		close(sealed);
		if (cases[i].fd >= 0)
			close(cases[i].fd);
		if (cases[i].fd == -3)
			close(fds[0]);
	}
	close(pipefd[1]);
	assert_true(shim_server_poll(server, 0) >= 0);
	assert_int_equal(stats[STAT_SHIM_CLIENTS], 0);
	assert_true(stats[STAT_SHIM_MESSAGES_MALFORMED] >= (uint64_t)rejected);
	assert_int_equal(shim_server_clients(server), 0);
	assert_int_equal(count_fds(), fds_before);
	assert_int_equal(ngot + nexit, 0);
}

/* After a good hello: junk on the socket is counted; a client that keeps
 * at it is dropped; descriptors sent along are closed. */
static void test_junk_after_hello(void **state)
{
	struct fake f;
	int fds_before, junk_fd;

	fake_open(&f, SHIM_RING_MIN_BYTES);
	assert_true(shim_server_poll(server, 0) >= 0);
	fds_before = count_fds();
	junk_fd = make_memfd(4096, 0);
	send_msg(f.sock, "hello there", 11, &junk_fd, 1);
	close(junk_fd);
	assert_true(shim_server_poll(server, 0) >= 0);
	assert_int_equal(stats[STAT_SHIM_MESSAGES_MALFORMED], 1);
	assert_int_equal(count_fds(), fds_before);
	assert_int_equal(shim_server_clients(server), 1);
	for (int i = 0; i < 20; i++)
		send(f.sock, "zz", 2, MSG_NOSIGNAL);
	poll_until(0, 1);
	assert_int_equal(stats[STAT_SHIM_CLIENTS_DROPPED], 1);
	assert_int_equal(shim_server_clients(server), 0);
	fake_close(&f);
}

/* A ring the shim scribbles on: bad records counted and skipped, broken
 * framing drops the client; nothing read outside the mapping (ASan). */
static void test_hostile_ring(void **state)
{
	struct fake f;
	__u64 rpos, used;
	struct capture_event *ev;

	fake_open(&f, SHIM_RING_MIN_BYTES);
	/* Well framed, bad contents: counted, skipped, the next one taken. */
	for (int k = 0; k < 5; k++) {
		ev = shim_ring_reserve(&f.ring, sizeof(*ev) + 4, &rpos, &used);
		memset(ev, 0, sizeof(*ev));
		ev->kind = CAPTURE_DATA;
		ev->data_len = 4;
		ev->call_len = 4;
		memcpy(ev->data, "evil", 4);
		switch (k) {
		case 0: ev->kind = CAPTURE_EXIT; break;		/* not the shim's to say */
		case 1: ev->data_len = 3000; break;		/* not its record's size */
		case 2: ev->dir = 7; break;
		case 3: ev->offset = 2; break;			/* past call_len */
		case 4: ev->kind = 99; break;
		}
		shim_ring_commit(ev, rpos);
	}
	assert_true(fake_write(&f, 1, 0, 0, "fine", 4));
	poll_until(1, 0);
	assert_int_equal(ngot, 1);
	assert_memory_equal(got[0].data, "fine", 4);
	assert_int_equal(stats[STAT_SHIM_MESSAGES_MALFORMED], 5);
	/* Broken framing: a length past the ring. */
	ev = shim_ring_reserve(&f.ring, sizeof(*ev) + 4, &rpos, &used);
	((struct shim_rec *)ev - 1)->len = 0x7fffffff;
	shim_ring_commit(ev, rpos);
	poll_until(1, 1);
	assert_int_equal(stats[STAT_SHIM_CLIENTS_DROPPED], 1);
	assert_int_equal(shim_server_clients(server), 0);
	fake_close(&f);

	/* A producer position from nowhere. */
	fake_open(&f, SHIM_RING_MIN_BYTES);
	assert_true(shim_server_poll(server, 0) >= 0);
	f.ring.hdr->producer_pos = 1ull << 50;
	poll_until(1, 2);
	assert_int_equal(stats[STAT_SHIM_CLIENTS_DROPPED], 2);
	fake_close(&f);

	/* Uncommitted space is never read as a record. */
	fake_open(&f, SHIM_RING_MIN_BYTES);
	ev = shim_ring_reserve(&f.ring, sizeof(*ev) + 4, &rpos, &used);
	memset(ev, 0, sizeof(*ev) + 4);
	for (int i = 0; i < 3; i++)
		assert_true(shim_server_poll(server, 0) >= 0);
	assert_int_equal(ngot, 1);
	assert_int_equal(shim_server_clients(server), 1);
	fake_close(&f);
	poll_until(1, 3);
}

/* Connections that never say hello are let go; one user cannot hold every
 * slot of the system daemon. */
static void test_slots(void **state)
{
	struct shim_server_opts o = { .path = sock_path, .max_clients = 8,
				      .hello_timeout_ms = 50 };
	int socks[8];
	struct fake f;

	shim_server_close(server);
	assert_int_equal(shim_server_open(&o, on_event, NULL, &server), 0);
	for (int i = 0; i < 8; i++)
		socks[i] = connect_sock();
	assert_true(shim_server_poll(server, 0) >= 0);
	assert_int_equal(shim_server_clients(server), 8);
	usleep(80 * 1000);
	assert_true(shim_server_poll(server, 0) >= 0);
	assert_int_equal(shim_server_clients(server), 0);
	assert_int_equal(stats[STAT_SHIM_CLIENTS_REJECTED], 8);
	for (int i = 0; i < 8; i++)
		close(socks[i]);
	/* The slots are free again for a real shim. */
	fake_open(&f, SHIM_RING_MIN_BYTES);
	assert_true(fake_write(&f, 1, 0, 0, "ok", 2));
	poll_until(1, 0);
	assert_int_equal(ngot, 1);
	fake_close(&f);
	poll_until(1, 1);
}

static void test_user_slots(void **state)
{
	struct shim_server_opts o = { .path = sock_path, .max_clients = 8, .any_user = true };
	pid_t pid;
	int status;

	if (geteuid() != 0) {
		skip();
		return;
	}
	shim_server_close(server);
	assert_int_equal(shim_server_open(&o, on_event, NULL, &server), 0);
	chmod(dir, 0755);
	{
		char p[64];

		snprintf(p, sizeof(p), "%s/s", dir);
		chmod(p, 0755);
	}
	pid = fork();
	if (pid == 0) {
		struct sockaddr_un addr = { .sun_family = AF_UNIX };
		int n = 0;

		if (setgid(65534) || setuid(65534))
			_exit(100);
		snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path);
		for (int i = 0; i < 8; i++) {
			int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

			n += connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
		}
		pause();
		_exit(n);
	}
	for (int i = 0; i < 100 && shim_server_clients(server) + stats[STAT_SHIM_CLIENTS_REJECTED] < 8;
	     i++)
		assert_true(shim_server_poll(server, 10) >= 0);
	/* A quarter of the slots for uid 65534, the rest refused. */
	assert_int_equal(shim_server_clients(server), 2);
	assert_int_equal(stats[STAT_SHIM_CLIENTS_REJECTED], 6);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

/* Another user's process is refused by a user's daemon. */
static void test_other_user_refused(void **state)
{
	pid_t pid;
	int status;

	if (geteuid() != 0) {
		skip();
		return;
	}
	/* The socket is 0600 root: make it reachable, the daemon still
	 * refuses by SO_PEERCRED. */
	chmod(sock_path, 0666);
	chmod(dir, 0755);
	{
		char p[64];

		snprintf(p, sizeof(p), "%s/s", dir);
		chmod(p, 0755);
	}
	pid = fork();
	if (pid == 0) {
		struct sockaddr_un addr = { .sun_family = AF_UNIX };
		int fd;

		if (setgid(65534) || setuid(65534))
			_exit(2);
		fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path);
		_exit(connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0 ? 0 : 3);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	for (int i = 0; i < 5; i++)
		assert_true(shim_server_poll(server, 0) >= 0);
	assert_int_equal(stats[STAT_SHIM_CLIENTS_REJECTED], 1);
	assert_int_equal(shim_server_clients(server), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_socket_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_records_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_burst_after_drain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tid_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_words, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unread_by_previous, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shim_counters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_hellos, setup, teardown),
		cmocka_unit_test_setup_teardown(test_junk_after_hello, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_user_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_slots, setup, teardown),
	};

	log_verbosity = LOG_ERROR - 1;	/* the refusals are expected */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
