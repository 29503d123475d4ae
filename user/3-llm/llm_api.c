/* Names of the APIs as the export contract spells them, and which are billed. */
#include <string.h>
#include "llm_api.h"

static const char *const api_names[LLM_API__MAX] = {
	[LLM_API_NONE]			  = "none",
	[LLM_API_CHAT_COMPLETIONS]	  = "chat.completions",
	[LLM_API_RESPONSES]		  = "responses",
	[LLM_API_MESSAGES]		  = "messages",
	[LLM_API_GENERATE_CONTENT]	  = "generate_content",
	[LLM_API_STREAM_GENERATE_CONTENT] = "stream_generate_content",
	[LLM_API_EMBEDDINGS]		  = "embeddings",
	[LLM_API_GEMINI_EMBED]		  = "embeddings",
	[LLM_API_COMPLETIONS]		  = "completions",
	[LLM_API_COUNT_TOKENS]		  = "count_tokens",
	[LLM_API_OLLAMA_CHAT]		  = "ollama.chat",
	[LLM_API_OLLAMA_GENERATE]	  = "ollama.generate",
	[LLM_API_BATCH_RESULTS]		  = "batch_results",
};

const char *llm_api_name(enum llm_api api)
{
	if ((unsigned)api >= LLM_API__MAX)
		return "none";
	return api_names[api];
}

bool llm_api_billed(enum llm_api api)
{
	return api != LLM_API_COUNT_TOKENS;
}

bool llm_api_name_billed(const char *name)
{
	return !name || strcmp(name, api_names[LLM_API_COUNT_TOKENS]) != 0;
}
