/* Runs what the sandboxed worker may do after sandbox_seccomp_load()
 * (user/7-daemon/sandbox_seccomp.c), each in a child so that a syscall the
 * filter kills shows as that child's SIGSYS, named, rather than as a dead
 * daemon in a later test:
 *   dns       a name resolved through the resolver (UDP socket,
 *             IP_RECVERR, connect), from a new thread, as telemetry's
 *             libcurl does, in a network namespace of its own with no
 *             route, so that no query leaves this process; its answer does
 *             not matter, only that the worker survives asking
 *   mkdir     refused with EACCES (the store's retry), not killed
 *   openat2   allowed (attribution within a process's root)
 * Prints "PROBE ok|killed|failed" per probe; exit 0 when all are ok.
 * Usage: seccomp_probe [--outbound] */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/openat2.h>
#include "sandbox.h"

static void *resolve(void *arg)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG }, *res;
	int *rc = arg;

	*rc = getaddrinfo("llmobs-probe.invalid.example.com", "443", &hints, &res);
	if (!*rc)
		freeaddrinfo(res);
	return NULL;
}

static int probe_dns(void)
{
	pthread_t t;
	int rc = -1;

	if (pthread_create(&t, NULL, resolve, &rc))
		return 1;
	pthread_join(t, NULL);
	return 0;	/* any answer: the thread lived */
}

static int probe_mkdir(void)
{
	return mkdir("/tmp/llmobs-seccomp-probe-dir", 0700) == -1 && errno == EACCES ? 0 : 1;
}

static int probe_openat2(void)
{
	struct open_how how = { .flags = O_RDONLY, .resolve = RESOLVE_IN_ROOT };
	long fd = syscall(SYS_openat2, AT_FDCWD, "/etc/hostname", &how, sizeof(how));

	if (fd >= 0)
		close((int)fd);
	return 0;	/* allowed whatever the file: not killed */
}

static int run(const char *name, int (*fn)(void), int outbound)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		if (outbound)
			sandbox_seccomp_allow_outbound();
		if (sandbox_seccomp_load())
			_exit(3);
		_exit(fn());
	}
	waitpid(pid, &status, 0);
	if (WIFSIGNALED(status)) {
		printf("%s killed (signal %d)\n", name, WTERMSIG(status));
		return 1;
	}
	printf("%s %s\n", name, WEXITSTATUS(status) ? "failed" : "ok");
	return WEXITSTATUS(status) != 0;
}

int main(int argc, char **argv)
{
	int outbound = argc > 1 && !strcmp(argv[1], "--outbound"), bad = 0;

	/* No query may leave: a namespace with no interface up (root only). */
	if (outbound && unshare(CLONE_NEWNET) == 0)
		bad |= run("dns", probe_dns, 1);
	else if (outbound)
		printf("dns skipped (not root: no network namespace of its own)\n");
	bad |= run("mkdir", probe_mkdir, outbound);
	bad |= run("openat2", probe_openat2, outbound);
	return bad;
}
