/* Contract v1 of telemetry (include/telemetry/v1.schema.json,
 * docs/telemetry.md): one exchange record -> the metadata object sent for
 * it, and records -> the batch document. What is never sent is never read
 * here: no text, no path beyond the API name, no header, no query, no key,
 * no file path; attribution goes out only as keyed hashes. */
#ifndef LLMOBS_TELEMETRY_RECORD_H
#define LLMOBS_TELEMETRY_RECORD_H

#include <stdbool.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "record.h"
#include "telemetry_config.h"

#define TELEMETRY_SCHEMA	"llmobs.telemetry.v1"
#define TELEMETRY_SDK_NAME	"llm-observer"
#define TELEMETRY_SDK_VERSION	"0.7.0"

/* The record sent for r, with id as its unique id (32 hex digits, kept with
 * it in the outbox so that a retry sends the same one). host_hash is
 * telemetry_hash(c, "host", <host name>). Returns a new object or NULL. */
cJSON *telemetry_record_json(const struct telemetry_config *c, const struct exchange_record *r,
			     const char *id, const char *host_hash);

/* {"schema", "sdk", "batch_id", "sent_at", "host", "records"}: takes
 * ownership of records (an array). Returns a new object or NULL. */
cJSON *telemetry_batch_json(const char *batch_id, int64_t sent_at_ns, const char *host_hash,
			    cJSON *records);

/* 32 hex digits from the kernel's random source, into out[33]. Returns 0 or -errno. */
int telemetry_new_id(char out[33]);

/* The host's name hashed for the "host" field. */
void telemetry_host_hash(const struct telemetry_config *c, char out[33]);

#endif
