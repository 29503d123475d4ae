/* /proc/PID/maps and ELF .dynsym reading for the TLS capture. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "binfile.h"
#include "tls_libs.h"

const char *const tls_sym_names[TLS_SYM__MAX] = {
	[TLS_SYM_SSL_WRITE] = "SSL_write",
	[TLS_SYM_SSL_READ] = "SSL_read",
	[TLS_SYM_SSL_WRITE_EX] = "SSL_write_ex",
	[TLS_SYM_SSL_READ_EX] = "SSL_read_ex",
	[TLS_SYM_SSL_FREE] = "SSL_free",
	[TLS_SYM_DLOPEN] = "dlopen",
};

/* Only .dynsym: what the library exports is what callers reach, and it is
 * small even for a 100 MB executable whose .symtab is not (node). */
static int scan_dynsym(Elf *elf, struct tls_lib_syms *out)
{
	Elf_Scn *scn = NULL, *symscn = NULL;
	GElf_Shdr shdr, symshdr;
	Elf_Data *data;
	size_t n, i;
	int k;

	while ((scn = elf_nextscn(elf, scn))) {
		if (gelf_getshdr(scn, &shdr) && shdr.sh_type == SHT_DYNSYM) {
			symscn = scn;
			symshdr = shdr;
			break;
		}
	}
	if (!symscn || !symshdr.sh_entsize)
		return 0;
	data = elf_getdata(symscn, NULL);
	if (!data)
		return -EINVAL;
	n = symshdr.sh_size / symshdr.sh_entsize;
	for (i = 0; i < n; i++) {
		GElf_Sym sym;
		const char *name;
		Elf_Scn *sec;

		if (!gelf_getsym(data, i, &sym))
			continue;
		if (GELF_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF ||
		    sym.st_shndx >= SHN_LORESERVE || !sym.st_value)
			continue;
		name = elf_strptr(elf, symshdr.sh_link, sym.st_name);
		if (!name || (strncmp(name, "SSL_", 4) && strcmp(name, "dlopen")))
			continue;
		for (k = 0; k < TLS_SYM__MAX; k++) {
			if (out->offset[k] || strcmp(name, tls_sym_names[k]))
				continue;
			/* Virtual address -> file offset, through its section. */
			sec = elf_getscn(elf, sym.st_shndx);
			if (!sec || !gelf_getshdr(sec, &shdr))
				break;
			out->offset[k] = sym.st_value - shdr.sh_addr + shdr.sh_offset;
			break;
		}
	}
	return 0;
}

int tls_lib_inspect(const char *path, struct tls_lib_syms *out)
{
	Elf *elf;
	int fd, err;

	memset(out, 0, sizeof(*out));
	fd = binfile_open(path, 0, NULL, NULL);
	if (fd < 0)
		return fd;
	elf = binfile_elf(fd);
	err = elf ? scan_dynsym(elf, out) : -ENOEXEC;
	elf_end(elf);
	close(fd);
	return err;
}

/* The maps entry names the file by its path from the root of the
 * process's mount namespace, as it looks from ours; /proc/PID/root is the
 * process's own root. They are one when the process's root is its
 * namespace's (a container after pivot_root), not when it is chroot()ed
 * within it (a chroot build, a runtime that chroots, the container test):
 * the path then carries the root's own path first, which /proc/PID/root
 * shows as its link target. Each candidate must be the inode the entry
 * shows; map_files last, it needs CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE). */
int tls_mapping_open(pid_t pid, const struct tls_mapping *m, char *path, size_t cap,
		     struct stat *st)
{
	const struct binfile_want want = { .dev = m->dev, .ino = m->ino };
	char link[64], root[PATH_MAX];
	size_t n;
	ssize_t len;
	int fd = -ENOENT;

	if (!m->deleted) {
		snprintf(path, cap, "/proc/%d/root%s", (int)pid, m->path);
		fd = binfile_open(path, BINFILE_NOFOLLOW, &want, st);
		if (fd >= 0)
			return fd;
		snprintf(link, sizeof(link), "/proc/%d/root", (int)pid);
		len = readlink(link, root, sizeof(root) - 1);
		if (len > 1 && root[0] == '/') {
			root[len] = '\0';
			n = (size_t)len;
			if (!strncmp(m->path, root, n) && m->path[n] == '/') {
				snprintf(path, cap, "/proc/%d/root%s", (int)pid, m->path + n);
				fd = binfile_open(path, BINFILE_NOFOLLOW, &want, st);
				if (fd >= 0)
					return fd;
			}
		}
	}
	snprintf(path, cap, "/proc/%d/map_files/%lx-%lx", (int)pid, m->start, m->end);
	return binfile_open(path, 0, &want, st);
}

/* "start-end perms offset major:minor inode   path" */
int tls_maps_for_each(pid_t pid, tls_mapping_fn fn, void *ctx)
{
	char file[64], *line = NULL;
	size_t cap = 0;
	FILE *f;
	int err = 0;

	snprintf(file, sizeof(file), "/proc/%d/maps", (int)pid);
	f = fopen(file, "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		struct tls_mapping m = {};
		unsigned int maj, min;
		unsigned long ino;
		char perms[5];
		int path_at = 0;
		size_t len;

		if (sscanf(line, "%lx-%lx %4s %*s %x:%x %lu %n", &m.start, &m.end,
			   perms, &maj, &min, &ino, &path_at) < 6 || !path_at)
			continue;
		if (perms[2] != 'x' || !ino || line[path_at] != '/')
			continue;
		len = strlen(line);
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > 10 && !strcmp(line + len - 10, " (deleted)")) {
			line[len - 10] = '\0';
			m.deleted = true;
		}
		m.dev = makedev(maj, min);
		m.ino = ino;
		m.path = line + path_at;
		err = fn(ctx, pid, &m);
		if (err)
			break;
	}
	free(line);
	fclose(f);
	return err;
}

int tls_proc_stat(pid_t pid, uint64_t *starttime, uint64_t *vsize_bytes)
{
	char file[64], buf[1024], *p;
	unsigned long long st, vs;
	ssize_t n;
	int fd, i;

	snprintf(file, sizeof(file), "/proc/%d/stat", (int)pid);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -ENOENT;
	buf[n] = '\0';
	/* comm may hold spaces and ')': fields resume after the last ')'.
	 * Skip state (field 3) to itrealvalue (21); starttime is 22, vsize 23. */
	p = strrchr(buf, ')');
	for (i = 3; p && i <= 22; i++)
		p = strchr(p + 1, ' ');
	if (!p)
		return -EINVAL;
	st = strtoull(p + 1, &p, 10);
	if (*p != ' ')
		return -EINVAL;
	vs = strtoull(p + 1, NULL, 10);
	*starttime = st;
	*vsize_bytes = vs;
	return 0;
}
