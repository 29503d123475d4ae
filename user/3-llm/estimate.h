/* Token estimates for exchanges whose response carries no usage (OpenAI
 * chat streams without include_usage, cut-off streams, compatible servers
 * that report none). OpenAI models are counted exactly with their BPE
 * (bpe.c) plus the chat format's overhead; other providers' tokenizers are
 * not public, so their counts are o200k_base counts times a factor measured
 * on the shared corpus (README, "Estimated usage"). */
#ifndef LLMOBS_ESTIMATE_H
#define LLMOBS_ESTIMATE_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "bpe.h"
#include "llm_api.h"

/* How model's tokens are counted: the encoding, and whether it is the
 * model's own (exact) or o200k_base standing in for an unknown tokenizer
 * (then the count is scaled by estimate_scale()). */
enum bpe_encoding estimate_encoding(const char *model, bool *exact);

/* Input tokens of a parsed request body of api for model: the texts the
 * model reads (messages, system, instructions, tools), a fixed number per
 * image, and OpenAI's chat overhead (3 per message, 1 per name, 3 to prime
 * the reply). Returns >= 0, -ENOENT when the ranks are not built in,
 * -EOPNOTSUPP for an API it does not estimate (Ollama's native API). */
int64_t estimate_request_tokens(enum llm_api api, const char *model,
				const cJSON *root);

/* Output text of one response object or stream event of api: fed to
 * out->est_output (the visible text; hidden reasoning cannot be seen). */
void estimate_response_text(enum llm_api api, const char *type,
			    const cJSON *root, struct llm_response_info *out);

/* When a successful billed response carried no usage, fills resp->usage
 * from the request's and the output's estimates (input, and output without
 * the reasoning no one sees) and sets resp->usage_estimated; a Claude
 * stream cut after message_start keeps its input counts and gets the
 * output seen. A response that bills nothing yet (background, blocked
 * prompt) is left alone. Returns whether it estimated. */
bool estimate_usage(const struct llm_request_info *req,
		    struct llm_response_info *resp, int status);

/* A raw count of o200k_base tokens standing in for provider's tokenizer,
 * scaled to that tokenizer (1 for exact encodings). */
int64_t estimate_scale(const char *provider, enum llm_api api, int64_t o200k_tokens,
		       bool output);

#endif
