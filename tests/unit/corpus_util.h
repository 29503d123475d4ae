/* Test helpers for the shared exchange corpus (one JSON object per line, see
 * /work/shared/corpus/README.md). Header-only so any test can include it.
 * The corpus is found through $CORPUS; tests skip when it is absent. */
#ifndef LLMOBS_TEST_CORPUS_UTIL_H
#define LLMOBS_TEST_CORPUS_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <cjson/cJSON.h>

/* Path of the corpus, or NULL when $CORPUS is unset or unreadable. */
static inline const char *corpus_path(void)
{
	const char *path = getenv("CORPUS");

	if (!path || !*path || access(path, R_OK) != 0)
		return NULL;
	return path;
}

/* Calls cb once per parsed line, in file order. Returns the number of lines
 * visited, -ENOENT when the corpus is missing, -EINVAL on a line that is not
 * JSON (a broken corpus should fail a test, not shrink it silently). */
static inline int corpus_foreach(void (*cb)(const cJSON *line, void *ctx), void *ctx)
{
	const char *path = corpus_path();
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	int count = 0, err = 0;
	FILE *f;

	if (!path)
		return -ENOENT;
	f = fopen(path, "r");
	if (!f)
		return -ENOENT;
	while ((n = getline(&buf, &cap, f)) > 0) {
		cJSON *line;

		if (n == 1 && buf[0] == '\n')
			continue;
		line = cJSON_ParseWithLength(buf, (size_t)n);
		if (!line) {
			err = -EINVAL;
			break;
		}
		cb(line, ctx);
		cJSON_Delete(line);
		count++;
	}
	free(buf);
	fclose(f);
	return err ? err : count;
}

/* Strict RFC 4648 base64 (padding optional, no whitespace). Returns a
 * malloc'd buffer (NUL-terminated for convenience, not counted in *len),
 * or NULL with errno set (EINVAL for bad input). */
static inline unsigned char *corpus_b64_decode(const char *s, size_t slen, size_t *len)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char *out;
	unsigned int acc = 0;
	int bits = 0;
	size_t i, o = 0;

	while (slen > 0 && s[slen - 1] == '=')
		slen--;
	out = malloc(slen / 4 * 3 + 4);
	if (!out)
		return NULL;
	for (i = 0; i < slen; i++) {
		const char *p = s[i] ? strchr(alphabet, s[i]) : NULL;

		if (!p) {
			free(out);
			errno = EINVAL;
			return NULL;
		}
		acc = (acc << 6) | (unsigned int)(p - alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	out[o] = '\0';
	*len = o;
	return out;
}

/* Decodes the base64 string field of line ("req_body_b64", "resp_body_b64").
 * Returns a malloc'd buffer the caller frees, or NULL with errno set
 * (ENOENT when the field is missing). An empty body gives a non-NULL
 * buffer with *len 0. */
static inline unsigned char *corpus_b64(const cJSON *line, const char *field, size_t *len)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(line, field);

	if (!cJSON_IsString(item) || !item->valuestring) {
		errno = ENOENT;
		return NULL;
	}
	return corpus_b64_decode(item->valuestring, strlen(item->valuestring), len);
}

/* Value of the first header called name (case-insensitive) in the
 * [[name, value], ...] array field ("req_headers", "resp_headers"), or NULL. */
static inline const char *corpus_header(const cJSON *line, const char *field,
					const char *name)
{
	const cJSON *hdrs = cJSON_GetObjectItemCaseSensitive(line, field);
	const cJSON *h;

	cJSON_ArrayForEach(h, hdrs) {
		const cJSON *n = cJSON_GetArrayItem(h, 0);
		const cJSON *v = cJSON_GetArrayItem(h, 1);

		if (cJSON_IsString(n) && cJSON_IsString(v) &&
		    strcasecmp(n->valuestring, name) == 0)
			return v->valuestring;
	}
	return NULL;
}

/* String field of line, or "" when absent (never NULL). */
static inline const char *corpus_str(const cJSON *line, const char *field)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(line, field);

	return cJSON_IsString(item) && item->valuestring ? item->valuestring : "";
}

/* true when line's boolean field is true. */
static inline bool corpus_bool(const cJSON *line, const char *field)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(line, field));
}

#endif
