/* Secrets never reach the store: query parameters that carry credentials
 * (Gemini's ?key=, Azure's api-key, SAS signatures) are replaced. */
#ifndef LLMOBS_REDACT_H
#define LLMOBS_REDACT_H

#include <stddef.h>

/* Copies path[0..len) into dst (NUL-terminated, cut to size) with the values
 * of credential query parameters replaced by "REDACTED". */
void redact_path(char *dst, size_t size, const char *path, size_t len);

#endif
