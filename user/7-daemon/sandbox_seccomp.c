/* The worker's seccomp allow-list (libseccomp): what the pipeline needs
 * once its files, sockets and rings are open, and nothing that would help
 * an attacker who took over a parser: no new process or program (execve,
 * fork, clone), no new socket or connection, no ptrace, no BPF loading, no
 * mount, no uid change, no module. Anything else kills the process
 * (SIGSYS); the attacher logs it and starts a new worker.
 *
 * The list is kept honest by running every feature under it: the e2e and
 * shim suites run the daemon (and the chaos suite kills it) with the filter
 * on, so a syscall missing here fails them. LLMOBS_SECCOMP=log turns kills
 * into audit log lines, to find which one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/bpf.h>
#include <seccomp.h>
#include "log.h"
#include "sandbox.h"

/* Allowed whatever their arguments. Why each is needed: */
static const char *const allowed[] = {
	/* reading the rings, stdout/stderr, SQLite's files, /proc/PID/comm and
	 * cgroup of a shim's process (shim_client.c) */
	"read", "readv", "pread64", "write", "writev", "pwrite64", "lseek", "close",
	/* opening: SQLite's journal and temp files, /proc for shim clients
	 * (file permissions decide what the worker's uid may read) */
	"open", "openat", "stat", "lstat", "fstat", "newfstatat", "statx",
	"access", "faccessat", "faccessat2", "readlink", "readlinkat", "getcwd",
	/* SQLite: locks, syncing, growing and truncating the WAL, removing
	 * it at close; the shim socket removed at close */
	"fcntl", "fsync", "fdatasync", "ftruncate", "fallocate", "unlink", "unlinkat",
	"fchmod", "fchown",
	/* memory: malloc, shim rings mapped from their memfds, ring buffer */
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise",
	/* waiting: the ring's epoll, the shim listener and its clients, the
	 * attacher's socket */
	"epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl", "epoll_create1",
	"poll", "ppoll",
	/* shim clients (accept, SO_PEERCRED, memfds over SCM_RIGHTS) and the
	 * attacher's socketpair */
	"accept", "accept4", "recvmsg", "sendmsg", "recvfrom", "sendto",
	"getsockopt", "shutdown",
	/* time */
	"clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep",
	"clock_nanosleep",
	/* signals: SIGTERM handler, blocked sets */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
	/* the process itself */
	"exit", "exit_group", "getpid", "gettid", "getppid", "getuid", "geteuid",
	"getgid", "getegid", "futex", "set_robust_list", "rseq", "sched_yield",
	"sched_getaffinity", "getrandom", "uname", "sysinfo", "prlimit64", "getrlimit",
	"restart_syscall",
	/* attribution in --no-bpf mode, and when the attacher is slow to
	 * answer (procattr.c): files read within a process's root (openat2
	 * RESOLVE_IN_ROOT), kubelet and cgroup directories listed (k8s_meta.c) */
	"openat2", "getdents64",
};

static bool outbound;	/* sandbox_seccomp_allow_outbound() */

void sandbox_seccomp_allow_outbound(void)
{
	outbound = true;
}

static int add(scmp_filter_ctx ctx, const char *name, unsigned int nargs,
	       const struct scmp_arg_cmp *args)
{
	int nr = seccomp_syscall_resolve_name(name), err;

	if (nr == __NR_SCMP_ERROR)
		return 0;	/* not on this architecture (stat, open on arm64) */
	err = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, nargs, args);
	/* A pseudo-syscall number libseccomp cannot place on this arch. */
	return err == -EDOM || err == -EFAULT ? 0 : err;
}

/* Opt-in telemetry (user/6-telemetry) sends from a thread with libcurl:
 * the thread itself (clone of a thread, never a process: clone3's flags
 * are out of reach, so it is refused with ENOSYS and glibc falls back to
 * clone), IPv4/IPv6 sockets to the endpoint and its resolver, and the
 * socket pair libcurl wakes itself with. Only when telemetry is on. */
static int add_outbound(scmp_filter_ctx ctx)
{
	static const char *const calls[] = {
		"connect", "getsockname", "getpeername", "sendmmsg", "recvmmsg",
		"pipe2", "eventfd2", "bind",
	};
	static const int families[] = { AF_INET, AF_INET6, AF_UNIX };
	struct scmp_arg_cmp thread = SCMP_A0_64(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
	/* setsockopt levels: libcurl's (SOL_SOCKET, TCP), glibc's resolver's
	 * (IP_RECVERR on SOL_IP / SOL_IPV6 for its UDP queries) */
	static const int levels[] = { SOL_SOCKET, IPPROTO_TCP, SOL_IP, SOL_IPV6 };
	struct scmp_arg_cmp fionread = SCMP_A1_32(SCMP_CMP_EQ, FIONREAD);
	struct scmp_arg_cmp netlink = SCMP_A0_32(SCMP_CMP_EQ, AF_NETLINK);
	struct scmp_arg_cmp pair = SCMP_A0_32(SCMP_CMP_EQ, AF_UNIX);
	size_t i;
	int err = 0;

	for (i = 0; !err && i < sizeof(calls) / sizeof(calls[0]); i++)
		err = add(ctx, calls[i], 0, NULL);
	for (i = 0; !err && i < sizeof(families) / sizeof(families[0]); i++) {
		struct scmp_arg_cmp a = SCMP_A0_32(SCMP_CMP_EQ, (uint32_t)families[i]);

		err = add(ctx, "socket", 1, &a);
	}
	if (!err)
		err = add(ctx, "socketpair", 1, &pair);
	for (i = 0; !err && i < sizeof(levels) / sizeof(levels[0]); i++) {
		struct scmp_arg_cmp a = SCMP_A1_32(SCMP_CMP_EQ, (uint32_t)levels[i]);

		err = add(ctx, "setsockopt", 1, &a);
	}
	/* the resolver asks how large a UDP answer is before reading it */
	if (!err)
		err = add(ctx, "ioctl", 1, &fionread);
	/* getaddrinfo's AI_ADDRCONFIG asks netlink which families are up; told
	 * no, it assumes both, rather than the worker being killed. */
	if (!err)
		err = seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT),
					     SCMP_SYS(socket), 1, &netlink);
	if (!err)
		err = add(ctx, "clone", 1, &thread);
	if (!err && seccomp_syscall_resolve_name("clone3") != __NR_SCMP_ERROR)
		err = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	return err;
}

int sandbox_seccomp_load(void)
{
	const char *mode = getenv("LLMOBS_SECCOMP");
	/* Counters and ignore marks through the fds held; the info call is
	 * libbpf's when it maps a ring buffer. Never BPF_PROG_LOAD,
	 * BPF_MAP_CREATE, BPF_LINK_*, BPF_OBJ_GET (pinned objects). */
	static const unsigned int bpf_cmds[] = {
		BPF_MAP_LOOKUP_ELEM, BPF_MAP_UPDATE_ELEM, BPF_OBJ_GET_INFO_BY_FD,
	};
	static const char *const refused[] = { "mkdir", "mkdirat", "chmod", "fchmodat" };
	uint32_t def = SCMP_ACT_KILL_PROCESS;
	scmp_filter_ctx ctx;
	size_t i;
	int err = 0;

	if (mode && !strcmp(mode, "log")) {
		def = SCMP_ACT_LOG;
		p_warn("LLMOBS_SECCOMP=log: syscalls outside the allow-list are logged, not killed");
	} else if (mode && !strcmp(mode, "off")) {
#ifdef LLMOBS_TEST_HOOKS
		p_warn("LLMOBS_SECCOMP=off: no seccomp filter (test build)");
		return 0;
#else
		p_err("LLMOBS_SECCOMP=off is for test builds only");
		return -EPERM;
#endif
	}
	ctx = seccomp_init(def);
	if (!ctx)
		return -ENOMEM;
	for (i = 0; !err && i < sizeof(allowed) / sizeof(allowed[0]); i++)
		err = add(ctx, allowed[i], 0, NULL);
	for (i = 0; !err && i < sizeof(bpf_cmds) / sizeof(bpf_cmds[0]); i++) {
		struct scmp_arg_cmp a = SCMP_A0_32(SCMP_CMP_EQ, bpf_cmds[i]);

		err = add(ctx, "bpf", 1, &a);
	}
	if (!err) {
		/* stdio asks whether stdout is a terminal, nothing else */
		struct scmp_arg_cmp a = SCMP_A1_32(SCMP_CMP_EQ, TCGETS);

		err = add(ctx, "ioctl", 1, &a);
	}
	if (!err) {
		/* the metrics listener (metrics_http.c, libmicrohttpd): TCP_NODELAY
		 * and TCP_CORK on the scrape connections it accepts, nothing else */
		struct scmp_arg_cmp a = SCMP_A1_32(SCMP_CMP_EQ, IPPROTO_TCP);

		err = add(ctx, "setsockopt", 1, &a);
	}
	if (!err)	/* /metrics: process_cpu_seconds_total */
		err = add(ctx, "getrusage", 0, NULL);
	if (!err) {
		/* abort() and raise() signal this process only */
		struct scmp_arg_cmp a = SCMP_A0_32(SCMP_CMP_EQ, (uint32_t)getpid());

		err = add(ctx, "tgkill", 1, &a);
	}
	if (!err && outbound)
		err = add_outbound(ctx);
	/* A database that could not be opened at start is retried every 10 s
	 * (store.c makes its directory and sets its mode): once sandboxed that
	 * can only fail, and it must fail with an error, not kill the worker. */
	for (i = 0; !err && i < sizeof(refused) / sizeof(refused[0]); i++) {
		int nr = seccomp_syscall_resolve_name(refused[i]);

		if (nr != __NR_SCMP_ERROR)
			err = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), nr, 0);
	}
	if (!err)
		err = seccomp_load(ctx);
	seccomp_release(ctx);
	return err;
}
