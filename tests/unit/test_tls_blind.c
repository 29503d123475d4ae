/* tls_blind: executables made here with objcopy from /bin/true, each with
 * one stack's mark (Bun's section; rustls', BoringSSL's, OpenSSL's strings
 * in .rodata), are named; the plain one, a shared library, a Go program's
 * section and a file that is not ELF are not. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "tls_blind.h"

static char dir[] = "/tmp/test_tls_blind.XXXXXX";

static void sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0) {
		print_message("failed: %s\n", cmd);
		fail();
	}
}

/* /bin/true with .rodata replaced by text, or with an extra section. */
static const char *made(const char *name, const char *rodata, const char *section)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (rodata) {
		sh("printf '%%s' '%s' > %s/%s.rodata", rodata, dir, name);
		sh("objcopy --update-section .rodata=%s/%s.rodata /bin/true %s", dir, name, path);
	} else if (section) {
		sh("printf 'x' > %s/%s.sec", dir, name);
		sh("objcopy --add-section %s=%s/%s.sec /bin/true %s", section, dir, name, path);
	} else {
		sh("cp /bin/true %s", path);
	}
	return path;
}

static int guess(const char *path, char *stack)
{
	stack[0] = '\0';
	return tls_blind_guess(path, stack, 128);
}

static void test_stacks(void **state)
{
	char stack[128];

	(void)state;
	assert_int_equal(guess(made("bun", NULL, ".bun"), stack), 1);
	assert_non_null(strstr(stack, "Bun"));
	assert_int_equal(guess(made("rust", "/src/rustls-0.23/conn.rs", NULL), stack), 1);
	assert_non_null(strstr(stack, "rustls"));
	assert_int_equal(guess(made("boring", "../../vendor/boringssl/ssl/ssl_lib.cc", NULL), stack), 1);
	assert_non_null(strstr(stack, "BoringSSL"));
	assert_int_equal(guess(made("ossl", "ssl/ssl_lib.c", NULL), stack), 1);
	assert_non_null(strstr(stack, "OpenSSL"));
}

static void test_not_blind(void **state)
{
	char stack[128], path[256];

	(void)state;
	assert_int_equal(guess(made("plain", NULL, NULL), stack), 0);
	/* Go programs are go_capture.c's: never named here. */
	assert_int_equal(guess(made("go", NULL, ".gopclntab"), stack), 0);
	/* A shared libcrypto has OpenSSL's strings and is no blind spot. */
	snprintf(path, sizeof(path), "%s/lib.so", dir);
	sh("printf 'ssl/ssl_lib.c' > %s/lib.rodata && gcc -shared -fPIC -o %s -x c /dev/null && "
	   "objcopy --add-section .rodata=%s/lib.rodata %s 2>/dev/null || true", dir, path, dir, path);
	assert_int_equal(guess(path, stack), 0);
	assert_int_equal(guess("/etc/passwd", stack), 0);
	assert_int_equal(guess("/nonexistent/x", stack), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stacks),
		cmocka_unit_test(test_not_blind),
	};
	int rc;

	if (!mkdtemp(dir))
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	sh("rm -rf %s", dir);
	return rc;
}
