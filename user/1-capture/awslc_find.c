/* x86-64 executable with aws-lc linked in, no symbols -> the entry of
 * HKDF_expand, proven a function entry, or why not.
 *
 * rustls with the aws-lc-rs provider (Codex, Deno) derives every TLS 1.3
 * secret with aws-lc's HKDF_expand(out, out_len, md, prk, prk_len, info,
 * info_len); the info of HKDF-Expand-Label carries the label ("tls13 c ap
 * traffic"). A probe at its entry sees the parent secret and the label,
 * which is all it takes to compute the traffic secret (tls13_keys.c).
 *
 * Like bssl_find.c, the fingerprint is an error report the code cannot
 * shed: OPENSSL_PUT_ERROR(HKDF, HKDF_R_OUTPUT_TOO_LARGE) exists once, in
 * HKDF_expand, as ERR_put_error(31, 0, 100, "…/hkdf/hkdf.c", line):
 *   1. find the file name string in .rodata, every instruction loading
 *      its address, and decode from each to the call (or the jump to a
 *      shared call: clang -Os loads with push imm / pop reg and merges the
 *      calls); keep the one site whose lib is 31 and reason 100;
 *   2. the entry is a direct call target below the site. Stray e8 bytes
 *      inside other instructions make false "targets", so the entry must
 *      be called from two places or more, one of them in hkdf.c itself
 *      (HKDF() calls HKDF_expand right before its own error site), be the
 *      nearest such target below the site, and decode instruction by
 *      instruction up to the site;
 *   3. where .eh_frame_hdr exists (Codex), the FDE covering the site must
 *      begin at that entry. Without it (Deno) step 2 is the proof.
 * Any doubt is a refusal: no probe. */
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
#include "awslc_find.h"
#include "tls_blind.h"
#include "x86_code.h"

#define FILE_NEEDLE	"aws-lc/crypto/fipsmodule/hkdf/hkdf.c"

__attribute__((used, section(TLS_BLIND_SELF_SECTION)))
static const char self_mark[] = "llm-observer: aws-lc fingerprints, not aws-lc";

#define MAX_XREFS	64
#define SITE_WINDOW	8		/* instructions from the site to the call */
#define FN_BACK_MAX	(16u << 10)	/* how far the site may lie from the entry */
#define HKDF_CALL_NEAR	64		/* HKDF(): call HKDF_expand, then its error site */
#define MAX_TARGETS	256

struct ctx {
	Elf *elf;
	const uint8_t *text;		/* read (binfile.h), not mapped */
	struct x86_code x;		/* .text for the decoder */
	uint64_t xrefs[MAX_XREFS];	/* instructions loading the file name */
	int nxrefs;
};

struct target {
	uint64_t addr;
	uint32_t calls;
	bool from_hkdf;			/* one call sits right before an hkdf.c site */
};

static const uint8_t *section(struct ctx *c, const char *want, GElf_Shdr *out)
{
	return binfile_section(c->elf, want, SHT_PROGBITS, out);
}

/* The value an instruction puts in a 32-bit argument register: mov r32,
 * imm32, or the push imm that a pop into that register follows. */
static bool imm_to(const cs_insn *in, x86_reg *reg, uint32_t *imm, uint32_t *pushed,
		   bool *have_push)
{
	const cs_x86 *x = &in->detail->x86;

	if (in->id == X86_INS_PUSH && x->op_count == 1 && x->operands[0].type == X86_OP_IMM) {
		*pushed = (uint32_t)x->operands[0].imm;
		*have_push = true;
		return false;
	}
	if (in->id == X86_INS_POP && x->op_count == 1 && x->operands[0].type == X86_OP_REG &&
	    *have_push) {
		*have_push = false;
		*reg = x->operands[0].reg;
		*imm = *pushed;
		return true;
	}
	return x86_mov_imm(in, reg, imm);
}

/* From the instruction loading the file name to the call (or the jump to
 * the shared call): is this ERR_put_error(31, 0, 100, …)? */
static bool is_too_large_site(struct ctx *c, uint64_t addr)
{
	uint32_t lib = 0, reason = 0, imm, pushed = 0;
	bool have_push = false;
	uint64_t a = addr;
	x86_reg reg;

	for (int i = 0; i < SITE_WINDOW; i++) {
		if (!x86_code_decode_at(&c->x, a))
			return false;
		if (imm_to(c->x.insn, &reg, &imm, &pushed, &have_push)) {
			if (reg == X86_REG_EDI || reg == X86_REG_RDI)
				lib = imm;
			else if (reg == X86_REG_EDX || reg == X86_REG_RDX)
				reason = imm;
		}
		if (c->x.insn->id == X86_INS_CALL || c->x.insn->id == X86_INS_JMP)
			break;
		a += c->x.insn->size;
	}
	return lib == AWSLC_LIB_HKDF && reason == AWSLC_R_OUTPUT_TOO_LARGE;
}

static void find_xrefs(struct ctx *c, uint64_t str)
{
	const uint8_t *t = c->text, *p, *end = c->text + c->x.text_size;

	/* lea r64, [rip + disp32]: REX.W(.R) 8d, mod 00 rm 101. */
	for (p = t + 1; p + 6 <= end && (p = memchr(p, 0x8d, end - 5 - p)); p++) {
		uint64_t i = p - t - 1;

		if ((t[i] == 0x48 || t[i] == 0x4c) && (p[1] & 0xc7) == 0x05 &&
		    c->x.text_addr + i + 7 + (int64_t)(int32_t)x86_rd32(p + 2) == str &&
		    c->nxrefs < MAX_XREFS && x86_code_decode_at(&c->x, c->x.text_addr + i) && c->x.insn->size == 7)
			c->xrefs[c->nxrefs++] = c->x.text_addr + i;
	}
}

/* Direct calls (e8 rel32) landing in [lo, hi], counted per target, and
 * whether one of them sits just before an hkdf.c error site. */
static int call_targets(struct ctx *c, uint64_t lo, uint64_t hi, struct target *tg, int max)
{
	const uint8_t *t = c->text, *p;
	uint64_t n = c->x.text_size;
	int nt = 0, i, k;

	for (p = t; p + 5 <= t + n && (p = memchr(p, 0xe8, n - 4 - (p - t))); p++) {
		uint64_t at = c->x.text_addr + (p - t);
		uint64_t to = at + 5 + (int64_t)(int32_t)x86_rd32(p + 1);
		bool near = false;

		if (to < lo || to > hi)
			continue;
		for (k = 0; k < c->nxrefs; k++)
			near |= c->xrefs[k] > at && c->xrefs[k] - at <= HKDF_CALL_NEAR;
		for (i = 0; i < nt && tg[i].addr != to; i++)
			;
		if (i == nt) {
			if (nt == max)
				continue;
			tg[nt].addr = to;
			tg[nt].calls = 0;
			tg[nt].from_hkdf = false;
			nt++;
		}
		tg[i].calls++;
		tg[i].from_hkdf |= near;
	}
	return nt;
}

/* Does every instruction from entry decode, landing exactly on site? */
static bool decodes_to(struct ctx *c, uint64_t entry, uint64_t site)
{
	uint8_t *buf = malloc(site - entry + 16);
	const uint8_t *code = buf;
	size_t left;
	uint64_t pc = entry;

	if (!buf)
		return false;
	left = x86_code_read(&c->x, entry, buf, site - entry);
	if (left == site - entry)
		while (pc < site && cs_disasm_iter(c->x.cs, &code, &left, &pc, c->x.insn))
			;
	free(buf);
	return pc == site;
}

/* The n bytes at link-time address addr of section sh, whose bytes are
 * data (NULL if out). */
static const uint8_t *at_addr(const uint8_t *data, const GElf_Shdr *sh, uint64_t addr, size_t n)
{
	if (addr < sh->sh_addr || addr - sh->sh_addr > sh->sh_size ||
	    sh->sh_size - (addr - sh->sh_addr) < n)
		return NULL;
	return data + (addr - sh->sh_addr);
}

/* The FDE covering addr, from .eh_frame_hdr's sorted table: 1 if it
 * begins at entry, 0 if there is no usable table or no FDE covers addr,
 * -1 if one does and begins elsewhere. */
static int fde_check(struct ctx *c, uint64_t addr, uint64_t entry)
{
	GElf_Shdr hs, fs;
	const uint8_t *h = section(c, ".eh_frame_hdr", &hs), *frames, *f, *e;
	uint32_t count, lo = 0, hi;
	uint64_t loc = 0, fde = 0, begin, range;

	if (!h || !(frames = section(c, ".eh_frame", &fs)) || hs.sh_size < 12)
		return 0;
	/* version 1; eh_frame_ptr pcrel sdata4; count udata4; table
	 * datarel sdata4: what every linker writes. Anything else: no use. */
	if (h[0] != 1 || h[1] != 0x1b || h[2] != 0x03 || h[3] != 0x3b)
		return 0;
	count = x86_rd32(h + 8);
	if (count == 0 || (hs.sh_size - 12) / 8 < count)
		return 0;
	hi = count;
	while (hi - lo > 1) {	/* greatest initial location <= addr */
		uint32_t mid = lo + (hi - lo) / 2;

		if (hs.sh_addr + (int64_t)(int32_t)x86_rd32(h + 12 + 8 * mid) <= addr)
			lo = mid;
		else
			hi = mid;
	}
	loc = hs.sh_addr + (int64_t)(int32_t)x86_rd32(h + 12 + 8 * lo);
	fde = hs.sh_addr + (int64_t)(int32_t)x86_rd32(h + 12 + 8 * lo + 4);
	if (loc > addr)
		return -1;
	/* length, CIE pointer, pc_begin (pcrel sdata4), pc_range (udata4). */
	f = at_addr(frames, &fs, fde, 16);
	if (!f || x86_rd32(f) == 0xffffffffu)
		return -1;
	e = f + 8;
	begin = fde + 8 + (int64_t)(int32_t)x86_rd32(e);
	range = x86_rd32(e + 4);
	if (begin != loc)
		return -1;	/* the table and the FDE disagree: not understood */
	if (addr - begin >= range)
		return 0;	/* no FDE covers the code (built without unwind tables) */
	return begin == entry ? 1 : -1;
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

static int identify(struct ctx *c, struct awslc_target *out, char *reason, size_t cap)
{
	struct target *tg;
	uint64_t site = 0;
	int nsites = 0, nt, i, best = -1, fde;

	for (i = 0; i < c->nxrefs; i++)
		if (is_too_large_site(c, c->xrefs[i])) {
			site = c->xrefs[i];
			nsites++;
		}
	if (nsites != 1)
		return x86_code_fail(reason, cap, -ESRCH, "%d HKDF_R_OUTPUT_TOO_LARGE sites among %d hkdf.c "
			    "references", nsites, c->nxrefs);
	tg = calloc(MAX_TARGETS, sizeof(*tg));
	if (!tg)
		return -ENOMEM;
	nt = call_targets(c, site > FN_BACK_MAX ? site - FN_BACK_MAX : 0, site, tg, MAX_TARGETS);
	for (i = 0; i < nt; i++)
		if (tg[i].calls >= 2 && (best < 0 || tg[i].addr > tg[best].addr))
			best = i;
	if (best < 0 || !tg[best].from_hkdf) {
		int err = x86_code_fail(reason, cap, -ESRCH, "no entry below the site at %#lx called twice, "
			       "once from hkdf.c", (unsigned long)site);

		free(tg);
		return err;
	}
	out->expand_addr = tg[best].addr;
	out->callers = tg[best].calls;
	out->site_addr = site;
	free(tg);
	if (!decodes_to(c, out->expand_addr, site))
		return x86_code_fail(reason, cap, -EILSEQ, "code from %#lx does not decode to the site at %#lx",
			    (unsigned long)out->expand_addr, (unsigned long)site);
	fde = fde_check(c, site, out->expand_addr);
	if (fde < 0)
		return x86_code_fail(reason, cap, -EILSEQ, "the FDE covering %#lx does not begin at %#lx",
			    (unsigned long)site, (unsigned long)out->expand_addr);
	out->fde = fde;
	if (to_offset(c, out->expand_addr, &out->expand_off))
		return x86_code_fail(reason, cap, -EILSEQ, "entry outside an executable segment");
	return 0;
}

int awslc_find(const char *path, struct awslc_target *out, char *reason, size_t reason_cap)
{
	struct ctx *c;
	const uint8_t *rodata, *p, *s;
	GElf_Shdr rsh, tsh;
	GElf_Ehdr eh;
	int fd, err = -ENOENT;

	memset(out, 0, sizeof(*out));
	snprintf(reason, reason_cap, "no aws-lc hkdf.c");
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
		err = x86_code_fail(reason, reason_cap, -ENOEXEC, "aws-lc on a machine other than x86-64");
		goto out;
	}
	c->x.fd = fd;
	c->x.text_addr = tsh.sh_addr;
	c->x.text_size = tsh.sh_size;
	c->x.text_off = tsh.sh_offset;
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
	find_xrefs(c, rsh.sh_addr + (uint64_t)(s - rodata));
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
	free(c);
	return err;
}
