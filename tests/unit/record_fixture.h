/* Test records for the record and store suites: every field set to a value
 * distinct from its zero default, so a column that is lost or swapped shows. */
#ifndef LLMOBS_TEST_RECORD_FIXTURE_H
#define LLMOBS_TEST_RECORD_FIXTURE_H

#include <stdio.h>
#include <string.h>
#include "record.h"

/* The export contract's field order (README, "Export contract"). */
static const char *const contract_fields[] = {
	"id", "ts_start", "ts_end", "pid", "tid", "exe", "comm", "cgroup_id",
	"capture", "provider", "api", "host", "method", "path", "status",
	"model", "request_model", "stream", "input_tokens",
	"cached_input_tokens", "cache_write_tokens", "cache_write_1h_tokens",
	"output_tokens", "reasoning_tokens", "usage_source", "cost_usd",
	"priced", "latency_ms", "ttft_ms", "complete", "error",
	"deployment", "ratelimit", "provider_cost_usd", "protocol", "headers_unknown",
	"uid", "app", "cmdline_hash", "container_id", "container_runtime", "container_image",
	"k8s_pod_uid", "k8s_namespace", "k8s_pod", "k8s_container", "project",
	"template", "account", "cacheable_tokens", "missed_cache_tokens", "missed_cache_usd",
	"cache_miss_cause", "breakers", "sensitive", "tool_calls",
};
#define CONTRACT_NFIELDS (int)(sizeof(contract_fields) / sizeof(contract_fields[0]))

/* Varies with i so records in a batch differ from each other. */
static inline void fixture_record(struct exchange_record *r, int i)
{
	memset(r, 0, sizeof(*r));
	r->ts_start_ns = 1795459201123456789LL + i * 1000000000LL;
	r->ts_end_ns = r->ts_start_ns + 2500000000LL;
	r->pid = 4242 + i;
	r->tid = 4243 + i;
	r->cgroup_id = 0xfedcba9876543210ULL + i;	/* above INT64_MAX */
	snprintf(r->exe, sizeof(r->exe), "/usr/bin/python3.%u", (unsigned)i % 1000);
	snprintf(r->comm, sizeof(r->comm), "python%u", (unsigned)i % 1000);
	snprintf(r->capture, sizeof(r->capture), "%s", i % 2 ? "preload" : "uprobe");
	snprintf(r->provider, sizeof(r->provider), "anthropic");
	snprintf(r->api, sizeof(r->api), "messages");
	snprintf(r->host, sizeof(r->host), "api.anthropic.com");
	snprintf(r->method, sizeof(r->method), "POST");
	snprintf(r->path, sizeof(r->path), "/v1/messages?n=%d", i);
	r->status = 200 + i % 3;
	snprintf(r->model, sizeof(r->model), "claude-sonnet-4-5-2025092%d", i % 10);
	snprintf(r->request_model, sizeof(r->request_model), "claude-sonnet-4-5");
	r->stream = i % 2;
	r->usage.input_tokens = 1000 + i;
	r->usage.cached_input_tokens = 200 + i;
	r->usage.cache_write_tokens = 300 + i;
	r->usage.cache_write_1h_tokens = 100 + i;
	r->usage.output_tokens = 400 + i;
	r->usage.reasoning_tokens = 50 + i;
	r->usage_source = (enum usage_source)(1 + i % 2);
	r->cost_usd = 0.0123456789 * (i + 1);
	r->priced = true;
	r->latency_ms = i % 3 ? 2500 + i : RECORD_NULL_MS;
	r->ttft_ms = i % 2 ? 300 + i : RECORD_NULL_MS;
	r->complete = i % 4 != 3;
	if (i % 4 == 3)
		snprintf(r->error, sizeof(r->error), "truncated");
	snprintf(r->deployment, sizeof(r->deployment), "prod-gpt4o-%d", i);
	snprintf(r->ratelimit, sizeof(r->ratelimit),
		 "{\"retry-after\":\"%d\",\"x-ratelimit-remaining-requests\":\"0\"}", i);
	r->provider_cost_usd = 0.000113 * (i + 1);
	r->provider_cost_known = true;
	snprintf(r->protocol, sizeof(r->protocol), "%s", i % 2 ? "h2" : "http/1.1");
	r->headers_unknown = i % 3 == 1;
	r->uid = 1000 + i;
	snprintf(r->app, sizeof(r->app), "agent-%d", i);
	snprintf(r->cmdline_hash, sizeof(r->cmdline_hash), "%016x", 0xabc00 + i);
	snprintf(r->container_id, sizeof(r->container_id), "%064x", 0xc0ffee + i);
	snprintf(r->container_runtime, sizeof(r->container_runtime), "containerd");
	snprintf(r->container_image, sizeof(r->container_image), "registry.local/agent:%d", i);
	snprintf(r->k8s_pod_uid, sizeof(r->k8s_pod_uid), "1f2e3d4c-5b6a-4978-8695-%012x", i);
	snprintf(r->k8s_namespace, sizeof(r->k8s_namespace), "ns-%d", i % 5);
	snprintf(r->k8s_pod, sizeof(r->k8s_pod), "agent-%d-7d9f", i);
	snprintf(r->k8s_container, sizeof(r->k8s_container), "main");
	snprintf(r->project, sizeof(r->project), "project-%d", i % 3);
	r->cache_analyzed = true;
	snprintf(r->cache_template, sizeof(r->cache_template), "%016x", 0x7e3a1 + i);
	snprintf(r->account, sizeof(r->account), "%016x", 0xacc0 + i);
	r->cacheable_tokens = 6000 + i;
	r->missed_cache_tokens = 5000 + i;
	r->missed_cache_usd = 0.0135 + i / 1000.0;
	snprintf(r->cache_miss_cause, sizeof(r->cache_miss_cause), "prefix_changed");
	snprintf(r->breakers, sizeof(r->breakers),
		 "[{\"kind\":\"timestamp\",\"segment\":\"system[0]\",\"byte_offset\":%d,"
		 "\"token_offset\":3,\"missed_tokens\":%d,\"missed_usd\":0.0135,"
		 "\"shape\":\"ISO-8601 timestamp\"}]", 14 + i, 5000 + i);
	for (int k = 0; k < 16; k++)
		r->prefix_hashes[k] = (uint8_t)(0xa0 + k + i);
	r->prefix_hashes_len = 16;
	r->cache_duplicate = i % 2;
	r->sensitive[RS_EMAIL] = (uint16_t)(1 + i);
	r->sensitive[RS_CARD] = (uint16_t)(i % 2);
	r->sensitive[RS_IBAN] = 65535;
	snprintf(r->tool_calls, sizeof(r->tool_calls), "get_weather,search_%d", i);
}

#endif
