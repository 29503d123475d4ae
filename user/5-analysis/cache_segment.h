/* A request body split into prompt segments in the provider's prefix order
 * (tools, schema, system / instructions, messages / input / contents), the
 * order in which a prompt cache sees them. In: the request JSON, its API
 * and the cache rule (prefix order, non-prompt keys); out: segments named
 * like "system[0]" or "messages[3].content[1]", each with the extent of its
 * JSON value in the body and its rendered text: strings JSON-unescaped,
 * text blocks as their text, other values as compact JSON without the keys
 * the provider does not render (ids, cache_control, metadata). Breaker
 * offsets are offsets in that text. Bounded: at most CACHE_SEG_MAX
 * segments, text at most CACHE_SEG_MAX_TEXT bytes; more is cut and said. */
#ifndef LLMOBS_CACHE_SEGMENT_H
#define LLMOBS_CACHE_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cache_rules.h"

#define CACHE_SEG_MAX		4096
#define CACHE_SEG_MAX_TEXT	(16u << 20)
#define CACHE_SEG_MAX_DEPTH	64

enum cache_group {
	CG_TOOLS = 0,		/* tools[i]: compared as a set (reordered_tools) */
	CG_SCHEMA,		/* response_format, text.format */
	CG_SYSTEM,		/* system, system[i], instructions, systemInstruction */
	CG_MESSAGES,		/* messages, input, contents */
};

struct cache_segment {
	char name[64];
	uint8_t group;		/* enum cache_group */
	bool breakpoint;	/* cache_control / prompt_cache_breakpoint here */
	bool image;		/* an image block (image_url, input_image, image) */
	bool ttl_1h;		/* its cache_control asks "ttl": "1h" (Anthropic) */
	uint32_t msg;		/* top-level item index (message / tool / block) */
	uint32_t body_off, body_len;	/* the JSON value in the body */
	uint32_t text_off, text_len;	/* its rendered text in req->text */
	/* Tools and schemas: the text again with object keys sorted, so that
	 * reordered keys compare equal (canon_len 0: same as text). */
	uint32_t canon_off, canon_len;
};

struct cache_request {
	struct cache_segment *segs;
	size_t n_segs, cap_segs;
	char *text;		/* every segment's text, then canonical texts */
	size_t text_len, text_cap;
	/* "model=..;tool_choice=..;thinking=.." as sent: a change invalidates
	 * the cache after the tools (Anthropic) or all of it. */
	char params[256];
	size_t params_len;
	bool auto_breakpoint;	/* Anthropic top-level cache_control */
	bool any_breakpoint;
	bool deterministic;	/* temperature 0 or a seed: a response cache could serve a repeat */
	bool truncated;		/* segments or text over their caps */
	/* OpenAI 5.6+ prompt_cache_options: mode "explicit" (cached only at
	 * prompt_cache_breakpoint blocks), and its ttl ("30m", "1h", "24h";
	 * 0: the rule's) */
	bool explicit_mode;
	int64_t ttl_s;
	/* Anthropic: what invalidates the messages but not tools and system
	 * (tool_choice, thinking, effort, the set of images), as a hash folded
	 * in before the first message; 0: none of them */
	uint64_t msg_salt;
	uint32_t non_prompt_skipped;	/* keys and blocks left out as non-prompt */
};

/* Splits body (len bytes) of api ("messages", "chat.completions",
 * "responses", "generate_content", "stream_generate_content") under rule
 * (may be NULL: no non-prompt keys). req is reset first (zero-fill it
 * before first use; its buffers are reused). Returns 0, -EINVAL for a body
 * that is not a JSON object, -EOPNOTSUPP for another API, -ENOMEM. */
int cache_segment_request(struct cache_request *req, const char *api,
			  const char *body, size_t len, const struct cache_rule *rule);
void cache_request_free(struct cache_request *req);

#endif
