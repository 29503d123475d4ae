/* Opening a binary the attacher inspects (a library or an executable seen
 * mapped in some process, reached through /proc/PID/root): a path another
 * user controls. A FIFO planted there would hang a blocking open(); a file
 * truncated under an mmap would SIGBUS the reader; a path that now names
 * another file would get the wrong inode probed. So: a non-blocking open,
 * a regular file only, the inode the maps entry named when there is one,
 * and reads, never a mapping, of the parts looked at. */
#ifndef LLMOBS_BINFILE_H
#define LLMOBS_BINFILE_H

#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* The inode a file must be (from /proc/PID/maps); NULL = any regular file. */
struct binfile_want {
	dev_t dev;
	ino_t ino;
};

/* O_NOFOLLOW on the last component: for paths built from /proc/PID/maps,
 * which names files by their resolved path (a symlink there is a swap). */
#define BINFILE_NOFOLLOW	1u

/* Opens path read-only, O_NONBLOCK and O_CLOEXEC; fstat()s it into *st
 * (may be NULL). Returns the fd, or -errno: -EINVAL if it is not a regular
 * file, -ESTALE if it is not want's inode (counted, STAT_BINFILES_REFUSED). */
int binfile_open(const char *path, unsigned int flags, const struct binfile_want *want,
		 struct stat *st);

/* libelf over fd that reads (ELF_C_READ: pread of what is asked), never
 * maps: a file cut short meanwhile makes a read fail, not a SIGBUS. NULL
 * if libelf fails or the file is not ELF. */
Elf *binfile_elf(int fd);

/* The named section's bytes, read by libelf (freed by elf_end), with its
 * header in *sh; type 0 = any type but SHT_NOBITS. NULL if absent or
 * unreadable. */
const uint8_t *binfile_section(Elf *elf, const char *name, uint32_t type, GElf_Shdr *sh);

/* Whether the section exists (its header in *sh); nothing read. */
bool binfile_has_section(Elf *elf, const char *name, GElf_Shdr *sh);

/* Exactly len bytes at off into buf. Returns 0, or -EIO if the file is
 * shorter now (or -errno). */
int binfile_pread(int fd, void *buf, size_t len, uint64_t off);

#endif
