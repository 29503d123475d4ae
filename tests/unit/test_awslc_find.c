/* awslc_find: programs built here with clang whose functions report errors
 * the way aws-lc's crypto/fipsmodule/hkdf/hkdf.c does (HKDF_expand with
 * OUTPUT_TOO_LARGE, HKDF_extract, HKDF() calling both). Their symbols,
 * which awslc_find never reads, say where HKDF_expand is: the answer must
 * match at -O2 with .eh_frame (as Codex is built, the FDE must agree) and
 * at -Oz without (push/pop immediates, merged error calls, no FDEs: as
 * Deno is). Then what must be refused: two OUTPUT_TOO_LARGE sites, an
 * HKDF_expand that HKDF() does not call directly, no hkdf.c at all. */
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

#include "awslc_find.h"

static char dir[] = "/tmp/test_awslc_find.XXXXXX";

/* {EXTRA} is replaced by each test's additions; EXPAND_CALL is how HKDF()
 * reaches HKDF_expand. */
static const char source[] =
	"#define F \"/aws-lc/crypto/fipsmodule/hkdf/hkdf.c\"\n"
	"#include <stddef.h>\n"
	"volatile int g_err[3]; const char *volatile g_file; volatile unsigned char g_sink;\n"
	"__attribute__((noinline)) void ERR_put_error(int lib, int u, int reason, const char *file,\n"
	"    unsigned line) { g_err[0] = lib; g_err[1] = reason; g_err[2] = line; g_file = file; }\n"
	"struct md { int size; int flags; };\n"
	"__attribute__((noinline)) int HKDF_expand(unsigned char *out, size_t out_len, const struct md *md,\n"
	"    const unsigned char *prk, size_t prk_len, const unsigned char *info, size_t info_len) {\n"
	"  if (md->flags & 4) { ERR_put_error(31, 0, 101, F, 98); return 0; }\n"
	"  size_t n = (out_len + md->size - 1) / md->size;\n"
	"  if (out_len + md->size < out_len || n > 255) { ERR_put_error(31, 0, 100, F, 112); return 0; }\n"
	"  for (size_t i = 0; i < out_len; i++) out[i] = prk[i % prk_len] ^ info[i % info_len];\n"
	"  if (!out[0]) { ERR_put_error(31, 0, 28, F, 158); return 0; }\n"
	"  return 1; }\n"
	"__attribute__((noinline)) int HKDF_extract(unsigned char *out, size_t *out_len, const struct md *md,\n"
	"    const unsigned char *s, size_t sl, const unsigned char *salt, size_t saltl) {\n"
	"  if (!sl) { ERR_put_error(31, 0, 28, F, 80); return 0; }\n"
	"  for (int i = 0; i < md->size; i++) out[i] = s[i % sl] + salt[i % saltl];\n"
	"  *out_len = md->size; return 1; }\n"
	"{EXTRA}\n"
	"__attribute__((noinline)) int HKDF(unsigned char *out, size_t out_len, const struct md *md,\n"
	"    const unsigned char *s, size_t sl, const unsigned char *salt, size_t saltl,\n"
	"    const unsigned char *info, size_t il) {\n"
	"  unsigned char prk[64]; size_t pl;\n"
	"  if (!HKDF_extract(prk, &pl, md, s, sl, salt, saltl) ||\n"
	"      !EXPAND_CALL(out, out_len, md, prk, pl, info, il)) {\n"
	"    ERR_put_error(31, 0, 28, F, 40); return 0; }\n"
	"  return 1; }\n"
	"int main(int argc, char **argv) { static struct md md = { 32, 0 }; unsigned char o[64];\n"
	"  const unsigned char *a = (const unsigned char *)argv[0];\n"
	"  int r = HKDF(o, 32, &md, a, 4, a, 4, a, 4) + HKDF_expand(o, argc, &md, a, 4, a, 4);\n"
	"  g_sink = o[0]; return r; }\n";

static const char *build(const char *name, const char *extra, const char *expand_call,
			 const char *flags)
{
	static char bin[256];
	char src[256], cmd[1024], *text;
	const char *at = strstr(source, "{EXTRA}");
	FILE *f;

	snprintf(src, sizeof(src), "%s/%s.c", dir, name);
	snprintf(bin, sizeof(bin), "%s/%s", dir, name);
	f = fopen(src, "w");
	assert_non_null(f);
	text = strndup(source, at - source);
	fprintf(f, "#define EXPAND_CALL %s\n%s%s%s", expand_call, text, extra, at + 7);
	free(text);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "clang -fno-stack-protector -pie -fPIE %s -o %s %s 2>&1",
		 flags, bin, src);
	if (system(cmd) != 0) {
		print_message("failed: %s\n", cmd);
		fail();
	}
	return bin;
}

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

static void expect_found(const char *bin, int fde)
{
	struct awslc_target t;
	char why[200];
	int err = awslc_find(bin, &t, why, sizeof(why));

	if (err)
		print_message("%s: %s\n", bin, why);
	assert_int_equal(err, 0);
	assert_int_equal(t.expand_addr, symbol(bin, "HKDF_expand"));
	assert_true(t.site_addr > t.expand_addr);
	assert_true(t.callers >= 2 && t.expand_off);
	assert_int_equal(t.fde, fde);
}

static void test_found(void **state)
{
	(void)state;
	expect_found(build("o2", "", "HKDF_expand", "-O2"), 1);
	expect_found(build("oz", "", "HKDF_expand", "-Oz -fno-asynchronous-unwind-tables "
			   "-fno-unwind-tables"), 0);
}

static void test_refused(void **state)
{
	struct awslc_target t;
	char why[200];

	(void)state;
	/* A second OUTPUT_TOO_LARGE site: which is HKDF_expand is not known. */
	assert_int_equal(awslc_find(build("two", "__attribute__((noinline)) int e2(size_t n) {\n"
				    "  if (n > 255) { ERR_put_error(31, 0, 100, F, 1112); return 0; } return 1; }\n"
				    "int (*volatile keep)(size_t) = e2;\n", "HKDF_expand", "-O2"),
				    &t, why, sizeof(why)), -ESRCH);
	/* HKDF() reaches it only through a pointer: no call from hkdf.c. */
	assert_int_equal(awslc_find(build("indirect", "int (*volatile ex)(unsigned char *, size_t, "
				    "const struct md *, const unsigned char *, size_t, const unsigned char *, "
				    "size_t) = HKDF_expand;\n", "ex", "-O2"), &t, why, sizeof(why)), -ESRCH);
	assert_int_equal(awslc_find("/bin/true", &t, why, sizeof(why)), -ENOENT);
	assert_int_equal(awslc_find("/etc/passwd", &t, why, sizeof(why)), -ENOENT);
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
