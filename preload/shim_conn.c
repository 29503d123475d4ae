/* The shim's side of the channel to llmobsd (include/shim_ring.h): one ring
 * per process in a sealed memfd, handed to the daemon over a non-blocking
 * SOCK_SEQPACKET socket.
 *
 * Nothing here may block or alter the application: every socket call is
 * non-blocking and MSG_NOSIGNAL; a missing, refusing, full or dead daemon
 * only means "drop and count"; reconnecting is tried at most once a second.
 * The ring is created once and never unmapped while the process runs
 * (other threads may be writing into it); a new daemon gets the same memfd.
 * The app owns its descriptors: ours are checked by inode before any use,
 * so a process that closed them (closefrom) and reused the numbers never
 * sees a byte from us. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "shim.h"
#include "shim_path.h"

__u64 shim_stats[SHIM_STAT__MAX] __attribute__((aligned(64)));
struct shim_hot shim_hot = {
	.max_call_bytes = CAPTURE_MAX_CHUNKS_DEFAULT * CAPTURE_CHUNK_BYTES,
};

struct owned_fd {
	int fd;
	dev_t dev;
	ino_t ino;
};

static struct {
	pthread_mutex_t lock;		/* connecting, kicking, closing */
	int state;			/* enum shim_state, atomic */
	__u64 next_attempt_ns;		/* atomic */
	__u64 next_tick_ns;		/* atomic */
	__u32 ring_bytes;
	bool connected_once;
	struct owned_fd sock, memfd;
	struct shim_ring ring;		/* valid once map is set */
	void *map;
	size_t map_bytes;
} conn = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.sock = { .fd = -1 },
	.memfd = { .fd = -1 },
};

void shim_log(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n, saved = errno;

	if (!shim_debug)
		return;
	n = snprintf(buf, sizeof(buf), "llmobs shim[%d]: ", (int)getpid());
	va_start(ap, fmt);
	vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	n = strlen(buf);
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, n) < 0)
		errno = saved;
	errno = saved;
}

void shim_conn_init(void)
{
	const char *kb = getenv("LLMOBS_RING_KB");
	unsigned long v = kb ? strtoul(kb, NULL, 10) * 1024 : 0;

	conn.ring_bytes = SHIM_RING_DEFAULT_BYTES;
	if (v >= SHIM_RING_MIN_BYTES && v <= SHIM_RING_MAX_BYTES && !(v & (v - 1)))
		conn.ring_bytes = (__u32)v;
	else if (kb)
		shim_log("LLMOBS_RING_KB=%s ignored: a power of two from %u to %u",
			 kb, SHIM_RING_MIN_BYTES / 1024, SHIM_RING_MAX_BYTES / 1024);
}

static void owned_set(struct owned_fd *o, int fd)
{
	struct stat st;

	o->fd = fd;
	if (fstat(fd, &st) == 0) {
		o->dev = st.st_dev;
		o->ino = st.st_ino;
	}
}

/* Still the descriptor we opened, not one the app opened at its number. */
static bool owned_check(const struct owned_fd *o)
{
	struct stat st;

	return o->fd >= 0 && fstat(o->fd, &st) == 0 && st.st_dev == o->dev &&
	       st.st_ino == o->ino;
}

static void owned_close(struct owned_fd *o)
{
	if (owned_check(o))
		close(o->fd);
	o->fd = -1;
}

/* Once per process: the memfd, sealed so the daemon's mapping can never
 * lose its pages (a shrink would SIGBUS it), and our mapping of it. */
static int ring_create(void)
{
	size_t bytes;
	void *map;
	int fd;

	/* A library constructor that runs before ours may already call SSL. */
	if (!conn.ring_bytes)
		conn.ring_bytes = SHIM_RING_DEFAULT_BYTES;
	bytes = SHIM_HDR_BYTES + (size_t)conn.ring_bytes;

	fd = memfd_create("llmobs-shim", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, bytes) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		goto fail;
	owned_set(&conn.memfd, fd);
	conn.map = map;
	conn.map_bytes = bytes;
	shim_ring_init(&conn.ring, map, conn.ring_bytes);
	return 0;
fail:
	close(fd);
	return -errno;
}

static void publish_stats(void)
{
	if (!conn.map)
		return;
	for (int i = 0; i < SHIM_STAT__MAX; i++)
		__atomic_store_n(&conn.ring.hdr->stats[i],
				 __atomic_load_n(&shim_stats[i], __ATOMIC_RELAXED),
				 __ATOMIC_RELAXED);
}

/* Connects to one socket path and hands over the ring. The daemon must be
 * our own user or root: anything else could be a squatter on the path
 * collecting plaintext. Returns the socket or -errno. */
static int connect_one(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct shim_hello hello = {
		.magic = SHIM_MAGIC,
		.version = SHIM_VERSION,
		.ring_bytes = conn.ring_bytes,
	};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl = {};
	struct iovec iov = { .iov_base = &hello, .iov_len = sizeof(hello) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd, err;

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		goto fail;
	if (cred.uid != geteuid() && cred.uid != 0) {
		shim_log("%s belongs to uid %u, not to us or root: not used", path,
			 (unsigned int)cred.uid);
		errno = EPERM;
		goto fail;
	}
	/* What a daemon that went away left unread (written before we saw
	 * it go) is the new one's to read; a kick it never answered must not
	 * silence ours. */
	hello.start_pos = __atomic_load_n(&conn.ring.hdr->consumer_pos, __ATOMIC_ACQUIRE);
	__atomic_store_n(&conn.ring.hdr->kick_pending, 0, __ATOMIC_RELEASE);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &conn.memfd.fd, sizeof(int));
	if (sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) != sizeof(hello))
		goto fail;
	return fd;
fail:
	err = errno ? errno : EIO;
	close(fd);
	return -err;
}

/* Called with conn.lock held. */
static void try_connect(__u64 now)
{
	char path[SHIM_PATH_MAX];
	int fd = -ENOENT, err;

	if (!conn.map) {
		err = ring_create();
		if (err) {
			shim_log("cannot create the ring (%s): capture off", strerror(-err));
			__atomic_store_n(&conn.state, SHIM_OFF, __ATOMIC_RELEASE);
			return;
		}
	}
	if (!owned_check(&conn.memfd)) {
		/* The app closed it: no way to hand the ring to a daemon again. */
		shim_log("the ring's memfd was closed by the application: capture off");
		__atomic_store_n(&conn.state, SHIM_OFF, __ATOMIC_RELEASE);
		return;
	}
	for (int n = 0; n < 2 && fd < 0; n++) {
		if (shim_socket_path(n, geteuid(), path, sizeof(path)))
			break;
		fd = connect_one(path);
		if (fd < 0)
			shim_log("cannot connect to %s: %s", path, strerror(-fd));
		else
			shim_log("connected to %s", path);
	}
	if (fd < 0) {
		/* Set after the attempt: threads that came meanwhile waited
		 * on the lock for its outcome instead of dropping. */
		__atomic_store_n(&conn.next_attempt_ns, shim_now_ns() + SHIM_RECONNECT_NS,
				 __ATOMIC_RELAXED);
		return;
	}
	owned_set(&conn.sock, fd);
	if (conn.connected_once)
		shim_count(SHIM_STAT_RECONNECTS, 1);
	conn.connected_once = true;
	publish_stats();
	__atomic_store_n(&conn.state, SHIM_CONNECTED, __ATOMIC_RELEASE);
	__atomic_store_n(&shim_hot.live_ring, &conn.ring, __ATOMIC_RELEASE);
}

/* conn.lock, with cancellation off while it is held: connect(), close() and
 * send() in there are cancellation points, and a thread cancelled holding
 * the lock would leave every later attempt, and fork(), waiting for it. */
static void conn_lock(int *cancel_state)
{
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, cancel_state);
	pthread_mutex_lock(&conn.lock);
}

static bool conn_trylock(int *cancel_state)
{
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, cancel_state);
	if (!pthread_mutex_trylock(&conn.lock))
		return true;
	pthread_setcancelstate(*cancel_state, NULL);
	return false;
}

static void conn_unlock(int cancel_state)
{
	pthread_mutex_unlock(&conn.lock);
	pthread_setcancelstate(cancel_state, NULL);
}

void shim_conn_retry(void)
{
	int state = __atomic_load_n(&conn.state, __ATOMIC_ACQUIRE), cs;
	__u64 now;

	if (state != SHIM_DISCONNECTED)
		return;
	now = shim_now_ns();
	if (now < __atomic_load_n(&conn.next_attempt_ns, __ATOMIC_RELAXED))
		return;
	/* Other threads wait for this one attempt (non-blocking syscalls
	 * only) rather than drop the first calls of a process. */
	conn_lock(&cs);
	state = __atomic_load_n(&conn.state, __ATOMIC_ACQUIRE);
	if (state == SHIM_DISCONNECTED &&
	    now >= __atomic_load_n(&conn.next_attempt_ns, __ATOMIC_RELAXED))
		try_connect(now);
	conn_unlock(cs);
}

/* Called with conn.lock held. */
static void disconnect(const char *why)
{
	shim_log("daemon gone (%s): dropping until it is back", why);
	__atomic_store_n(&shim_hot.live_ring, NULL, __ATOMIC_RELEASE);
	__atomic_store_n(&conn.state, SHIM_DISCONNECTED, __ATOMIC_RELEASE);
	owned_close(&conn.sock);
	__atomic_store_n(&conn.next_attempt_ns, shim_now_ns() + SHIM_RECONNECT_NS,
			 __ATOMIC_RELAXED);
}

void shim_conn_kick(void)
{
	char c = 'k';
	int cs;

	/* Read first: a full ring asks on every call until the daemon drains. */
	if (__atomic_load_n(&conn.ring.hdr->kick_pending, __ATOMIC_RELAXED) ||
	    __atomic_exchange_n(&conn.ring.hdr->kick_pending, 1, __ATOMIC_ACQ_REL))
		return;
	/* Whoever holds the lock is kicking, checking or connecting already. */
	if (!conn_trylock(&cs))
		return;
	if (__atomic_load_n(&conn.state, __ATOMIC_ACQUIRE) == SHIM_CONNECTED) {
		publish_stats();
		if (!owned_check(&conn.sock))
			disconnect("socket closed by the application");
		else if (send(conn.sock.fd, &c, 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 &&
			 errno != EAGAIN && errno != EWOULDBLOCK)
			disconnect(strerror(errno));
	}
	conn_unlock(cs);
}

void shim_conn_tick(__u64 now)
{
	__u64 due = __atomic_load_n(&conn.next_tick_ns, __ATOMIC_RELAXED);
	char c;
	ssize_t n;
	int cs;

	if (now < due || !__atomic_compare_exchange_n(&conn.next_tick_ns, &due,
						      now + SHIM_TICK_NS, 0,
						      __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return;
	if (!conn_trylock(&cs))
		return;
	publish_stats();
	if (__atomic_load_n(&conn.state, __ATOMIC_ACQUIRE) == SHIM_CONNECTED) {
		/* The daemon never writes: EOF or an error means it is gone. */
		if (!owned_check(&conn.sock))
			disconnect("socket closed by the application");
		else if ((n = recv(conn.sock.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT)) == 0)
			disconnect("end of file");
		else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			disconnect(strerror(errno));
	}
	conn_unlock(cs);
}

void shim_conn_fork_prepare(void)
{
	pthread_mutex_lock(&conn.lock);
}

void shim_conn_fork_parent(void)
{
	pthread_mutex_unlock(&conn.lock);
}

/* The child shares the parent's ring pages and socket: it must write to
 * neither. It gets its own on its first call, under its own pid. */
void shim_conn_fork_child(void)
{
	pthread_mutex_init(&conn.lock, NULL);
	shim_hot.live_ring = NULL;
	if (conn.map)
		munmap(conn.map, conn.map_bytes);
	conn.map = NULL;
	memset(&conn.ring, 0, sizeof(conn.ring));
	owned_close(&conn.sock);
	owned_close(&conn.memfd);
	conn.connected_once = false;
	__atomic_store_n(&conn.next_attempt_ns, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&conn.next_tick_ns, 0, __ATOMIC_RELAXED);
	if (conn.state != SHIM_OFF)
		conn.state = SHIM_DISCONNECTED;
	memset(shim_stats, 0, sizeof(shim_stats));
}

void shim_conn_exit(void)
{
	int cs;

	if (!conn_trylock(&cs))
		return;
	publish_stats();
	conn_unlock(cs);
}
