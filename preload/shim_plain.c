// SPDX-License-Identifier: GPL-2.0
/* Plain HTTP to local model servers (Ollama, vLLM, LM Studio, llama.cpp),
 * when asked: LLMOBS_PLAIN_PORTS=11434,8000 captures what this process
 * sends and receives with send/recv/sendto/recvfrom/write/read on the TCP
 * sockets it connected to one of those ports on loopback, as it captures
 * TLS plaintext (the daemon's syscall tracepoints do the same with root).
 *
 * Without the variable each interposer adds one load and one branch to the
 * real call. With it, connect() decides once per socket and close() ends
 * the connection; a socket is known by its fd number and a generation, so
 * a number reused after close() is a new connection. Sockets past
 * PLAIN_MAX_FDS, or handed over by dup2()/fork without a connect() of
 * ours, are not seen; a number closed behind our back (fclose,
 * close_range, a raw syscall) is let go when socket(), accept() or
 * connect() hand it out again. Not async-signal-safe on a watched socket:
 * a signal handler writing to one may find the shim in the middle of that
 * thread's capture. */
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "shim.h"

#define SHIM_API	__attribute__((visibility("default")))
#define PLAIN_MAX_FDS	16384
#define PLAIN_MAX_PORTS	16
/* Connection ids never equal an SSL* (user addresses are below 2^47). */
#define PLAIN_KEY_TAG	(1ull << 63)

enum plain_real { P_CONNECT, P_CLOSE, P_SEND, P_RECV, P_SENDTO, P_RECVFROM, P_WRITE, P_READ,
		  P_SOCKET, P_ACCEPT, P_ACCEPT4, P_DUP2, P_DUP3, P__MAX };

static const char *const plain_names[P__MAX] = {
	"connect", "close", "send", "recv", "sendto", "recvfrom", "write", "read",
	"socket", "accept", "accept4", "dup2", "dup3",
};

static void *plain_fns[P__MAX];
static bool plain_on;
static const struct shim_capture_ops *plain_ops;	/* shim.c's capture, set before plain_on */
static __u16 plain_ports[PLAIN_MAX_PORTS];
static int plain_nports;
static __u32 plain_gen[PLAIN_MAX_FDS];	/* 0: not watched; else its generation */
static __u32 plain_next_gen;

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);
typedef int (*close_fn)(int);
typedef ssize_t (*send_fn)(int, const void *, size_t, int);
typedef ssize_t (*recv_fn)(int, void *, size_t, int);
typedef ssize_t (*sendto_fn)(int, const void *, size_t, int, const struct sockaddr *,
			     socklen_t);
typedef ssize_t (*recvfrom_fn)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*read_fn)(int, void *, size_t);
typedef int (*socket_fn)(int, int, int);
typedef int (*accept_fn)(int, struct sockaddr *, socklen_t *);
typedef int (*accept4_fn)(int, struct sockaddr *, socklen_t *, int);
typedef int (*dup2_fn)(int, int);
typedef int (*dup3_fn)(int, int, int);

static void *plain_real(enum plain_real f)
{
	void *p = __atomic_load_n(&plain_fns[f], __ATOMIC_ACQUIRE);

	if (!p) {
		p = dlsym(RTLD_NEXT, plain_names[f]);
		__atomic_store_n(&plain_fns[f], p, __ATOMIC_RELEASE);
	}
	return p;
}

static bool port_watched(__u16 port)
{
	for (int i = 0; i < plain_nports; i++)
		if (plain_ports[i] == port)
			return true;
	return false;
}

/* A configured port on 127.0.0.0/8, ::1 or ::ffff:127.x.y.z. */
static bool addr_watched(const struct sockaddr *a, socklen_t len)
{
	if (!a)
		return false;
	if (a->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)a;

		return (ntohl(in->sin_addr.s_addr) >> 24) == 127 && port_watched(ntohs(in->sin_port));
	}
	if (a->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)a;
		const struct in6_addr *ip = &in6->sin6_addr;

		return (IN6_IS_ADDR_LOOPBACK(ip) ||
			(IN6_IS_ADDR_V4MAPPED(ip) && ip->s6_addr[12] == 127)) &&
		       port_watched(ntohs(in6->sin6_port));
	}
	return false;
}

static bool is_stream_socket(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM;
}

static void *plain_key(int fd, __u32 gen)
{
	return (void *)(uintptr_t)(PLAIN_KEY_TAG | ((__u64)gen << 24) | (__u64)fd);
}

/* The connection id of fd when it is watched, else NULL: the one check
 * every read and write of a process with LLMOBS_PLAIN_PORTS pays. */
static inline void *plain_watched(int fd)
{
	__u32 gen;

	if (fd < 0 || fd >= PLAIN_MAX_FDS)
		return NULL;
	gen = __atomic_load_n(&plain_gen[fd], __ATOMIC_ACQUIRE);
	return gen ? plain_key(fd, gen) : NULL;
}

static void plain_forget(int fd)
{
	__u32 gen;

	if (fd < 0 || fd >= PLAIN_MAX_FDS)
		return;
	gen = __atomic_exchange_n(&plain_gen[fd], 0, __ATOMIC_ACQ_REL);
	if (gen)
		plain_ops->close(plain_key(fd, gen));
}

void shim_plain_init(const struct shim_capture_ops *ops)
{
	const char *env = getenv("LLMOBS_PLAIN_PORTS"), *p = env;
	char *end;

	plain_ops = ops;
	for (int f = 0; f < P__MAX; f++)
		plain_real(f);
	while (p && *p && plain_nports < PLAIN_MAX_PORTS) {
		unsigned long v = strtoul(p, &end, 10);

		if (end == p || v == 0 || v > 65535 || (*end && *end != ',')) {
			shim_log("LLMOBS_PLAIN_PORTS=%s ignored: ports, comma-separated", env);
			plain_nports = 0;
			return;
		}
		plain_ports[plain_nports++] = (__u16)v;
		p = *end ? end + 1 : end;
	}
	plain_on = plain_nports > 0;
}

/* Reads that consume no stream bytes (PEEK), or whose return value is not
 * what buf holds (TRUNC: discarded, buf may be NULL; ERRQUEUE). */
#define RECV_NOT_DATA	(MSG_PEEK | MSG_TRUNC | MSG_ERRQUEUE)

/* The calls that move bytes: the real one, then the capture of what it
 * moved on a watched socket, errno as the real call left it. Any other
 * socket or file goes straight to the real call. */
#define PLAIN_IO(dir, call, ret_ok)						\
	do {									\
		void *key = plain_on ? plain_watched(fd) : NULL;		\
		ssize_t ret;							\
		int saved;							\
		bool take;							\
										\
		if (!key)							\
			return call;						\
		saved = errno;							\
		take = plain_ops->prepare();					\
		errno = saved;	/* a connection attempt sets it */		\
		ret = call;							\
		if (take && (ret_ok) && ret > 0) {				\
			saved = errno;						\
			plain_ops->capture(key, dir, buf, (size_t)ret);		\
			errno = saved;						\
		}								\
		return ret;							\
	} while (0)

SHIM_API ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	send_fn real = plain_real(P_SEND);

	if (!real)
		return errno = ENOSYS, -1;
	PLAIN_IO(CAPTURE_DIR_WRITE, real(fd, buf, n, flags), true);
}

SHIM_API ssize_t sendto(int fd, const void *buf, size_t n, int flags,
			const struct sockaddr *to, socklen_t tolen)
{
	sendto_fn real = plain_real(P_SENDTO);

	if (!real)
		return errno = ENOSYS, -1;
	PLAIN_IO(CAPTURE_DIR_WRITE, real(fd, buf, n, flags, to, tolen), true);
}

SHIM_API ssize_t write(int fd, const void *buf, size_t n)
{
	write_fn real = plain_real(P_WRITE);

	if (!real)
		return errno = ENOSYS, -1;
	PLAIN_IO(CAPTURE_DIR_WRITE, real(fd, buf, n), true);
}

SHIM_API ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	recv_fn real = plain_real(P_RECV);

	if (!real)
		return errno = ENOSYS, -1;
	PLAIN_IO(CAPTURE_DIR_READ, real(fd, buf, n, flags), !(flags & RECV_NOT_DATA));
}

SHIM_API ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *from,
			  socklen_t *fromlen)
{
	recvfrom_fn real = plain_real(P_RECVFROM);

	if (!real)
		return errno = ENOSYS, -1;
	PLAIN_IO(CAPTURE_DIR_READ, real(fd, buf, n, flags, from, fromlen),
		 !(flags & RECV_NOT_DATA));
}

SHIM_API ssize_t read(int fd, void *buf, size_t n)
{
	read_fn real = plain_real(P_READ);

	if (!real)
		return errno = ENOSYS, -1;
	PLAIN_IO(CAPTURE_DIR_READ, real(fd, buf, n), true);
}

SHIM_API int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	connect_fn real = plain_real(P_CONNECT);
	int ret, saved;

	if (!real)
		return errno = ENOSYS, -1;
	ret = real(fd, addr, len);
	if (!plain_on || fd < 0 || fd >= PLAIN_MAX_FDS)
		return ret;
	saved = errno;
	/* Whatever this number was before (closed in a way we did not see, or
	 * the same socket connected again), it is this connection now. */
	plain_forget(fd);
	/* A connect under way (non-blocking, or interrupted: it goes on): its
	 * first bytes are ours. */
	if ((ret == 0 || saved == EINPROGRESS || saved == EINTR) && addr_watched(addr, len) &&
	    is_stream_socket(fd)) {
		__u32 gen = __atomic_add_fetch(&plain_next_gen, 1, __ATOMIC_RELAXED) & 0xffffff;

		__atomic_store_n(&plain_gen[fd], gen ? gen : 1, __ATOMIC_RELEASE);
	}
	errno = saved;
	return ret;
}

/* A new descriptor at a number we watch means the socket there was closed
 * without our close() (fclose, close_range, a raw syscall): that
 * connection is over. */
static int plain_new_fd(int fd)
{
	int saved = errno;

	if (plain_on && fd >= 0)
		plain_forget(fd);
	errno = saved;
	return fd;
}

SHIM_API int socket(int domain, int type, int protocol)
{
	socket_fn real = plain_real(P_SOCKET);

	if (!real)
		return errno = ENOSYS, -1;
	return plain_new_fd(real(domain, type, protocol));
}

SHIM_API int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	accept_fn real = plain_real(P_ACCEPT);

	if (!real)
		return errno = ENOSYS, -1;
	return plain_new_fd(real(fd, addr, len));
}

SHIM_API int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	accept4_fn real = plain_real(P_ACCEPT4);

	if (!real)
		return errno = ENOSYS, -1;
	return plain_new_fd(real(fd, addr, len, flags));
}

/* dup2/dup3 close what was at newfd: its connection ends, before the call
 * as in close(). */
SHIM_API int dup2(int oldfd, int newfd)
{
	dup2_fn real = plain_real(P_DUP2);

	if (!real)
		return errno = ENOSYS, -1;
	if (oldfd != newfd)
		plain_new_fd(newfd);
	return real(oldfd, newfd);
}

SHIM_API int dup3(int oldfd, int newfd, int flags)
{
	dup3_fn real = plain_real(P_DUP3);

	if (!real)
		return errno = ENOSYS, -1;
	if (oldfd != newfd)
		plain_new_fd(newfd);
	return real(oldfd, newfd, flags);
}

/* The connection ends before the real close: right after it, another
 * thread may get the same number for a new socket. */
SHIM_API int close(int fd)
{
	close_fn real = plain_real(P_CLOSE);
	int saved = errno;

	if (plain_on)
		plain_forget(fd);
	errno = saved;
	if (!real)
		return errno = ENOSYS, -1;
	return real(fd);
}
