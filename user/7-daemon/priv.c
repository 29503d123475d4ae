/* What llmobsd keeps after attaching. From then on the daemon reads the
 * ring buffers and shim rings it holds, writes its own database, and
 * attaches to TLS libraries that processes load later, which takes (each
 * found necessary on Linux 6.18, by dropping it):
 *  - CAP_SYS_ADMIN: the kernel creates a uprobe perf event only for it
 *    (CAP_PERFMON is not enough there); it also opens /proc/PID/map_files/
 *    for a library deleted since it was mapped;
 *  - CAP_BPF, CAP_PERFMON: linking the loaded programs to those events,
 *    by name, should the kernel ever ask for no more than these;
 *  - CAP_SYS_PTRACE: /proc/PID/maps, /proc/PID/stat and /proc/PID/root of
 *    other users' processes;
 *  - CAP_DAC_READ_SEARCH: their library files, whatever the modes of the
 *    files and directories (a user's 0700 virtualenv).
 * Everything else goes, from the effective, permitted and bounding sets:
 * CAP_SYS_MODULE, CAP_NET_ADMIN, CAP_NET_RAW, CAP_SETUID, CAP_SETGID,
 * CAP_DAC_OVERRIDE, CAP_CHOWN, CAP_FOWNER, CAP_KILL, CAP_SYS_RAWIO,
 * CAP_SYS_BOOT, CAP_SYS_TIME, CAP_MKNOD, ... The database and the shim
 * socket stay usable: root owns them, so no DAC override is needed.
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

static const int kept[] = {
	CAP_SYS_ADMIN, CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH,
};

static int is_kept(int cap)
{
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (kept[i] == cap)
			return 1;
	return 0;
}

int priv_drop(void)
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
		if (!is_kept(cap) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL)
			return -errno;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	/* What we have of the kept ones (a confined root may lack some). */
	memset(data, 0, sizeof(data));
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		__u32 bit = CAP_TO_MASK(kept[i]) & cur[kept[i] / 32].permitted;

		data[kept[i] / 32].effective |= bit;
		data[kept[i] / 32].permitted |= bit;
	}
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	p_debug("capabilities dropped but CAP_SYS_ADMIN, CAP_BPF, CAP_PERFMON, "
		"CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH (new TLS libraries need them)");
	return 0;
}
