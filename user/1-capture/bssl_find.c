/* x86-64 executable with BoringSSL linked in, no symbols -> the entries
 * of SSL_write and SSL_read, each proven a function entry, or why not.
 *
 * Bun (and so Claude Code) links BoringSSL statically, strips its symbols
 * and has no .eh_frame for it, so neither symbols nor FDEs give function
 * boundaries. What the code cannot shed are its error reports:
 * OPENSSL_PUT_ERROR(SSL, reason) is ERR_put_error(0x10, 0, reason,
 * "…/ssl/ssl_lib.cc", __LINE__), compiled to immediates loaded right before
 * the call. So:
 *   1. find the file name string in .rodata;
 *   2. find every instruction that loads its address (mov r32, imm32 in a
 *      non-PIE executable, lea r64, [rip+d] in a PIE), decode from there
 *      to the call, keep the sites whose lib is SSL: (reason, line);
 *   3. give each site its function: the nearest 16-byte-aligned address
 *      below it that follows int3 padding or a ret, from which every
 *      instruction decodes up to the site exactly (so the site is on an
 *      instruction boundary of code that starts there);
 *   4. name the functions by their sites, as in BoringSSL's source:
 *      SSL_write reports SHOULD_NOT_HAVE_BEEN_CALLED (QUIC), UNINITIALIZED
 *      and SSL_HANDSHAKE_FAILURE, in that order of lines; ssl_read_impl
 *      UNINITIALIZED then SSL_HANDSHAKE_FAILURE without the first; SSL_read
 *      only SHOULD_NOT_HAVE_BEEN_CALLED, between the two in the file, and
 *      it calls ssl_read_impl directly;
 *   5. accept an entry only if some direct call in .text targets it.
 * Any doubt (no candidate, two candidates, a failed check) is a refusal:
 * a probe only ever goes where all of this holds. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <capstone/capstone.h>
#include "binfile.h"
#include "bssl_find.h"
#include "tls_blind.h"
#include "x86_code.h"

#define FILE_NEEDLE	"boringssl/ssl/ssl_lib.cc"

/* The needle above is in every program linking this file: tls_blind.c
 * reads this section to leave such programs alone. */
__attribute__((used, section(TLS_BLIND_SELF_SECTION)))
static const char self_mark[] = "llm-observer: BoringSSL fingerprints, not BoringSSL";
#define MAX_SITES	256
#define MAX_FNS		64
#define SITE_WINDOW	8		/* instructions from the site to the call */
#define FN_BACK_MAX	(64u << 10)	/* how far a site may lie from its entry */

struct site {
	uint64_t addr;
	uint32_t reason, line;
};

struct fn {
	uint64_t start;
	int nsites;
	struct site sites[8];
};

struct ctx {
	Elf *elf;
	const uint8_t *text;		/* .text bytes, read */
	struct x86_code x;		/* .text for the decoder */
	uint8_t *buf;			/* FN_BACK_MAX bytes of code read */
	struct site sites[MAX_SITES];
	int nsites;
	struct fn fns[MAX_FNS];
	int nfns;
};

static const uint8_t *section(struct ctx *c, const char *want, GElf_Shdr *out)
{
	return binfile_section(c->elf, want, SHT_PROGBITS, out);
}

/* From the instruction loading the file name to the call or jump that
 * follows: the lib, reason and line immediates. A site is kept when its
 * own instruction decodes to what the byte pattern said (len bytes). */
static void site_at(struct ctx *c, uint64_t addr, unsigned int len)
{
	uint32_t lib = 0, reason = 0, line = 0, imm;
	uint64_t a = addr;
	x86_reg reg;
	int i;

	if (c->nsites == MAX_SITES || !x86_code_decode_at(&c->x, addr) || c->x.insn->size != len)
		return;
	for (i = 0; i < SITE_WINDOW; i++) {
		if (!x86_code_decode_at(&c->x, a))
			return;
		if (x86_mov_imm(c->x.insn, &reg, &imm)) {
			if (reg == X86_REG_EDI)
				lib = imm;
			else if (reg == X86_REG_EDX)
				reason = imm;
			else if (reg == X86_REG_R8D)
				line = imm;
		}
		if (c->x.insn->id == X86_INS_CALL || c->x.insn->id == X86_INS_JMP)
			break;
		a += c->x.insn->size;
	}
	if (lib != BSSL_LIB_SSL || !reason || !line)
		return;
	c->sites[c->nsites].addr = addr;
	c->sites[c->nsites].reason = reason;
	c->sites[c->nsites].line = line;
	c->nsites++;
}

/* The address is loaded RIP-relative (PIE, and clang's default even
 * without), or as an immediate below 4 GiB (Bun's non-PIE build). */
static void find_sites(struct ctx *c, uint64_t str)
{
	const uint8_t *t = c->text, *p, *end = c->text + c->x.text_size;
	uint8_t imm[4] = { str, str >> 8, str >> 16, str >> 24 };

	/* lea r64, [rip + disp32]: REX.W(.R) 8d, mod 00 rm 101. */
	for (p = t + 1; p + 6 <= end && (p = memchr(p, 0x8d, end - 5 - p)); p++) {
		uint64_t i = p - t - 1;

		if ((t[i] == 0x48 || t[i] == 0x4c) && (p[1] & 0xc7) == 0x05 &&
		    c->x.text_addr + i + 7 + (int64_t)(int32_t)x86_rd32(p + 2) == str)
			site_at(c, c->x.text_addr + i, 7);
	}
	if (str > 0xffffffffu)
		return;
	/* mov r32, imm32 (b8+r), or with REX.B (41 b8+r). */
	for (p = t + 1; p + 4 <= end && (p = memmem(p, end - p, imm, 4)); p++) {
		uint64_t i = p - t - 1;

		if (t[i] < 0xb8 || t[i] > 0xbf)
			continue;
		if (i && t[i - 1] == 0x41)
			site_at(c, c->x.text_addr + i - 1, 6);
		else
			site_at(c, c->x.text_addr + i, 5);
	}
}

/* The entry of the function holding site: aligned, after int3 padding,
 * and decoding instruction by instruction from there lands on the site. */
static uint64_t entry_of(struct ctx *c, uint64_t site)
{
	uint64_t a = site & ~15ull, lo = site > FN_BACK_MAX ? site - FN_BACK_MAX : 0;

	for (; a > c->x.text_addr && a >= lo; a -= 16) {
		const uint8_t *code = c->buf;
		size_t left;
		uint64_t pc = a;

		/* int3 padding before it, or a ret right before (a function
		 * that ends on the boundary): a byte that could end another
		 * instruction too, which the direct-call check catches. */
		if (c->text[a - c->x.text_addr - 1] != 0xcc && c->text[a - c->x.text_addr - 1] != 0xc3)
			continue;
		left = x86_code_read(&c->x, a, c->buf, site - a);
		if (left != site - a)
			return 0;
		while (pc < site && cs_disasm_iter(c->x.cs, &code, &left, &pc, c->x.insn))
			;
		return pc == site ? a : 0;
	}
	return 0;
}

static struct fn *fn_for(struct ctx *c, uint64_t start)
{
	for (int i = 0; i < c->nfns; i++)
		if (c->fns[i].start == start)
			return &c->fns[i];
	if (c->nfns == MAX_FNS)
		return NULL;
	memset(&c->fns[c->nfns], 0, sizeof(c->fns[0]));
	c->fns[c->nfns].start = start;
	return &c->fns[c->nfns++];
}

static const struct site *fn_site(const struct fn *f, uint32_t reason)
{
	for (int i = 0; i < f->nsites; i++)
		if (f->sites[i].reason == reason)
			return &f->sites[i];
	return NULL;
}

/* Does the code from f's entry to the next known function call target? */
static bool fn_calls(struct ctx *c, const struct fn *f, uint64_t target)
{
	const uint8_t *code = c->buf;
	size_t left = x86_code_read(&c->x, f->start, c->buf, 4096);
	uint64_t pc = f->start;
	int n = 0;

	while (n++ < 1024 && cs_disasm_iter(c->x.cs, &code, &left, &pc, c->x.insn)) {
		const cs_x86 *x = &c->x.insn->detail->x86;

		if (c->x.insn->id == X86_INS_CALL && x->op_count == 1 &&
		    x->operands[0].type == X86_OP_IMM && (uint64_t)x->operands[0].imm == target)
			return true;
		if (c->x.insn->id == X86_INS_INT3)
			break;	/* the padding after the function */
	}
	return false;
}

/* Direct calls (e8 rel32) in .text that land on a and on b, in one pass. */
static void callers(struct ctx *c, uint64_t a, uint32_t *na, uint64_t b, uint32_t *nb)
{
	const uint8_t *t = c->text, *p;
	uint64_t n = c->x.text_size;

	*na = *nb = 0;
	for (p = t; p + 5 <= t + n && (p = memchr(p, 0xe8, n - 4 - (p - t))); p++) {
		uint64_t to = c->x.text_addr + (p - t) + 5 + (int64_t)(int32_t)x86_rd32(p + 1);

		*na += to == a;
		*nb += to == b;
	}
}

static int to_offset(struct ctx *c, uint64_t addr, uint64_t *off)
{
	size_t nph, i;
	GElf_Phdr ph;

	if (elf_getphdrnum(c->elf, &nph))
		return -EINVAL;
	for (i = 0; i < nph; i++) {
		if (!gelf_getphdr(c->elf, i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X) ||
		    addr < ph.p_vaddr || addr - ph.p_vaddr >= ph.p_filesz)
			continue;
		*off = addr - ph.p_vaddr + ph.p_offset;
		return 0;
	}
	return -ENOENT;
}

/* Steps 3-5 on the sites found. */
static int identify(struct ctx *c, struct bssl_target *out, char *reason, size_t cap)
{
	const struct fn *w = NULL, *ri = NULL, *r = NULL;
	int i, nw = 0, nri = 0, nr = 0;

	for (i = 0; i < c->nsites; i++) {
		uint64_t start = entry_of(c, c->sites[i].addr);
		struct fn *f = start ? fn_for(c, start) : NULL;

		if (f && f->nsites < 8)
			f->sites[f->nsites++] = c->sites[i];
	}
	for (i = 0; i < c->nfns; i++) {
		const struct fn *f = &c->fns[i];
		const struct site *q = fn_site(f, BSSL_R_SHOULD_NOT_HAVE_BEEN_CALLED),
				  *u = fn_site(f, BSSL_R_UNINITIALIZED),
				  *h = fn_site(f, BSSL_R_SSL_HANDSHAKE_FAILURE);

		if (q && u && h && q->line < u->line && u->line < h->line) {
			w = f;
			nw++;
		} else if (!q && u && h && u->line < h->line) {
			ri = f;
			nri++;
		}
	}
	if (nw != 1 || nri != 1)
		return x86_code_fail(reason, cap, -ESRCH, "%d SSL_write and %d ssl_read_impl candidates "
			    "among %d functions of %d error sites", nw, nri, c->nfns, c->nsites);
	for (i = 0; i < c->nfns; i++) {
		const struct fn *f = &c->fns[i];
		const struct site *q = fn_site(f, BSSL_R_SHOULD_NOT_HAVE_BEEN_CALLED);

		if (f->nsites == 1 && q && q->line > fn_site(ri, BSSL_R_SSL_HANDSHAKE_FAILURE)->line &&
		    q->line < fn_site(w, BSSL_R_SHOULD_NOT_HAVE_BEEN_CALLED)->line &&
		    fn_calls(c, f, ri->start)) {
			r = f;
			nr++;
		}
	}
	if (nr != 1)
		return x86_code_fail(reason, cap, -ESRCH, "%d SSL_read candidates", nr);
	out->write_addr = w->start;
	out->read_addr = r->start;
	callers(c, w->start, &out->write_callers, r->start, &out->read_callers);
	if (!out->write_callers || !out->read_callers)
		return x86_code_fail(reason, cap, -EILSEQ, "SSL_write at %#lx (%u callers) or SSL_read at %#lx "
			    "(%u) is no direct call target", (unsigned long)w->start,
			    out->write_callers, (unsigned long)r->start, out->read_callers);
	if (to_offset(c, w->start, &out->write_off) || to_offset(c, r->start, &out->read_off))
		return x86_code_fail(reason, cap, -EILSEQ, "entries outside an executable segment");
	out->sites = c->nsites;
	return 0;
}

int bssl_find(const char *path, struct bssl_target *out, char *reason, size_t reason_cap)
{
	struct ctx *c;
	const uint8_t *rodata, *p, *s;
	GElf_Shdr rsh, tsh;
	GElf_Ehdr eh;
	int fd, err = -ENOENT;

	memset(out, 0, sizeof(*out));
	snprintf(reason, reason_cap, "no BoringSSL ssl_lib.cc");
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	fd = binfile_open(path, 0, NULL, NULL);
	if (fd < 0) {
		free(c);
		return fd;
	}
	c->elf = binfile_elf(fd);
	if (!c->elf || !gelf_getehdr(c->elf, &eh))
		goto out;
	rodata = section(c, ".rodata", &rsh);
	c->text = rodata ? section(c, ".text", &tsh) : NULL;
	if (!rodata || !c->text)
		goto out;
	p = memmem(rodata, rsh.sh_size, FILE_NEEDLE, sizeof(FILE_NEEDLE));
	if (!p)
		goto out;
	for (s = p; s > rodata && s[-1] && p - s < 256; s--)
		;
	if (eh.e_machine != EM_X86_64) {
		err = x86_code_fail(reason, reason_cap, -ENOEXEC, "BoringSSL on a machine other than x86-64");
		goto out;
	}
	c->x.fd = fd;
	c->x.text_addr = tsh.sh_addr;
	c->x.text_size = tsh.sh_size;
	c->x.text_off = tsh.sh_offset;
	c->buf = malloc(FN_BACK_MAX + 16);
	if (!c->buf) {
		err = -ENOMEM;
		goto out;
	}
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &c->x.cs) != CS_ERR_OK) {
		err = x86_code_fail(reason, reason_cap, -ENOMEM, "capstone unavailable");
		goto out;
	}
	cs_option(c->x.cs, CS_OPT_DETAIL, CS_OPT_ON);
	c->x.insn = cs_malloc(c->x.cs);
	if (!c->x.insn) {
		err = -ENOMEM;
		goto out;
	}
	find_sites(c, rsh.sh_addr + (uint64_t)(s - rodata));
	err = identify(c, out, reason, reason_cap);
	if (!err)
		snprintf(reason, reason_cap, "ok");
out:
	if (c->x.insn)
		cs_free(c->x.insn, 1);
	if (c->x.cs)
		cs_close(&c->x.cs);
	elf_end(c->elf);
	close(fd);
	free(c->buf);
	free(c);
	return err;
}
