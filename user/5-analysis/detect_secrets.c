/* Matchers for credentials in prompt text (detect.h): provider and SaaS
 * API keys, cloud keys, GitHub tokens, JWTs, private key blocks. In: the
 * text and a word start; out: the length matched, never a copy.
 *
 * Keys are told by their documented prefixes and body lengths, not by
 * entropy alone: a long random-looking token is as likely a hash, a
 * base64 blob or a UUID, which the false-positive test feeds us. Where a
 * prefix is short and common ("sk-"), the body must also look generated:
 * long, mostly alphanumeric, with both letters and digits. */
#include <string.h>
#include "detect.h"

/* Length of the run of bytes from i that are alphanumeric, or also '_' /
 * '-' when extra says so, capped at max. */
static size_t run(const char *t, size_t i, size_t len, const char *extra, size_t max)
{
	size_t n = 0;

	while (i + n < len && n < max) {
		unsigned char c = (unsigned char)t[i + n];

		if (!detect_is_alnum(c) && !(extra && c && strchr(extra, c)))
			break;
		n++;
	}
	return n;
}

/* The body t[i..i+n) looks generated: letters and digits both, and at
 * most one separator in eight bytes. */
static int looks_generated(const char *t, size_t i, size_t n)
{
	size_t letters = 0, digits = 0, seps = 0, k;

	for (k = 0; k < n; k++) {
		unsigned char c = (unsigned char)t[i + k];

		if (detect_is_digit(c))
			digits++;
		else if (detect_is_alnum(c))
			letters++;
		else
			seps++;
	}
	return letters && digits && seps * 8 <= n;
}

/* Upper and lower case letters both (tokens of letters only, e.g. hf_). */
static int mixed_case(const char *t, size_t i, size_t n)
{
	int up = 0, low = 0;

	for (size_t k = 0; k < n; k++) {
		up |= detect_is_upper((unsigned char)t[i + k]);
		low |= detect_is_lower((unsigned char)t[i + k]);
	}
	return up && low;
}

size_t detect_private_key(const char *t, size_t i, size_t len)
{
	static const char begin[] = "-----BEGIN ";
	size_t j, end;

	if (!detect_has(t, i, len, begin))
		return 0;
	/* "RSA PRIVATE KEY", "OPENSSH PRIVATE KEY", "ENCRYPTED PRIVATE KEY",
	 * "PGP PRIVATE KEY BLOCK": the label is short and upper case. */
	for (j = i + sizeof(begin) - 1; j < len && j < i + 48; j++) {
		if (detect_has(t, j, len, "PRIVATE KEY"))
			break;
		if (!detect_is_upper((unsigned char)t[j]) && t[j] != ' ')
			return 0;
	}
	if (j >= len || j >= i + 48)
		return 0;
	j += 11;
	while (j < len && (detect_is_upper((unsigned char)t[j]) || t[j] == ' '))
		j++;
	if (!detect_has(t, j, len, "-----"))
		return 0;
	/* Swallow the block up to its END line (bounded), so its base64 is
	 * not scanned for other kinds. */
	for (end = j + 5; end < len && end < j + 16384; end++)
		if (detect_has(t, end, len, "-----END "))
			return end + 9 - i;
	return j + 5 - i;
}

/* base64url segment length from i */
static size_t b64url(const char *t, size_t i, size_t len)
{
	return run(t, i, len, "_-", 8192);
}

size_t detect_jwt(const char *t, size_t i, size_t len)
{
	size_t h, p, s, j = i;

	/* Header and payload are JSON objects: base64url of '{"' is "eyJ". */
	if (!detect_has(t, j, len, "eyJ"))
		return 0;
	h = b64url(t, j, len);
	if (h < 10 || j + h >= len || t[j + h] != '.')
		return 0;
	j += h + 1;
	if (!detect_has(t, j, len, "eyJ"))
		return 0;
	p = b64url(t, j, len);
	if (p < 10 || j + p >= len || t[j + p] != '.')
		return 0;
	j += p + 1;
	s = b64url(t, j, len);	/* unsigned ("alg":"none") tokens are not secrets */
	if (s < 16 || !detect_ends(t, j + s, len))
		return 0;
	return j + s - i;
}

size_t detect_github_token(const char *t, size_t i, size_t len)
{
	size_t n;

	/* Classic tokens: gh[pousr]_ + 36 alphanumerics. */
	if (detect_has(t, i, len, "gh") && i + 3 < len && t[i + 3] == '_' &&
	    t[i + 2] && strchr("pousr", t[i + 2])) {
		n = run(t, i + 4, len, NULL, 256);
		if (n >= 36 && n <= 40 && detect_ends(t, i + 4 + n, len))
			return 4 + n;
		return 0;
	}
	/* Fine-grained: github_pat_ + 22 + '_' + 59. */
	if (detect_has(t, i, len, "github_pat_")) {
		n = run(t, i + 11, len, "_", 256);
		if (n >= 70 && detect_ends(t, i + 11 + n, len))
			return 11 + n;
	}
	return 0;
}

size_t detect_cloud_key(const char *t, size_t i, size_t len)
{
	static const char *const aws[] = { "AKIA", "ASIA", "ABIA", "ACCA", "AROA", "AIDA" };
	size_t k, n;

	/* AWS access key ids: a 4-letter type then 16 of [A-Z2-7]. */
	for (k = 0; k < sizeof(aws) / sizeof(aws[0]); k++) {
		if (!detect_has(t, i, len, aws[k]))
			continue;
		for (n = 0; i + 4 + n < len && n < 17; n++) {
			unsigned char c = (unsigned char)t[i + 4 + n];

			if (!detect_is_upper(c) && !(c >= '2' && c <= '7'))
				break;
		}
		if (n == 16 && detect_ends(t, i + 20, len))
			return 20;
		return 0;
	}
	/* Google API keys: AIza + 35 of [A-Za-z0-9_-]. */
	if (detect_has(t, i, len, "AIza")) {
		n = run(t, i + 4, len, "_-", 64);
		return n == 35 && detect_ends(t, i + 39, len) ? 39 : 0;
	}
	/* Azure storage connection strings: AccountKey=<88 base64>. */
	if (detect_has(t, i, len, "AccountKey=")) {
		n = run(t, i + 11, len, "+/=", 128);
		return n >= 86 && n <= 90 ? 11 + n : 0;
	}
	return 0;
}

size_t detect_api_key(const char *t, size_t i, size_t len)
{
	/* prefix, extra body bytes, body length bounds, and whether the body
	 * must hold letters and digits (1) or mixed-case letters (0) */
	static const struct {
		const char *prefix;
		const char *extra;
		unsigned short min, max;
		unsigned char generated;
	} keys[] = {
		{ "sk-ant-", "_-", 40, 200, 1 },	/* Anthropic */
		{ "sk-", "_-", 32, 200, 1 },		/* OpenAI (sk-proj-...), DeepSeek, OpenRouter */
		{ "sk_live_", NULL, 24, 120, 1 },	/* Stripe secret */
		{ "rk_live_", NULL, 24, 120, 1 },	/* Stripe restricted */
		{ "xai-", NULL, 40, 120, 1 },		/* xAI */
		{ "gsk_", NULL, 40, 80, 1 },		/* Groq */
		{ "hf_", NULL, 30, 40, 0 },		/* Hugging Face */
		{ "pplx-", NULL, 40, 64, 1 },		/* Perplexity */
		{ "r8_", NULL, 30, 48, 1 },		/* Replicate */
		{ "glpat-", "_-", 20, 40, 0 },		/* GitLab */
		{ "npm_", NULL, 36, 36, 1 },		/* npm */
		{ "xoxb-", "-", 24, 120, 1 },		/* Slack bot */
		{ "xoxp-", "-", 24, 120, 1 },		/* Slack user */
		{ "xapp-", "-", 24, 120, 1 },		/* Slack app */
	};
	size_t k, p, n;

	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		if (!detect_has(t, i, len, keys[k].prefix))
			continue;
		p = strlen(keys[k].prefix);
		n = run(t, i + p, len, keys[k].extra, keys[k].max + 1);
		if (n < keys[k].min || n > keys[k].max || !detect_ends(t, i + p + n, len))
			continue;	/* "sk-ant-" failing may still be an "sk-" key */
		if (keys[k].generated ? !looks_generated(t, i + p, n) : !mixed_case(t, i + p, n))
			continue;
		return p + n;
	}
	return 0;
}
