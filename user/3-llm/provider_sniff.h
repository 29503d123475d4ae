/* Recognising an LLM API call from its request body alone, for exchanges
 * whose head could not be read (an HTTP/2 connection joined mid-way: the
 * HPACK state that encodes :path was missed). */
#ifndef LLMOBS_PROVIDER_SNIFF_H
#define LLMOBS_PROVIDER_SNIFF_H

#include <stddef.h>
#include "provider.h"

/* Classifies by the JSON shape of the request body: "contents" is Gemini,
 * "messages" with a Claude model or Anthropic-only fields is Messages,
 * other "messages" Chat Completions, "input" with a model Responses.
 * Returns 0 and fills *out, or -ENOENT when the shape says nothing. */
int provider_sniff_request(const char *body, size_t len, struct llm_request_info *out);

#endif
