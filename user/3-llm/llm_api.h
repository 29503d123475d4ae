/* The vocabulary of the llm stage: which API a call is, and what its
 * request and response say (model, usage, errors). Below provider.c (which
 * fills them) and estimate.c (which counts what they lack), so that neither
 * needs the other's header for its types. */
#ifndef LLMOBS_LLM_API_H
#define LLMOBS_LLM_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "bpe.h"
#include "record.h"

enum llm_api {
	LLM_API_NONE = 0,		/* not an LLM API call */
	LLM_API_CHAT_COMPLETIONS,	/* OpenAI /v1/chat/completions */
	LLM_API_RESPONSES,		/* OpenAI /v1/responses */
	LLM_API_MESSAGES,		/* Anthropic /v1/messages */
	LLM_API_GENERATE_CONTENT,	/* Gemini :generateContent */
	LLM_API_STREAM_GENERATE_CONTENT,/* Gemini :streamGenerateContent */
	LLM_API_EMBEDDINGS,		/* OpenAI-shaped /v1/embeddings */
	LLM_API_GEMINI_EMBED,		/* Gemini :embedContent, :batchEmbedContents */
	LLM_API_COMPLETIONS,		/* legacy /v1/completions */
	LLM_API_COUNT_TOKENS,		/* token counting: never billed */
	LLM_API_OLLAMA_CHAT,		/* Ollama native /api/chat (NDJSON stream) */
	LLM_API_OLLAMA_GENERATE,	/* Ollama native /api/generate */
	LLM_API_BATCH_RESULTS,		/* GET of batch results (JSONL): Anthropic
					 * /v1/messages/batches/<id>/results, an
					 * OpenAI batch's output /v1/files/<id>/content */
	LLM_API__MAX,
};

/* "chat.completions", "responses", "messages", ... (export contract). */
const char *llm_api_name(enum llm_api api);

/* Whether calls of api are billed at all (token counting is free). */
bool llm_api_billed(enum llm_api api);
bool llm_api_name_billed(const char *name);

/* What the request says; filled by provider_classify_request(). */
struct llm_request_info {
	enum llm_api api;
	char provider[32];	/* "openai", "anthropic", "google", ... */
	char model[128];	/* request's model ("" if none) */
	bool stream;		/* request asked for a streamed response */
	char deployment[128];	/* Azure /openai/deployments/<d>/: not a model */
	int64_t est_input_tokens; /* estimate.c's count, -1 when none */
};

/* What the response says; filled by provider_parse_body() and
 * provider_stream_event() (provider.h). Zero-fill first. */
struct llm_response_info {
	char model[128];	/* last non-empty model seen */
	struct llm_usage usage;
	bool usage_present;	/* the provider reported usage */
	bool stream_done;	/* a stream's terminal event was seen */
	char error[48];		/* provider error type/code, "" if none */
	char ratelimit[512];	/* rate-limit headers, a JSON object ("" none) */
	double provider_cost_usd; /* the provider's own statement of cost */
	bool provider_cost_known;
	/* The visible output text, counted as it comes (estimate.c), for a
	 * response that turns out to carry no usage. */
	struct bpe_stream est_output;
	bool est_started, est_exact, est_failed;
	uint8_t est_enc;	/* enum bpe_encoding */
	bool no_estimate;	/* nothing billed yet: a background response */
	bool usage_partial;	/* only Anthropic's message_start usage came:
				 * its output count is a placeholder */
	bool not_llm;		/* a file download that held no batch results */
	int batch_results;	/* results (JSONL lines) with usage, summed */
	bool usage_estimated;	/* set by estimate_usage() */
	/* Tools the response asked to run, names only (provider_tools.c):
	 * "get_weather,search", "" none; count includes names left out. */
	char tool_calls[128];
	int tool_call_count;
};

#endif
