/* OpenAI token boundaries for the prompt-cache e2e's simulated provider
 * (tests/e2e/cache_workloads.py), which must cache in OpenAI's tokens to
 * play OpenAI, and computes its expected token offsets from them.
 *
 *   bpe_ids     one request a line on stdin: "<encoding> <text as hex>";
 *               one line out: "<id>:<bytes>" per token, space-separated
 *
 * The encodings are bpe.c's (o200k_base, cl100k_base), built in from the
 * pinned ranks. Exits 2 when they are not built in. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bpe.h"

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int main(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while ((n = getline(&line, &cap, stdin)) > 0) {
		char *sp = strchr(line, ' ');
		enum bpe_encoding enc;
		size_t len = 0;
		uint32_t *ids;
		long k;

		if (!sp) {
			fprintf(stderr, "bpe_ids: want \"<encoding> <hex>\"\n");
			return 1;
		}
		*sp++ = '\0';
		enc = !strcmp(line, "cl100k_base") ? BPE_CL100K_BASE : BPE_O200K_BASE;
		if (!bpe_available(enc)) {
			fprintf(stderr, "bpe_ids: %s is not built in\n", line);
			return 2;
		}
		/* decode the hex in place */
		for (char *p = sp; hexval(p[0]) >= 0 && hexval(p[1]) >= 0; p += 2)
			sp[len++] = (char)(hexval(p[0]) << 4 | hexval(p[1]));
		ids = malloc((len + 1) * sizeof(*ids));
		if (!ids)
			return 1;
		k = bpe_encode(enc, sp, len, ids, len + 1);
		if (k < 0)
			return 1;
		for (long i = 0; i < k; i++)
			printf("%s%u:%ld", i ? " " : "", ids[i], bpe_token_len(enc, ids[i]));
		printf("\n");
		fflush(stdout);
		free(ids);
	}
	free(line);
	return 0;
}
