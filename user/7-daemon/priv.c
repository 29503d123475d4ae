/* What llmobsd's attacher keeps after attaching (the worker, which reads
 * the rings and parses, keeps nothing: sandbox.c). From then on the
 * attacher attaches to TLS libraries that processes load later, which
 * takes (each found necessary on Linux 6.18, by dropping it):
 *  - CAP_SYS_ADMIN: the kernel creates a uprobe perf event only for it
 *    (CAP_PERFMON is not enough there); it also opens /proc/PID/map_files/
 *    for a library deleted since it was mapped;
 *  - CAP_BPF, CAP_PERFMON: linking the loaded programs to those events,
 *    by name, should the kernel ever ask for no more than these;
 *  - CAP_SYS_PTRACE: /proc/PID/maps, /proc/PID/stat and /proc/PID/root of
 *    other users' processes;
 *  - CAP_DAC_READ_SEARCH: their library files, whatever the modes of the
 *    files and directories (a user's 0700 virtualenv).
 *  - CAP_SETPCAP, CAP_SETGID, CAP_SETUID: the worker it forks empties
 *    its bounding set and takes the llmobs gid and uid (sandbox.c);
 *  - CAP_KILL: SIGTERM to that worker at exit, which runs as another user.
 * Everything else goes, from the effective, permitted and bounding sets:
 * CAP_SYS_MODULE, CAP_NET_ADMIN, CAP_NET_RAW, CAP_DAC_OVERRIDE, CAP_CHOWN,
 * CAP_FOWNER, CAP_SYS_RAWIO, CAP_SYS_BOOT, CAP_SYS_TIME, CAP_MKNOD, ...
 * The worker opens the database and the shim socket before it drops to
 * its user: root owns them, so no DAC override is needed.
 * Raw capget/capset and prctl: no libcap. */
#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include "log.h"
#include "priv.h"

/* Older headers lack the newer capabilities; the numbers are the ABI. */
#ifndef CAP_PERFMON
#define CAP_PERFMON		38
#endif
#ifndef CAP_BPF
#define CAP_BPF			39
#endif

/* The attacher also starts the worker (sandbox.c): it forks a process that
 * empties its bounding set (CAP_SETPCAP), takes the worker's gid and uid
 * (CAP_SETGID, CAP_SETUID), and it signals that process, which runs as
 * another user, to stop it (CAP_KILL). */
static const int kept_privsep[] = {
	CAP_SYS_ADMIN, CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH,
	CAP_SETPCAP, CAP_SETUID, CAP_SETGID, CAP_KILL,
};

static int is_kept(const int *kept, size_t n, int cap)
{
	for (size_t i = 0; i < n; i++)
		if (kept[i] == cap)
			return 1;
	return 0;
}

static int drop_to(const int *kept, size_t nkept)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct cur[2], data[2];
	int cap, last = CAP_LAST_CAP;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	memset(cur, 0, sizeof(cur));
	if (syscall(SYS_capget, &hdr, cur))
		return -errno;
	/* Not root (a --no-bpf daemon): nothing to give up. */
	if (!(cur[CAP_SETPCAP / 32].effective & CAP_TO_MASK(CAP_SETPCAP)))
		return 0;
	/* The kernel may know more capabilities than these headers. */
	while (prctl(PR_CAPBSET_READ, last + 1, 0, 0, 0) >= 0)
		last++;
	/* The bounding set first: dropping from it takes CAP_SETPCAP. */
	for (cap = 0; cap <= last; cap++)
		if (!is_kept(kept, nkept, cap) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL)
			return -errno;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	/* What we have of the kept ones (a confined root may lack some). */
	memset(data, 0, sizeof(data));
	for (size_t i = 0; i < nkept; i++) {
		__u32 bit = CAP_TO_MASK(kept[i]) & cur[kept[i] / 32].permitted;

		data[kept[i] / 32].effective |= bit;
		data[kept[i] / 32].permitted |= bit;
	}
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	return 0;
}

int priv_drop_attacher(void)
{
	int err = drop_to(kept_privsep, sizeof(kept_privsep) / sizeof(kept_privsep[0]));

	if (!err)
		p_debug("attacher: capabilities dropped but CAP_SYS_ADMIN, CAP_BPF, CAP_PERFMON, "
			"CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH (attaching), CAP_SETPCAP, "
			"CAP_SETUID, CAP_SETGID, CAP_KILL (starting and stopping the worker)");
	return err;
}
