/* The daemon's pipeline end to end (user/4-exchange/conn.c, exchange.c and every
 * parser behind them): the input is a sequence of capture events, both
 * directions, on four connections of two processes, with the limits set
 * small so that eviction, the pending queue and the body cap all trigger.
 *
 * Input: [max body][max conns][max pending] then events, each
 *   [op] (conn = op & 3, kind = op >> 2 & 7) and its fields:
 *   0, 1   DATA written (0) or read (1), a whole TLS call:
 *          [len: 2 bytes] [data]
 *   2      DATA with damage: [m] [amount] [len: 2 bytes] [data]; m & 1 is
 *          the direction, m >> 1 & 3: 0 bytes lost before (a gap),
 *          1 overlap with what came before, 2 a call longer than its data
 *          (cut at the per-call cap), 3 a chunk from inside a call
 *   3      the SSL* is reused: both streams start again at 0
 *   4      CLOSE   5  EXIT of the process   6  EXEC [len: 1 byte] [path]
 *   7      idle expiry [amount: 100 ms units since the last event]
 * The seeds (tests/fuzz/make_seeds.py) are corpus exchanges in this form.
 *
 * Checks: no crash, leak or over-read (each event is an exact-size heap
 * block); the table never holds more connections than max_conns and its
 * count matches the conns_open counter; every record that comes out is
 * terminated, consistent and serialisable. */
#include <errno.h>
#include "conn.h"
#include "fuzz.h"
#include "log.h"
#include "stats.h"

#define NCONNS		4
/* Above pid_max: /proc/PID/exe never exists, so the exe lookup is cheap
 * and never names a real process. */
#define TGID_BASE	0x3ffffff0u

static FILE *devnull;
static size_t max_conns;

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
	unsigned long *n = ctx;

	CHECK_STR(r, exe);
	CHECK_STR(r, comm);
	CHECK_STR(r, capture);
	CHECK_STR(r, provider);
	CHECK_STR(r, api);
	CHECK_STR(r, host);
	CHECK_STR(r, method);
	CHECK_STR(r, path);
	CHECK_STR(r, model);
	CHECK_STR(r, request_model);
	CHECK_STR(r, error);
	FUZZ_CHECK(r->pid >= TGID_BASE && r->pid < TGID_BASE + NCONNS / 2, "pid %u", r->pid);
	/* "": an HTTP/2 head that could not be decoded, told by its body */
	FUZZ_CHECK(!r->method[0] || !strcmp(r->method, "POST"), "an LLM call by %s",
		   r->method);
	FUZZ_CHECK(r->provider[0] && strcmp(r->api, "none"), "unclassified record");
	FUZZ_CHECK(r->status == 0 || (r->status >= 100 && r->status <= 999), "status %d",
		   r->status);
	FUZZ_CHECK(r->ts_end_ns >= r->ts_start_ns, "ends before it starts");
	FUZZ_CHECK(r->latency_ms >= RECORD_NULL_MS && r->ttft_ms >= RECORD_NULL_MS,
		   "negative latency");
	FUZZ_CHECK(!r->complete || strcmp(r->error, "capture_gap"),
		   "complete with a capture gap");
	FUZZ_CHECK(record_write_json(devnull, r) == 0, "record not serialisable");
	(*n)++;
}

struct stream {
	__u64 pos[2];
};

static struct capture_event *new_event(size_t len)
{
	struct capture_event *ev = malloc(sizeof(*ev) + len);

	if (!ev)
		abort();
	memset(ev, 0, sizeof(*ev));
	return ev;
}

static void send_data(struct conn_table *t, struct fuzz_in *in, int c, int dir,
		      struct stream *s, __u64 ts, int damage, unsigned amount)
{
	size_t len;
	const uint8_t *p = fuzz_take(in, fuzz_u16(in) % (CAPTURE_CHUNK_BYTES + 1), &len);
	struct capture_event *ev = new_event(len);

	ev->kind = CAPTURE_DATA;
	ev->dir = (__u8)dir;
	ev->tgid = TGID_BASE + c / 2;
	ev->tid = ev->tgid;
	ev->conn = 0x7f0000001000ULL + (__u64)c * 0x40;
	ev->ts_ns = ts;
	ev->data_len = (__u32)len;
	ev->call_len = (__u32)len;
	snprintf(ev->comm, sizeof(ev->comm), "fuzz%d", c);
	memcpy(ev->data, p, len);
	switch (damage) {
	case 0:	/* bytes lost before this call */
		s->pos[dir] += amount + 1;
		break;
	case 1:	/* overlap: some of it was seen already */
		s->pos[dir] -= amount < s->pos[dir] ? amount : s->pos[dir];
		break;
	case 2:	/* the call went on past the cap */
		ev->call_len += amount * 64;
		break;
	case 3:	/* a chunk from inside a call */
		ev->offset = amount + 1;
		ev->call_len = ev->offset + (__u32)len + amount;
		break;
	}
	ev->stream_pos = s->pos[dir];
	conn_table_event(t, ev);
	s->pos[dir] += len;
	free(ev);
}

static void send_simple(struct conn_table *t, int c, int kind, const uint8_t *p,
			size_t len, __u64 ts)
{
	struct capture_event *ev = new_event(len);

	ev->kind = (__u8)kind;
	ev->tgid = TGID_BASE + c / 2;
	ev->tid = ev->tgid;
	ev->conn = 0x7f0000001000ULL + (__u64)c * 0x40;
	ev->ts_ns = ts;
	ev->data_len = (__u32)len;
	if (len)
		memcpy(ev->data, p, len);
	conn_table_event(t, ev);
	free(ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t bodies[] = { 64, 4096, 256 * 1024, 4u << 20 };
	struct fuzz_in in = { data, size };
	struct conn_table_opts o = { 0 };
	struct stream streams[NCONNS] = { 0 };
	struct conn_table *t;
	unsigned long records = 0;
	__u64 ts = 1000000000ULL;

	o.max_body_bytes = bodies[fuzz_u8(&in) % 4];
	o.max_conns = max_conns = 1 + fuzz_u8(&in) % NCONNS;
	o.max_pending = 1 + fuzz_u8(&in) % 8;
	o.idle_timeout_ns = 1000000000LL;
	o.realtime_offset_ns = 1;
	t = conn_table_new(&o, on_record, &records);
	FUZZ_CHECK(t != NULL, "conn_table_new");

	while (in.len) {
		uint8_t op = fuzz_u8(&in), m, amount;
		int c = op & 3, kind = op >> 2 & 7;
		size_t len;
		const uint8_t *p;

		ts += 1000000;
		switch (kind) {
		case 0:
		case 1:
			send_data(t, &in, c, kind, &streams[c], ts, -1, 0);
			break;
		case 2:
			m = fuzz_u8(&in);
			amount = fuzz_u8(&in);
			send_data(t, &in, c, m & 1, &streams[c], ts, m >> 1 & 3, amount);
			break;
		case 3:
			memset(&streams[c], 0, sizeof(streams[c]));
			break;
		case 4:
			send_simple(t, c, CAPTURE_CLOSE, NULL, 0, ts);
			memset(&streams[c], 0, sizeof(streams[c]));
			break;
		case 5:
			send_simple(t, c, CAPTURE_EXIT, NULL, 0, ts);
			memset(&streams[c & ~1], 0, 2 * sizeof(streams[0]));
			break;
		case 6:
			p = fuzz_take(&in, fuzz_u8(&in), &len);
			send_simple(t, c, CAPTURE_EXEC, p, len, ts);
			break;
		default:
			ts += (__u64)fuzz_u8(&in) * 100000000ULL;
			conn_table_expire(t, (int64_t)ts);
			break;
		}
		FUZZ_CHECK(conn_table_count(t) <= max_conns, "%zu conns, max %zu",
			   conn_table_count(t), max_conns);
		FUZZ_CHECK(stats[STAT_CONNS_OPEN] == conn_table_count(t), "conns_open %llu",
			   (unsigned long long)stats[STAT_CONNS_OPEN]);
	}
	conn_table_free(t);
	FUZZ_CHECK(stats[STAT_CONNS_OPEN] == 0, "conns_open after free");
	return 0;
}
