#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include "redact.h"

static const char *const secret_params[] = {
	"key", "api_key", "api-key", "apikey", "access_token", "token",
	"sig", "signature", "x-goog-api-key", "auth", "password",
};

static bool is_secret(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(secret_params) / sizeof(secret_params[0]); i++)
		if (strlen(secret_params[i]) == len && !strncasecmp(name, secret_params[i], len))
			return true;
	return false;
}

static size_t put(char *dst, size_t size, size_t at, const char *s, size_t n)
{
	if (at + 1 >= size)
		return at;
	if (n > size - 1 - at)
		n = size - 1 - at;
	memcpy(dst + at, s, n);
	return at + n;
}

void redact_path(char *dst, size_t size, const char *path, size_t len)
{
	const char *q = memchr(path, '?', len), *end = path + len, *p;
	size_t at;

	if (!size)
		return;
	at = put(dst, size, 0, path, q ? (size_t)(q - path) + 1 : len);
	for (p = q ? q + 1 : end; p < end;) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));

		if (eq && is_secret(p, (size_t)(eq - p))) {
			at = put(dst, size, at, p, (size_t)(eq - p) + 1);
			at = put(dst, size, at, "REDACTED", 8);
		} else {
			at = put(dst, size, at, p, (size_t)(stop - p));
		}
		if (amp)
			at = put(dst, size, at, "&", 1);
		p = amp ? amp + 1 : end;
	}
	dst[at] = '\0';
}
