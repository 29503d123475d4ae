/* Prompt-cache rules per provider and model: one JSON table,
 * data/cache_rules.json, embedded at build time (cache_rules.S) and
 * overridable with a file. In: the table; out: the rule for a call (by
 * vendor or provider, then the longest model prefix) and the fields that
 * are not prompt. A model no prefix matches gets the provider's default
 * with model_known false, so reports can say the rule is unknown. */
#ifndef LLMOBS_CACHE_RULES_H
#define LLMOBS_CACHE_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cache_breakpoints {
	CACHE_BP_AUTO = 0,	/* any prefix of the prompt */
	CACHE_BP_ANTHROPIC,	/* cache_control block positions, lookback */
	CACHE_BP_EXPLICIT,	/* prompt_cache_breakpoint (OpenAI 5.6+) */
};

#define CACHE_RULES_MAX_NON_PROMPT	16

struct cache_rule {
	char provider[32];
	char model_prefix[64];
	bool model_known;	/* false: the provider default stands in */
	bool implicit;		/* caches without being asked */
	bool write_premium;	/* writes billed above input (price table) */
	bool units_overestimate;/* DeepSeek: LCP is an upper bound */
	enum cache_breakpoints breakpoints;
	int64_t min_tokens;
	int64_t granularity_tokens;
	int64_t ttl_s, max_ttl_s;
	int lookback_blocks, max_breakpoints;
	/* Keys inside prompt segments that are not rendered. */
	int n_non_prompt;
	char non_prompt[CACHE_RULES_MAX_NON_PROMPT][48];
	uint8_t non_prompt_len[CACHE_RULES_MAX_NON_PROMPT];
	bool non_prompt_item[CACHE_RULES_MAX_NON_PROMPT];	/* only on an
				 * input/message item itself ("where":
				 * "responses input[i]"), not inside it */
	/* Text-block prefixes a client adds that are not prompt. */
	int n_non_prompt_text;
	char non_prompt_text[4][48];
};

struct cache_rules;

/* Return 0 or -errno (-EINVAL with a logged reason for a malformed table). */
int cache_rules_load_default(struct cache_rules **out);
int cache_rules_load_file(const char *path, struct cache_rules **out);
int cache_rules_load_json(const char *json, size_t len, struct cache_rules **out);
void cache_rules_free(struct cache_rules *r);

/* The rule for a call to provider (record provider: "openai", "anthropic",
 * "google", "openai_compatible"...) served by vendor (may be NULL) for
 * model. NULL when no provider entry matches: caching unknown. */
const struct cache_rule *cache_rules_lookup(const struct cache_rules *r,
					    const char *provider, const char *vendor,
					    const char *model);

/* Whether key is a non-prompt key under rule (NULL rule: none are);
 * item: the key is a member of a message / input item itself. */
bool cache_rule_non_prompt(const struct cache_rule *rule, const char *key, size_t len,
			   bool item);

/* Rounds a shared prefix of tokens down to what rule can cache (minimum,
 * granularity). */
int64_t cache_rule_round(const struct cache_rule *rule, int64_t tokens);

#endif
