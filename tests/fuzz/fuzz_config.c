/* The daemon's config parser (user/7-daemon/daemon_config.c). Input: the
 * file's bytes. Either it parses, and every rule has a project and a
 * pattern, or it fails with a message naming the file; never a leak (the
 * ASan build checks), never a half-filled config. */
#include <errno.h>
#include "daemon_config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = fuzz_dup(data, size), err[512];
	struct daemon_config c;
	int ret = config_parse("f.yaml", copy, size, &c, err, sizeof(err));

	if (ret == 0) {
		for (size_t i = 0; i < c.nrules; i++) {
			int m, n = 0;

			for (m = 0; m < CONFIG_MATCH__MAX; m++)
				n += c.rules[i].pattern[m] != NULL;
			FUZZ_CHECK(c.rules[i].project && n > 0, "rule %zu incomplete", i);
		}
		FUZZ_CHECK(c.nlabel_keys <= CONFIG_MAX_LABEL_KEYS, "%zu label keys", c.nlabel_keys);
		config_free(&c);
	} else {
		FUZZ_CHECK(!strncmp(err, "f.yaml", 6), "error '%s'", err);
		FUZZ_CHECK(c.db == NULL && c.nrules == 0 && c.rules == NULL, "half-filled");
	}
	free(copy);
	return 0;
}
