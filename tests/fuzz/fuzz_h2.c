/* HTTP/2 frames and HPACK (user/h2.c and libnghttp2's inflater behind it)
 * on one client connection, both directions, straight through the h2 API.
 *
 * Input: [flags: bit 0 joined mid-way][max body][max pending] then records,
 * each [op] and its fields:
 *   op & 1   direction (0 written by the client, 1 read);
 *   op & 2   the bytes start a TLS call;
 *   op & 4   bytes were lost first: [gap: 2 bytes];
 *   then     [len: 2 bytes] [data].
 * The seeds (tests/fuzz/make_seeds.py) are corpus exchanges framed as
 * HTTP/2, with HPACK literals and dynamic-table references.
 *
 * Checks: no crash, leak, over-read or hang; every record is terminated and
 * consistent; the pending queue never passes max_pending. */
#include "exchange.h"
#include "fuzz.h"
#include "h2.h"
#include "log.h"

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_verbosity = -1;
	devnull = fopen("/dev/null", "w");
	return 0;
}

#define CHECK_STR(r, f)	\
	FUZZ_CHECK(strnlen((r)->f, sizeof((r)->f)) < sizeof((r)->f), #f " not terminated")

static void on_record(void *ctx, struct exchange_record *r)
{
	CHECK_STR(r, host);
	CHECK_STR(r, method);
	CHECK_STR(r, path);
	CHECK_STR(r, model);
	CHECK_STR(r, request_model);
	CHECK_STR(r, provider);
	CHECK_STR(r, api);
	CHECK_STR(r, error);
	FUZZ_CHECK(r->ts_end_ns >= r->ts_start_ns, "ends before it starts");
	FUZZ_CHECK(r->latency_ms >= RECORD_NULL_MS && r->ttft_ms >= RECORD_NULL_MS,
		   "negative latency");
	FUZZ_CHECK(record_write_json(devnull, r) == 0, "record not serialisable");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t bodies[] = { 64, 4096, 256 * 1024, 4u << 20 };
	struct fuzz_in in = { data, size };
	bool midway = fuzz_u8(&in) & 1;
	struct exchange_ctx x = {
		.cb = on_record,
		.max_body_bytes = bodies[fuzz_u8(&in) % 4],
		.max_pending = 1 + fuzz_u8(&in) % 8,
		.realtime_offset_ns = 1,
	};
	struct exchange_queue q = { 0 };
	struct conn_peer peer = { .tgid = 0x3ffffff0u, .tid = 0x3ffffff0u };
	struct h2_conn *h = h2_conn_new(midway);
	__u64 ts = 1000000000ULL;

	FUZZ_CHECK(h != NULL, "h2_conn_new");
	snprintf(peer.comm, sizeof(peer.comm), "fuzz");
	while (in.len) {
		uint8_t op = fuzz_u8(&in);
		int dir = op & 1;
		size_t len;
		const uint8_t *p;
		char *buf;

		ts += 1000000;
		if (op & 4)
			h2_conn_gap(h, &x, &q, dir, fuzz_u16(&in) + 1u);
		p = fuzz_take(&in, fuzz_u16(&in) % (CAPTURE_CHUNK_BYTES + 1), &len);
		buf = fuzz_dup(p, len);
		h2_conn_data(h, &x, &q, dir, &peer, ts, op & 2, buf, len);
		free(buf);
		FUZZ_CHECK(q.len <= H2_MAX_STREAMS, "%zu exchanges queued",
			   q.len);
	}
	h2_conn_free(h, &x, &q);
	FUZZ_CHECK(q.len == 0 && !q.head, "exchanges left after free");
	exchange_queue_free(&q);
	return 0;
}
