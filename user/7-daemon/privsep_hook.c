/* See privsep_hook.h. Only the test build (-DLLMOBS_TEST_HOOKS) has a
 * body; the release build's calls are empty. */
#include <stdint.h>
#include "privsep_hook.h"

#ifdef LLMOBS_TEST_HOOKS
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include "log.h"
#include "privsep_proto.h"

static uint32_t gen;
static volatile uintptr_t bad_address = 8;	/* opaque to the compiler */

static void refused(const char *what, long rc)
{
	if (rc >= 0) {
		p_err("TEST HOOK: forbidden %s succeeded", what);
		_exit(99);
	}
	p_warn("test hook: forbidden %s refused: %s", what, strerror(errno));
}

static void bad_requests(int sock)
{
	struct privsep_req r = { .magic = PRIVSEP_MAGIC, .version = PRIVSEP_VERSION,
				 .kind = PRIVSEP_REQ_ATTACH_PID, .pid = 1,
				 .flags = PRIVSEP_ATTACH_NOW };
	struct privsep_req bad[5];
	char junk[3] = { 1, 2, 3 }, big[sizeof(r) + 8];
	int i;

	for (i = 0; i < 5; i++)
		bad[i] = r;
	bad[0].magic ^= 1;				/* magic */
	bad[1].version = 99;				/* version */
	bad[2].kind = PRIVSEP_REQ__MAX;			/* kind */
	bad[3].pid = 0;					/* pid */
	bad[4].flags = PRIVSEP_ATTACH_MASK;		/* two reasons */
	for (i = 0; i < 5; i++)
		privsep_send(sock, &bad[i], sizeof(bad[i]), NULL, 0);
	privsep_send(sock, junk, sizeof(junk), NULL, 0);	/* short */
	memset(big, 0, sizeof(big));
	memcpy(big, &r, sizeof(r));
	privsep_send(sock, big, sizeof(big), NULL, 0);	/* long */
	p_warn("test hook: 7 malformed requests sent");
}

void privsep_test_hook_start(int sock, uint32_t generation)
{
	const char *what = getenv("LLMOBS_TEST_FORBIDDEN");

	gen = generation;
	if (!what || generation != 1)
		return;
	p_warn("test hook: trying forbidden '%s'", what);
	if (!strcmp(what, "shadow")) {
		refused("open /etc/shadow", open("/etc/shadow", O_RDONLY | O_CLOEXEC));
	} else if (!strcmp(what, "ptrace")) {
		refused("ptrace", ptrace(PTRACE_ATTACH, getppid(), 0, 0));
	} else if (!strcmp(what, "bpf")) {
		union bpf_attr attr;

		memset(&attr, 0, sizeof(attr));
		attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
		refused("bpf(BPF_PROG_LOAD)", syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr)));
	} else if (!strcmp(what, "exec")) {
		char *argv[] = { "/bin/true", NULL };

		refused("execve", execve(argv[0], argv, NULL));
	} else if (!strcmp(what, "socket")) {
		refused("socket(AF_INET)", socket(AF_INET, SOCK_STREAM, 0));
	} else if (!strcmp(what, "badreq")) {
		bad_requests(sock);
	}
}

void privsep_test_hook_event(uint64_t nevents)
{
	const char *after = getenv("LLMOBS_TEST_CRASH_AFTER");

	if (after && gen == 1 && nevents == strtoull(after, NULL, 10)) {
		p_warn("test hook: crashing at event %llu", (unsigned long long)nevents);
		*(volatile int *)bad_address = 1;
	}
}

#else

void privsep_test_hook_start(int sock, uint32_t generation)
{
}

void privsep_test_hook_event(uint64_t nevents)
{
}

#endif
