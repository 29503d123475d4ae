/* Server-Sent Events (user/2-http/sse.c), whole and split.
 * Input: [cap selector][split seed: 2 bytes][stop after N events] then the
 * stream. The events dispatched (name, data, truncated flag) must not
 * depend on how the stream was split; their data stays within the cap and
 * is NUL-terminated; the parser's buffers never grow past the cap plus
 * its line slack; a callback error stops the feed and is returned. */
#include <errno.h>
#include "fuzz.h"
#include "sse.h"

#define LINE_SLACK	64	/* sse.c's SSE_LINE_SLACK */

struct events {
	uint64_t hash;
	unsigned long n;
	unsigned long stop_at;	/* 0: never */
	size_t cap;
};

static int on_event(void *ctx, const char *event, size_t event_len, const char *data,
		    size_t data_len, bool truncated)
{
	struct events *e = ctx;
	uint64_t lens[2] = { event_len, data_len };

	FUZZ_CHECK(event_len < 64 && event[event_len] == '\0', "event name %zu", event_len);
	FUZZ_CHECK(data_len <= e->cap, "data %zu over cap %zu", data_len, e->cap);
	FUZZ_CHECK(data[data_len] == '\0', "data not terminated");
	e->hash = fuzz_hash(e->hash, lens, sizeof(lens));
	e->hash = fuzz_hash(e->hash, event, event_len);
	e->hash = fuzz_hash(e->hash, data, data_len);
	e->hash = fuzz_hash(e->hash, &truncated, sizeof(truncated));
	return ++e->n == e->stop_at ? -ECANCELED : 0;
}

static void check_bounds(const struct sse_parser *p)
{
	FUZZ_CHECK(p->_line_cap <= p->max_event_bytes + LINE_SLACK, "line buffer %zu",
		   p->_line_cap);
	FUZZ_CHECK(p->_data_cap <= p->max_event_bytes + 1, "data buffer %zu", p->_data_cap);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t caps[] = { 1, 16, 100, 4096, 1 << 20 };
	struct fuzz_in in = { data, size };
	size_t cap = caps[fuzz_u8(&in) % 5], off = 0;
	struct fuzz_split sp;
	struct events whole = { FUZZ_HASH_INIT, 0, 0, cap }, split;
	struct sse_parser p;
	int r_whole, r = 0;
	char *buf;

	fuzz_split_init(&sp, fuzz_u16(&in));
	whole.stop_at = fuzz_u8(&in) % 8;
	split = whole;

	sse_init(&p, cap);
	buf = fuzz_dup(in.p, in.len);
	r_whole = sse_feed(&p, buf, in.len, on_event, &whole);
	free(buf);
	check_bounds(&p);
	FUZZ_CHECK(p.events == whole.n, "events %lu, callbacks %lu", p.events, whole.n);
	FUZZ_CHECK(r_whole == 0 || (r_whole == -ECANCELED && whole.n == whole.stop_at),
		   "whole feed returned %d", r_whole);
	sse_free(&p);

	sse_init(&p, cap);
	while (off < in.len && !r) {
		size_t n = fuzz_split_next(&sp, in.len - off);

		buf = fuzz_dup(in.p + off, n);
		r = sse_feed(&p, buf, n, on_event, &split);
		free(buf);
		check_bounds(&p);
		off += n;
	}
	sse_free(&p);
	FUZZ_CHECK(r == r_whole, "split returned %d, whole %d", r, r_whole);
	FUZZ_CHECK(split.n == whole.n, "split gave %lu events, whole %lu", split.n, whole.n);
	FUZZ_CHECK(split.hash == whole.hash, "split events differ from whole");
	return 0;
}
