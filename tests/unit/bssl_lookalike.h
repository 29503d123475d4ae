/* The BoringSSL look-alike programs of test_bssl_find.c, shared with
 * test_find_cache.c: functions that report errors the way ssl_lib.cc does,
 * built with clang and lld as Bun is. The includer defines `dir`, the
 * directory they are built in. */
#ifndef LLMOBS_TEST_BSSL_LOOKALIKE_H
#define LLMOBS_TEST_BSSL_LOOKALIKE_H

/* {EXTRA} is replaced by each test's additions. */
static const char source[] =
	"#define F \"../../vendor/boringssl/ssl/ssl_lib.cc\"\n"
	"volatile int g_err[3]; const char *volatile g_file;\n"
	"__attribute__((noinline)) void ERR_put_error(int lib, int u, int reason, const char *file,\n"
	"    unsigned line) { g_err[0] = lib; g_err[1] = reason; g_err[2] = line; g_file = file; }\n"
	"struct ssl { void *quic; void *hs; int n; char buf[64]; };\n"
	"__attribute__((noinline)) int ssl_read_impl(struct ssl *s) {\n"
	"  if (!s->hs) { ERR_put_error(16, 0, 226, F, 837); return -1; }\n"
	"  if (s->n < 0) { ERR_put_error(16, 0, 215, F, 870); return -1; }\n"
	"  return s->n; }\n"
	"__attribute__((noinline)) int SSL_read(struct ssl *s, void *buf, int num) {\n"
	"  if (s->quic) { ERR_put_error(16, 0, 66, F, 931); return -1; }\n"
	"  int r = ssl_read_impl(s); if (r <= 0) return r;\n"
	"  __builtin_memcpy(buf, s->buf, num < 64 ? num : 64); return r; }\n"
	"__attribute__((noinline)) int SSL_write(struct ssl *s, const void *buf, int num) {\n"
	"  if (s->quic) { ERR_put_error(16, 0, 66, F, 953); return -1; }\n"
	"  if (!s->hs) { ERR_put_error(16, 0, 226, F, 958); return -1; }\n"
	"  if (num < 0) { ERR_put_error(16, 0, 215, F, 973); return -1; }\n"
	"  __builtin_memcpy(s->buf, buf, num < 64 ? num : 64); return num; }\n"
	"__attribute__((noinline)) int other(struct ssl *s) {\n"
	"  if (!s) { ERR_put_error(16, 0, 66, F, 1200); return -1; } return 0; }\n"
	"{EXTRA}\n"
	"int main(int argc, char **argv) { static struct ssl s; char b[8];\n"
	"  return SSL_write(&s, b, argc) + other(&s) + CALL_READ; }\n";

/* Builds the program with extra code and flags; returns its path. */
static const char *build(const char *name, const char *extra, const char *call_read,
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
	fprintf(f, "#define CALL_READ %s\n%s%s%s", call_read, text, extra, at + 7);
	free(text);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "clang -O2 -fuse-ld=lld -ffunction-sections -fno-asynchronous-unwind-tables "
		 "-fno-stack-protector %s -o %s %s 2>&1", flags, bin, src);
	if (system(cmd) != 0) {
		print_message("failed: %s\n", cmd);
		fail();
	}
	return bin;
}

#endif
