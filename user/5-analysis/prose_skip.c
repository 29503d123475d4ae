/* Plain prose skipped sixteen bytes at a time (prose_skip.h says what
 * prose is and why a scanner may jump over it): a handful of vector
 * operations per 16 bytes, where the scanners spend a table look-up and
 * a branch per byte. */
#include <stdint.h>
#include <string.h>
#include "prose_skip.h"

bool prose_skip_off;

/* 16 bytes at a time in GCC's vector extension: SSE2 on x86-64, NEON on
 * arm64, plain C elsewhere (no intrinsics, no feature probe). */
typedef unsigned char prose_v16 __attribute__((vector_size(16)));

const char *prose_end(const char *p, const char *end)
{
	while (end - p >= 17) {
		prose_v16 v, ok, sp;
		uint64_t w[2], s[2];

		memcpy(&v, p, 16);
		sp = (prose_v16)(v == ' ');
		ok = (prose_v16)((prose_v16)(v - 'a') <= 'z' - 'a') | sp | (prose_v16)(v == ',') |
		     (prose_v16)(v == '.');
		memcpy(w, &ok, 16);
		if ((w[0] & w[1]) != UINT64_MAX)
			break;
		/* two spaces in a row, within the 16 bytes or across into the
		 * next (each byte of s is 0 or 0xff: any order of bytes works) */
		memcpy(s, &sp, 16);
		if ((s[0] & (s[0] >> 8)) || (s[1] & (s[1] >> 8)) || (p[7] == ' ' && p[8] == ' ') ||
		    (p[15] == ' ' && p[16] == ' '))
			break;
		p += 16;
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

