/* Plain prose skipped eight bytes at a time (prose_skip.h says what
 * prose is and why a scanner may jump over it). SWAR on 64-bit words:
 * portable C that compiles to a handful of ALU operations per 8 bytes,
 * where the scanners spend a table look-up and a branch per byte. */
#include <stdint.h>
#include <string.h>
#include "prose_skip.h"

bool prose_skip_off;

/* The high bit of each byte of v that equals c (exact: no borrow between
 * bytes, unlike the shorter has-zero trick). */
static uint64_t eq8(uint64_t v, unsigned char c)
{
	const uint64_t low7 = 0x7f7f7f7f7f7f7f7fULL;
	uint64_t y = v ^ (0x0101010101010101ULL * c);

	return ~(((y & low7) + low7) | y) & ~low7;
}

const char *prose_end(const char *p, const char *end)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	const uint64_t low7 = ~highs;

	while (end - p >= 9) {
		uint64_t v, x, lower, sp;

		memcpy(&v, p, 8);
		x = v & low7;
		/* 'a' <= b <= 'z', top bit clear */
		lower = ((x + ones * (0x80 - 'a')) & ~(x + ones * (0x80 - 'z' - 1)) & ~v) & highs;
		sp = eq8(v, ' ');
		if ((lower | sp | eq8(v, ',') | eq8(v, '.')) != highs)
			break;
		/* two spaces in a row, also across into the next word */
		if ((sp & (sp >> 8)) || (p[7] == ' ' && p[8] == ' '))
			break;
		p += 8;
	}
	while (p < end && prose_byte((unsigned char)*p) &&
	       !(*p == ' ' && p + 1 < end && p[1] == ' '))
		p++;
	/* the second space of a pair is the one that matters */
	return p < end && *p == ' ' ? p + 1 : p;
}

const char *prose_resume(const char *from, const char *stop)
{
	const char *r = stop;

	while (r > from && r[-1] != ' ')
		r--;
	if (r > from) {
		r--;
		while (r > from && r[-1] != ' ')
			r--;
	}
	return r;
}

