/* detect: secrets and personal data in prompt text. A table of positives
 * and negatives per kind (each also inside a JSON string, after a "\n"
 * escape, and at the very end of an exact-size buffer so ASan sees any
 * over-read); a false-positive corpus (code, base64 blobs, UUIDs, hashes,
 * timestamps, token arrays) that must flag nothing; the shared corpus'
 * request bodies, which hold none of these (read by hand). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "corpus_util.h"
#include "detect.h"

#define NONE RS__MAX

struct dcase {
	const char *text;
	enum record_sensitive_kind kind;	/* NONE: nothing must be found */
	int n;
};

static const struct dcase cases[] = {
	/* provider and SaaS API keys */
	{ "key sk-proj-4fT9aQ2LmZx8Rk1VbN7pWc3YsH6jDg0EuQ5tKiOa here", RS_API_KEY, 1 },
	{ "sk-ant-api03-Zq8Xw3vN1mB6kL0pR4tY7uI2oP9aS5dF3gH8jK1lZ2xC4vB6nM-Q7wE9rT1yU3iO5pA", RS_API_KEY, 1 },
	{ "deepseek sk-0f3a9c2b7e1d4f6a8b9c0d1e2f3a4b5c", RS_API_KEY, 1 },
	{ "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh", RS_API_KEY, 1 },
	{ "gsk_8Jk2Lm9Np4Qr7St1Uv3Wx6Yz0Ab5Cd8Ef2Gh4Ij7Kl9Mn1Op3Qr6St8Uv", RS_API_KEY, 1 },
	{ "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", RS_API_KEY, 1 },
	{ "sk_live_4eC39HqLyjWDarjtT1zdp7dc", RS_API_KEY, 1 },
	{ "two: sk-aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE and sk-Zy8Xw6Vu4Ts2Rq0Po8Nm6Lk4Ji2Hg0Fe", RS_API_KEY, 2 },
	{ "sk-learn is a library", NONE, 0 },
	{ "the-sk-this-is-a-very-long-kebab-case-identifier-name", NONE, 0 },
	{ "sk-abcdefghijklmnopqrstuvwxyzabcdefgh", NONE, 0 },	/* no digits */
	{ "task-0123456789abcdef0123456789abcdef", NONE, 0 },	/* not at a word start */
	{ "hf_abcdefghijklmnopqrstuvwxyzabcdefgh", NONE, 0 },	/* one case only */
	/* cloud keys */
	{ "aws_access_key_id = AKIAIOSFODNN7EXAMPLE", RS_CLOUD_KEY, 1 },
	{ "ASIAY34FZKBOKMUTVV7A", RS_CLOUD_KEY, 1 },
	{ "?key=AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY&x", RS_CLOUD_KEY, 1 },
	{ "DefaultEndpointsProtocol=https;AccountName=x;AccountKey="
	  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;",
	  RS_CLOUD_KEY, 1 },
	{ "AKIAIOSFODNN7EXAMPL", NONE, 0 },		/* 15 after the prefix */
	{ "AKIAIOSFODNN7EXAMPLEX", NONE, 0 },		/* 17 */
	{ "AKIAiosfodnn7example", NONE, 0 },		/* lower case */
	{ "AIzaShort", NONE, 0 },
	/* GitHub tokens */
	{ "token ghp_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R", RS_GITHUB_TOKEN, 1 },
	{ "ghs_16C7e42F292c6912E7710c838347Ae178B4a", RS_GITHUB_TOKEN, 1 },
	{ "github_pat_11ABCDEFG0123456789abc_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456",
	  RS_GITHUB_TOKEN, 1 },
	{ "ghp_short", NONE, 0 },
	{ "ghx_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R", NONE, 0 },
	/* JWTs */
	{ "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
	  RS_JWT, 1 },
	{ "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxMjM0NTY3ODkwIn0.", NONE, 0 },	/* unsigned */
	{ "eyJhbGciOiJIUzI1NiJ9", NONE, 0 },		/* a header alone */
	/* private keys */
	{ "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi\n-----END RSA PRIVATE KEY-----",
	  RS_PRIVATE_KEY, 1 },
	{ "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXktdjEAAAAA\\n-----END OPENSSH PRIVATE KEY-----\\n",
	  RS_PRIVATE_KEY, 1 },
	{ "-----BEGIN PRIVATE KEY-----", RS_PRIVATE_KEY, 1 },
	{ "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----", NONE, 0 },
	{ "-----BEGIN CERTIFICATE-----", NONE, 0 },
	/* e-mail */
	{ "write to jane.doe+llm@example.co.uk today", RS_EMAIL, 1 },
	{ "a@b.io, C_D@mail.Example.ORG", RS_EMAIL, 2 },
	{ "git@github.com:org/repo.git", RS_EMAIL, 1 },
	{ "@Override public void run()", NONE, 0 },
	{ "import x from '@scope/pkg'", NONE, 0 },
	{ "icon@2x.png", NONE, 0 },
	{ "carried via@agent.tool and the@app.route", NONE, 0 },
	{ "\\n@agent.instructions\\n@agent.tool", NONE, 0 },
	{ "line\\njane@mail.com", RS_EMAIL, 1 },
	{ "npm i algoliasearch@5.20.0", NONE, 0 },
	{ "user@localhost", NONE, 0 },
	{ "name@host.c0m", NONE, 0 },
	{ "trailing.@example.com", NONE, 0 },
	/* phone numbers */
	{ "call +44 20 7946 0958 now", RS_PHONE, 1 },
	{ "+1 (415) 555-0100", RS_PHONE, 1 },
	{ "tel:+14155550100", RS_PHONE, 1 },
	{ "(415) 555-0100 or 212-555-0199 or 646.555.0123", RS_PHONE, 3 },
	{ "1e+10 and x+12345678", NONE, 0 },
	{ "+1234567", NONE, 0 },			/* 7 digits */
	{ "4155550100", NONE, 0 },			/* bare digits: an id */
	{ "2026-12-07 18:12:19", NONE, 0 },
	{ "version 10.415.555.0100", NONE, 0 },
	{ "123-45-6789", NONE, 0 },
	{ "(015) 555-0100", NONE, 0 },			/* area codes start 2-9 */
	/* cards */
	{ "card 4111111111111111 exp", RS_CARD, 1 },
	{ "4111 1111 1111 1111", RS_CARD, 1 },
	{ "5555-5555-5555-4444", RS_CARD, 1 },
	{ "amex 3782 822463 10005", RS_CARD, 1 },
	{ "6011111111111117,3530111333300000,2223003122003222", RS_CARD, 3 },
	{ "4111111111111112", NONE, 0 },		/* Luhn fails */
	{ "1234567812345670", NONE, 0 },		/* Luhn ok, no issuer 1 */
	{ "9111111111111111", NONE, 0 },
	{ "0x4111111111111111", NONE, 0 },		/* hex literal */
	{ "41111 11111 11111 1", NONE, 0 },		/* not card grouping */
	{ "4111-1111 1111-1111", NONE, 0 },		/* mixed separators */
	{ "1765131234567", NONE, 0 },			/* epoch ms */
	{ "3.4111111111111111", NONE, 0 },		/* decimal */
	/* IBANs */
	{ "IBAN DE89 3704 0044 0532 0130 00.", RS_IBAN, 1 },
	{ "GB82WEST12345698765432", RS_IBAN, 1 },
	{ "FR1420041010050500013M02606 NL91ABNA0417164300", RS_IBAN, 2 },
	{ "DE89370400440532013001", NONE, 0 },		/* checksum */
	{ "DE8937040044053201300", NONE, 0 },		/* length */
	{ "ZZ89370400440532013000", NONE, 0 },		/* no such country */
	{ "DE89 3704 0044 0532 0130 0012", NONE, 0 },	/* longer */
};

static size_t total(const uint16_t c[RS__MAX])
{
	size_t t = 0;

	for (int k = 0; k < RS__MAX; k++)
		t += c[k];
	return t;
}

static void expect(const char *what, const char *text, size_t len, const struct dcase *c)
{
	uint16_t counts[RS__MAX] = { 0 };
	char *buf = malloc(len ? len : 1);	/* exact size: ASan catches over-reads */
	size_t found;

	assert_non_null(buf);
	memcpy(buf, text, len);
	found = detect_scan(buf, len, counts);
	free(buf);
	if (c->kind == NONE && total(counts) == 0)
		return;
	if (c->kind != NONE && counts[c->kind] == c->n && total(counts) == (size_t)c->n &&
	    found == (size_t)c->n)
		return;
	fprintf(stderr, "%s: \"%s\": want %s x%d, got", what, c->text,
		c->kind == NONE ? "nothing" : record_sensitive_name(c->kind), c->n);
	for (int k = 0; k < RS__MAX; k++)
		if (counts[k])
			fprintf(stderr, " %s x%u", record_sensitive_name(k), counts[k]);
	fputc('\n', stderr);
	fail();
}

static void test_table(void **state)
{
	char wrapped[1024];
	size_t i;
	int n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct dcase *c = &cases[i];

		expect("bare", c->text, strlen(c->text), c);
		/* as a JSON message, after an escaped newline */
		n = snprintf(wrapped, sizeof(wrapped),
			     "{\"role\":\"user\",\"content\":\"see:\\n%s\"}", c->text);
		assert_true(n > 0 && (size_t)n < sizeof(wrapped));
		expect("json", wrapped, (size_t)n, c);
	}
}

/* Counts saturate instead of wrapping. */
static void test_saturates(void **state)
{
	const char *one = "a@example.com ";
	size_t n1 = strlen(one), reps = 70000, i;
	char *buf = malloc(n1 * reps);
	uint16_t counts[RS__MAX] = { 0 };

	assert_non_null(buf);
	for (i = 0; i < reps; i++)
		memcpy(buf + i * n1, one, n1);
	assert_int_equal(detect_scan(buf, n1 * reps, counts), reps);
	assert_int_equal(counts[RS_EMAIL], DETECT_COUNT_MAX);
	free(buf);
}

/* xorshift: the same blobs every run */
static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n > *cap) {
		*cap = (*len + n) * 2;
		*buf = realloc(*buf, *cap);
		assert_non_null(*buf);
	}
	memcpy(*buf + *len, s, n);
	*len += n;
}

#define APPEND(s) append(&buf, &len, &cap, s, strlen(s))

/* What prompts are full of and must not be flagged as cards or keys. */
static void test_false_positive_corpus(void **state)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char hex[] = "0123456789abcdef";
	static const char *const code[] = {
		"#include <stdio.h>\nint main(int argc, char **argv) { return argc > 1 ? 0 : 1; }\n",
		"for (i = 0; i < 4111111111; i++) x += arr[i] * 1e+10;\n",
		"const re = /^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$/i;\n",
		"def f(x):\n    return x ** 2 + 3 * x - 1  # O(n^2)\n",
		"@app.route('/api/v1/users/<int:id>')\n@login_required\n",
		"version = \"1.24.3\"; sha = \"9fceb02d0ae598e95dc970b74767f19372d61af8\"\n",
		"ts = 1765131234567; ns = 1765131234567890123; port = 8080\n",
		"{\"input_ids\": [101, 7592, 1010, 2088, 999, 102, 4111, 1111, 1111, 1111]}\n",
		"matrix = [[4111, 1111], [1111, 1111]]; ip = 192.168.100.200\n",
		"ISBN 978-3-16-148410-0; SKU AB12-CD34-EF56; phone ext. 1234\n",
		"\"sk\": \"pk\", \"key\": \"value\", \"task-id\": \"ab12cd34\"\n",
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 DEADBEEFCAFEBABE\n",
	};
	uint16_t counts[RS__MAX] = { 0 };
	char *buf = NULL, piece[4200];
	size_t len = 0, cap = 0, i, j;

	for (i = 0; i < sizeof(code) / sizeof(code[0]); i++)
		APPEND(code[i]);
	for (i = 0; i < 2000; i++) {	/* UUIDs, v4-like and all-digit */
		uint64_t a = next(), b = next();

		snprintf(piece, sizeof(piece), "%08x-%04x-4%03x-%04x-%012llx\n",
			 (unsigned)a, (unsigned)(a >> 32) & 0xffff, (unsigned)(a >> 48) & 0xfff,
			 (unsigned)b & 0xffff, (unsigned long long)(b >> 16));
		APPEND(piece);
		snprintf(piece, sizeof(piece), "%08llu-%04llu-%04llu-%04llu-%012llu\n",
			 (unsigned long long)(a % 100000000ULL), (unsigned long long)(a >> 40) % 10000,
			 (unsigned long long)(b % 10000), (unsigned long long)(b >> 20) % 10000,
			 (unsigned long long)(b % 1000000000000ULL));
		APPEND(piece);
	}
	for (i = 0; i < 200; i++) {	/* base64 blobs, as images in prompts */
		APPEND("\"data:image/png;base64,");
		for (j = 0; j < 4096; j++)
			piece[j] = b64[next() % 64];
		piece[j] = '\0';
		APPEND(piece);
		APPEND("\"\n");
	}
	for (i = 0; i < 2000; i++) {	/* hashes */
		for (j = 0; j < 64; j++)
			piece[j] = hex[next() % 16];
		piece[j] = '\n';
		piece[j + 1] = '\0';
		APPEND(piece);
	}
	for (i = 0; i < 2000; i++) {	/* epoch times and big counters */
		snprintf(piece, sizeof(piece), "%llu %llu ",
			 1700000000000ULL + next() % 100000000000ULL,
			 1700000000000000000ULL + next() % 100000000000000000ULL);
		APPEND(piece);
	}
	detect_scan(buf, len, counts);
	for (i = 0; i < RS__MAX; i++)
		if (counts[i])
			fprintf(stderr, "false positives: %s x%u in %zu bytes\n",
				record_sensitive_name(i), counts[i], len);
	assert_int_equal(total(counts), 0);
	free(buf);
}

static void scan_corpus_line(const cJSON *line, void *ctx)
{
	uint16_t *counts = ctx;
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(line, "req_body_b64");
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *s;
	unsigned char *out;
	size_t n, o = 0, i;
	uint32_t acc = 0;
	int bits = 0;

	if (!cJSON_IsString(b))
		return;
	s = b->valuestring;
	n = strlen(s);
	out = malloc(n + 1);
	assert_non_null(out);
	for (i = 0; i < n && s[i] != '='; i++) {
		const char *p = strchr(b64, s[i]);

		if (!p || !*p)
			continue;
		acc = acc << 6 | (uint32_t)(p - b64);
		if ((bits += 6) >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	detect_scan((const char *)out, o, counts);
	free(out);
}

/* Real prompts from the shared corpus: programming and test prompts. */
static void test_shared_corpus(void **state)
{
	uint16_t counts[RS__MAX] = { 0 };
	int n = corpus_foreach(scan_corpus_line, counts);

	if (n == -ENOENT)
		skip();
	assert_true(n > 400);
	fprintf(stderr, "shared corpus, %d request bodies:", n);
	for (int k = 0; k < RS__MAX; k++)
		fprintf(stderr, " %s=%u", record_sensitive_name(k), counts[k]);
	fputc('\n', stderr);
	/* Read by hand: none of the 463 holds a real one of any kind (its
	 * '@' are decorators and npm versions in prose). */
	assert_int_equal(total(counts), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_saturates),
		cmocka_unit_test(test_false_positive_corpus),
		cmocka_unit_test(test_shared_corpus),
	};

	return cmocka_run_group_tests_name("detect", tests, NULL, NULL);
}
