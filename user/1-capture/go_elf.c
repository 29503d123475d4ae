/* Go executable -> where to probe crypto/tls: the entries and RET
 * instructions of (*Conn).Write/Read and the entry of Close, as file
 * offsets for uprobes (bpf/go_tls.bpf.c), or a reason why not.
 *
 * Why .gopclntab and not .symtab: the runtime needs it for tracebacks, so
 * it survives `go build -ldflags=-s -w` and every packer that keeps the
 * program running. Why disassemble: a uprobe must sit on an instruction
 * boundary, and a byte 0xc3 inside another instruction is not a RET; the
 * functions are decoded from their entry to their end, and any byte that
 * does not decode refuses the whole binary. The entry is checked to be a
 * Go ABIInternal prologue (a compare against g.stackguard0 at 16(R14)):
 * the probes read the arguments and g from registers, which only holds
 * for the register ABI (Go >= 1.17) on amd64.
 *
 * The file is read through one read-only mapping; every offset taken from
 * it is bounds-checked (a crafted binary must not make us read past it). */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <capstone/capstone.h>
#include "binfile.h"
#include "go_elf.h"

const char *const go_fn_names[GO_FN__MAX] = {
	[GO_FN_WRITE] = "crypto/tls.(*Conn).Write",
	[GO_FN_READ] = "crypto/tls.(*Conn).Read",
	[GO_FN_CLOSE] = "crypto/tls.(*Conn).Close",
};

#define PCLN_MAGIC_116	0xfffffffau	/* Go 1.16, 1.17 */
#define PCLN_MAGIC_118	0xfffffff0u	/* Go 1.18, 1.19 */
#define PCLN_MAGIC_120	0xfffffff1u	/* Go 1.20 and later */
#define PCLN_MAGIC_112	0xfffffffbu	/* Go 1.2 - 1.15 */
#define PROLOGUE_INSNS	4		/* where the stack check must be */
#define FUNC_MAX_BYTES	(1u << 20)	/* no Write/Read is near this */

static uint64_t rd_le(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

/* The field of n bytes at off, if the table holds it. */
static int rd_at(const uint8_t *tab, size_t len, uint64_t off, unsigned int n, uint64_t *v)
{
	if (off > len || len - off < n)
		return -EINVAL;
	*v = rd_le(tab + off, n);
	return 0;
}

/* name is the NUL-terminated string at off? */
static bool name_is(const uint8_t *tab, size_t len, uint64_t off, const char *name)
{
	size_t n = strlen(name) + 1;

	return off <= len && len - off >= n && !memcmp(tab + off, name, n);
}

static int pclntab_find(const uint8_t *tab, size_t len, uint64_t text_start,
			struct go_func out[GO_FN__MAX])
{
	uint64_t magic, nfunc, ps, names, pcln, hdr_text = 0, found = 0;
	unsigned int entsz;
	bool new_layout;
	uint64_t i;
	int k;

	memset(out, 0, sizeof(*out) * GO_FN__MAX);
	if (rd_at(tab, len, 0, 4, &magic) || len < 8)
		return -EINVAL;
	if (magic == PCLN_MAGIC_112)
		return -EPROTONOSUPPORT;
	if (magic != PCLN_MAGIC_116 && magic != PCLN_MAGIC_118 && magic != PCLN_MAGIC_120)
		return -EINVAL;
	ps = tab[7];
	if (tab[4] || tab[5] || (ps != 4 && ps != 8) || !tab[6] || tab[6] > 4)
		return -EINVAL;
	new_layout = magic != PCLN_MAGIC_116;
	/* pcHeader: nfunc, nfiles, [textStart,] funcnameOffset, cuOffset,
	 * filetabOffset, pctabOffset, pclnOffset, each pointer-sized. */
	if (rd_at(tab, len, 8, ps, &nfunc) ||
	    (new_layout && rd_at(tab, len, 8 + 2 * ps, ps, &hdr_text)) ||
	    rd_at(tab, len, 8 + (new_layout ? 3 : 2) * ps, ps, &names) ||
	    rd_at(tab, len, 8 + (new_layout ? 7 : 6) * ps, ps, &pcln))
		return -EINVAL;
	/* functab: nfunc + 1 (entry, funcoff) pairs, the last one the end;
	 * uint32 offsets from textStart since 1.18, addresses before. */
	entsz = new_layout ? 8 : 2 * ps;
	if (pcln > len || nfunc >= (len - pcln) / entsz)
		return -EINVAL;
	if (new_layout && hdr_text)
		text_start = hdr_text;
	for (i = 0; i < nfunc && found < GO_FN__MAX; i++) {
		uint64_t e0 = pcln + i * entsz, entry, next, funcoff, nameoff;

		if (new_layout) {
			if (rd_at(tab, len, e0, 4, &entry) || rd_at(tab, len, e0 + 4, 4, &funcoff) ||
			    rd_at(tab, len, e0 + 8, 4, &next))
				return -EINVAL;
			if (rd_at(tab, len, pcln + funcoff + 4, 4, &nameoff))
				return -EINVAL;
			entry += text_start;
			next += text_start;
		} else {
			if (rd_at(tab, len, e0, ps, &entry) || rd_at(tab, len, e0 + ps, ps, &funcoff) ||
			    rd_at(tab, len, e0 + 2 * ps, ps, &next))
				return -EINVAL;
			if (rd_at(tab, len, pcln + funcoff + ps, 4, &nameoff))
				return -EINVAL;
		}
		/* nameOff is an int32 into funcnametab. */
		if (nameoff & 0x80000000u)
			continue;
		for (k = 0; k < GO_FN__MAX; k++) {
			if (out[k].addr || !name_is(tab, len, names + nameoff, go_fn_names[k]))
				continue;
			if (next <= entry)
				return -EINVAL;
			out[k].addr = entry;
			out[k].size = next - entry;
			found++;
			break;
		}
	}
	return 0;
}

/* Nothing half-found on error. */
int go_pclntab_find(const uint8_t *tab, size_t len, uint64_t text_start,
		    struct go_func out[GO_FN__MAX])
{
	int err = pclntab_find(tab, len, text_start, out);

	if (err)
		memset(out, 0, sizeof(*out) * GO_FN__MAX);
	return err;
}

int go_buildinfo_version(const uint8_t *bi, size_t len, char *ver, size_t cap)
{
	static const char magic[] = "\xff Go buildinf:";
	uint64_t n = 0;
	size_t off = 32;
	unsigned int shift = 0;

	if (len < 32 || memcmp(bi, magic, 14) || !cap)
		return -EINVAL;
	if (!(bi[15] & 2))
		return -ENOENT;
	/* A uvarint length, then the string. */
	for (;;) {
		if (off >= len || shift > 28)
			return -EINVAL;
		n |= (uint64_t)(bi[off] & 0x7f) << shift;
		shift += 7;
		if (!(bi[off++] & 0x80))
			break;
	}
	if (n > len - off)
		return -EINVAL;
	if (n >= cap)
		n = cap - 1;
	memcpy(ver, bi + off, n);
	ver[n] = '\0';
	return 0;
}

int go_version_minor(const char *ver)
{
	const char *p = strstr(ver, "go1.");
	int minor = 0;

	if (!p || p[4] < '0' || p[4] > '9')
		return -EINVAL;
	for (p += 4; *p >= '0' && *p <= '9' && minor < 1000; p++)
		minor = minor * 10 + (*p - '0');
	return minor;
}

/* ---- the ELF file ------------------------------------------------------- */

struct image {
	Elf *elf;
	size_t size;		/* of the file when opened */
	int fd;
};

static const uint8_t *section(const struct image *im, const char *want, GElf_Shdr *out)
{
	return binfile_section(im->elf, want, 0, out);
}

/* A virtual address -> its file offset, through the PT_LOAD holding it;
 * exec: only in an executable segment. */
static int vaddr_off(const struct image *im, uint64_t vaddr, uint64_t n, bool exec,
		     uint64_t *off)
{
	size_t nph, i;
	GElf_Phdr ph;

	if (elf_getphdrnum(im->elf, &nph))
		return -EINVAL;
	for (i = 0; i < nph; i++) {
		if (!gelf_getphdr(im->elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (exec && !(ph.p_flags & PF_X))
			continue;
		if (vaddr < ph.p_vaddr || vaddr - ph.p_vaddr > ph.p_filesz ||
		    ph.p_filesz - (vaddr - ph.p_vaddr) < n)
			continue;
		*off = vaddr - ph.p_vaddr + ph.p_offset;
		if (*off > im->size || im->size - *off < n)
			return -EINVAL;
		return 0;
	}
	return -ENOENT;
}

/* Go 1.13-1.17 keep the version behind two pointers: buildinfo+16 points
 * to a string header {data, len}. */
static void version_by_pointer(const struct image *im, const uint8_t *bi, size_t len,
			       char *ver, size_t cap)
{
	unsigned int ps = bi[14];
	uint64_t hdr, data, n, off;
	uint8_t str[16];

	if ((ps != 4 && ps != 8) || (bi[15] & 1) || len < 16 + ps)
		return;
	hdr = rd_le(bi + 16, ps);
	if (vaddr_off(im, hdr, 2 * ps, false, &off) || binfile_pread(im->fd, str, 2 * ps, off))
		return;
	data = rd_le(str, ps);
	n = rd_le(str + ps, ps);
	if (n >= cap)
		n = cap - 1;
	if (vaddr_off(im, data, n, false, &off) || binfile_pread(im->fd, ver, n, off))
		return;
	ver[n] = '\0';
}

static int fail(char *reason, size_t cap, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *reason, size_t cap, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, cap, fmt, ap);
	va_end(ap);
	return err;
}

/* Decodes fn from its entry to its end: checks the prologue, collects the
 * RETs. */
static int disassemble(csh cs, const struct image *im, const struct go_func *fn,
		       const char *name, struct go_tls_func *out, char *reason, size_t cap)
{
	uint64_t off, addr = fn->addr;
	const uint8_t *code;
	uint8_t *buf;
	size_t left;
	cs_insn *insn;
	unsigned int i = 0;
	bool stack_check = false;
	int err = 0;

	if (fn->size > FUNC_MAX_BYTES || vaddr_off(im, fn->addr, fn->size, true, &off))
		return fail(reason, cap, -EILSEQ, "%s: not in an executable segment", name);
	/* Read, not mapped: the kernel puts the breakpoints of uprobes already
	 * on this file (ours of a former run, another tool's) into every new
	 * mapping of it that could be executable, ours included, and a RET
	 * would read as int3. The page cache never holds them. */
	buf = malloc(fn->size);
	if (!buf)
		return -ENOMEM;
	if (binfile_pread(im->fd, buf, fn->size, off)) {
		free(buf);
		return fail(reason, cap, -EIO, "%s: cannot read its code", name);
	}
	code = buf;
	left = fn->size;
	insn = cs_malloc(cs);
	if (!insn) {
		free(buf);
		return -ENOMEM;
	}
	out->entry_off = off;
	out->nr_rets = 0;
	while (left) {
		if (!cs_disasm_iter(cs, &code, &left, &addr, insn)) {
			err = fail(reason, cap, -EILSEQ, "%s: undecodable byte at +%#lx", name,
				   (unsigned long)(addr - fn->addr));
			goto out;
		}
		if (i++ < PROLOGUE_INSNS && insn->detail) {
			const cs_x86 *x = &insn->detail->x86;

			for (uint8_t k = 0; k < x->op_count; k++)
				if (x->operands[k].type == X86_OP_MEM &&
				    x->operands[k].mem.base == X86_REG_R14 &&
				    x->operands[k].mem.disp == 16)
					stack_check = true;
		}
		if (insn->id != X86_INS_RET)
			continue;
		if (out->nr_rets == GO_TLS_MAX_RETS) {
			err = fail(reason, cap, -E2BIG, "%s: more than %d RETs", name,
				   GO_TLS_MAX_RETS);
			goto out;
		}
		out->ret_off[out->nr_rets++] = off + (insn->address - fn->addr);
	}
	if (!stack_check)
		err = fail(reason, cap, -EILSEQ,
			   "%s: entry is not a Go register-ABI prologue (no g.stackguard0 check)",
			   name);
	else if (!out->nr_rets)
		err = fail(reason, cap, -EILSEQ, "%s: no RET in %u instructions, %#lx bytes at %#lx",
			   name, i, (unsigned long)fn->size, (unsigned long)fn->addr);
out:
	cs_free(insn, 1);
	free(buf);
	return err;
}

int go_elf_inspect(const char *path, struct go_tls_target *out, char *reason,
		   size_t reason_cap)
{
	struct image im = {};
	struct go_func fns[GO_FN__MAX];
	const uint8_t *tab, *bi;
	GElf_Shdr sh, text;
	GElf_Ehdr eh;
	struct stat st;
	csh cs = 0;
	int fd, err, k, minor;

	memset(out, 0, sizeof(*out));
	snprintf(reason, reason_cap, "not a Go program using crypto/tls");
	fd = binfile_open(path, 0, NULL, &st);
	if (fd < 0)
		return fd;
	im.fd = fd;
	im.size = (size_t)st.st_size;
	im.elf = binfile_elf(fd);
	err = -ENOENT;
	if (!im.elf || !gelf_getehdr(im.elf, &eh))
		goto out;
	/* PIE builds put it among the relocated read-only data. */
	tab = section(&im, ".gopclntab", &sh);
	if (!tab)
		tab = section(&im, ".data.rel.ro.gopclntab", &sh);
	if (!tab)
		goto out;
	if (!binfile_has_section(im.elf, ".text", &text))
		text.sh_addr = 0;
	err = go_pclntab_find(tab, sh.sh_size, text.sh_addr, fns);
	if (err == -EPROTONOSUPPORT) {
		err = fail(reason, reason_cap, err, "Go before 1.16: stack ABI, not supported");
		goto out;
	}
	if (err) {
		err = fail(reason, reason_cap, -EINVAL, ".gopclntab unreadable");
		goto out;
	}
	if (!fns[GO_FN_WRITE].addr || !fns[GO_FN_READ].addr) {
		err = -ENOENT;
		goto out;
	}
	bi = section(&im, ".go.buildinfo", &sh);
	if (bi && go_buildinfo_version(bi, sh.sh_size, out->version, sizeof(out->version)) == -ENOENT)
		version_by_pointer(&im, bi, sh.sh_size, out->version, sizeof(out->version));
	minor = go_version_minor(out->version);
	/* Unknown version: the prologue check below still proves the ABI. */
	if (minor >= 0 && minor < 17) {
		err = fail(reason, reason_cap, -EPROTONOSUPPORT,
			   "%s: stack ABI (before Go 1.17), not supported", out->version);
		goto out;
	}
	if (eh.e_machine != EM_X86_64 || eh.e_ident[EI_CLASS] != ELFCLASS64) {
		err = fail(reason, reason_cap, -ENOEXEC, "%s: only amd64 is supported",
			   out->version[0] ? out->version : "Go");
		goto out;
	}
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) {
		err = fail(reason, reason_cap, -ENOMEM, "capstone unavailable");
		cs = 0;
		goto out;
	}
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	for (k = 0; k < GO_FN__MAX; k++) {
		if (!fns[k].addr)
			continue;	/* Close is optional: connections end by LRU */
		err = disassemble(cs, &im, &fns[k], go_fn_names[k], &out->fn[k], reason,
				  reason_cap);
		if (err)
			goto out;
	}
	snprintf(reason, reason_cap, "ok");
	err = 0;
out:
	if (cs)
		cs_close(&cs);
	elf_end(im.elf);
	close(fd);
	return err;
}
