/* Durations on the command line ("90s", "1h30m", "7d"), for every llmobs
 * command that takes --since: below cli.c and the command files, so that
 * none of them calls back up into another. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include "cli.h"

int cli_parse_duration(const char *s, int64_t *out_s)
{
	int64_t total = 0, mult;
	char *end;

	if (!s || !*s)
		return -EINVAL;
	while (*s) {
		unsigned long long v;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		errno = 0;
		v = strtoull(s, &end, 10);
		if (errno || v > INT32_MAX)
			return -EINVAL;
		switch (*end) {
		case 's': mult = 1; break;
		case 'm': mult = 60; break;
		case 'h': mult = 3600; break;
		case 'd': mult = 86400; break;
		case 'w': mult = 7 * 86400; break;
		case '\0': mult = 1; end--; break;	/* bare seconds */
		default: return -EINVAL;
		}
		total += (int64_t)v * mult;
		if (total > (int64_t)100 * 365 * 86400)
			return -EINVAL;
		s = end + 1;
	}
	*out_s = total;
	return 0;
}
