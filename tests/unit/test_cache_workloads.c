/* Prompt-cache analysis (issue 9) on synthetic workloads with known
 * answers, at the engine: each test builds the requests, a simulated
 * provider decides what it caches (its own prefix comparison over the
 * prompt text, 4 bytes a token, Anthropic breakpoints and lookback or
 * OpenAI's 1024 + 128k steps, TTL on a clock the test sets), and the
 * expected cause, breakers and missed tokens are computed here from the
 * workload's construction, never read back from the engine. Then the
 * shared corpus: wherever the provider reported cached tokens, cacheable
 * is at least that, and the cases our prefix model alone would not have
 * predicted are listed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <math.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "bpe.h"
#include "cache_analyze.h"
#include "cache_segment.h"
#include "corpus_util.h"
#include "cost.h"

#define MIN_NS	(60LL * 1000000000LL)
#define T0	1796000000000000000LL

/* ---- text ---- */

/* n bytes of static prose, no digits, no ids: nothing the lexer flags. */
static char *prose(size_t n, unsigned seed)
{
	static const char *const words[] = {
		"the", "agent", "reads", "files", "and", "answers", "questions", "about",
		"code", "carefully", "with", "short", "clear", "sentences", "never",
		"guessing", "when", "unsure", "it", "asks",
	};
	char *s = malloc(n + 1);
	size_t len = 0;

	while (len < n) {
		const char *w = words[(seed = seed * 1103515245u + 12345u) >> 16 & 15];
		size_t l = strlen(w);

		if (len + l + 1 > n) {
			memset(s + len, 'a', n - len);
			len = n;
			break;
		}
		memcpy(s + len, w, l);
		len += l;
		s[len++] = ' ';
	}
	s[n] = '\0';
	return s;
}

/* ---- the simulated provider ---- */

struct sim {
	bool anthropic;
	int64_t min_tokens, ttl_ns;
	/* OpenAI: earlier prompts; Anthropic: prefixes written at breakpoints */
	char *seen[256];
	int64_t seen_ns[256];
	uint64_t account[256];
	size_t n;
};

/* One request as the provider renders it: blocks of text in prefix order. */
struct req {
	const char *block[64];
	bool bp[64];
	size_t n;
	uint64_t account;
};

static size_t upto(const struct req *r, size_t b, char *out)
{
	size_t len = 0;

	for (size_t i = 0; i < b; i++) {
		size_t l = strlen(r->block[i]);

		if (out)
			memcpy(out + len, r->block[i], l);
		len += l;
	}
	if (out)
		out[len] = '\0';
	return len;
}

static int64_t oa_round(int64_t t)
{
	return t < 1024 ? 0 : 1024 + (t - 1024) / 128 * 128;
}

/* OpenAI's tokens: every message its own o200k_base encoding (special
 * tokens separate them) after the chat format's 3-token header, and 3
 * more to prime the reply. A prompt is kept as its messages joined by RS. */
#define OA_HEADER 3

static int64_t oa_msg_tokens(const char *m, size_t len)
{
	long n = bpe_count(BPE_O200K_BASE, m, len);

	assert_true(n >= 0);
	return OA_HEADER + n;
}

/* Tokens the two prompts (messages joined by RS) share from the start. */
static int64_t oa_common(const char *a, const char *b)
{
	int64_t tok = 0;

	for (;;) {
		const char *ea = strchr(a, '\x1e'), *eb = strchr(b, '\x1e');
		size_t la = ea ? (size_t)(ea - a) : strlen(a), lb = eb ? (size_t)(eb - b) : strlen(b);

		if (la == lb && !memcmp(a, b, la)) {
			tok += oa_msg_tokens(a, la);
			if (!ea || !eb)
				return tok;
			a = ea + 1;
			b = eb + 1;
			continue;
		}
		{	/* the same header, then the ids they share */
			uint32_t *ia = malloc((la + 1) * sizeof(*ia)), *ib = malloc((lb + 1) * sizeof(*ib));
			long na = bpe_encode(BPE_O200K_BASE, a, la, ia, la + 1);
			long nb = bpe_encode(BPE_O200K_BASE, b, lb, ib, lb + 1);
			long k = 0;

			while (k < na && k < nb && ia[k] == ib[k])
				k++;
			free(ia);
			free(ib);
			return tok + OA_HEADER + k;
		}
	}
}

/* Fills usage as the provider would: input, cache reads, cache writes. */
static void sim_call(struct sim *s, const struct req *r, int64_t now, struct llm_usage *u)
{
	size_t total = upto(r, r->n, NULL);
	char *all = malloc(total + r->n + 1);

	upto(r, r->n, all);
	memset(u, 0, sizeof(*u));
	u->input_tokens = (int64_t)total / 4;
	u->output_tokens = 10;
	if (!s->anthropic) {
		int64_t best = 0;
		size_t len = 0;

		u->input_tokens = OA_HEADER;
		for (size_t b = 0; b < r->n; b++) {
			size_t l = strlen(r->block[b]);

			memcpy(all + len, r->block[b], l);
			len += l;
			all[len++] = '\x1e';
			u->input_tokens += oa_msg_tokens(r->block[b], l);
		}
		all[len ? len - 1 : 0] = '\0';
		for (size_t i = 0; i < s->n; i++) {
			if (s->account[i] != r->account || now - s->seen_ns[i] > s->ttl_ns)
				continue;
			if (oa_round(oa_common(all, s->seen[i])) > best)
				best = oa_round(oa_common(all, s->seen[i]));
		}
		u->cached_input_tokens = best < u->input_tokens ? best : u->input_tokens;
		s->seen[s->n] = all;
		s->seen_ns[s->n] = now;
		s->account[s->n++] = r->account;
		return;
	}
	/* Anthropic: a read at a block end written before, within 20 blocks
	 * before a breakpoint; writes at breakpoints at or above the minimum */
	{
		int64_t read = 0, wrote = 0;

		for (size_t b = r->n; b > 0 && !read; b--) {
			bool near = false;
			char *pre = malloc(total + 1);

			for (size_t k = b - 1; k < r->n && k <= b - 1 + 20; k++)
				near |= r->bp[k];
			upto(r, b, pre);
			for (size_t i = 0; near && i < s->n; i++)
				if (s->account[i] == r->account && now - s->seen_ns[i] <= s->ttl_ns &&
				    !strcmp(s->seen[i], pre)) {
					read = (int64_t)strlen(pre) / 4;
					s->seen_ns[i] = now;	/* a hit refreshes */
				}
			free(pre);
		}
		for (size_t b = 1; b <= r->n; b++) {
			char *pre;

			if (!r->bp[b - 1] || (int64_t)upto(r, b, NULL) / 4 < s->min_tokens)
				continue;
			pre = malloc(total + 1);
			upto(r, b, pre);
			if ((int64_t)strlen(pre) / 4 > read) {
				wrote = (int64_t)strlen(pre) / 4 - read;
				s->seen[s->n] = pre;
				s->seen_ns[s->n] = now;
				s->account[s->n++] = r->account;
			} else {
				free(pre);
			}
		}
		u->cached_input_tokens = read;
		u->cache_write_tokens = wrote;
		free(all);
	}
}

static void sim_free(struct sim *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->seen[i]);
}

/* ---- requests as JSON ---- */

static char *json_str(const char *s)
{
	cJSON *j = cJSON_CreateString(s);
	char *out = cJSON_PrintUnformatted(j);

	cJSON_Delete(j);
	return out;
}

/* Anthropic: tools (blocks given as raw JSON), one system block, one
 * user message. bp flags per block as in r. */
static char *anthropic_body(const struct req *r, size_t ntools, const char *const *tools_json,
			    size_t nsys)
{
	size_t cap = 64;
	char *b;

	for (size_t i = 0; i < r->n; i++)
		cap += strlen(r->block[i]) * 2 + 128;
	for (size_t i = 0; i < ntools; i++)
		cap += strlen(tools_json[i]) + 64;
	b = malloc(cap);
	strcpy(b, "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":100");
	if (ntools) {
		strcat(b, ",\"tools\":[");
		for (size_t i = 0; i < ntools; i++) {
			if (i)
				strcat(b, ",");
			strcat(b, tools_json[i]);
			if (r->bp[i])
				strcpy(b + strlen(b) - 1, ",\"cache_control\":{\"type\":\"ephemeral\"}}");
		}
		strcat(b, "]");
	}
	strcat(b, ",\"system\":[");
	for (size_t i = ntools; i < ntools + nsys; i++) {
		char *s = json_str(r->block[i]);

		sprintf(b + strlen(b), "%s{\"type\":\"text\",\"text\":%s%s}", i > ntools ? "," : "", s,
			r->bp[i] ? ",\"cache_control\":{\"type\":\"ephemeral\"}" : "");
		free(s);
	}
	strcat(b, "],\"messages\":[");
	for (size_t i = ntools + nsys; i < r->n; i++) {
		char *s = json_str(r->block[i]);

		sprintf(b + strlen(b), "%s{\"role\":\"%s\",\"content\":[{\"type\":\"text\",\"text\":%s%s}]}",
			i > ntools + nsys ? "," : "", (i - ntools - nsys) % 2 ? "assistant" : "user", s,
			r->bp[i] ? ",\"cache_control\":{\"type\":\"ephemeral\"}" : "");
		free(s);
	}
	strcat(b, "]}");
	return b;
}

/* OpenAI chat: every block a message, the first a system message. */
static char *openai_body(const struct req *r)
{
	size_t cap = 64;
	char *b;

	for (size_t i = 0; i < r->n; i++)
		cap += strlen(r->block[i]) * 2 + 64;
	b = malloc(cap);
	strcpy(b, "{\"model\":\"gpt-4o\",\"messages\":[");
	for (size_t i = 0; i < r->n; i++) {
		char *s = json_str(r->block[i]);

		sprintf(b + strlen(b), "%s{\"role\":\"%s\",\"content\":%s}", i ? "," : "",
			!i ? "system" : i % 2 ? "user" : "assistant", s);
		free(s);
	}
	strcat(b, "]}");
	return b;
}

/* ---- running a call ---- */

struct run {
	struct cache_analyzer *a;
	struct price_table *prices;
	struct sim sim;
	struct exchange_record r;
	cJSON *breakers;
};

static void run_open(struct run *x, bool anthropic, int64_t min_tokens)
{
	struct cache_analyzer_opts o = { 0 };

	memset(x, 0, sizeof(*x));
	assert_int_equal(price_table_load_default(&x->prices), 0);
	o.prices = x->prices;
	o.index_bytes = 4 << 20;
	assert_int_equal(cache_analyzer_new(&o, &x->a), 0);
	x->sim.anthropic = anthropic;
	x->sim.min_tokens = min_tokens;
	x->sim.ttl_ns = 5 * MIN_NS;
}

static void run_close(struct run *x)
{
	cJSON_Delete(x->breakers);
	cache_analyzer_free(x->a);
	price_table_free(x->prices);
	sim_free(&x->sim);
}

static void call(struct run *x, const struct req *q, const char *body, int64_t now)
{
	struct exchange_record *r = &x->r;

	memset(r, 0, sizeof(*r));
	r->ts_start_ns = now;
	r->status = 200;
	r->usage_source = USAGE_PROVIDER;
	strcpy(r->exe, "/usr/bin/agent");
	if (x->sim.anthropic) {
		strcpy(r->provider, "anthropic");
		strcpy(r->api, "messages");
		strcpy(r->host, "api.anthropic.com");
		strcpy(r->model, "claude-sonnet-4-5-20250929");
	} else {
		strcpy(r->provider, "openai");
		strcpy(r->api, "chat.completions");
		strcpy(r->host, "api.openai.com");
		strcpy(r->model, "gpt-4o-2024-08-06");
	}
	r->account_seen = true;
	memset(r->account_digest, (int)q->account + 1, 32);
	r->request_body = body;
	r->request_body_len = strlen(body);
	sim_call(&x->sim, q, now, &r->usage);
	assert_int_equal(cache_analyze_record(x->a, r), 0);
	assert_true(r->cache_analyzed);
	cJSON_Delete(x->breakers);
	x->breakers = cJSON_Parse(r->breakers[0] ? r->breakers : "[]");
	assert_non_null(x->breakers);
	/* the account digest does not outlive the analysis */
	for (int i = 0; i < 32; i++)
		assert_int_equal(r->account_digest[i], 0);
}

static void want(struct run *x, const char *cause, int64_t cacheable, int64_t missed)
{
	if (strcmp(x->r.cache_miss_cause, cause) || x->r.cacheable_tokens != cacheable ||
	    x->r.missed_cache_tokens != missed)
		fail_msg("got cause \"%s\" cacheable %lld missed %lld (cached %lld of %lld), "
			 "want \"%s\" %lld %lld; breakers %s",
			 x->r.cache_miss_cause, (long long)x->r.cacheable_tokens,
			 (long long)x->r.missed_cache_tokens, (long long)x->r.usage.cached_input_tokens,
			 (long long)x->r.usage.input_tokens, cause, (long long)cacheable,
			 (long long)missed, x->r.breakers);
}

static void want_breaker(struct run *x, int i, const char *kind, const char *segment,
			 int64_t byte_offset, int64_t missed)
{
	cJSON *b = cJSON_GetArrayItem(x->breakers, i);

	if (!b || strcmp(cJSON_GetObjectItem(b, "kind")->valuestring, kind) ||
	    strcmp(cJSON_GetObjectItem(b, "segment")->valuestring, segment) ||
	    cJSON_GetObjectItem(b, "byte_offset")->valueint != byte_offset ||
	    (int64_t)cJSON_GetObjectItem(b, "missed_tokens")->valuedouble != missed)
		fail_msg("breaker %d: got %s, want %s at %s+%lld missing %lld", i,
			 x->r.breakers[0] ? x->r.breakers : "none", kind, segment,
			 (long long)byte_offset, (long long)missed);
}

static void want_no_breakers(struct run *x)
{
	if (cJSON_GetArraySize(x->breakers))
		fail_msg("clean workload, got breakers %s", x->r.breakers);
}

static void stamp(char *out, int i)
{
	sprintf(out, "2026-12-07T18:%02d:%02dZ", 10 + i, (i * 7) % 60);
}

/* ---- workloads ---- */

/* The example: twelve calls of one ~6,000-token system prompt
 * with a new timestamp at offset 14, a breakpoint after it. */
static void test_timestamp_top_anthropic(void **state)
{
	struct run x;
	char *stat = prose(24000, 1), *sys = malloc(24100);
	const char *user = "What changed since yesterday? Summarise for me.  ";
	int64_t total_missed = 0;
	double total_usd = 0;

	run_open(&x, true, 1024);
	for (int i = 0; i < 12; i++) {
		struct req q = { .n = 2, .bp = { true, false } };
		char ts[32];
		char *body;

		stamp(ts, i);
		sprintf(sys, "Current time: %s\n%s", ts, stat);
		q.block[0] = sys;
		q.block[1] = user;
		body = anthropic_body(&q, 0, NULL, 1);
		call(&x, &q, body, T0 + i * MIN_NS);
		if (!i) {
			want(&x, "cold", 0, 0);
		} else {
			/* the system block, up to the breakpoint, would have been read */
			int64_t sys_tok = (int64_t)strlen(sys) * x.r.usage.input_tokens /
					  (int64_t)(strlen(sys) + strlen(user));
			const struct price *p = price_lookup(x.prices, "claude-sonnet-4-5");

			want(&x, "prefix_changed", sys_tok, sys_tok);
			want_breaker(&x, 0, "timestamp", "system[0]", 14, sys_tok);
			assert_int_equal(cJSON_GetArraySize(x.breakers), 1);
			/* written every call, read had it been stable */
			assert_true(fabs(x.r.missed_cache_usd -
					 sys_tok * (p->cache_write_5m_usd - p->cached_input_usd)) < 1e-9);
			total_missed += x.r.missed_cache_tokens;
			total_usd += x.r.missed_cache_usd;
		}
		free(body);
	}
	/* "about 11 x 6,000 tokens" */
	assert_true(total_missed > 11 * 6000 && total_missed < 11 * 6100);
	assert_true(total_usd > 0);
	free(sys);
	free(stat);
	run_close(&x);
}

/* OpenAI, automatic caching: the same timestamp at the top loses the
 * whole prompt; at the bottom only the tail after it. */
static void test_timestamp_top_vs_bottom_openai(void **state)
{
	for (int bottom = 0; bottom < 2; bottom++) {
		struct run x;
		char *stat = prose(16000, 2), *sys = malloc(16100);
		const char *user = "Please list the open issues for me now.  ";

		run_open(&x, false, 1024);
		for (int i = 0; i < 4; i++) {
			struct req q = { .n = 2 };
			char ts[32], *body;
			size_t off;

			stamp(ts, i);
			if (bottom)
				sprintf(sys, "%s\nCurrent time: %s", stat, ts);
			else
				sprintf(sys, "Current time: %s\n%s", ts, stat);
			off = bottom ? strlen(stat) + 15 : 14;
			q.block[0] = sys;
			q.block[1] = user;
			body = openai_body(&q);
			call(&x, &q, body, T0 + i * MIN_NS);
			if (!i) {
				want(&x, "cold", 0, 0);
			} else {
				/* norm: everything equal but the stamp */
				int64_t all = oa_round(x.r.usage.input_tokens);
				int64_t cached = x.r.usage.cached_input_tokens;

				/* the stamp's token, exactly: the message header and
				 * the tokens of the text before it (o200k_base) */
				int64_t tok = OA_HEADER + bpe_count_prefix(BPE_O200K_BASE, sys,
									   strlen(sys), off);

				assert_int_equal(cached, bottom ? oa_round(tok) : 0);
				if (all > cached) {
					want(&x, "prefix_changed", all, all - cached);
					want_breaker(&x, 0, "timestamp", "messages[0]", (int64_t)off,
						     all - cached);
					assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(x.breakers, 0),
									     "token_offset")->valueint, tok);
				} else {
					/* at the bottom it falls in the last 128-token step:
					 * nothing lost, so no breaker */
					assert_true(bottom);
					want(&x, "", all, 0);
					want_no_breakers(&x);
				}
			}
			free(body);
		}
		free(sys);
		free(stat);
		run_close(&x);
	}
}

/* Whitespace only: a blank line that comes and goes near the top. */
static void test_whitespace(void **state)
{
	struct run x;
	char *stat = prose(16000, 11), *sys = malloc(16100);
	const char *head = "You are the release assistant.";

	run_open(&x, false, 1024);
	for (int i = 0; i < 3; i++) {
		struct req q = { .n = 2 };
		char *body;

		sprintf(sys, "%s%s%s", head, i % 2 ? "\n\n" : "\n", stat);
		q.block[0] = sys;
		q.block[1] = "What ships today?";
		body = openai_body(&q);
		call(&x, &q, body, T0 + i * MIN_NS);
		if (i == 1) {
			int64_t all = oa_round(x.r.usage.input_tokens);

			want(&x, "prefix_changed", all, all - x.r.usage.cached_input_tokens);
			want_breaker(&x, 0, "whitespace", "messages[0]", (int64_t)strlen(head),
				     all - x.r.usage.cached_input_tokens);
		} else if (i == 2) {	/* as the first call again: cached */
			want(&x, "", x.r.usage.cached_input_tokens, 0);
			assert_true(x.r.usage.cached_input_tokens >= oa_round(x.r.usage.input_tokens) - 128);
			want_no_breakers(&x);
		}
		free(body);
	}
	free(sys);
	free(stat);
	run_close(&x);
}

/* A UUID in the system prompt, before an Anthropic breakpoint. */
static void test_uuid_before_breakpoint(void **state)
{
	struct run x;
	char *stat = prose(8000, 3), *sys = malloc(8100);

	run_open(&x, true, 1024);
	for (int i = 0; i < 3; i++) {
		struct req q = { .n = 2, .bp = { true, false } };
		char *body;

		sprintf(sys, "Session %08x-1234-4abc-8def-0123456789ab. %s", 0x1a2b3c00u + (unsigned)i, stat);
		q.block[0] = sys;
		q.block[1] = "Go on with the task.";
		body = anthropic_body(&q, 0, NULL, 1);
		call(&x, &q, body, T0 + i * MIN_NS);
		if (i) {
			int64_t tok = (int64_t)strlen(sys) * x.r.usage.input_tokens /
				      (int64_t)(strlen(sys) + strlen(q.block[1]));

			want(&x, "prefix_changed", tok, tok);
			want_breaker(&x, 0, "uuid", "system[0]", 8, tok);
		}
		free(body);
	}
	free(sys);
	free(stat);
	run_close(&x);
}

static const char *const tools5[] = {
	"{\"name\":\"read_file\",\"description\":\"Reads a file from the workspace and returns it\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"}}}}",
	"{\"name\":\"write_file\",\"description\":\"Writes a file in the workspace, replacing it\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"},\"text\":{\"type\":\"string\"}}}}",
	"{\"name\":\"search\",\"description\":\"Searches the workspace for a pattern, fast\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"pattern\":{\"type\":\"string\"}}}}",
	"{\"name\":\"run\",\"description\":\"Runs a shell command in the sandbox and waits\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"cmd\":{\"type\":\"string\"}}}}",
	"{\"name\":\"ask\",\"description\":\"Asks the user a question and waits for the reply\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"q\":{\"type\":\"string\"}}}}",
};

/* Tools in another order on every call; the breakpoint after the system
 * prompt. The provider sees a new prefix from byte 0. */
static void test_tools_shuffled(void **state)
{
	struct run x;
	char *sys = prose(8000, 4);

	run_open(&x, true, 1024);
	for (int i = 0; i < 4; i++) {
		struct req q = { .n = 7 };
		const char *t[5];
		char *body;

		for (int k = 0; k < 5; k++)
			t[k] = tools5[(k + i) % 5];	/* rotated: position 0 changes */
		for (int k = 0; k < 5; k++)
			q.block[k] = t[k];
		q.block[5] = sys;
		q.bp[5] = true;
		q.block[6] = "Fix the failing test.";
		body = anthropic_body(&q, 5, t, 1);
		/* the simulated provider's text for a tool: ours, so tokens line up */
		call(&x, &q, body, T0 + i * MIN_NS);
		if (i) {
			want(&x, "prefix_changed", x.r.cacheable_tokens, x.r.cacheable_tokens);
			assert_true(x.r.cacheable_tokens > 2000);
			want_breaker(&x, 0, "reordered_tools", "tools[0]", 0, x.r.cacheable_tokens);
		}
		free(body);
	}
	free(sys);
	run_close(&x);
}

/* The same tools with their schema's keys in another order every other
 * call. */
static void test_keys_reordered(void **state)
{
	static const char *const a =
		"{\"name\":\"lookup\",\"description\":\"Looks a customer up by name and city\",\"input_schema\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"},\"city\":{\"type\":\"string\"}}}}";
	static const char *const b =
		"{\"name\":\"lookup\",\"description\":\"Looks a customer up by name and city\",\"input_schema\":{\"properties\":{\"city\":{\"type\":\"string\"},\"name\":{\"type\":\"string\"}},\"type\":\"object\"}}";
	struct run x;
	char *sys = prose(8000, 5);

	run_open(&x, true, 1024);
	for (int i = 0; i < 3; i++) {
		struct req q = { .n = 4 };
		const char *t[2] = { tools5[0], i % 2 ? b : a };
		char *body;

		q.block[0] = t[0];
		q.block[1] = t[1];
		q.block[2] = sys;
		q.bp[2] = true;
		q.block[3] = "Who is Ada?";
		body = anthropic_body(&q, 2, t, 1);
		call(&x, &q, body, T0 + i * MIN_NS);
		if (i == 1) {
			want(&x, "prefix_changed", x.r.cacheable_tokens, x.r.cacheable_tokens);
			assert_true(x.r.cacheable_tokens > 2000);
			want_breaker(&x, 0, "reordered_keys", "tools[1]", 0, x.r.cacheable_tokens);
		} else if (i == 2) {
			/* back to the first order: the provider still has it */
			want(&x, "", x.r.usage.cached_input_tokens, 0);
			assert_true(x.r.usage.cached_input_tokens > 2000);
			want_no_breakers(&x);
		}
		free(body);
	}
	free(sys);
	run_close(&x);
}

/* Few-shot examples in another order on some calls: the same blocks, so
 * one order would have let the provider reuse everything up to the
 * breakpoint after them. Anthropic: system blocks, the breakpoint after
 * the last example; OpenAI: example messages after the system message. */
static void test_blocks_reordered(void **state)
{
	static const int order[4][3] = { { 0, 1, 2 }, { 1, 2, 0 }, { 0, 1, 2 }, { 2, 0, 1 } };

	for (int anthropic = 0; anthropic < 2; anthropic++) {
		struct run x;
		char *head = prose(2000, 20), *ex[3];

		for (int k = 0; k < 3; k++)
			ex[k] = prose(3000, 21 + (unsigned)k);
		run_open(&x, anthropic, 1024);
		for (int i = 0; i < 4; i++) {
			struct req q = { .n = 5, .bp = { false, false, false, anthropic, false } };
			const char *first = anthropic ? "system[1]" : "messages[1]";
			char *body;
			int64_t through;

			q.block[0] = head;
			for (int k = 0; k < 3; k++)
				q.block[1 + k] = ex[order[i][k]];
			q.block[4] = "Now classify this one, please.";
			body = anthropic ? anthropic_body(&q, 0, NULL, 4) : openai_body(&q);
			call(&x, &q, body, T0 + i * MIN_NS);
			/* through the last example (Anthropic's breakpoint), or
			 * all of it (OpenAI), apportioned and rounded as the rule does */
			through = anthropic ? (int64_t)(2000 + 3 * 3000) * x.r.usage.input_tokens /
					      (int64_t)upto(&q, 5, NULL)
					    : oa_round(x.r.usage.input_tokens);
			if (i == 0) {
				want(&x, "cold", 0, 0);
			} else if (i == 2) {	/* the first order again: read */
				assert_true(x.r.usage.cached_input_tokens >= through - 8);
				want(&x, "", x.r.usage.cached_input_tokens, 0);
				want_no_breakers(&x);
			} else {
				assert_int_equal(x.r.usage.cached_input_tokens, 0);
				want(&x, "prefix_changed", through, through);
				want_breaker(&x, 0, "reordered_blocks", first, 0, through);
				assert_int_equal(cJSON_GetArraySize(x.breakers), 1);
				/* the examples start after the head: apportioned
				 * (Anthropic), or after the head's message and the
				 * next one's header (OpenAI, o200k_base) */
				assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(x.breakers, 0),
								     "token_offset")->valueint,
						 anthropic ? 2000 * x.r.usage.input_tokens /
							     (int64_t)upto(&q, 5, NULL)
							   : 2 * OA_HEADER + bpe_count(BPE_O200K_BASE, head,
										       strlen(head)));
			}
			free(body);
		}
		for (int k = 0; k < 3; k++)
			free(ex[k]);
		free(head);
		run_close(&x);
	}
}

/* Anthropic: no breakpoint (above the minimum); a breakpoint below the
 * minimum; a breakpoint above it (clean: hits, no breaker). */
static void test_anthropic_breakpoints(void **state)
{
	for (int mode = 0; mode < 3; mode++) {
		struct run x;
		char *sys = prose(mode == 1 ? 3000 : 8000, 6);

		run_open(&x, true, 1024);
		for (int i = 0; i < 3; i++) {
			struct req q = { .n = 2, .bp = { mode != 0, false } };
			char *body;

			q.block[0] = sys;
			q.block[1] = "Next step please.   ";
			body = anthropic_body(&q, 0, NULL, 1);
			call(&x, &q, body, T0 + i * MIN_NS);
			if (mode == 0)	/* could read all of it with a breakpoint at the end */
				want(&x, "no_breakpoint", i ? x.r.usage.input_tokens : 0,
				     i ? x.r.usage.input_tokens : 0);
			else if (mode == 1)
				want(&x, "below_minimum", 0, 0);
			else if (i)
				want(&x, "", (int64_t)strlen(sys) / 4, 0);
			else
				want(&x, "cold", 0, 0);
			want_no_breakers(&x);
			free(body);
		}
		free(sys);
		run_close(&x);
	}
}

/* OpenAI prompts just under and just over 1024 tokens. */
static void test_openai_minimum(void **state)
{
	for (int over = 0; over < 2; over++) {
		struct run x;
		const char *user = "Hello there, again.   ";
		size_t n = 4000;
		char *sys = prose(n, 7);

		/* just under 1024 tokens, or just over, counted as OpenAI does */
		while (3 * OA_HEADER + bpe_count(BPE_O200K_BASE, sys, n) +
		       bpe_count(BPE_O200K_BASE, user, strlen(user)) < (over ? 1040 : 1000)) {
			free(sys);
			sys = prose(n += 40, 7);
		}
		assert_true(over || 3 * OA_HEADER + bpe_count(BPE_O200K_BASE, sys, n) < 1024);

		run_open(&x, false, 1024);
		for (int i = 0; i < 3; i++) {
			struct req q = { .n = 2 };
			char *body;

			q.block[0] = sys;
			q.block[1] = user;
			body = openai_body(&q);
			call(&x, &q, body, T0 + i * MIN_NS);
			if (!over)
				want(&x, "below_minimum", 0, 0);
			else if (i)
				want(&x, "", 1024, 0);
			else
				want(&x, "cold", 0, 0);
			want_no_breakers(&x);
			free(body);
		}
		free(sys);
		run_close(&x);
	}
}

/* Calls 6 minutes apart outlive the 5-minute TTL. */
static void test_ttl(void **state)
{
	struct run x;
	char *sys = prose(8000, 8);

	run_open(&x, true, 1024);
	for (int i = 0; i < 3; i++) {
		struct req q = { .n = 2, .bp = { true, false } };
		char *body;

		q.block[0] = sys;
		q.block[1] = "Status?";
		body = anthropic_body(&q, 0, NULL, 1);
		call(&x, &q, body, T0 + i * 6 * MIN_NS);
		want(&x, i ? "ttl_expired" : "cold", 0, 0);
		want_no_breakers(&x);
		free(body);
	}
	free(sys);
	run_close(&x);
}

/* The same prefix under two API keys: caches are per account. */
static void test_two_keys(void **state)
{
	struct run x;
	char *sys = prose(8000, 9);
	const char *want_cause[] = { "cold", "cold", "", "" };

	run_open(&x, false, 1024);
	for (int i = 0; i < 4; i++) {
		struct req q = { .n = 2, .account = (uint64_t)(i % 2) };
		char *body;
		char account[17];

		q.block[0] = sys;
		q.block[1] = "Same question again.";
		body = openai_body(&q);
		call(&x, &q, body, T0 + i * MIN_NS);
		want(&x, want_cause[i], x.r.usage.cached_input_tokens, 0);
		want_no_breakers(&x);
		if (i == 1)
			assert_string_not_equal(x.r.account, account);
		strcpy(account, x.r.account);
		assert_int_equal(strlen(x.r.account), 16);
		free(body);
	}
	free(sys);
	run_close(&x);
}

/* A clean agent loop: each call appends the last answer and a new turn. */
static void test_agent_loop(void **state)
{
	struct run x;
	char *sys = prose(8000, 10);
	char *turns[16];
	struct req q = { 0 };

	run_open(&x, false, 1024);
	q.block[q.n++] = sys;
	for (int i = 0; i < 8; i++) {
		char *body;

		turns[2 * i] = prose(400 + 40 * (size_t)i, 100 + (unsigned)i);
		q.block[q.n++] = turns[2 * i];
		body = openai_body(&q);
		call(&x, &q, body, T0 + i * MIN_NS);
		want(&x, i ? "" : "cold", x.r.usage.cached_input_tokens, 0);
		if (i)
			assert_true(x.r.usage.cached_input_tokens > 1024);
		want_no_breakers(&x);
		turns[2 * i + 1] = prose(200, 200 + (unsigned)i);
		q.block[q.n++] = turns[2 * i + 1];
		free(body);
	}
	{
		/* every call after the first resumed after the one before it */
		struct cache_analyzer_stats st;

		cache_analyzer_get_stats(x.a, &st);
		assert_int_equal(st.resumed, 7);
	}
	for (int i = 0; i < 16; i++)
		free(turns[i]);
	free(sys);
	run_close(&x);
}

/* ---- Codex (Responses), built from the fields issue 9's calibration
 * names: every input item carries a fresh time-ordered id and an
 * internal_chat_message_metadata_passthrough.turn_id, the request a
 * per-session prompt_cache_key. None of them is prompt: the provider's
 * cache reads go on across them, and when it does not read, the miss must
 * not be blamed on them. ---- */

static char *codex_body(const char *instr, const char *env, const char *ask, unsigned run)
{
	char *i = json_str(instr), *e = json_str(env), *q = json_str(ask);
	char *b = malloc(strlen(i) + strlen(e) + strlen(q) + 2048);

	sprintf(b, "{\"model\":\"gpt-5-codex\",\"instructions\":%s,"
		"\"input\":[{\"type\":\"message\",\"role\":\"user\","
		"\"id\":\"msg_0199f3a2%08x%016x\","
		"\"content\":[{\"type\":\"input_text\",\"text\":%s}],"
		"\"internal_chat_message_metadata_passthrough\":{\"turn_id\":\"%08x-7e1c-4a3b-9c2d-5f6e7a8b9c0d\"}},"
		"{\"type\":\"message\",\"role\":\"user\",\"id\":\"msg_0199f3a2%08x%016x\","
		"\"content\":[{\"type\":\"input_text\",\"text\":%s}],"
		"\"internal_chat_message_metadata_passthrough\":{\"turn_id\":\"%08x-7e1c-4a3b-9c2d-5f6e7a8b9c0d\"}}],"
		"\"tools\":[{\"type\":\"function\",\"name\":\"shell\",\"description\":\"Runs a command\","
		"\"strict\":false,\"parameters\":{\"type\":\"object\",\"properties\":{\"command\":"
		"{\"type\":\"array\",\"items\":{\"type\":\"string\"}}},\"required\":[\"command\"]}}],"
		"\"tool_choice\":\"auto\",\"parallel_tool_calls\":false,\"store\":false,\"stream\":true,"
		"\"prompt_cache_key\":\"%08x-0c0d-4e0f-8a1b-2c3d4e5f6a7b\"}",
		i, run * 7919u, 0x5eedu * run + 1, e, run * 31u, run * 7919u + 1, 0x5eedu * run + 2,
		q, run * 31u + 1, run * 104729u);
	free(i);
	free(e);
	free(q);
	return b;
}

static void codex_call(struct cache_analyzer *a, const char *body, int64_t now,
		       int64_t input, int64_t cached, struct exchange_record *r)
{
	memset(r, 0, sizeof(*r));
	r->ts_start_ns = now;
	r->status = 200;
	r->usage_source = USAGE_PROVIDER;
	strcpy(r->exe, "/usr/lib/node_modules/@openai/codex/bin/codex");
	strcpy(r->provider, "openai");
	strcpy(r->api, "responses");
	strcpy(r->host, "api.openai.com");
	strcpy(r->model, "gpt-5-codex");
	r->account_seen = true;
	memset(r->account_digest, 7, 32);
	r->request_body = body;
	r->request_body_len = strlen(body);
	r->usage.input_tokens = input;
	r->usage.cached_input_tokens = cached;
	r->usage.output_tokens = 20;
	assert_int_equal(cache_analyze_record(a, r), 0);
}

static void test_codex_non_prompt(void **state)
{
	/* the rules without Codex's entries: the control that shows the
	 * table is what keeps the ids out */
	static const char bare[] =
		"{\"providers\":[{\"provider\":\"openai\",\"non_prompt\":[],\"rules\":[{\"model\":\"\","
		"\"min_tokens\":1024,\"granularity_tokens\":128,\"ttl_s\":300,\"max_ttl_s\":3600,"
		"\"breakpoints\":\"auto\",\"write_premium\":false,\"implicit\":true}]}]}";
	char path[] = "/tmp/llmobs-test-rules.XXXXXX";
	int fd = mkstemp(path);
	char *instr = prose(12000, 30), *env = prose(600, 31);
	const char *ask = "Run the tests and fix what fails.";

	assert_true(fd >= 0);
	assert_int_equal(write(fd, bare, sizeof(bare) - 1), (ssize_t)sizeof(bare) - 1);
	close(fd);
	for (int with_rules = 1; with_rules >= 0; with_rules--) {
		struct cache_analyzer_opts o = { 0 };
		struct cache_analyzer *a;
		struct price_table *prices;
		struct exchange_record r;
		char *b[3];
		int64_t input, full;
		cJSON *br;

		assert_int_equal(price_table_load_default(&prices), 0);
		o.prices = prices;
		o.rules_path = with_rules ? NULL : path;
		assert_int_equal(cache_analyzer_new(&o, &a), 0);
		/* three runs: the same prompt, new ids, turn ids and session key */
		for (unsigned k = 0; k < 3; k++)
			b[k] = codex_body(instr, env, ask, k + 1);
		input = 3 * OA_HEADER + bpe_count(BPE_O200K_BASE, instr, strlen(instr)) +
			bpe_count(BPE_O200K_BASE, env, strlen(env)) +
			bpe_count(BPE_O200K_BASE, ask, strlen(ask)) + 64;	/* the tool */
		full = oa_round(input);
		assert_true(full >= 1024);
		codex_call(a, b[0], T0, input, 0, &r);
		assert_string_equal(r.cache_miss_cause, "cold");
		/* run 2: the provider read the whole prefix */
		codex_call(a, b[1], T0 + MIN_NS, input, full, &r);
		assert_string_equal(r.cache_miss_cause, "");
		assert_int_equal(r.missed_cache_tokens, 0);
		assert_string_equal(r.breakers[0] ? r.breakers : "[]", "[]");
		if (with_rules)	/* our own prediction saw the same prefix */
			assert_int_equal(cache_analyzer_last_prediction(a), full);
		/* run 3: the provider did not read (eviction, another machine):
		 * the same prompt, so the provider's side, never the ids */
		codex_call(a, b[2], T0 + 2 * MIN_NS, input, 0, &r);
		br = cJSON_Parse(r.breakers[0] ? r.breakers : "[]");
		if (with_rules) {
			assert_string_equal(r.cache_miss_cause, "provider_side");
			assert_int_equal(r.cacheable_tokens, full);
			assert_int_equal(cJSON_GetArraySize(br), 0);
		} else {
			/* without the table's entries the ids look like breakers */
			assert_string_equal(r.cache_miss_cause, "prefix_changed");
			assert_true(cJSON_GetArraySize(br) > 0);
		}
		cJSON_Delete(br);
		for (unsigned k = 0; k < 3; k++)
			free(b[k]);
		cache_analyzer_free(a);
		price_table_free(prices);
	}
	unlink(path);
	free(instr);
	free(env);
}

/* ---- OpenAI GPT-5.6+: prompt_cache_options mode "explicit" caches only at
 * prompt_cache_breakpoint blocks, its ttl overrides the rule's 30 min, and
 * writes are billed (1.25x). The provider here does what the rules
 * say; tokens are o200k_base, exactly. ---- */

static char *gpt56_body(const char *sys, const char *user, bool bp, const char *ttl)
{
	char *a = json_str(sys), *u = json_str(user);
	char *b = malloc(strlen(a) + strlen(u) + 512);

	sprintf(b, "{\"model\":\"gpt-5.6-sol\",\"messages\":[{\"role\":\"system\",\"content\":"
		"[{\"type\":\"text\",\"text\":%s%s}]},{\"role\":\"user\",\"content\":%s}],"
		"\"prompt_cache_options\":{\"mode\":\"explicit\",\"ttl\":\"%s\"}}",
		a, bp ? ",\"prompt_cache_breakpoint\":{\"type\":\"ephemeral\"}" : "", u, ttl);
	free(a);
	free(u);
	return b;
}

static void gpt56_call(struct cache_analyzer *a, const char *body, int64_t now, int64_t input,
		       int64_t read, int64_t wrote, struct exchange_record *r)
{
	memset(r, 0, sizeof(*r));
	r->ts_start_ns = now;
	r->status = 200;
	r->usage_source = USAGE_PROVIDER;
	strcpy(r->exe, "/usr/bin/agent");
	strcpy(r->provider, "openai");
	strcpy(r->api, "chat.completions");
	strcpy(r->host, "api.openai.com");
	strcpy(r->model, "gpt-5.6-sol");
	r->account_seen = true;
	memset(r->account_digest, 9, 32);
	r->request_body = body;
	r->request_body_len = strlen(body);
	r->usage.input_tokens = input;
	r->usage.cached_input_tokens = read;
	r->usage.cache_write_tokens = wrote;
	r->usage.output_tokens = 10;
	assert_int_equal(cache_analyze_record(a, r), 0);
	if (strcmp(r->breakers[0] ? r->breakers : "[]", "[]"))
		fail_msg("no breaker expected, got %s", r->breakers);
}

static void test_gpt56_explicit(void **state)
{
	struct cache_analyzer_opts o = { 0 };
	struct cache_analyzer *a;
	struct price_table *prices;
	struct exchange_record r;
	char *sys = prose(12000, 40), *user = prose(6000, 41), *b;
	/* the breakpoint block's end: its message's header and text */
	int64_t through = OA_HEADER + bpe_count(BPE_O200K_BASE, sys, strlen(sys));
	int64_t input = through + OA_HEADER + bpe_count(BPE_O200K_BASE, user, strlen(user)) +
			OA_HEADER;
	const struct price *pr;

	assert_int_equal(price_table_load_default(&prices), 0);
	pr = price_lookup(prices, "gpt-5.6-sol");
	assert_non_null(pr);
	o.prices = prices;
	assert_int_equal(cache_analyzer_new(&o, &a), 0);
	/* 1: cold; the provider writes through the breakpoint */
	b = gpt56_body(sys, user, true, "30m");
	gpt56_call(a, b, T0, input, 0, through, &r);
	assert_string_equal(r.cache_miss_cause, "cold");
	/* 2: a minute later it reads exactly that much, not the whole
	 * prompt as automatic caching would: no miss, and our prediction
	 * stops at the breakpoint too */
	gpt56_call(a, b, T0 + MIN_NS, input, through, 0, &r);
	assert_string_equal(r.cache_miss_cause, "");
	assert_int_equal(r.missed_cache_tokens, 0);
	assert_int_equal(cache_analyzer_last_prediction(a), through);
	free(b);
	/* 3: 40 min later, ttl "1h" asked: still there */
	b = gpt56_body(sys, user, true, "1h");
	gpt56_call(a, b, T0 + 41 * MIN_NS, input, through, 0, &r);
	assert_string_equal(r.cache_miss_cause, "");
	assert_int_equal(cache_analyzer_last_prediction(a), through);
	free(b);
	/* 4: 41 min after that with ttl "30m": expired, written again */
	b = gpt56_body(sys, user, true, "30m");
	gpt56_call(a, b, T0 + 82 * MIN_NS, input, 0, through, &r);
	assert_string_equal(r.cache_miss_cause, "ttl_expired");
	assert_int_equal(r.missed_cache_tokens, 0);
	/* 5: a minute later the provider did not read what it has: the miss
	 * is the write it paid over the read it could have had */
	gpt56_call(a, b, T0 + 83 * MIN_NS, input, 0, through, &r);
	assert_string_equal(r.cache_miss_cause, "provider_side");
	assert_int_equal(r.cacheable_tokens, through);
	assert_int_equal(r.missed_cache_tokens, through);
	assert_true(pr->cache_write_5m_usd > pr->input_usd);	/* 1.25x */
	assert_true(fabs(r.missed_cache_usd -
			 through * (pr->cache_write_5m_usd - pr->cached_input_usd)) < 1e-9);
	free(b);
	/* 6: explicit mode with no breakpoint: nothing is cached, and what one
	 * would have read is the whole prompt */
	b = gpt56_body(sys, user, false, "30m");
	gpt56_call(a, b, T0 + 84 * MIN_NS, input, 0, 0, &r);
	assert_string_equal(r.cache_miss_cause, "no_breakpoint");
	assert_int_equal(r.cacheable_tokens, input);
	free(b);
	cache_analyzer_free(a);
	price_table_free(prices);
	free(sys);
	free(user);
}

/* ---- Anthropic's partial invalidation: a change to tool_choice, thinking
 * or images invalidates the messages' cache but not the tools' and the
 * system prompt's. The provider here reads only through the system prompt
 * after such a change; the prediction must stop there too, so the change
 * is no miss. ---- */

static char *ant_inv_body(const char *sys, const char *u1, const char *tc, bool image)
{
	char *a = json_str(sys), *u = json_str(u1);
	char *b = malloc(strlen(a) + strlen(u) + 2048);

	sprintf(b, "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":100,\"tool_choice\":%s,"
		"\"tools\":[%s],\"system\":[{\"type\":\"text\",\"text\":%s,"
		"\"cache_control\":{\"type\":\"ephemeral\"}}],\"messages\":[{\"role\":\"user\","
		"\"content\":[{\"type\":\"text\",\"text\":%s,\"cache_control\":{\"type\":\"ephemeral\"}}]}%s]}",
		tc, tools5[0], a, u,
		image ? ",{\"role\":\"assistant\",\"content\":\"Which screenshot?\"},{\"role\":\"user\","
			"\"content\":[{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":"
			"\"image/png\",\"data\":\"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk\"}},"
			"{\"type\":\"text\",\"text\":\"This one.\",\"cache_control\":{\"type\":\"ephemeral\"}}]}" : "");
	free(a);
	free(u);
	return b;
}

/* Rendered bytes of body's segments, all and through the system prompt. */
static void ant_bytes(const char *body, int64_t *all, int64_t *through_sys)
{
	struct cache_request rq = { 0 };

	assert_int_equal(cache_segment_request(&rq, "messages", body, strlen(body), NULL), 0);
	*all = *through_sys = 0;
	for (size_t i = 0; i < rq.n_segs; i++) {
		*all += rq.segs[i].text_len;
		if (rq.segs[i].group != CG_MESSAGES)
			*through_sys += rq.segs[i].text_len;
	}
	cache_request_free(&rq);
}

static void test_anthropic_invalidation(void **state)
{
	static const struct {
		const char *tc;
		bool image, sys_only;	/* the provider reads only tools + system */
	} calls[] = {
		{ "{\"type\":\"auto\"}", false, false },	/* cold */
		{ "{\"type\":\"auto\"}", false, false },	/* reads all */
		{ "{\"type\":\"any\"}", false, true },		/* tool_choice changed */
		{ "{\"type\":\"any\"}", false, false },		/* reads all again */
		{ "{\"type\":\"any\"}", true, true },		/* an image came */
	};
	struct cache_analyzer_opts o = { 0 };
	struct cache_analyzer *a;
	struct price_table *prices;
	char *sys = prose(8000, 50), *u1 = prose(6000, 51);

	assert_int_equal(price_table_load_default(&prices), 0);
	o.prices = prices;
	assert_int_equal(cache_analyzer_new(&o, &a), 0);
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		char *body = ant_inv_body(sys, u1, calls[i].tc, calls[i].image);
		struct exchange_record r = { 0 };
		int64_t all, through, input, read, prev;

		ant_bytes(body, &all, &through);
		input = all / 4;
		/* what it reads: through the system prompt, or through the
		 * first message (written by the call before) */
		prev = through + (int64_t)strlen(u1);
		read = !i ? 0 : calls[i].sys_only ? through * input / all : prev * input / all;
		r.ts_start_ns = T0 + (int64_t)i * MIN_NS;
		r.status = 200;
		r.usage_source = USAGE_PROVIDER;
		strcpy(r.exe, "/usr/bin/agent");
		strcpy(r.provider, "anthropic");
		strcpy(r.api, "messages");
		strcpy(r.host, "api.anthropic.com");
		strcpy(r.model, "claude-sonnet-4-5");
		r.account_seen = true;
		memset(r.account_digest, 5, 32);
		r.request_body = body;
		r.request_body_len = strlen(body);
		r.usage.input_tokens = input;
		r.usage.cached_input_tokens = read;
		r.usage.cache_write_tokens = input - read;
		assert_int_equal(cache_analyze_record(a, &r), 0);
		if (!i) {
			assert_string_equal(r.cache_miss_cause, "cold");
			free(body);
			continue;
		}
		if (strcmp(r.cache_miss_cause, "") || r.missed_cache_tokens ||
		    cache_analyzer_last_prediction(a) != read)
			fail_msg("call %zu: cause \"%s\" missed %lld, predicted %lld, read %lld; breakers %s",
				 i, r.cache_miss_cause, (long long)r.missed_cache_tokens,
				 (long long)cache_analyzer_last_prediction(a), (long long)read,
				 r.breakers);
		free(body);
	}
	cache_analyzer_free(a);
	price_table_free(prices);
	free(sys);
	free(u1);
}

/* Anthropic's "ttl": "1h" on a breakpoint: what it wrote lives an hour, so
 * calls 10 and 25 minutes apart can still read it (a provider that did not
 * is the provider's side), where the default 5 minutes had expired. */
static void test_anthropic_ttl_1h(void **state)
{
	char *sys = prose(8000, 60);
	char *js = json_str(sys);

	for (int hour = 1; hour >= 0; hour--) {
		struct cache_analyzer_opts o = { 0 };
		struct cache_analyzer *a;
		static const int at_min[] = { 0, 10, 25 };
		char *body = malloc(strlen(js) + 512);
		int64_t all, through;

		sprintf(body, "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":100,\"system\":[{\"type\":"
			"\"text\",\"text\":%s,\"cache_control\":{\"type\":\"ephemeral\"%s}}],"
			"\"messages\":[{\"role\":\"user\",\"content\":\"Status?\"}]}",
			js, hour ? ",\"ttl\":\"1h\"" : "");
		ant_bytes(body, &all, &through);
		assert_int_equal(cache_analyzer_new(&o, &a), 0);
		for (int i = 0; i < 3; i++) {
			struct exchange_record r = { 0 };
			int64_t input = all / 4;
			/* the provider: read at 10 min only with 1 h; at 25 min
			 * it has evicted (or routed elsewhere) */
			int64_t read = hour && i == 1 ? through * input / all : 0;
			const char *want = !i ? "cold" : hour ? (i == 1 ? "" : "provider_side")
						       : "ttl_expired";

			r.ts_start_ns = T0 + at_min[i] * MIN_NS;
			r.status = 200;
			r.usage_source = USAGE_PROVIDER;
			strcpy(r.exe, "/usr/bin/agent");
			strcpy(r.provider, "anthropic");
			strcpy(r.api, "messages");
			strcpy(r.host, "api.anthropic.com");
			strcpy(r.model, "claude-sonnet-4-5");
			r.request_body = body;
			r.request_body_len = strlen(body);
			r.usage.input_tokens = input;
			r.usage.cached_input_tokens = read;
			r.usage.cache_write_tokens = read ? 0 : through * input / all;
			r.usage.cache_write_1h_tokens = hour ? r.usage.cache_write_tokens : 0;
			assert_int_equal(cache_analyze_record(a, &r), 0);
			if (strcmp(r.cache_miss_cause, want))
				fail_msg("ttl %s, call %d: cause \"%s\", want \"%s\"", hour ? "1h" : "5m",
					 i, r.cache_miss_cause, want);
			if (hour && i == 2)	/* it could have read the system prompt */
				assert_int_equal(r.missed_cache_tokens, through * input / all);
		}
		cache_analyzer_free(a);
		free(body);
	}
	free(js);
	free(sys);
}

/* ---- the corpus ---- */

struct corpus_ctx {
	struct cache_analyzer *a;
	struct price_table *prices;
	int with_cache, analysed, below, lines;
};

static void corpus_line(const cJSON *line, void *ctx)
{
	struct corpus_ctx *c = ctx;
	const cJSON *exp = cJSON_GetObjectItem(line, "expected");
	struct exchange_record r = { 0 };
	size_t len = 0;
	char *text;
	const char *s;

	if (!exp || !cJSON_IsTrue(cJSON_GetObjectItem(exp, "usage_present")))
		return;
	text = (char *)corpus_b64(line, "req_body_b64", &len);
	if (!text)
		return;
	s = cJSON_GetStringValue(cJSON_GetObjectItem(line, "provider"));
	snprintf(r.provider, sizeof(r.provider), "%s", s ? s : "");
	s = cJSON_GetStringValue(cJSON_GetObjectItem(line, "api"));
	snprintf(r.api, sizeof(r.api), "%s", s ? s : "");
	s = cJSON_GetStringValue(cJSON_GetObjectItem(exp, "model"));
	snprintf(r.model, sizeof(r.model), "%s", s ? s : "");
	s = cJSON_GetStringValue(cJSON_GetObjectItem(line, "host"));
	snprintf(r.host, sizeof(r.host), "%s", s ? s : "");
	r.status = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(line, "status"));
	r.usage_source = USAGE_PROVIDER;
	r.usage.input_tokens = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(exp, "input_tokens"));
	r.usage.cached_input_tokens =
		(int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(exp, "cached_input_tokens"));
	r.usage.cache_write_tokens =
		(int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(exp, "cache_write_tokens"));
	/* in file order, a second apart: cassettes of one test follow each other */
	r.ts_start_ns = T0 + (int64_t)c->lines++ * 1000000000LL;
	r.request_body = text;
	r.request_body_len = len;
	if (cache_analyze_record(c->a, &r) == 0) {
		c->analysed++;
		if (r.usage.cached_input_tokens > 0) {
			c->with_cache++;
			/* the property: cacheable is never below what was cached */
			assert_true(r.cacheable_tokens >= r.usage.cached_input_tokens);
			/* the disagreements: cached by the provider, but our prefix
			 * model saw no earlier request it could come from (cause
			 * says which rule it was left at) */
			if (cache_analyzer_last_prediction(c->a) < r.usage.cached_input_tokens ||
			    r.cache_miss_cause[0]) {
				c->below++;
				print_message("corpus disagreement: %s: %s cached %lld of %lld, predicted %lld; cause \"%s\"\n",
					      cJSON_GetStringValue(cJSON_GetObjectItem(line, "id")),
					      r.model, (long long)r.usage.cached_input_tokens,
					      (long long)r.usage.input_tokens,
					      (long long)cache_analyzer_last_prediction(c->a),
					      r.cache_miss_cause);
			}
		}
	}
	free(text);
}

static void test_corpus(void **state)
{
	struct corpus_ctx c = { 0 };
	struct cache_analyzer_opts o = { 0 };
	int n;

	if (!corpus_path())
		skip();
	assert_int_equal(price_table_load_default(&c.prices), 0);
	o.prices = c.prices;
	assert_int_equal(cache_analyzer_new(&o, &c.a), 0);
	n = corpus_foreach(corpus_line, &c);
	assert_true(n > 0);
	print_message("corpus: %d lines, %d analysed, %d with cached tokens, %d of them not predicted\n",
		      n, c.analysed, c.with_cache, c.below);
	assert_true(c.analysed > 100);
	assert_true(c.with_cache > 0);
	cache_analyzer_free(c.a);
	price_table_free(c.prices);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timestamp_top_anthropic),
		cmocka_unit_test(test_timestamp_top_vs_bottom_openai),
		cmocka_unit_test(test_uuid_before_breakpoint),
		cmocka_unit_test(test_whitespace),
		cmocka_unit_test(test_tools_shuffled),
		cmocka_unit_test(test_keys_reordered),
		cmocka_unit_test(test_blocks_reordered),
		cmocka_unit_test(test_anthropic_breakpoints),
		cmocka_unit_test(test_openai_minimum),
		cmocka_unit_test(test_ttl),
		cmocka_unit_test(test_two_keys),
		cmocka_unit_test(test_agent_loop),
		cmocka_unit_test(test_codex_non_prompt),
		cmocka_unit_test(test_gpt56_explicit),
		cmocka_unit_test(test_anthropic_invalidation),
		cmocka_unit_test(test_anthropic_ttl_1h),
		cmocka_unit_test(test_corpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
