/* Dropping to the worker's identity: root (with the attacher's few
 * capabilities) in, an ordinary user with no capability and no_new_privs
 * out. Raw capget/capset and prctl, as priv.c: no libcap.
 *
 * The order matters. The bounding set is emptied first, while CAP_SETPCAP is
 * still there; then groups, gid, uid (setresuid from 0 to non-0 clears the
 * permitted and effective sets, since SECBIT_KEEP_CAPS is not set); then
 * the result is checked, including that setuid(0) now fails. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include "log.h"
#include "sandbox.h"

static int lookup(const char *name, struct sandbox_user *out)
{
	struct passwd *pw = getpwnam(name);

	if (!pw || pw->pw_uid == 0 || pw->pw_gid == 0)
		return -ENOENT;
	out->uid = pw->pw_uid;
	out->gid = pw->pw_gid;
	snprintf(out->name, sizeof(out->name), "%s", name);
	return 0;
}

int sandbox_find_user(struct sandbox_user *out)
{
	const char *env = getenv("LLMOBS_USER");
	static bool said;

	if (env && env[0]) {
		if (lookup(env, out) == 0)
			return 0;
		p_err("LLMOBS_USER=%s: no such user, or it is root", env);
		return -ENOENT;
	}
	if (lookup(SANDBOX_USER, out) == 0)
		return 0;
	if (!said)
		p_warn("no user '%s' (make install creates it): the worker runs as '%s'",
		       SANDBOX_USER, SANDBOX_FALLBACK_USER);
	said = true;
	return lookup(SANDBOX_FALLBACK_USER, out);
}

static int caps_get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };

	memset(data, 0, 2 * sizeof(*data));
	return syscall(SYS_capget, &hdr, data) ? -errno : 0;
}

bool sandbox_has_caps(void)
{
	struct __user_cap_data_struct d[2];
	int cap;

	if (caps_get(d))
		return true;
	if (d[0].permitted | d[1].permitted | d[0].effective | d[1].effective |
	    d[0].inheritable | d[1].inheritable)
		return true;
	for (cap = 0; cap < 64; cap++)
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1)
			return true;
	return false;
}

int sandbox_drop_user(const struct sandbox_user *u)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct none[2];
	int cap;

	if (geteuid() == 0) {
		/* Without CAP_SETPCAP (a unit's CapabilityBoundingSet that
		 * lacks it) the bounding set stays: said, not fatal, since
		 * no_new_privs and the filter's ban on execve leave nothing it
		 * could grant. */
		for (cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
			if (!prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))
				continue;
			if (errno != EPERM)
				return -errno;
			p_warn("cannot empty the bounding set (no CAP_SETPCAP): the worker "
			       "relies on no_new_privs and seccomp for it");
			break;
		}
		if (setgroups(0, NULL) || setresgid(u->gid, u->gid, u->gid) ||
		    setresuid(u->uid, u->uid, u->uid))
			return -errno;
		/* No way back. */
		if (setuid(0) == 0 || getuid() != u->uid || geteuid() != u->uid ||
		    getgid() != u->gid)
			return -EPERM;
	}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	memset(none, 0, sizeof(none));
	if (syscall(SYS_capset, &hdr, none))
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	return 0;
}
