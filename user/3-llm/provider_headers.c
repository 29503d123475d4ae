/* Rate-limit headers of LLM API responses, kept for error exchanges so a
 * 429 says which limit was hit and when to retry. Only names on the list
 * below are ever copied: Authorization, cookies and API keys cannot reach
 * the record however a server names its headers. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "provider.h"

/* Longest value kept; rate-limit values are numbers or short durations. */
#define RATELIMIT_VALUE_MAX	64

struct header_rule {
	const char *name;
	bool prefix;
};

static const struct header_rule kept[] = {
	{ "x-ratelimit-", true },		/* OpenAI, Azure, Groq, OpenRouter... */
	{ "anthropic-ratelimit-", true },
	{ "retry-after", false },		/* RFC 9110: seconds or a date */
	{ "retry-after-ms", false },		/* OpenAI SDKs, Azure */
	{ "x-ms-retry-after-ms", false },
};

static bool header_kept(const char *name, size_t len)
{
	size_t i, n;

	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		n = strlen(kept[i].name);
		if (kept[i].prefix ? len > n : len == n)
			if (strncasecmp(name, kept[i].name, n) == 0)
				return true;
	}
	return false;
}

/* Header bytes are the server's: anything that is not a plain printable
 * character becomes '_' so the object is valid JSON and safe in a terminal. */
static size_t put_clean(char *dst, const char *s, size_t n, bool lower)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
			c = '_';
		else if (lower && c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		dst[i] = c;
	}
	return n;
}

bool provider_long_context_opt_in(const char *name, size_t name_len,
				  const char *value, size_t value_len)
{
	/* A comma-separated list of beta names; only the 1M-context ones
	 * ("context-1m-2025-08-07") lift the 200k prompt limit. */
	return name && value && name_len == 14 &&
	       strncasecmp(name, "anthropic-beta", 14) == 0 &&
	       memmem(value, value_len, "context-1m", 10) != NULL;
}

void provider_response_header(struct llm_response_info *out,
			      const char *name, size_t name_len,
			      const char *value, size_t value_len)
{
	char *buf = out->ratelimit;
	size_t len = strnlen(buf, sizeof(out->ratelimit)), need;

	if (!name || !value || !header_kept(name, name_len))
		return;
	if (value_len > RATELIMIT_VALUE_MAX)
		value_len = RATELIMIT_VALUE_MAX;
	/* The closing brace is rewritten: {  or  , then "name":"value"} */
	if (len)
		len--;
	need = len + name_len + value_len + 7;
	if (need >= sizeof(out->ratelimit))
		return;		/* full: the first headers are the useful ones */
	buf[len] = len ? ',' : '{';
	len++;
	buf[len++] = '"';
	len += put_clean(buf + len, name, name_len, true);
	buf[len++] = '"';
	buf[len++] = ':';
	buf[len++] = '"';
	len += put_clean(buf + len, value, value_len, false);
	buf[len++] = '"';
	buf[len++] = '}';
	buf[len] = '\0';
}
