#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "procinfo.h"

/* A small direct-mapped cache: a collision only costs a readlink. */
#define PROCINFO_SLOTS 1024

struct procinfo_slot {
	pid_t tgid;
	char exe[256];
};

static struct procinfo_slot slots[PROCINFO_SLOTS];

static struct procinfo_slot *slot_of(pid_t tgid)
{
	return &slots[(unsigned int)tgid % PROCINFO_SLOTS];
}

void procinfo_set_exe(pid_t tgid, const char *path, size_t len)
{
	struct procinfo_slot *s = slot_of(tgid);

	if (len >= sizeof(s->exe))
		len = sizeof(s->exe) - 1;
	memcpy(s->exe, path, len);
	s->exe[len] = '\0';
	s->tgid = tgid;
}

const char *procinfo_exe(pid_t tgid, char *buf, size_t size)
{
	struct procinfo_slot *s = slot_of(tgid);
	char link[64];
	ssize_t n;

	if (size == 0)
		return buf;
	if (s->tgid == tgid && s->exe[0]) {
		snprintf(buf, size, "%s", s->exe);
		return buf;
	}
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)tgid);
	n = readlink(link, buf, size - 1);
	buf[n > 0 ? n : 0] = '\0';
	if (n > 0)
		procinfo_set_exe(tgid, buf, (size_t)n);
	return buf;
}

void procinfo_forget(pid_t tgid)
{
	struct procinfo_slot *s = slot_of(tgid);

	if (s->tgid == tgid)
		s->tgid = 0;
}
