/* The finders' persistent cache (find_cache.h): a binary path and a
 * finder in, the finder's answer out, from disk when this binary was seen
 * before. The file is ours (the attacher's, root's, 0600) but the binaries
 * are anyone's: opened by binfile_open (non-blocking, regular files only)
 * and only read with pread (a file truncated meanwhile fails a read, no
 * SIGBUS).
 * Layout, host byte order: a header, then fixed-size entries. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "binfile.h"
#include "find_cache.h"
#include "log.h"
#include "stats.h"

#define FC_MAGIC	"LLMOBSFC"
#define FC_FORMAT	1
#define FC_SLICES	8		/* of the code, hashed when no build-id */
#define FC_SLICE_BYTES	4096
#define FC_HDRS_MAX	(256u << 10)	/* program or section headers hashed */

struct fc_header {
	char magic[8];
	uint32_t format, count, entry_bytes, reserved;
};

struct fc_entry {
	uint8_t key[32];
	uint32_t finder, version;
	int32_t err;
	uint32_t nr_offs;
	uint64_t seq;			/* larger: newer; the smallest goes first */
	uint64_t off[FIND_CACHE_MAX_OFFS];
	uint8_t head[FIND_CACHE_MAX_OFFS][FIND_CACHE_HEAD_BYTES];
	uint8_t out[FIND_CACHE_OUT_BYTES];
	char reason[160];
};

struct find_cache {
	char *path;
	unsigned int max, n;
	uint64_t seq;
	struct fc_entry e[];
};

static int rd(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t r = pread(fd, buf, len, (off_t)off);

	return r < 0 ? -errno : (size_t)r == len ? 0 : -EIO;
}

static void load(struct find_cache *fc)
{
	struct fc_header h;
	struct stat st;
	const char *why = NULL;
	unsigned int i;
	int fd = open(fc->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		if (errno != ENOENT)
			why = strerror(errno);
		goto out;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size > sizeof(h) + FIND_CACHE_MAX_ENTRIES * sizeof(struct fc_entry) ||
	    rd(fd, &h, sizeof(h), 0) || memcmp(h.magic, FC_MAGIC, 8) || h.format != FC_FORMAT ||
	    h.entry_bytes != sizeof(struct fc_entry) ||
	    sizeof(h) + (uint64_t)h.count * sizeof(struct fc_entry) != (uint64_t)st.st_size) {
		why = "not a cache of this format";
		goto out;
	}
	fc->n = h.count < fc->max ? h.count : fc->max;
	if (rd(fd, fc->e, fc->n * sizeof(struct fc_entry), sizeof(h))) {
		why = "cannot read it";
		goto out;
	}
	for (i = 0; i < fc->n; i++) {
		struct fc_entry *e = &fc->e[i];

		if (e->nr_offs > FIND_CACHE_MAX_OFFS || !memchr(e->reason, 0, sizeof(e->reason))) {
			why = "a malformed entry";
			goto out;
		}
		if (e->seq > fc->seq)
			fc->seq = e->seq;
	}
out:
	if (why) {
		fc->n = 0;
		stats_inc(STAT_FIND_CACHE_CORRUPT);
		p_warn("tls: ignoring the finders' cache %s (%s): binaries are fingerprinted anew",
		       fc->path, why);
	}
	if (fd >= 0)
		close(fd);
}

int find_cache_open(const char *path, unsigned int max_entries, struct find_cache **out)
{
	struct find_cache *fc;

	if (!max_entries || max_entries > FIND_CACHE_MAX_ENTRIES)
		max_entries = FIND_CACHE_MAX_ENTRIES;
	fc = calloc(1, sizeof(*fc) + max_entries * sizeof(struct fc_entry));
	if (!fc || !(fc->path = strdup(path))) {
		free(fc);
		return -ENOMEM;
	}
	fc->max = max_entries;
	load(fc);
	*out = fc;
	return 0;
}

void find_cache_close(struct find_cache *fc)
{
	if (fc)
		free(fc->path);
	free(fc);
}

/* tmp + rename: a reader sees the old file or the new one, whole. */
static int save(struct find_cache *fc)
{
	struct fc_header h = { .format = FC_FORMAT, .count = fc->n,
			       .entry_bytes = sizeof(struct fc_entry) };
	char tmp[4096];
	int fd, err = 0;

	memcpy(h.magic, FC_MAGIC, 8);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", fc->path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, &h, sizeof(h)) != sizeof(h) ||
	    write(fd, fc->e, fc->n * sizeof(struct fc_entry)) !=
		    (ssize_t)(fc->n * sizeof(struct fc_entry)))
		err = errno ? -errno : -EIO;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, fc->path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

/* NT_GNU_BUILD_ID from the PT_NOTE segments; its length, or 0. */
static size_t build_id(int fd, const Elf64_Phdr *ph, unsigned int n, uint8_t *id, size_t cap)
{
	uint8_t notes[4096];
	unsigned int i;

	for (i = 0; i < n; i++) {
		size_t len = ph[i].p_filesz < sizeof(notes) ? ph[i].p_filesz : sizeof(notes), at = 0;

		if (ph[i].p_type != PT_NOTE || rd(fd, notes, len, ph[i].p_offset))
			continue;
		while (at + sizeof(Elf64_Nhdr) <= len) {
			Elf64_Nhdr nh;
			size_t name_at = at + sizeof(nh), desc_at;

			memcpy(&nh, notes + at, sizeof(nh));
			desc_at = name_at + ((nh.n_namesz + 3u) & ~3u);
			if (nh.n_namesz > len || nh.n_descsz > len || desc_at + nh.n_descsz > len)
				break;
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
			    !memcmp(notes + name_at, "GNU", 4) && nh.n_descsz && nh.n_descsz <= cap) {
				memcpy(id, notes + desc_at, nh.n_descsz);
				return nh.n_descsz;
			}
			at = desc_at + ((nh.n_descsz + 3u) & ~3u);
		}
	}
	return 0;
}

/* Hashes len bytes at off (a table of headers, a slice of code). */
static int hash_at(EVP_MD_CTX *md, int fd, uint64_t off, size_t len)
{
	uint8_t *buf = malloc(len ? len : 1);
	int err = buf ? rd(fd, buf, len, off) : -ENOMEM;

	if (!err && !EVP_DigestUpdate(md, buf, len))
		err = -ENOMEM;
	free(buf);
	return err;
}

int find_cache_key(int fd, uint8_t key[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	Elf64_Phdr *ph = NULL;
	Elf64_Shdr sh;
	Elf64_Ehdr eh;
	struct stat st;
	uint8_t id[64];
	uint64_t text_off = 0, text_size = 0, size, i;
	size_t id_len = 0, ph_bytes;
	int err;

	if (!md)
		return -ENOMEM;
	err = fstat(fd, &st) ? -errno : rd(fd, &eh, sizeof(eh), 0);
	if (err || memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_shentsize != sizeof(Elf64_Shdr)) {
		err = err ? err : -ENOEXEC;
		goto out;
	}
	size = (uint64_t)st.st_size;
	ph_bytes = (size_t)eh.e_phnum * sizeof(Elf64_Phdr);
	if (ph_bytes > FC_HDRS_MAX || (uint64_t)eh.e_shnum * sizeof(sh) > FC_HDRS_MAX) {
		err = -ENOEXEC;
		goto out;
	}
	ph = malloc(ph_bytes ? ph_bytes : 1);
	if (!ph || (err = rd(fd, ph, ph_bytes, eh.e_phoff)))
		goto out;
	id_len = build_id(fd, ph, eh.e_phnum, id, sizeof(id));
	if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(md, id_len ? "build-id" : "content", id_len ? 9 : 8) ||
	    !EVP_DigestUpdate(md, &size, sizeof(size)) || !EVP_DigestUpdate(md, id, id_len)) {
		err = -ENOMEM;
		goto out;
	}
	if (!id_len) {
		/* The headers, then slices of the largest code section (the
		 * whole file where there are no sections). */
		if ((err = hash_at(md, fd, 0, sizeof(eh))) || (err = hash_at(md, fd, eh.e_phoff, ph_bytes)) ||
		    (err = hash_at(md, fd, eh.e_shoff, (size_t)eh.e_shnum * sizeof(sh))))
			goto out;
		for (i = 0; i < eh.e_shnum; i++) {
			if ((err = rd(fd, &sh, sizeof(sh), eh.e_shoff + i * sizeof(sh))))
				goto out;
			if (sh.sh_type == SHT_PROGBITS && (sh.sh_flags & SHF_EXECINSTR) &&
			    sh.sh_size > text_size && sh.sh_offset + sh.sh_size <= size)
				text_off = sh.sh_offset, text_size = sh.sh_size;
		}
		if (!text_size)
			text_size = size;
		for (i = 0; i < FC_SLICES; i++) {
			uint64_t len = text_size < FC_SLICE_BYTES ? text_size : FC_SLICE_BYTES;

			err = hash_at(md, fd, text_off + i * (text_size - len) / (FC_SLICES - 1), len);
			if (err)
				goto out;
		}
	}
	if (!EVP_DigestFinal_ex(md, key, NULL))
		err = -ENOMEM;
out:
	free(ph);
	EVP_MD_CTX_free(md);
	return err;
}

static struct fc_entry *lookup(struct find_cache *fc, const uint8_t key[32], uint32_t finder)
{
	unsigned int i;

	for (i = 0; i < fc->n; i++)
		if (fc->e[i].finder == finder && !memcmp(fc->e[i].key, key, 32))
			return &fc->e[i];
	return NULL;
}

/* Whether a found entry's probe points still begin as they did. */
static bool still_there(const struct fc_entry *e, int fd)
{
	uint8_t head[FIND_CACHE_HEAD_BYTES];
	unsigned int i;

	for (i = 0; i < e->nr_offs; i++)
		if (rd(fd, head, sizeof(head), e->off[i]) || memcmp(head, e->head[i], sizeof(head)))
			return false;
	return true;
}

static void remember(struct find_cache *fc, const uint8_t key[32], const struct find_cache_finder *f,
		     int err, const void *out, const char *reason, int fd)
{
	struct fc_entry *e = lookup(fc, key, f->id);
	unsigned int i;

	if (!e && fc->n < fc->max) {
		e = &fc->e[fc->n++];
	} else if (!e) {	/* full: the oldest goes */
		e = &fc->e[0];
		for (i = 1; i < fc->n; i++)
			if (fc->e[i].seq < e->seq)
				e = &fc->e[i];
	}
	memset(e, 0, sizeof(*e));
	memcpy(e->key, key, 32);
	e->finder = f->id;
	e->version = f->version;
	e->err = err;
	e->seq = ++fc->seq;
	snprintf(e->reason, sizeof(e->reason), "%s", reason);
	if (!err) {
		memcpy(e->out, out, f->out_bytes);
		e->nr_offs = f->offsets(out, e->off);
		for (i = 0; i < e->nr_offs; i++)
			if (rd(fd, e->head[i], FIND_CACHE_HEAD_BYTES, e->off[i]))
				return (void)memset(e, 0, sizeof(*e));	/* never matches */
	}
	err = save(fc);
	if (err)
		p_warn("tls: cannot write the finders' cache %s: %s", fc->path, strerror(-err));
}

static bool cacheable(int err)
{
	return !err || err == -ENOENT || err == -ENOEXEC || err == -ESRCH || err == -EILSEQ;
}

int find_cache_run(struct find_cache *fc, const char *path, const struct find_cache_finder *f,
		   void *out, char *reason, size_t reason_cap, bool *hit)
{
	struct fc_entry *e;
	char self[32];
	uint8_t key[32];
	int fd = -1, err;

	*hit = false;
	if (fc && f->out_bytes <= FIND_CACHE_OUT_BYTES)
		fd = binfile_open(path, 0, NULL, NULL);	/* as the finders open it */
	if (fd >= 0 && find_cache_key(fd, key)) {
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		return f->find(path, out, reason, reason_cap);
	e = lookup(fc, key, f->id);
	if (e && e->version == f->version && still_there(e, fd)) {
		memset(out, 0, f->out_bytes);
		if (!e->err)
			memcpy(out, e->out, f->out_bytes);
		snprintf(reason, reason_cap, "%s", e->reason);
		err = e->err;
		*hit = true;
		stats_inc(STAT_FIND_CACHE_HITS);
	} else {
		if (e)
			p_debug("tls: %s: the cached %s answer is stale (finder version %u, now %u)",
				path, f->name, e->version, f->version);
		stats_inc(STAT_FIND_CACHE_MISSES);
		/* The finder reads the file keyed, through our fd: not what
		 * the path may name by now, and still there if the process
		 * whose /proc/PID/root the path went through has exited. */
		snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
		err = f->find(self, out, reason, reason_cap);
		if (cacheable(err))
			remember(fc, key, f, err, out, reason, fd);
	}
	close(fd);
	return err;
}
