/* privsep_proto.h's checks and its send/receive with fds: bytes off a
 * socket in, a validated request (or -errno) out. Kept apart from the
 * attacher so that the unit test and the fuzz target exercise exactly the
 * code that guards it. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "privsep_proto.h"

int privsep_req_parse(const void *buf, size_t len, struct privsep_req *out)
{
	struct privsep_req r;

	if (len != sizeof(r))
		return -EMSGSIZE;
	memcpy(&r, buf, sizeof(r));
	if (r.magic != PRIVSEP_MAGIC || r.version != PRIVSEP_VERSION)
		return -EPROTO;
	if (r.reserved)
		return -EINVAL;
	switch (r.kind) {
	case PRIVSEP_REQ_ATTACH_PID:
		/* exactly one reason */
		if (r.flags & ~PRIVSEP_ATTACH_MASK || !r.flags || (r.flags & (r.flags - 1)))
			return -EINVAL;
		/* fall through */
	case PRIVSEP_REQ_EXE:
	case PRIVSEP_REQ_PROCATTR:
		if (r.pid == 0 || r.pid > PRIVSEP_PID_MAX)
			return -EINVAL;
		if (r.kind != PRIVSEP_REQ_ATTACH_PID && r.flags)
			return -EINVAL;
		break;
	case PRIVSEP_REQ_COUNTERS:
	case PRIVSEP_REQ_READY:
		if (r.pid || r.flags)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	*out = r;
	return 0;
}

int privsep_send(int sock, const void *msg, size_t len, const int *fds, size_t n)
{
	char cbuf[CMSG_SPACE(sizeof(int) * PRIVSEP_MAX_FDS)];
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	ssize_t sent;

	if (n > PRIVSEP_MAX_FDS)
		return -EINVAL;
	if (n) {
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
	}
	do
		sent = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (sent < 0 && errno == EINTR);
	if (sent < 0)
		return -errno;
	return (size_t)sent == len ? 0 : -EMSGSIZE;
}

int privsep_recv(int sock, void *msg, size_t len, int *fds, size_t max, size_t *nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * PRIVSEP_MAX_FDS)];
	struct iovec iov = { .iov_base = msg, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	size_t got = 0, i, k;
	ssize_t n;
	int err = 0;

	*nfds = 0;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_TRUNC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EPIPE;
	if ((size_t)n != len || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		err = -EMSGSIZE;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		int one;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < k; i++) {
			memcpy(&one, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (!err && got < max)
				fds[got++] = one;
			else
				close(one);
		}
	}
	if (err) {
		for (i = 0; i < got; i++)
			close(fds[i]);
		return err;
	}
	*nfds = got;
	return 0;
}
