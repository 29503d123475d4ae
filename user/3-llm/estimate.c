/* Estimating usage from the captured text when the response says nothing.
 * Requests: the JSON fields each API feeds the model are walked and their
 * strings counted; keys that are structure, not text (role, type, ids,
 * base64 data), are skipped, images count a fixed amount. Responses: the
 * visible output text, event by event, into a bpe_stream. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include "estimate.h"

/* OpenAI's chat format (its cookbook's num_tokens_from_messages): every
 * message is wrapped in 3 tokens, a name costs 1 more, and 3 prime the
 * reply. Other APIs' wrappers are unpublished; the same shape is used. */
#define MSG_OVERHEAD		3
#define NAME_OVERHEAD		1
#define REPLY_OVERHEAD		3

/* Images are not text: a fixed count each. OpenAI: a 1024x1024 image at
 * high detail (85 + 4 tiles x 170); Anthropic: ~1.15 MP, its documented
 * maximum before downscaling (w*h/750); Gemini: 258 per image. */
#define IMAGE_TOKENS_OPENAI	765
#define IMAGE_TOKENS_ANTHROPIC	1600
#define IMAGE_TOKENS_GEMINI	258

/* Anthropic adds a system prompt when tools are given: 346 tokens for
 * tool_choice auto/none on Claude 4 and 3.7 (its tool-use docs). */
#define ANTHROPIC_TOOLS_PROMPT	346

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

enum bpe_encoding estimate_encoding(const char *model, bool *exact)
{
	static const char *const o200k[] = {
		"gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4",
		"chatgpt-4o", "gpt-oss", "codex", "computer-use", NULL,
	};
	static const char *const cl100k[] = {
		"gpt-4", "gpt-3.5", "text-embedding-3", "text-embedding-ada-002",
		"davinci-002", "babbage-002", NULL,
	};
	const char *slash = model ? strrchr(model, '/') : NULL;
	const char *const *p;

	*exact = false;
	if (!model)
		return BPE_O200K_BASE;
	if (slash)		/* "openai/gpt-4o", "models/..." */
		model = slash + 1;
	for (p = o200k; *p; p++)
		if (has_prefix(model, *p)) {
			*exact = true;
			return BPE_O200K_BASE;
		}
	for (p = cl100k; *p; p++)
		if (has_prefix(model, *p)) {
			*exact = true;
			return BPE_CL100K_BASE;
		}
	return BPE_O200K_BASE;
}

/* Measured on the shared corpus (tests/unit/test_estimate.c prints the
 * fit): the provider's reported tokens over our o200k_base count of the
 * same text, median over the exchanges whose request holds all the text
 * the model reads. Claude's output is scaled like its input: its reported
 * output also holds thinking it only summarises, which no factor fits. */
int64_t estimate_scale(const char *provider, enum llm_api api, int64_t n, bool output)
{
	double f = 1.0;

	if (api == LLM_API_MESSAGES || (provider && !strcmp(provider, "anthropic")))
		f = 1.27;
	else if (api == LLM_API_GENERATE_CONTENT || api == LLM_API_STREAM_GENERATE_CONTENT ||
		 api == LLM_API_GEMINI_EMBED)
		f = output ? 1.02 : 1.00;
	return (int64_t)(n * f + 0.5);
}

/* ---- requests ---- */

struct counter {
	enum bpe_encoding enc;
	int image_tokens;
	int64_t tokens;
	int err;
};

static void count_text(struct counter *c, const char *s)
{
	long n;

	if (c->err || !s || !*s)
		return;
	n = bpe_count(c->enc, s, strlen(s));
	if (n < 0)
		c->err = (int)n;
	else
		c->tokens += n;
}

/* Keys whose strings the model does not read as text. */
static bool skipped_key(const char *k)
{
	static const char *const keys[] = {
		"role", "type", "id", "tool_call_id", "call_id", "tool_use_id", "status",
		"cache_control", "signature", "mime_type", "mimeType", "media_type",
		"detail", "model", "file_id", "fileUri", "file_uri", "url", "data",
		"b64_json", "encrypted_content", "file_data", "thoughtSignature", NULL,
	};

	for (const char *const *p = keys; k && *p; p++)
		if (!strcmp(k, *p))
			return true;
	return false;
}

static bool is_image(const cJSON *obj)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, "type");
	const cJSON *inl = cJSON_GetObjectItemCaseSensitive(obj, "inlineData");
	const cJSON *mime;

	if (cJSON_IsString(t) && (!strcmp(t->valuestring, "image_url") ||
				  !strcmp(t->valuestring, "input_image") ||
				  !strcmp(t->valuestring, "image")))
		return true;
	if (!inl)
		inl = cJSON_GetObjectItemCaseSensitive(obj, "inline_data");
	mime = cJSON_GetObjectItemCaseSensitive(inl, "mimeType");
	if (!mime)
		mime = cJSON_GetObjectItemCaseSensitive(inl, "mime_type");
	return cJSON_IsString(mime) && has_prefix(mime->valuestring, "image/");
}

/* Every string under j that the model reads. A tool's input and a tool
 * definition's schema are JSON the model sees as JSON text: objects under
 * those keys are counted as their compact serialisation. */
static void walk(struct counter *c, const cJSON *j, int depth)
{
	const cJSON *it;

	if (c->err || depth > 64)
		return;
	if (cJSON_IsString(j)) {
		count_text(c, j->valuestring);
		return;
	}
	if (cJSON_IsObject(j) && is_image(j)) {
		c->tokens += c->image_tokens;
		return;
	}
	cJSON_ArrayForEach(it, j) {
		if (skipped_key(it->string))
			continue;
		if (it->string && cJSON_IsObject(it) &&
		    (!strcmp(it->string, "input") || !strcmp(it->string, "parameters") ||
		     !strcmp(it->string, "input_schema") || !strcmp(it->string, "args") ||
		     !strcmp(it->string, "response") || !strcmp(it->string, "schema"))) {
			char *s = cJSON_PrintUnformatted(it);

			count_text(c, s);
			cJSON_free(s);
			continue;
		}
		walk(c, it, depth + 1);
	}
}

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* OpenAI renders function tools in its own format, not as JSON; its
 * cookbook (num_tokens_for_tools, gpt-4o) counts "name:description", per
 * property "key:type:description" and enum items, with fixed overheads.
 * Tools of other kinds, and nested schemas, are counted as JSON text. */
static void count_desc(struct counter *c, const char *a, const char *b, const char *d)
{
	char line[1024];
	size_t n;

	n = (size_t)snprintf(line, sizeof(line), "%s%s%s%s%s", a, b ? ":" : "", b ? b : "",
			     ":", d ? d : "");
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	if (n && line[n - 1] == '.')	/* the cookbook drops a final period */
		line[--n] = '\0';
	count_text(c, line);
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(it) ? it->valuestring : "";
}

static void walk_openai_tools(struct counter *c, const cJSON *tools)
{
	const cJSON *t, *prop, *e;
	int nfunc = 0;

	cJSON_ArrayForEach(t, tools) {
		const cJSON *f = cJSON_GetObjectItemCaseSensitive(t, "function");
		const cJSON *props;

		if (!f && !strcmp(str(t, "type"), "function"))
			f = t;		/* Responses: the function's fields at top level */
		if (!f) {
			walk(c, t, 0);
			continue;
		}
		nfunc++;
		c->tokens += 7;
		count_desc(c, str(f, "name"), NULL, str(f, "description"));
		props = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(f, "parameters"), "properties");
		if (cJSON_GetArraySize(props) > 0)
			c->tokens += 3;
		cJSON_ArrayForEach(prop, props) {
			c->tokens += 3;
			if (cJSON_GetObjectItemCaseSensitive(prop, "enum"))
				c->tokens -= 3;
			cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(prop, "enum")) {
				c->tokens += 3;
				if (cJSON_IsString(e))
					count_text(c, e->valuestring);
			}
			count_desc(c, prop->string ? prop->string : "", str(prop, "type"),
				   str(prop, "description"));
		}
	}
	if (nfunc)
		c->tokens += 12;
}

/* A list of messages in the chat shape: overhead per message and name. */
static void walk_messages(struct counter *c, const cJSON *msgs)
{
	const cJSON *m;

	if (!cJSON_IsArray(msgs)) {
		walk(c, msgs, 0);	/* Responses' input may be a string */
		return;
	}
	cJSON_ArrayForEach(m, msgs) {
		c->tokens += MSG_OVERHEAD;
		if (cJSON_IsString(get(m, "role")))
			count_text(c, get(m, "role")->valuestring);
		if (cJSON_IsString(get(m, "name")))
			c->tokens += NAME_OVERHEAD;
		walk(c, m, 0);
	}
}

int64_t estimate_request_tokens(enum llm_api api, const char *model,
				const cJSON *root)
{
	struct counter c = { 0 };
	const cJSON *it;
	bool exact;

	c.enc = estimate_encoding(model, &exact);
	c.image_tokens = IMAGE_TOKENS_OPENAI;
	if (!bpe_available(c.enc))
		return -ENOENT;
	if (!cJSON_IsObject(root))
		return 0;
	switch (api) {
	case LLM_API_CHAT_COMPLETIONS:
		walk_messages(&c, get(root, "messages"));
		walk_openai_tools(&c, get(root, "tools"));
		walk(&c, get(root, "functions"), 0);
		walk(&c, get(root, "response_format"), 0);
		c.tokens += REPLY_OVERHEAD;
		break;
	case LLM_API_RESPONSES:
		if (cJSON_IsString(get(root, "instructions"))) {
			c.tokens += MSG_OVERHEAD + 1;
			count_text(&c, get(root, "instructions")->valuestring);
		}
		walk_messages(&c, get(root, "input"));
		walk_openai_tools(&c, get(root, "tools"));
		walk(&c, get(get(root, "text"), "format"), 0);	/* structured output */
		c.tokens += REPLY_OVERHEAD;
		break;
	case LLM_API_MESSAGES:
		c.image_tokens = IMAGE_TOKENS_ANTHROPIC;
		walk(&c, get(root, "system"), 0);
		walk_messages(&c, get(root, "messages"));
		walk(&c, get(root, "tools"), 0);
		if (cJSON_GetArraySize(get(root, "tools")) > 0)
			c.tokens += ANTHROPIC_TOOLS_PROMPT;
		break;
	case LLM_API_GENERATE_CONTENT:
	case LLM_API_STREAM_GENERATE_CONTENT:
	case LLM_API_GEMINI_EMBED:
		c.image_tokens = IMAGE_TOKENS_GEMINI;
		it = get(root, "systemInstruction");
		walk(&c, it ? it : get(root, "system_instruction"), 0);
		walk(&c, get(root, "contents"), 0);
		walk(&c, get(root, "tools"), 0);
		walk(&c, get(root, "content"), 0);	/* embedContent */
		walk(&c, get(root, "requests"), 0);	/* batchEmbedContents */
		break;
	case LLM_API_COMPLETIONS:
		walk(&c, get(root, "prompt"), 0);
		break;
	case LLM_API_EMBEDDINGS:
		it = get(root, "input");
		/* Pre-tokenized input: arrays of token ids count themselves. */
		if (cJSON_IsArray(it) && cJSON_IsNumber(cJSON_GetArrayItem(it, 0)))
			c.tokens += cJSON_GetArraySize(it);
		else if (cJSON_IsArray(it) && cJSON_IsArray(cJSON_GetArrayItem(it, 0)))
			cJSON_ArrayForEach(it, get(root, "input"))
				c.tokens += cJSON_GetArraySize(it);
		else
			walk(&c, it, 0);
		break;
	default:
		return -EOPNOTSUPP;	/* Ollama: local, its own tokenizer */
	}
	if (c.err)
		return c.err;
	return c.tokens;
}

/* ---- responses ---- */

static void feed(struct llm_response_info *out, const char *s)
{
	if (!s || !*s)
		return;
	if (!out->est_started) {
		bool exact;

		out->est_started = true;
		out->est_enc = (uint8_t)estimate_encoding(out->model, &exact);
		out->est_exact = exact;
	}
	if (bpe_stream_feed(&out->est_output, (enum bpe_encoding)out->est_enc, s, strlen(s)))
		out->est_failed = true;
}

static void feed_str(struct llm_response_info *out, const cJSON *o, const char *k)
{
	const cJSON *it = get(o, k);

	if (cJSON_IsString(it))
		feed(out, it->valuestring);
}

/* Chat message or stream delta: content, refusal, visible reasoning
 * (DeepSeek's reasoning_content), tool calls' names and arguments. */
static void chat_message(const cJSON *m, struct llm_response_info *out)
{
	const cJSON *tc;

	feed_str(out, m, "content");
	feed_str(out, m, "refusal");
	feed_str(out, m, "reasoning_content");
	cJSON_ArrayForEach(tc, get(m, "tool_calls")) {
		feed_str(out, get(tc, "function"), "name");
		feed_str(out, get(tc, "function"), "arguments");
	}
}

static void responses_output(const cJSON *resp, struct llm_response_info *out)
{
	const cJSON *item, *part;

	cJSON_ArrayForEach(item, get(resp, "output")) {
		cJSON_ArrayForEach(part, get(item, "content"))
			feed_str(out, part, "text");
		feed_str(out, item, "name");
		feed_str(out, item, "arguments");
	}
}

static void anthropic_block(const cJSON *b, struct llm_response_info *out)
{
	const cJSON *in = get(b, "input");

	feed_str(out, b, "text");
	feed_str(out, b, "thinking");
	feed_str(out, b, "name");
	feed_str(out, b, "partial_json");
	if (cJSON_IsObject(in) && cJSON_GetArraySize(in) > 0) {
		char *s = cJSON_PrintUnformatted(in);

		feed(out, s);
		cJSON_free(s);
	}
}

static void gemini_candidates(const cJSON *root, struct llm_response_info *out)
{
	const cJSON *c, *p;

	cJSON_ArrayForEach(c, get(root, "candidates")) {
		cJSON_ArrayForEach(p, get(get(c, "content"), "parts")) {
			const cJSON *fc = get(p, "functionCall");

			if (cJSON_IsTrue(get(p, "thought")))
				continue;	/* a summary: thoughtsTokenCount is apart */
			feed_str(out, p, "text");
			if (fc) {
				char *s = cJSON_PrintUnformatted(fc);

				feed(out, s);
				cJSON_free(s);
			}
		}
	}
}

void estimate_response_text(enum llm_api api, const char *type,
			    const cJSON *root, struct llm_response_info *out)
{
	const cJSON *it;

	switch (api) {
	case LLM_API_CHAT_COMPLETIONS:
		cJSON_ArrayForEach(it, get(root, "choices")) {
			chat_message(get(it, "message"), out);
			chat_message(get(it, "delta"), out);
		}
		break;
	case LLM_API_COMPLETIONS:
		cJSON_ArrayForEach(it, get(root, "choices"))
			feed_str(out, it, "text");
		break;
	case LLM_API_RESPONSES:
		if (!type)
			responses_output(root, out);
		else if (!strcmp(type, "response.output_text.delta") ||
			 !strcmp(type, "response.refusal.delta") ||
			 !strcmp(type, "response.function_call_arguments.delta"))
			feed_str(out, root, "delta");
		break;
	case LLM_API_MESSAGES:
		if (!type) {
			cJSON_ArrayForEach(it, get(root, "content"))
				anthropic_block(it, out);
		} else if (!strcmp(type, "content_block_start")) {
			anthropic_block(get(root, "content_block"), out);
		} else if (!strcmp(type, "content_block_delta")) {
			anthropic_block(get(root, "delta"), out);
		}
		break;
	case LLM_API_GENERATE_CONTENT:
	case LLM_API_STREAM_GENERATE_CONTENT:
		gemini_candidates(root, out);
		break;
	default:
		break;
	}
}

bool estimate_usage(const struct llm_request_info *req,
		    struct llm_response_info *resp, int status)
{
	long out;

	if (resp->no_estimate || resp->error[0] || !llm_api_billed(req->api) ||
	    status < 200 || status > 299 || resp->est_failed)
		return false;
	if (resp->usage_present && resp->usage_partial && resp->est_started) {
		/* A Claude stream cut before its message_delta: the input
		 * counts are the provider's, the output is what was seen. */
		out = bpe_stream_finish(&resp->est_output, (enum bpe_encoding)resp->est_enc);
		if (out < 0)
			return false;
		out = estimate_scale(req->provider, req->api, out, true);
		if (out > resp->usage.output_tokens)
			resp->usage.output_tokens = out;
		resp->usage_estimated = true;
		return true;
	}
	if (resp->usage_present || req->est_input_tokens < 0)
		return false;
	out = bpe_stream_finish(&resp->est_output, (enum bpe_encoding)resp->est_enc);
	if (out < 0)
		return false;
	memset(&resp->usage, 0, sizeof(resp->usage));
	resp->usage.input_tokens = req->est_input_tokens;
	/* OpenAI's count ends the message with one token of its format. */
	resp->usage.output_tokens = !resp->est_started ? 0 : resp->est_exact ? out + 1 :
				    estimate_scale(req->provider, req->api, out, true);
	resp->usage_estimated = true;
	return true;
}
