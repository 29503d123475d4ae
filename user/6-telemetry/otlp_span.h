/* An exchange record as an OpenTelemetry span, in OTLP/JSON (the
 * protobuf's JSON mapping: ids in hex, 64-bit integers as strings, enums
 * as numbers). Names follow the GenAI semantic conventions (gen_ai.*) and,
 * for who made the call, the resource conventions (process.*, container.*,
 * k8s.*, service.name); what they have no name for is under llmobs.*.
 * Metadata only: the record's bodies, path and any header are never read
 * here, so nothing of a prompt, a response or a key can be exported. */
#ifndef LLMOBS_OTLP_SPAN_H
#define LLMOBS_OTLP_SPAN_H

#include <stddef.h>
#include <stdint.h>
#include "otlp_config.h"
#include "record.h"

#define OTLP_SCOPE_NAME		"llm-observer"
#define OTLP_SPAN_KIND_CLIENT	3
#define OTLP_STATUS_ERROR	2
#define OTLP_ATTR_PREFIX	"llmobs."

/* gen_ai.operation.name for an export-contract API name ("chat" for
 * chat.completions, messages, responses; "embeddings"; "generate_content";
 * "text_completion"); others as they are (the convention allows them). */
const char *otlp_operation_name(const char *api);
/* gen_ai.provider.name: the convention's well-known values (openai,
 * anthropic, gcp.gemini, gcp.vertex_ai, azure.ai.openai, aws.bedrock,
 * mistral_ai, x_ai, ...) from the record's provider and host. */
const char *otlp_provider_name(const char *provider, const char *host);

/* The resource attributes of r's process, as a JSON array (malloc()ed):
 * equal strings mean one resource, which is how a batch groups spans.
 * host_name: the node's; c: OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES. */
char *otlp_resource_json(const struct otlp_config *c, const char *host_name,
			 const struct exchange_record *r);
/* r as one span object (malloc()ed). ids: 16 bytes of trace id then 8 of
 * span id, random. */
char *otlp_span_json(const struct exchange_record *r, const uint8_t ids[24]);
/* The body of one export request (ExportTraceServiceRequest): spans[i]
 * under resources[i], one resourceSpans entry per distinct resource, in
 * order of first appearance. malloc()ed, NULL on allocation failure. */
char *otlp_request_json(size_t n, char *const *resources, char *const *spans);

#endif
