#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "procinfo.h"

/* A small direct-mapped cache: a collision only costs a readlink. */
#define PROCINFO_SLOTS 1024

struct procinfo_slot {
	pid_t tgid;
	bool resolved;	/* exe is /proc/PID/exe's target, not the exec'd name */
	char exe[256];
};

static struct procinfo_slot slots[PROCINFO_SLOTS];
static procinfo_resolve_fn resolver;

void procinfo_set_resolver(procinfo_resolve_fn fn)
{
	resolver = fn;
}

static struct procinfo_slot *slot_of(pid_t tgid)
{
	return &slots[(unsigned int)tgid % PROCINFO_SLOTS];
}

static void slot_set(struct procinfo_slot *s, pid_t tgid, const char *path, size_t len,
		     bool resolved)
{
	if (len >= sizeof(s->exe))
		len = sizeof(s->exe) - 1;
	memcpy(s->exe, path, len);
	s->exe[len] = '\0';
	s->tgid = tgid;
	s->resolved = resolved;
}

/* The exec'd name may be a symlink (/usr/bin/python3): it is only the
 * fallback for a process that exits before we can read /proc/PID/exe. */
void procinfo_set_exe(pid_t tgid, const char *path, size_t len)
{
	slot_set(slot_of(tgid), tgid, path, len, false);
}

const char *procinfo_exe(pid_t tgid, char *buf, size_t size)
{
	struct procinfo_slot *s = slot_of(tgid);
	char link[64];
	ssize_t n;

	if (size == 0)
		return buf;
	if (s->tgid == tgid && s->resolved) {
		snprintf(buf, size, "%s", s->exe);
		return buf;
	}
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)tgid);
	n = readlink(link, buf, size - 1);
	if (n > 0) {
		buf[n] = '\0';
		slot_set(s, tgid, buf, (size_t)n, true);
		return buf;
	}
	if (n < 0 && (errno == EACCES || errno == EPERM) && resolver &&
	    resolver(tgid, buf, size) == 0 && buf[0]) {
		slot_set(s, tgid, buf, strlen(buf), true);
		return buf;
	}
	if (s->tgid == tgid)
		snprintf(buf, size, "%s", s->exe);
	else
		buf[0] = '\0';
	return buf;
}

void procinfo_forget(pid_t tgid)
{
	struct procinfo_slot *s = slot_of(tgid);

	if (s->tgid == tgid)
		s->tgid = 0;
}
