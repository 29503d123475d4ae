/* The attacher's request checks (user/7-daemon/privsep_proto.c) and its
 * message passing: every well-formed request of each kind is accepted;
 * each way a request can be wrong (size, magic, version, kind, pid, flags,
 * reserved) is rejected with its own error; the attacher's read loop
 * counts each rejected message once and acts on none of them; fds travel
 * with a message, and those of a message of the wrong size are closed. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "privsep_proto.h"

static struct privsep_req good(enum privsep_kind kind)
{
	struct privsep_req r = { .magic = PRIVSEP_MAGIC, .version = PRIVSEP_VERSION,
				 .kind = kind, .seq = 7 };

	if (kind == PRIVSEP_REQ_ATTACH_PID || kind == PRIVSEP_REQ_EXE ||
	    kind == PRIVSEP_REQ_PROCATTR)
		r.pid = 1234;
	if (kind == PRIVSEP_REQ_ATTACH_PID)
		r.flags = PRIVSEP_ATTACH_EXEC;
	return r;
}

static void test_accepts_each_kind(void **state)
{
	struct privsep_req r, out;

	for (int k = PRIVSEP_REQ_ATTACH_PID; k < PRIVSEP_REQ__MAX; k++) {
		r = good(k);
		memset(&out, 0, sizeof(out));
		assert_int_equal(privsep_req_parse(&r, sizeof(r), &out), 0);
		assert_memory_equal(&r, &out, sizeof(r));
	}
	r = good(PRIVSEP_REQ_ATTACH_PID);
	r.flags = PRIVSEP_ATTACH_NOW;
	r.pid = PRIVSEP_PID_MAX;
	assert_int_equal(privsep_req_parse(&r, sizeof(r), &out), 0);
}

static void test_rejects_each_fault(void **state)
{
	struct privsep_req r, out;
	char big[sizeof(r) + 1];

	r = good(PRIVSEP_REQ_EXE);
	assert_int_equal(privsep_req_parse(&r, sizeof(r) - 1, &out), -EMSGSIZE);
	memset(big, 0, sizeof(big));
	memcpy(big, &r, sizeof(r));
	assert_int_equal(privsep_req_parse(big, sizeof(big), &out), -EMSGSIZE);
	assert_int_equal(privsep_req_parse(&r, 0, &out), -EMSGSIZE);

	r = good(PRIVSEP_REQ_EXE); r.magic++;
	assert_int_equal(privsep_req_parse(&r, sizeof(r), &out), -EPROTO);
	r = good(PRIVSEP_REQ_EXE); r.version = PRIVSEP_VERSION + 1;
	assert_int_equal(privsep_req_parse(&r, sizeof(r), &out), -EPROTO);
	r = good(PRIVSEP_REQ_EXE); r.kind = 0;
	assert_int_equal(privsep_req_parse(&r, sizeof(r), &out), -EINVAL);
	r = good(PRIVSEP_REQ_EXE); r.kind = PRIVSEP_REQ__MAX;
	assert_int_equal(privsep_req_parse(&r, sizeof(r), &out), -EINVAL);
	r = good(PRIVSEP_REQ_EXE); r.reserved = 1;
	assert_int_equal(privsep_req_parse(&r, sizeof(r), &out), -EINVAL);
	r = good(PRIVSEP_REQ_EXE); r.pid = 0;
	assert_int_equal(privsep_req_parse(&r, sizeof(r), &out), -EINVAL);
	r = good(PRIVSEP_REQ_EXE); r.pid = PRIVSEP_PID_MAX + 1;
	assert_int_equal(privsep_req_parse(&r, sizeof(r), &out), -EINVAL);
	r = good(PRIVSEP_REQ_EXE); r.pid = UINT32_MAX;	/* -1: "every process" */
	assert_int_equal(privsep_req_parse(&r, sizeof(r), &out), -EINVAL);
	r = good(PRIVSEP_REQ_EXE); r.flags = PRIVSEP_ATTACH_NOW;
	assert_int_equal(privsep_req_parse(&r, sizeof(r), &out), -EINVAL);
	/* ATTACH_PID: exactly one known reason */
	r = good(PRIVSEP_REQ_ATTACH_PID); r.flags = 0;
	assert_int_equal(privsep_req_parse(&r, sizeof(r), &out), -EINVAL);
	r = good(PRIVSEP_REQ_ATTACH_PID); r.flags = PRIVSEP_ATTACH_MASK;
	assert_int_equal(privsep_req_parse(&r, sizeof(r), &out), -EINVAL);
	r = good(PRIVSEP_REQ_ATTACH_PID); r.flags = 0x80;
	assert_int_equal(privsep_req_parse(&r, sizeof(r), &out), -EINVAL);
	r = good(PRIVSEP_REQ_PROCATTR); r.pid = 0;
	assert_int_equal(privsep_req_parse(&r, sizeof(r), &out), -EINVAL);
	r = good(PRIVSEP_REQ_PROCATTR); r.flags = PRIVSEP_ATTACH_EXEC;
	assert_int_equal(privsep_req_parse(&r, sizeof(r), &out), -EINVAL);
	/* COUNTERS and READY name no process */
	r = good(PRIVSEP_REQ_COUNTERS); r.pid = 1;
	assert_int_equal(privsep_req_parse(&r, sizeof(r), &out), -EINVAL);
	r = good(PRIVSEP_REQ_READY); r.flags = 1;
	assert_int_equal(privsep_req_parse(&r, sizeof(r), &out), -EINVAL);
}

static int open_fds(void)
{
	struct stat st;
	int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fstat(fd, &st) == 0;
	return n;
}

static void test_send_recv_fds(void **state)
{
	struct privsep_hello h = { .magic = PRIVSEP_MAGIC, .version = PRIVSEP_VERSION,
				   .nfds = 2, .generation = 3 }, got;
	int sv[2], fds[2], in[PRIVSEP_MAX_FDS], before;
	size_t n = 99;
	char small[4];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	fds[1] = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	assert_true(fds[0] >= 0 && fds[1] >= 0);
	before = open_fds();

	assert_int_equal(privsep_send(sv[0], &h, sizeof(h), fds, 2), 0);
	assert_int_equal(privsep_recv(sv[1], &got, sizeof(got), in, 2, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(got.generation, 3);
	assert_int_equal(open_fds(), before + 2);
	close(in[0]);
	close(in[1]);

	/* A message of the wrong size: rejected, its fds closed, not leaked. */
	assert_int_equal(privsep_send(sv[0], &h, sizeof(h), fds, 2), 0);
	assert_int_equal(privsep_recv(sv[1], small, sizeof(small), in, 2, &n), -EMSGSIZE);
	assert_int_equal(n, 0);
	assert_int_equal(open_fds(), before);
	/* More fds than the reader takes: the extra ones closed. */
	assert_int_equal(privsep_send(sv[0], &h, sizeof(h), fds, 2), 0);
	assert_int_equal(privsep_recv(sv[1], &got, sizeof(got), in, 1, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(open_fds(), before + 1);
	close(in[0]);
	/* Nothing waiting; then EOF. */
	assert_int_equal(privsep_recv(sv[1], &got, sizeof(got), in, 1, &n), -EAGAIN);
	close(sv[0]);
	assert_int_equal(privsep_recv(sv[1], &got, sizeof(got), in, 1, &n), -EPIPE);
	assert_int_equal(privsep_send(sv[1], &h, sizeof(h), NULL, 0), -EPIPE);
	assert_int_equal(privsep_send(sv[1], &h, sizeof(h), fds, PRIVSEP_MAX_FDS + 1), -EINVAL);
	close(sv[1]);
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_each_kind),
		cmocka_unit_test(test_rejects_each_fault),
		cmocka_unit_test(test_send_recv_fds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
