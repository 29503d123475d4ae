/* bssl_find: programs built here with clang and lld (as Bun is: functions
 * 16-byte aligned, int3 between them) whose functions report errors the
 * way BoringSSL's ssl_lib.cc does. Their symbols, which bssl_find never
 * reads, say where SSL_write and SSL_read are: the answer must match, in
 * a non-PIE and a PIE build. Then what must be refused: a second
 * SSL_write look-alike, an SSL_read nobody calls directly, no ssl_lib.cc. */
#include <errno.h>
#include <gelf.h>
#include <libelf.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "bssl_find.h"

static char dir[] = "/tmp/test_bssl_find.XXXXXX";

#include "bssl_lookalike.h"

static uint64_t symbol(const char *path, const char *name)
{
	int fd = open(path, O_RDONLY);
	Elf *elf;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	uint64_t v = 0;

	assert_true(fd >= 0);
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *d;
		GElf_Sym sym;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB)
			continue;
		d = elf_getdata(scn, NULL);
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++)
			if (gelf_getsym(d, i, &sym) &&
			    !strcmp(elf_strptr(elf, sh.sh_link, sym.st_name), name))
				v = sym.st_value;
	}
	elf_end(elf);
	close(fd);
	return v;
}

static void expect_found(const char *bin)
{
	struct bssl_target t;
	char why[200];

	assert_int_equal(bssl_find(bin, &t, why, sizeof(why)), 0);
	assert_int_equal(t.write_addr, symbol(bin, "SSL_write"));
	assert_int_equal(t.read_addr, symbol(bin, "SSL_read"));
	assert_true(t.write_callers >= 1 && t.read_callers >= 1);
	assert_true(t.write_off && t.read_off);
}

static void test_found(void **state)
{
	(void)state;
	expect_found(build("nopie", "", "SSL_read(&s, b, 8)", "-no-pie"));
	expect_found(build("pie", "", "SSL_read(&s, b, 8)", "-pie -fPIE"));
}

static void test_refused(void **state)
{
	struct bssl_target t;
	char why[200];

	(void)state;
	/* Two functions look like SSL_write: which one is, is not known. */
	assert_int_equal(bssl_find(build("two", "__attribute__((noinline)) int w2(struct ssl *s, int n) {\n"
				   "  if (s->quic) { ERR_put_error(16, 0, 66, F, 1953); return -1; }\n"
				   "  if (!s->hs) { ERR_put_error(16, 0, 226, F, 1958); return -1; }\n"
				   "  if (n < 0) { ERR_put_error(16, 0, 215, F, 1973); return -1; } return n; }\n"
				   "int (*keep)(struct ssl *, int) = w2;\n",
				   "SSL_read(&s, b, 8)", "-no-pie"), &t, why, sizeof(why)), -ESRCH);
	/* SSL_read only called through a pointer: no proof it is an entry. */
	assert_int_equal(bssl_find(build("indirect", "int (*volatile rd)(struct ssl *, void *, int) = SSL_read;\n",
				   "rd(&s, b, 8)", "-no-pie"), &t, why, sizeof(why)), -EILSEQ);
	assert_int_equal(bssl_find("/bin/true", &t, why, sizeof(why)), -ENOENT);
	assert_int_equal(bssl_find("/etc/passwd", &t, why, sizeof(why)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_found),
		cmocka_unit_test(test_refused),
	};
	char cmd[128];
	int rc;

	if (!mkdtemp(dir))
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		rc = 1;
	return rc;
}
