/* What the two fingerprint finders (bssl_find.c, awslc_find.c) share: a
 * view of a binary's .text for capstone, read by pread from the file
 * rather than taken from a mapping (uprobes already on the file show as
 * int3 in any executable mapping of it), and the small x86 matchers and
 * the reason formatter both use. */
#ifndef LLMOBS_X86_CODE_H
#define LLMOBS_X86_CODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <capstone/capstone.h>

struct x86_code {
	int fd;				/* the binary, opened by binfile_open() */
	uint64_t text_addr, text_size, text_off;	/* .text: address, size, file offset */
	csh cs;				/* capstone, x86-64, detail on */
	cs_insn *insn;			/* one decoded instruction */
};

/* Up to len bytes of .text at address addr into buf; 0 outside .text. */
size_t x86_code_read(const struct x86_code *x, uint64_t addr, uint8_t *buf, size_t len);
/* Decodes the instruction at text address addr into x->insn. */
bool x86_code_decode_at(struct x86_code *x, uint64_t addr);
/* mov r32, imm32: which register (X86_REG_*), which value. */
bool x86_mov_imm(const cs_insn *in, x86_reg *reg, uint32_t *imm);
/* A little-endian 32-bit value. */
uint32_t x86_rd32(const uint8_t *p);

/* Writes the finder's reason for a refusal and returns err. */
__attribute__((format(printf, 4, 5)))
int x86_code_fail(char *reason, size_t cap, int err, const char *fmt, ...);

#endif
