/* Go executable tables (user/1-capture/go_elf.c): .gopclntab and
 * .go.buildinfo images from a file we do not trust.
 * Input: [text_start selector] then the image, tried as both. A function
 * found lies past its entry with a size, no read goes past the image
 * (ASan, exact-size copy), a version is NUL-terminated within its buffer. */
#include <errno.h>
#include "fuzz.h"
#include "go_elf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint64_t text = fuzz_u8(&in) ? 0x401000 : 0;
	struct go_func f[GO_FN__MAX];
	uint8_t *img = malloc(in.len ? in.len : 1);
	char ver[32];
	int err;

	if (!img)
		return 0;
	memcpy(img, in.p, in.len);
	err = go_pclntab_find(img, in.len, text, f);
	FUZZ_CHECK(err == 0 || err == -EINVAL || err == -EPROTONOSUPPORT, "err %d", err);
	for (int k = 0; k < GO_FN__MAX; k++)
		FUZZ_CHECK(err == 0 ? !f[k].addr || f[k].size : !f[k].addr, "fn %d", k);
	err = go_buildinfo_version(img, in.len, ver, sizeof(ver));
	FUZZ_CHECK(err == 0 || err == -EINVAL || err == -ENOENT, "err %d", err);
	if (!err) {
		FUZZ_CHECK(memchr(ver, 0, sizeof(ver)) != NULL, "version not terminated");
		go_version_minor(ver);
	}
	free(img);
	return 0;
}
