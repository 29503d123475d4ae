/* Daemon counters: every error, drop and skip is counted by cause, never
 * silent. One global table (the daemon is single-threaded); the names are
 * what the daemon logs and the store persists for `llmobs report`. */
#ifndef LLMOBS_STATS_H
#define LLMOBS_STATS_H

#include <stdint.h>

#define STATS_LIST(X) \
	X(EVENTS, "events") \
	X(EVENT_BYTES, "event_bytes") \
	X(EVENTS_MALFORMED, "events_malformed") \
	X(EXCHANGES, "exchanges") \
	X(EXCHANGES_INCOMPLETE, "exchanges_incomplete") \
	X(STREAMS_ENDED_UNFRAMED, "streams_ended_unframed") \
	X(NON_LLM_EXCHANGES, "non_llm_exchanges") \
	X(SERVER_SIDE_CONNS, "server_side_conns") \
	X(UNSUPPORTED_PROTOCOL_CONNS, "unsupported_protocol_conns") \
	X(HTTP2_CONNS, "http2_conns") \
	X(H2_PROTOCOL_ERRORS, "h2_protocol_errors") \
	X(H2_HPACK_ERRORS, "h2_hpack_errors") \
	X(H2_HEADERS_UNKNOWN, "h2_headers_unknown") \
	X(H2_STREAMS_RESET, "h2_streams_reset") \
	X(H2_STREAMS_REFUSED, "h2_streams_refused") \
	X(H2_STREAMS_OVER_CAP, "h2_streams_over_cap") \
	X(HTTP_PARSE_ERRORS, "http_parse_errors") \
	X(HTTP_HEAD_TOO_LARGE, "http_head_too_large") \
	X(STREAM_GAPS, "stream_gaps") \
	X(STREAM_GAP_BYTES, "stream_gap_bytes") \
	X(BODY_OVER_CAP, "body_over_cap") \
	X(BODY_OVER_CAP_BYTES, "body_over_cap_bytes") \
	X(DECODE_ERRORS, "decode_errors") \
	X(DECODED_OVER_CAP, "decoded_over_cap") \
	X(JSON_ERRORS, "json_errors") \
	X(SSE_EVENTS_OVER_CAP, "sse_events_over_cap") \
	X(UNMATCHED_RESPONSES, "unmatched_responses") \
	X(PENDING_REQUESTS_DROPPED, "pending_requests_dropped") \
	X(CONNS_OPEN, "conns_open") \
	X(CONNS_EVICTED, "conns_evicted") \
	X(UNPRICED_EXCHANGES, "unpriced_exchanges") \
	X(CACHE_NO_BODY, "cache_no_body") \
	X(CACHE_BAD_JSON, "cache_bad_json") \
	X(CACHE_TRUNCATED, "cache_truncated") \
	X(CACHE_INDEX_EVICTED, "cache_index_evicted") \
	X(STORE_ERRORS, "store_errors") \
	X(RECORDS_DROPPED, "records_dropped") \
	X(TLS_LIBS_ATTACHED, "tls_libs_attached") \
	X(ATTACH_ERRORS, "attach_errors") \
	X(PRIVSEP_REQUESTS, "privsep_requests") \
	X(PRIVSEP_REQUESTS_MALFORMED, "privsep_requests_malformed") \
	X(PRIVSEP_REQUESTS_UNSENT, "privsep_requests_unsent") \
	X(PRIVSEP_WORKER_RESTARTS, "privsep_worker_restarts") \
	X(GO_TLS_ATTACHED, "go_tls_attached") \
	X(GO_TLS_REFUSED, "go_tls_refused") \
	X(TLS_BLIND_BINARIES, "tls_blind_binaries") \
	X(TLS_STATIC_FOUND, "tls_static_found") \
	X(FIND_CACHE_HITS, "find_cache_hits") \
	X(FIND_CACHE_MISSES, "find_cache_misses") \
	X(FIND_CACHE_CORRUPT, "find_cache_corrupt") \
	X(TLS13_SECRETS, "tls13_secrets") \
	X(TLS13_KEYS_MALFORMED, "tls13_keys_malformed") \
	X(TLS13_DIRS_SYNCED, "tls13_dirs_synced") \
	X(TLS13_RECORDS_SKIPPED, "tls13_records_skipped") \
	X(TLS13_RECORDS_FAILED, "tls13_records_failed") \
	X(TLS13_CIPHER_GAPS, "tls13_cipher_gaps") \
	X(TLS13_CONNS_OVER_CAP, "tls13_conns_over_cap") \
	X(BINFILES_REFUSED, "binfiles_refused") \
	X(SHIM_MESSAGES_MALFORMED, "shim_messages_malformed") \
	X(SHIM_CLIENTS, "shim_clients") \
	X(SHIM_CLIENTS_REJECTED, "shim_clients_rejected") \
	X(SHIM_CLIENTS_DROPPED, "shim_clients_dropped") \
	X(SHIM_TIDS_UNVERIFIED, "shim_tids_unverified") \
	X(SHIM_CALLS, "shim_calls") \
	X(SHIM_DROP_RING_FULL_EVENTS, "shim_drop_ring_full_events") \
	X(SHIM_DROP_RING_FULL_BYTES, "shim_drop_ring_full_bytes") \
	X(SHIM_DROP_NO_DAEMON_EVENTS, "shim_drop_no_daemon_events") \
	X(SHIM_DROP_NO_DAEMON_BYTES, "shim_drop_no_daemon_bytes") \
	X(SHIM_DROP_OVER_CAP_BYTES, "shim_drop_over_cap_bytes") \
	X(SHIM_DROP_NO_SLOT_EVENTS, "shim_drop_no_slot_events") \
	X(SHIM_DROP_NO_SLOT_BYTES, "shim_drop_no_slot_bytes") \
	X(SHIM_RECONNECTS, "shim_reconnects") \
	X(BPF_EVENTS_DEDUPED, "bpf_events_deduped") \
	X(PROCS_ATTRIBUTED, "procs_attributed") \
	X(PROCS_UNREADABLE, "procs_unreadable") \
	X(PROJECT_INVALID, "project_invalid") \
	X(OTLP_SPANS_EXPORTED, "otlp_spans_exported") \
	X(OTLP_SPANS_DROPPED_QUEUE_FULL, "otlp_spans_dropped_queue_full") \
	X(OTLP_SPANS_DROPPED_EXPORT, "otlp_spans_dropped_export") \
	X(OTLP_EXPORT_FAILURES, "otlp_export_failures")

enum stats_counter {
#define X(id, name) STAT_##id,
	STATS_LIST(X)
#undef X
	STAT__MAX
};

extern uint64_t stats[STAT__MAX];
extern const char *const stats_names[STAT__MAX];

static inline void stats_add(enum stats_counter c, uint64_t n) { stats[c] += n; }
static inline void stats_inc(enum stats_counter c) { stats[c]++; }

#endif
