/* One observed LLM exchange: the export contract (README, "Export contract").
 * Filled by the daemon, stored by store.c, printed by record_*(). */
#ifndef LLMOBS_RECORD_H
#define LLMOBS_RECORD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define RECORD_NULL_MS	(-1)	/* latency_ms / ttft_ms unknown */

enum usage_source {
	USAGE_NONE = 0,		/* no usage: counts are 0 */
	USAGE_PROVIDER = 1,	/* counts the provider reported */
	USAGE_ESTIMATED = 2,	/* counts we estimated from the text */
};

struct llm_usage {
	/* OpenTelemetry GenAI convention: input includes cache reads and
	 * writes; output includes reasoning. */
	int64_t input_tokens;
	int64_t cached_input_tokens;	/* cache reads */
	int64_t cache_write_tokens;	/* all cache writes (5 min + 1 h) */
	int64_t cache_write_1h_tokens;	/* of which 1-hour writes */
	int64_t output_tokens;
	int64_t reasoning_tokens;
};

/* Secrets and personal data seen in a request (user/5-analysis/detect*.c):
 * only these kinds and their counts are kept, never the text. The order is
 * the export's; names by record_sensitive_name(). */
enum record_sensitive_kind {
	RS_API_KEY,		/* LLM provider and SaaS keys (sk-..., hf_..., xoxb-...) */
	RS_CLOUD_KEY,		/* AWS access key ids, Google API keys, Azure account keys */
	RS_GITHUB_TOKEN,	/* ghp_, gho_, ghu_, ghs_, ghr_, github_pat_ */
	RS_JWT,
	RS_PRIVATE_KEY,		/* PEM / OpenSSH private key blocks */
	RS_EMAIL,
	RS_PHONE,
	RS_CARD,		/* Luhn-checked, known issuer prefixes */
	RS_IBAN,		/* mod-97 checked, known country lengths */
	RS__MAX,
};

struct exchange_record {
	int64_t id;			/* store rowid; 0 before insert */
	int64_t ts_start_ns;		/* CLOCK_REALTIME, first request byte */
	int64_t ts_end_ns;		/* last response byte */
	uint32_t pid;
	uint32_t tid;
	uint64_t cgroup_id;
	char exe[256];
	char comm[16];
	char capture[8];		/* "uprobe", "preload", "syscall" or "secrets" */
	char provider[32];
	char api[32];
	char host[256];
	char method[16];
	char path[512];			/* credentials in the query are redacted */
	int status;			/* 0 when no response was seen */
	char model[128];		/* response's, else request's */
	char request_model[128];
	bool stream;
	struct llm_usage usage;
	enum usage_source usage_source;
	double cost_usd;
	bool priced;
	int64_t latency_ms;		/* RECORD_NULL_MS when unknown */
	int64_t ttft_ms;		/* first response byte, streams only */
	bool complete;
	char error[48];			/* "" means null */
	/* Contract v2 (store schema v2): appended, so v1 readers keep working. */
	char deployment[128];		/* Azure OpenAI deployment, "" null */
	char ratelimit[512];		/* error responses: the rate-limit headers
					 * as a compact JSON object, "" null */
	double provider_cost_usd;	/* what the provider says it charged
					 * (OpenRouter usage.cost) */
	bool provider_cost_known;	/* false: provider_cost_usd is null */
	/* Contract v3 (store schema v3), appended likewise. */
	char protocol[12];		/* "http/1.1" or "h2"; "" null (older rows) */
	bool headers_unknown;		/* h2 head not decodable (HPACK state missed,
					 * e.g. joined mid-way): method, path, host
					 * may be empty; recognised and priced from
					 * the bodies */
	/* Pricing input, not exported: the request opted into a long-context
	 * tier that is billed only on opt-in (anthropic-beta: context-1m-...). */
	bool long_context_opt_in;
	/* Prompt-cache analytics (issue 9, user/5-analysis): exported after
	 * the attribution fields (store schema v5). cache_analyzed false: all
	 * of these are null. */
	bool cache_analyzed;
	char cache_template[17];	/* "template": keyed hash of the call site, hex */
	char account[17];		/* keyed hash of the API key, hex; "" null */
	int64_t cacheable_tokens;	/* shared with an earlier call, within the TTL */
	int64_t missed_cache_tokens;	/* cacheable - cached, >= 0 */
	double missed_cache_usd;	/* their price difference, net of writes */
	char cache_miss_cause[16];	/* "" null: no miss */
	char breakers[768];		/* JSON array of {kind, segment, byte_offset,
					 * token_offset, missed_tokens, missed_usd,
					 * shape}; "" null */
	/* Stored, not exported: keyed prefix hashes at segment boundaries
	 * (8 bytes each, big-endian), and a repeat of a deterministic call. */
	uint8_t prefix_hashes[256];
	uint16_t prefix_hashes_len;	/* bytes */
	bool cache_duplicate;
	/* Capture-time input of the analysis, in memory only, never stored:
	 * SHA-256 of the request's API key (cache_analyze.c keys it before
	 * anything leaves memory), and the request body while the exchange
	 * callback runs (NULL when it was not kept). */
	bool account_seen;
	uint8_t account_digest[32];
	const char *request_body;
	size_t request_body_len;
	/* Contract v5 (store.c: the attribution step): who made the call (issue 14,
	 * user/1-capture/procattr.c). "" null; uid -1 null. */
	int64_t uid;
	char app[64];			/* script/package for interpreters: "gemini", not "node" */
	char cmdline_hash[17];		/* keyed hash of the full cmdline, hex */
	char container_id[65];
	char container_runtime[16];	/* docker, containerd, cri-o, podman */
	char container_image[256];
	char k8s_pod_uid[37];
	char k8s_namespace[64];
	char k8s_pod[254];
	char k8s_container[64];
	char project[64];		/* LLMOBS_PROJECT, else the config's rules */
	/* Contract (store.c: the sensitive step): secrets and personal data
	 * seen in the request (user/5-analysis/detect*.c), counts per kind
	 * only, never the text; all 0 is null. */
	uint16_t sensitive[RS__MAX];
	/* The tools the response asked to run, names only, comma-separated
	 * ("get_weather,search"); "" null. For the agent timeline. */
	char tool_calls[128];
};

const char *usage_source_name(enum usage_source s);
/* "api_key", "email"...; NULL past RS__MAX. */
const char *record_sensitive_name(enum record_sensitive_kind k);
/* r->sensitive as a compact JSON object of the kinds seen ({"email":2}),
 * NUL-terminated in buf; returns its length, 0 (buf "") when none. */
size_t record_sensitive_json(const struct exchange_record *r, char *buf, size_t size);
/* Reads such an object back into counts (unknown keys ignored, values
 * capped at UINT16_MAX). Returns 0 or -EINVAL. */
int record_sensitive_parse(const char *json, uint16_t counts[RS__MAX]);

/* Length of the valid UTF-8 sequence at p (n bytes available), 0 when the
 * bytes there are not one (overlongs, surrogates, > U+10FFFF): the JSON
 * writers replace such a byte by U+FFFD, and so does the OTLP exporter. */
size_t record_utf8_seq_len(const unsigned char *p, size_t n);

/* Writes r as one JSON object and a newline. Returns 0 or -errno. */
int record_write_json(FILE *out, const struct exchange_record *r);
/* CSV: the header line, then one line per record, same field order as JSON. */
int record_write_csv_header(FILE *out);
int record_write_csv(FILE *out, const struct exchange_record *r);

#endif
