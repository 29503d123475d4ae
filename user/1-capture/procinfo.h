/* Executable path per process, remembered from exec events so that a
 * process that has already exited is still named right. */
#ifndef LLMOBS_PROCINFO_H
#define LLMOBS_PROCINFO_H

#include <stddef.h>
#include <sys/types.h>

/* Remember path as tgid's executable (from an exec event). */
void procinfo_set_exe(pid_t tgid, const char *path, size_t len);
/* Writes tgid's executable into buf: remembered, else /proc/PID/exe, else "". */
const char *procinfo_exe(pid_t tgid, char *buf, size_t size);
void procinfo_forget(pid_t tgid);
/* Where procinfo_exe asks when /proc/PID/exe is not ours to read (the
 * unprivileged worker asks the attacher): writes the path into buf,
 * returns 0 or -errno. */
typedef int (*procinfo_resolve_fn)(pid_t tgid, char *buf, size_t size);
void procinfo_set_resolver(procinfo_resolve_fn fn);

#endif
