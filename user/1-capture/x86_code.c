/* x86_code.h: .text read for capstone, and the finders' shared matchers. */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>
#include "x86_code.h"

size_t x86_code_read(const struct x86_code *x, uint64_t addr, uint8_t *buf, size_t len)
{
	ssize_t n;

	if (addr < x->text_addr || addr - x->text_addr >= x->text_size)
		return 0;
	if (len > x->text_size - (addr - x->text_addr))
		len = x->text_size - (addr - x->text_addr);
	n = pread(x->fd, buf, len, (off_t)(x->text_off + (addr - x->text_addr)));
	return n > 0 ? (size_t)n : 0;
}

bool x86_code_decode_at(struct x86_code *x, uint64_t addr)
{
	uint8_t buf[16];
	const uint8_t *code = buf;
	size_t left = x86_code_read(x, addr, buf, sizeof(buf));

	return left && cs_disasm_iter(x->cs, &code, &left, &addr, x->insn);
}

bool x86_mov_imm(const cs_insn *in, x86_reg *reg, uint32_t *imm)
{
	const cs_x86 *x = &in->detail->x86;

	if (in->id != X86_INS_MOV || x->op_count != 2 || x->operands[0].type != X86_OP_REG ||
	    x->operands[1].type != X86_OP_IMM)
		return false;
	*reg = x->operands[0].reg;
	*imm = (uint32_t)x->operands[1].imm;
	return true;
}

uint32_t x86_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int x86_code_fail(char *reason, size_t cap, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, cap, fmt, ap);
	va_end(ap);
	return err;
}
