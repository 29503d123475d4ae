/* Binaries the attacher inspects, opened and read defensively: what comes
 * in is a path (often /proc/PID/root/... of someone else's process) and
 * the inode its maps entry showed; what goes out is an fd on a regular
 * file that is that inode, and libelf reading it with pread. See
 * binfile.h for why. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>
#include "stats.h"
#include "binfile.h"

#define OVERLAYFS_MAGIC	0x794c7630

/* On overlayfs the inode /proc/PID/maps shows depends on the kernel: the
 * layer's file (4.19 to 6.7) or the overlay's (before and since), while a
 * stat() of the overlay path always gives the overlay's. The uprobe lands
 * on the layer's inode either way (the kernel takes d_real_inode()), so a
 * regular file there is taken as is. */
static bool is_overlay(int fd)
{
	struct statfs sfs;

	return fstatfs(fd, &sfs) == 0 && (unsigned long)sfs.f_type == OVERLAYFS_MAGIC;
}

int binfile_open(const char *path, unsigned int flags, const struct binfile_want *want,
		 struct stat *out)
{
	struct stat st;
	int fd, err;

	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC |
			(flags & BINFILE_NOFOLLOW ? O_NOFOLLOW : 0));
	if (fd < 0)
		return errno == ELOOP ? -EINVAL : -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		stats_inc(STAT_BINFILES_REFUSED);
		goto fail;
	}
	if (want && (st.st_dev != want->dev || st.st_ino != want->ino) && !is_overlay(fd)) {
		err = -ESTALE;
		stats_inc(STAT_BINFILES_REFUSED);
		goto fail;
	}
	if (out)
		*out = st;
	return fd;
fail:
	close(fd);
	return err;
}

Elf *binfile_elf(int fd)
{
	Elf *elf;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return NULL;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (elf && elf_kind(elf) != ELF_K_ELF) {
		elf_end(elf);
		return NULL;
	}
	return elf;
}

static Elf_Scn *find(Elf *elf, const char *want, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;

		if (!gelf_getshdr(scn, sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh->sh_name);
		if (name && !strcmp(name, want))
			return scn;
	}
	return NULL;
}

bool binfile_has_section(Elf *elf, const char *name, GElf_Shdr *sh)
{
	return find(elf, name, sh) != NULL;
}

const uint8_t *binfile_section(Elf *elf, const char *name, uint32_t type, GElf_Shdr *sh)
{
	Elf_Scn *scn = find(elf, name, sh);
	Elf_Data *d;

	if (!scn || sh->sh_type == SHT_NOBITS || (type && sh->sh_type != type))
		return NULL;
	/* libelf bounds it by the file's size and reads it whole. */
	d = elf_rawdata(scn, NULL);
	if (!d || !d->d_buf || d->d_size != sh->sh_size)
		return NULL;
	return d->d_buf;
}

int binfile_pread(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		got += (size_t)n;
	}
	return 0;
}
