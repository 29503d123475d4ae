/* bpe.c: exact o200k_base / cl100k_base token ids. Fixed vectors taken
 * from js-tiktoken (the npm package the ranks come from); then, when the
 * build could fetch it, that package's own JS encoder run with node on
 * edge cases and on every string of the shared corpus, id for id; the
 * incremental stream count against the whole count; bounds and bad input. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include "bpe.h"
#include "corpus_util.h"

#define MAX_IDS 64

struct vector {
	enum bpe_encoding enc;
	const char *text;
	size_t n;
	uint32_t ids[MAX_IDS];
};

/* Printed by js-tiktoken 1.0.21's encode(text, [], []). */
static const struct vector vectors[] = {
	{ BPE_O200K_BASE, "hello world", 2,
	  { 24912, 2375 } },
	{ BPE_O200K_BASE, "Hello, World! It's 2024... naïve café 日本語\n\n  x", 17,
	  { 13225, 11, 5922, 0, 7744, 220, 1323, 19, 1008, 153475, 737, 30469, 17428, 40909, 279, 220, 1215 } },
	{ BPE_O200K_BASE, "I'LL  say\t\tthey'Re 12345 items:\r\n\r\n- a/b/c //x\n", 21,
	  { 40, 6, 7454, 220, 2891, 197, 197, 33574, 146756, 220, 7633, 2548, 4732, 69313, 12, 261, 7611, 4308, 602, 87, 198 } },
	{ BPE_O200K_BASE, "   leading spaces\n   \n", 4,
	  { 256, 8117, 18608, 132652 } },
	{ BPE_O200K_BASE, "<|endoftext|> is text here", 10,
	  { 27, 91, 419, 1440, 919, 91, 29, 382, 2201, 2105 } },
	{ BPE_O200K_BASE, "ÉCOLE école İstanbul ǅemal ˈstress ①②③ ٣٤٥ é́x", 25,
	  { 5859, 8310, 1400, 117814, 91992, 220, 131, 227, 347, 280, 146774, 230, 138071, 220, 57019, 61061, 78764, 220, 81473, 98713, 97336, 319, 13430, 13430, 87 } },
	{ BPE_O200K_BASE, "def f(x):\n    return x**2  # sq\n", 13,
	  { 1314, 285, 4061, 1883, 271, 622, 1215, 410, 17, 220, 1069, 24743, 198 } },
	{ BPE_CL100K_BASE, "hello world", 2,
	  { 15339, 1917 } },
	{ BPE_CL100K_BASE, "Hello, World! It's 2024... naïve café 日本語\n\n  x", 20,
	  { 9906, 11, 4435, 0, 1102, 596, 220, 2366, 19, 1131, 95980, 588, 53050, 76502, 22656, 45918, 252, 271, 220, 865 } },
	{ BPE_CL100K_BASE, "I'LL  say\t\tthey'Re 12345 items:\r\n\r\n- a/b/c //x\n", 21,
	  { 40, 6, 4178, 220, 2019, 197, 197, 20670, 50527, 220, 4513, 1774, 3673, 33080, 12, 264, 3554, 2971, 443, 87, 198 } },
	{ BPE_CL100K_BASE, "   leading spaces\n   \n", 4,
	  { 256, 6522, 12908, 60058 } },
	{ BPE_CL100K_BASE, "<|endoftext|> is text here", 10,
	  { 27, 91, 8862, 728, 428, 91, 29, 374, 1495, 1618 } },
	{ BPE_CL100K_BASE, "ÉCOLE école İstanbul ǅemal ˈstress ①②③ ٣٤٥ é́x", 34,
	  { 27887, 8445, 877, 4046, 56745, 39521, 46216, 220, 131, 227, 336, 278, 220, 135, 230, 95290, 220, 49412, 254, 49412, 94, 49412, 95, 220, 149, 96, 149, 97, 149, 98, 384, 54939, 54939, 87 } },
	{ BPE_CL100K_BASE, "def f(x):\n    return x**2  # sq\n", 13,
	  { 755, 282, 2120, 997, 262, 471, 865, 334, 17, 220, 674, 18522, 198 } },
};

static int skip_unavailable(void)
{
	if (bpe_available(BPE_O200K_BASE) && bpe_available(BPE_CL100K_BASE))
		return 0;
	print_message("BPE ranks not built in (no npm registry at build time): skipped\n");
	skip();
	return 1;
}

static void test_vectors(void **state)
{
	if (skip_unavailable())
		return;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vector *v = &vectors[i];
		size_t want = v->n, len = strlen(v->text);
		uint32_t got[MAX_IDS];
		char *copy = malloc(len ? len : 1);	/* exact size: ASan sees over-reads */
		long n;

		assert_non_null(copy);
		memcpy(copy, v->text, len);
		n = bpe_encode(v->enc, copy, len, got, MAX_IDS);
		if (n != (long)want || memcmp(got, v->ids, want * sizeof(got[0])))
			fail_msg("%s \"%s\": %ld ids, want %zu", bpe_encoding_name(v->enc),
				 v->text, n, want);
		assert_int_equal(bpe_count(v->enc, copy, len), n);
		free(copy);
	}
}

static void test_edges(void **state)
{
	static const char bad_utf8[] = "a\xff\xfe b\xc3 c\xe2\x82 d\xf0\x9f\x98 e\xed\xa0\x80 f\xc0\xaf";
	uint32_t ids[4];
	char *big;
	long n;

	if (skip_unavailable())
		return;
	assert_int_equal(bpe_count(BPE_O200K_BASE, "", 0), 0);
	assert_int_equal(bpe_count(BPE_O200K_BASE, NULL, 5), 0);
	assert_int_equal(bpe_count((enum bpe_encoding)7, "x", 1), -ENOENT);
	/* More ids than room: the count is still whole. */
	n = bpe_encode(BPE_O200K_BASE, "one two three four five six", 27, ids, 4);
	assert_int_equal(n, 6);
	/* Invalid UTF-8 is counted byte-wise, never read past. */
	n = bpe_count(BPE_CL100K_BASE, bad_utf8, sizeof(bad_utf8) - 1);
	assert_true(n > 0 && n <= (long)sizeof(bad_utf8));
	/* One 1 MB piece (letters only): cut at BPE_MAX_PIECE_BYTES, bounded. */
	big = malloc(1 << 20);
	assert_non_null(big);
	memset(big, 'a', 1 << 20);
	n = bpe_count(BPE_O200K_BASE, big, 1 << 20);
	assert_true(n > (1 << 20) / 256 && n < (1 << 20) / 2);
	memset(big, ' ', 1 << 20);
	assert_true(bpe_count(BPE_CL100K_BASE, big, 1 << 20) > 0);
	free(big);
	assert_string_equal(bpe_encoding_name(BPE_CL100K_BASE), "cl100k_base");
}

/* ---- strings to compare with the reference ---- */

struct strs {
	char **s;
	size_t n, cap, bytes;
};

static void strs_add(struct strs *v, const char *s)
{
	if (!*s)
		return;
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 1024;
		v->s = realloc(v->s, v->cap * sizeof(*v->s));
		assert_non_null(v->s);
	}
	v->s[v->n] = strdup(s);
	assert_non_null(v->s[v->n]);
	v->bytes += strlen(s);
	v->n++;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The corpus repeats its prompts; images are base64 blobs of 100s of KB
 * that no estimate looks at: keep distinct strings up to 64 KiB. */
static void strs_distinct(struct strs *v)
{
	size_t i, k = 0;

	qsort(v->s, v->n, sizeof(*v->s), cmp_str);
	v->bytes = 0;
	for (i = 0; i < v->n; i++) {
		if ((k && !strcmp(v->s[k - 1], v->s[i])) || strlen(v->s[i]) > 65536) {
			free(v->s[i]);
			continue;
		}
		v->bytes += strlen(v->s[i]);
		v->s[k++] = v->s[i];
	}
	v->n = k;
}

/* Whether s has a run that pre-tokenizes into a piece over the merge cap
 * (then the count is cut there, by design, and may differ by a token). */
static bool has_long_piece(const char *s)
{
	size_t run = 0, space = 0;

	for (; *s; s++) {
		bool sp = *s == ' ' || *s == '\n' || *s == '\t' || *s == '\r';

		run = sp ? 0 : run + 1;
		space = sp ? space + 1 : 0;
		if (run >= BPE_MAX_PIECE_BYTES || space >= BPE_MAX_PIECE_BYTES)
			return true;
	}
	return false;
}

static void strs_free(struct strs *v)
{
	for (size_t i = 0; i < v->n; i++)
		free(v->s[i]);
	free(v->s);
}

static void collect_json(const cJSON *j, struct strs *v)
{
	const cJSON *it;

	if (cJSON_IsString(j))
		strs_add(v, j->valuestring);
	cJSON_ArrayForEach(it, j)
		collect_json(it, v);
}

/* Every string in a body: JSON, or SSE whose data lines are JSON. */
static void collect_body(const char *body, size_t len, struct strs *v)
{
	cJSON *j = cJSON_ParseWithLength(body, len);
	const char *p, *e;

	if (j) {
		collect_json(j, v);
		cJSON_Delete(j);
		return;
	}
	for (p = body; p < body + len; p = e + 1) {
		e = memchr(p, '\n', body + len - p);
		if (!e)
			e = body + len;
		if (e - p > 6 && !strncmp(p, "data: ", 6)) {
			j = cJSON_ParseWithLength(p + 6, e - p - 6);
			collect_json(j, v);
			cJSON_Delete(j);
		}
	}
}

static void corpus_strings(const cJSON *line, void *ctx)
{
	static const char *const fields[] = { "req_body_b64", "resp_body_b64" };

	for (size_t f = 0; f < 2; f++) {
		size_t len;
		unsigned char *b = corpus_b64(line, fields[f], &len);

		if (b)
			collect_body((const char *)b, len, ctx);
		free(b);
	}
}

static const char *const edge_cases[] = {
	"", " ", "  ", "\n", "\r\n", " \n ", "a  b", "a \n b", "x\t\n\t y", "1234567",
	" 12 345", "'s 'S 'll 'LL 'Re", "don't I'm we've they'd", "a'", "'", "''s",
	"ABCdef GHI jkl MNOpQR", "ÀÉÎõü ßẞ", "ǅǈǋ", "e\xcc\x81\xcc\x81 \xcc\x81x",
	"\xe0\xa4\xb9\xe0\xa4\xbf\xe0\xa4\x82\xe0\xa4\xa6\xe0\xa5\x80",	/* Hindi: marks */
	"// a/b/c\n/x/\r\n", "...!!!???\n\n\n", "\xe3\x80\x80\xe3\x80\x80x",	/* U+3000 */
	"\xc2\xa0\xc2\xa0y", "tab\there\t", "emoji \xf0\x9f\x98\x80\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd!",
	"<|endoftext|><|fim_prefix|>", "https://example.com/a?b=c&d=e#f",
	"{\"json\": [1, 2.5, -3e10, null]}", "    indented\n        more\n",
};

/* ids of each string per the package's JS encoder; NULL if unavailable. */
static char *reference_ids(enum bpe_encoding enc, const struct strs *v, const char *dir)
{
	char in[] = "/tmp/test_bpe_inXXXXXX", out[] = "/tmp/test_bpe_outXXXXXX", cmd[1024];
	FILE *f;
	char *res = NULL;
	int fd, rc;

	fd = mkstemp(in);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	for (size_t i = 0; i < v->n; i++) {
		cJSON *s = cJSON_CreateString(v->s[i]);
		char *j = cJSON_PrintUnformatted(s);

		fprintf(f, "%s\n", j);
		free(j);
		cJSON_Delete(s);
	}
	fclose(f);
	fd = mkstemp(out);
	assert_true(fd >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "node tests/unit/bpe_ref.mjs '%s' %s %s %s", dir,
		 bpe_encoding_name(enc), in, out);
	rc = system(cmd);
	if (rc == 0) {
		f = fopen(out, "r");
		if (f) {
			fseek(f, 0, SEEK_END);
			long n = ftell(f);
			rewind(f);
			res = calloc(1, n + 1);
			assert_non_null(res);
			assert_int_equal(fread(res, 1, n, f), (size_t)n);
			fclose(f);
		}
	}
	unlink(in);
	unlink(out);
	return res;
}

/* Where the build put the package: .output/bpe/js beside .output/tests. */
static bool reference_dir(char *dir, size_t size)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		return false;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return false;
	*slash = '\0';
	if ((size_t)snprintf(dir, size, "%s/../bpe/js/node_modules", exe) >= size ||
	    strlen(dir) + 16 > sizeof(exe))
		return false;
	snprintf(exe, sizeof(exe), "%s/js-tiktoken", dir);
	return access(exe, R_OK) == 0 && system("node --version >/dev/null 2>&1") == 0;
}

static void compare_with_reference(enum bpe_encoding enc, const struct strs *v,
				   const char *dir)
{
	char *ref = reference_ids(enc, v, dir), *line, *save = NULL;
	uint32_t *ids = malloc(sizeof(*ids) * (v->bytes + 16));
	long total = 0, mism = 0, cut = 0;
	size_t i = 0;

	assert_non_null(ref);
	assert_non_null(ids);
	for (line = strtok_r(ref, "\n", &save); line; line = strtok_r(NULL, "\n", &save), i++) {
		cJSON *want = cJSON_Parse(line), *it;
		long n, k = 0;
		bool same;

		assert_true(i < v->n);
		assert_true(cJSON_IsArray(want));
		n = bpe_encode(enc, v->s[i], strlen(v->s[i]), ids, v->bytes + 16);
		same = n == cJSON_GetArraySize(want);
		cJSON_ArrayForEach(it, want) {
			if (same && ids[k] != (uint32_t)it->valuedouble)
				same = false;
			k++;
		}
		if (!same && has_long_piece(v->s[i]))
			cut++;
		else if (!same && mism++ < 5)
			fprintf(stderr, "%s mismatch on \"%.80s\": %ld ids, want %d\n",
				bpe_encoding_name(enc), v->s[i], n, cJSON_GetArraySize(want));
		total += n;
		cJSON_Delete(want);
	}
	assert_int_equal(i, v->n);
	print_message("%s: %zu strings (%zu bytes, %ld tokens) compared with js-tiktoken: "
		      "%ld mismatches, %ld differ at a piece over %d bytes\n",
		      bpe_encoding_name(enc), v->n, v->bytes, total, mism, cut,
		      BPE_MAX_PIECE_BYTES);
	assert_int_equal(mism, 0);
	free(ids);
	free(ref);
}

static void test_reference(void **state)
{
	struct strs v = { 0 };
	char dir[PATH_MAX];

	if (skip_unavailable())
		return;
	if (!reference_dir(dir, sizeof(dir))) {
		print_message("js-tiktoken or node unavailable: reference comparison skipped\n");
		skip();
	}
	for (size_t i = 0; i < sizeof(edge_cases) / sizeof(edge_cases[0]); i++)
		strs_add(&v, edge_cases[i]);
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
		strs_add(&v, vectors[i].text);
	if (corpus_path())
		assert_true(corpus_foreach(corpus_strings, &v) > 0);
	else
		print_message("CORPUS not set: edge cases only\n");
	strs_distinct(&v);
	compare_with_reference(BPE_O200K_BASE, &v, dir);
	compare_with_reference(BPE_CL100K_BASE, &v, dir);
	strs_free(&v);
}

/* Fed in random pieces, the stream count equals the whole text's. */
static void test_stream(void **state)
{
	struct strs v = { 0 };
	unsigned int seed = 7;
	long checked = 0, overflowed = 0;

	if (skip_unavailable())
		return;
	for (size_t i = 0; i < sizeof(edge_cases) / sizeof(edge_cases[0]); i++)
		strs_add(&v, edge_cases[i]);
	if (corpus_path())
		corpus_foreach(corpus_strings, &v);
	strs_distinct(&v);
	for (size_t i = 0; i < v.n; i++) {
		const char *s = v.s[i];
		size_t len = strlen(s), off = 0;
		enum bpe_encoding enc = i % 2 ? BPE_CL100K_BASE : BPE_O200K_BASE;
		struct bpe_stream st = { 0 };
		long whole, got;

		if (len > 8192)
			continue;	/* fed a few bytes at a time: slow under ASan */
		whole = bpe_count(enc, s, len);

		while (off < len) {
			size_t n;

			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 8) % 24;
			if (n > len - off)
				n = len - off;
			assert_int_equal(bpe_stream_feed(&st, enc, s + off, n), 0);
			off += n;
		}
		got = bpe_stream_finish(&st, enc);
		if (st.overflowed) {
			overflowed++;
			assert_true(labs(got - whole) <= whole / 10 + 8);
			continue;
		}
		if (got != whole)
			fail_msg("stream %s \"%.60s\": %ld, whole %ld", bpe_encoding_name(enc),
				 s, got, whole);
		checked++;
	}
	print_message("stream: %ld texts counted exactly in random pieces, %ld past the "
		      "carry (within 10%%)\n", checked, overflowed);
	assert_true(checked > 0);
	strs_free(&v);
}

/* Random bytes, biased towards what the patterns branch on (letters of
 * each case, digits, spaces and line breaks, apostrophes, UTF-8 leads and
 * continuations, broken sequences): no over-read (each input in an exact
 * heap block under ASan), at most one token per byte, and the stream count
 * equal to the whole count. */
static void test_random_bytes(void **state)
{
	static const char alphabet[] = "aZ9 \n\r\t's/.,-_\x80\xbf\xc3\xa9\xe2\x82\xac"
				       "\xf0\x9f\x98\x80\xed\xa0\xcc\x81";
	unsigned int seed = 99;

	if (skip_unavailable())
		return;
	for (int it = 0; it < 3000; it++) {
		size_t len, i;
		char *s;

		seed = seed * 1103515245u + 12345u;
		len = (seed >> 8) % 300;
		s = malloc(len ? len : 1);
		assert_non_null(s);
		for (i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			s[i] = alphabet[(seed >> 8) % (sizeof(alphabet) - 1)];
		}
		for (int e = 0; e < BPE__MAX; e++) {
			struct bpe_stream st = { 0 };
			long whole = bpe_count((enum bpe_encoding)e, s, len), got;
			size_t off = 0;

			assert_true(whole >= 0 && (size_t)whole <= len);
			while (off < len) {
				size_t n = 1 + (off * 7 + (size_t)it) % 13;

				if (n > len - off)
					n = len - off;
				assert_int_equal(bpe_stream_feed(&st, (enum bpe_encoding)e,
								 s + off, n), 0);
				off += n;
			}
			got = bpe_stream_finish(&st, (enum bpe_encoding)e);
			if (!st.overflowed && got != whole)
				fail_msg("random input %d (%zu bytes), %s: stream %ld, whole %ld",
					 it, len, bpe_encoding_name((enum bpe_encoding)e), got, whole);
		}
		free(s);
	}
}

/* Token boundaries: the vectors' tokens, by length, cover their text; the
 * tokens that end by byte b are counted by bpe_count_prefix() without
 * encoding more than b needs (a prompt cache's match stops there). */
static void test_prefix(void **state)
{
	if (skip_unavailable())
		return;
	assert_int_equal(bpe_token_len(BPE_O200K_BASE, UINT32_MAX), -EINVAL);
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vector *v = &vectors[i];
		size_t len = strlen(v->text), end = 0;
		long n = 0;

		for (size_t k = 0; k < v->n; k++) {
			long l = bpe_token_len(v->enc, v->ids[k]);

			assert_true(l > 0);
			/* inside token k: k tokens ended; at its end: k + 1 */
			for (long j = 1; j < l; j++)
				assert_int_equal(bpe_count_prefix(v->enc, v->text, len, end + (size_t)j),
						 (long)k);
			end += (size_t)l;
			assert_int_equal(bpe_count_prefix(v->enc, v->text, len, end), (long)k + 1);
			n++;
		}
		assert_int_equal(end, len);
		assert_int_equal(bpe_count_prefix(v->enc, v->text, len, 0), 0);
		assert_int_equal(bpe_count_prefix(v->enc, v->text, len, len + 5), n);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_reference),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_random_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
