/* go_elf: .gopclntab tables built here in each layout (Go 1.16, 1.18,
 * 1.20), looked up whole and cut at every length; .go.buildinfo versions;
 * and the real thing on Debian's Go toolchain binary, a Go program that
 * carries crypto/tls: every RET found must be a 0xc3 byte in the file and
 * every entry a Go prologue. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "go_elf.h"

#define TEXT_START	0x401000u

struct tab {
	uint8_t b[4096];
	size_t len;
};

static void put(struct tab *t, size_t off, uint64_t v, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		t->b[off + i] = (uint8_t)(v >> (8 * i));
}

/* A table of four functions: two others around Write, Read and Close
 * (Close last, so its size comes from the end entry). magic selects the
 * layout; text: the header's textStart (0 as in a PIE file). */
static void build(struct tab *t, uint32_t magic, uint64_t text)
{
	static const char *const names[] = { "main.main", "crypto/tls.(*Conn).Write",
					     "crypto/tls.(*Conn).Read",
					     "crypto/tls.(*Conn).Close" };
	static const uint64_t entry[] = { 0x100, 0x200, 0x480, 0x900, 0xa00 };
	bool is_new = magic != 0xfffffffau;
	size_t names_off = 0x100, pcln = 0x300, nameoff[4], p = names_off, i;
	unsigned int entsz = is_new ? 8 : 16;
	size_t funcs = pcln + 5 * entsz;

	memset(t, 0, sizeof(*t));
	put(t, 0, magic, 4);
	t->b[6] = 1;
	t->b[7] = 8;
	put(t, 8, 4, 8);			/* nfunc */
	if (is_new) {
		put(t, 24, text, 8);
		put(t, 32, names_off, 8);
		put(t, 64, pcln, 8);
	} else {
		put(t, 24, names_off, 8);
		put(t, 56, pcln, 8);
	}
	for (i = 0; i < 4; i++) {
		nameoff[i] = p - names_off;
		memcpy(t->b + p, names[i], strlen(names[i]) + 1);
		p += strlen(names[i]) + 1;
	}
	for (i = 0; i < 5; i++) {
		size_t e = pcln + i * entsz, f = funcs + i * 16 - pcln;

		if (is_new) {
			put(t, e, entry[i], 4);
			put(t, e + 4, f, 4);
			if (i < 4) {
				put(t, pcln + f, entry[i], 4);
				put(t, pcln + f + 4, nameoff[i], 4);
			}
		} else {
			put(t, e, TEXT_START + entry[i], 8);
			put(t, e + 8, f, 8);
			if (i < 4) {
				put(t, pcln + f, TEXT_START + entry[i], 8);
				put(t, pcln + f + 8, nameoff[i], 4);
			}
		}
	}
	t->len = funcs + 5 * 16;
}

static void expect_found(const struct go_func *f)
{
	assert_int_equal(f[GO_FN_WRITE].addr, TEXT_START + 0x200);
	assert_int_equal(f[GO_FN_WRITE].size, 0x280);
	assert_int_equal(f[GO_FN_READ].addr, TEXT_START + 0x480);
	assert_int_equal(f[GO_FN_READ].size, 0x480);
	assert_int_equal(f[GO_FN_CLOSE].addr, TEXT_START + 0x900);
	assert_int_equal(f[GO_FN_CLOSE].size, 0x100);
}

static void test_layouts(void **state)
{
	static const uint32_t magics[] = { 0xfffffffau, 0xfffffff0u, 0xfffffff1u };
	struct go_func f[GO_FN__MAX];
	struct tab t;

	(void)state;
	for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++) {
		build(&t, magics[i], TEXT_START);
		assert_int_equal(go_pclntab_find(t.b, t.len, 0, f), 0);
		expect_found(f);
	}
	/* PIE: textStart is a relocation, 0 in the file; .text says it. */
	build(&t, 0xfffffff1u, 0);
	assert_int_equal(go_pclntab_find(t.b, t.len, TEXT_START, f), 0);
	expect_found(f);
}

/* Every cut of the table is refused or answered from what it holds:
 * never a read past it (ASan), never a function outside it. */
static void test_truncated(void **state)
{
	static const uint32_t magics[] = { 0xfffffffau, 0xfffffff1u };
	struct go_func f[GO_FN__MAX];
	struct tab t;

	(void)state;
	for (size_t m = 0; m < 2; m++) {
		build(&t, magics[m], TEXT_START);
		for (size_t n = 0; n < t.len; n++) {
			uint8_t *copy = malloc(n ? n : 1);
			int err;

			assert_non_null(copy);
			memcpy(copy, t.b, n);
			err = go_pclntab_find(copy, n, 0, f);
			assert_true(err == 0 || err == -EINVAL);
			if (err == 0)
				for (int k = 0; k < GO_FN__MAX; k++)
					assert_true(!f[k].addr || f[k].size > 0);
			free(copy);
		}
	}
}

static void test_bad_headers(void **state)
{
	struct go_func f[GO_FN__MAX];
	struct tab t;

	(void)state;
	build(&t, 0xfffffffbu, TEXT_START);	/* Go 1.2-1.15 */
	assert_int_equal(go_pclntab_find(t.b, t.len, 0, f), -EPROTONOSUPPORT);
	build(&t, 0x12345678u, TEXT_START);
	assert_int_equal(go_pclntab_find(t.b, t.len, 0, f), -EINVAL);
	build(&t, 0xfffffff1u, TEXT_START);
	t.b[7] = 3;				/* pointer size */
	assert_int_equal(go_pclntab_find(t.b, t.len, 0, f), -EINVAL);
	build(&t, 0xfffffff1u, TEXT_START);
	put(&t, 8, 1ull << 60, 8);		/* nfunc past the table */
	assert_int_equal(go_pclntab_find(t.b, t.len, 0, f), -EINVAL);
	build(&t, 0xfffffff1u, TEXT_START);
	put(&t, 0x300 + 8 + 4, 0xfffff000u, 4);	/* a funcoff past the table */
	assert_int_equal(go_pclntab_find(t.b, t.len, 0, f), -EINVAL);
}

static void test_buildinfo(void **state)
{
	uint8_t bi[64] = "\xff Go buildinf:";
	char ver[32];

	(void)state;
	bi[14] = 8;
	bi[15] = 2;
	bi[32] = 8;
	memcpy(bi + 33, "go1.19.8", 8);
	assert_int_equal(go_buildinfo_version(bi, sizeof(bi), ver, sizeof(ver)), 0);
	assert_string_equal(ver, "go1.19.8");
	assert_int_equal(go_version_minor(ver), 19);
	/* Cut inside the string, a runaway varint, the pointer form. */
	assert_int_equal(go_buildinfo_version(bi, 36, ver, sizeof(ver)), -EINVAL);
	memset(bi + 32, 0xff, 32);
	assert_int_equal(go_buildinfo_version(bi, sizeof(bi), ver, sizeof(ver)), -EINVAL);
	bi[15] = 0;
	assert_int_equal(go_buildinfo_version(bi, sizeof(bi), ver, sizeof(ver)), -ENOENT);
	bi[0] = 0;
	assert_int_equal(go_buildinfo_version(bi, sizeof(bi), ver, sizeof(ver)), -EINVAL);
	assert_int_equal(go_version_minor("devel go1.23-abcdef"), 23);
	assert_int_equal(go_version_minor("go1.9"), 9);
	assert_int_equal(go_version_minor("gox"), -EINVAL);
	assert_int_equal(go_version_minor(""), -EINVAL);
}

static uint8_t byte_at(int fd, uint64_t off)
{
	uint8_t b = 0;

	assert_int_equal(pread(fd, &b, 1, off), 1);
	return b;
}

/* Debian's `go` command is itself a Go program with crypto/tls. */
static void test_real_binary(void **state)
{
	const char *path = getenv("GO_ELF_BINARY") ? getenv("GO_ELF_BINARY") : "/usr/lib/go/bin/go";
	struct go_tls_target t;
	char why[160];
	int fd;

	(void)state;
	if (access(path, R_OK)) {
		print_message("%s missing: install golang-go (tools/install-deps.sh)\n", path);
		fail();
	}
	assert_int_equal(go_elf_inspect(path, &t, why, sizeof(why)), 0);
	assert_true(go_version_minor(t.version) >= 17);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	for (int k = 0; k < GO_FN__MAX; k++) {
		assert_true(t.fn[k].entry_off > 0);
		assert_true(t.fn[k].nr_rets > 0);
		for (uint32_t i = 0; i < t.fn[k].nr_rets; i++) {
			assert_true(t.fn[k].ret_off[i] > t.fn[k].entry_off);
			assert_int_equal(byte_at(fd, t.fn[k].ret_off[i]), 0xc3);
		}
	}
	close(fd);
	/* Not Go; not even ELF. */
	assert_int_equal(go_elf_inspect("/bin/sh", &t, why, sizeof(why)), -ENOENT);
	assert_int_equal(go_elf_inspect("/etc/passwd", &t, why, sizeof(why)), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layouts),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_bad_headers),
		cmocka_unit_test(test_buildinfo),
		cmocka_unit_test(test_real_binary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
