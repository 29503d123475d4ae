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
 * ours, are not seen. */
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
		  P__MAX };

static const char *const plain_names[P__MAX] = {
	"connect", "close", "send", "recv", "sendto", "recvfrom", "write", "read",
};

static void *plain_fns[P__MAX];
static bool plain_on;
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
		shim_capture_close(plain_key(fd, gen));
}

void shim_plain_init(void)
{
	const char *env = getenv("LLMOBS_PLAIN_PORTS"), *p = env;
	char *end;

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

/* The calls that move bytes: the real one, then the capture of what it
 * moved on a watched socket, errno as the real call left it. */
#define PLAIN_IO(dir, call, ret_ok)						\
	do {									\
		void *key = plain_on ? plain_watched(fd) : NULL;		\
		ssize_t ret;							\
		int saved = errno;						\
		bool take = key && shim_capture_prepare();			\
										\
		errno = saved;	/* a connection attempt sets it */		\
		ret = call;							\
		if (take && (ret_ok) && ret > 0) {				\
			saved = errno;						\
			shim_capture(key, dir, buf, (size_t)ret);		\
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
	PLAIN_IO(CAPTURE_DIR_READ, real(fd, buf, n, flags), !(flags & MSG_PEEK));
}

SHIM_API ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *from,
			  socklen_t *fromlen)
{
	recvfrom_fn real = plain_real(P_RECVFROM);

	if (!real)
		return errno = ENOSYS, -1;
	PLAIN_IO(CAPTURE_DIR_READ, real(fd, buf, n, flags, from, fromlen), !(flags & MSG_PEEK));
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
	/* A non-blocking connect is under way: its first bytes are ours. */
	if ((ret == 0 || saved == EINPROGRESS) && addr_watched(addr, len) && is_stream_socket(fd)) {
		__u32 gen = __atomic_add_fetch(&plain_next_gen, 1, __ATOMIC_RELAXED) & 0xffffff;

		plain_forget(fd);	/* the same socket connected before */
		__atomic_store_n(&plain_gen[fd], gen ? gen : 1, __ATOMIC_RELEASE);
	}
	errno = saved;
	return ret;
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
