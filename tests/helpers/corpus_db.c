/* Builds a day of an agent-heavy host's database from the shared corpus,
 * for the HTML report's browser test (tests/e2e/html_report.sh):
 *
 *   corpus_db CORPUS.jsonl OUT.db [LOOPS [RECENT_S]]
 *
 * Every corpus exchange goes through the daemon's own pipeline (the
 * connection table fed TLS-call events, the default price table, the
 * store), LOOPS times (default 2). Records are then given the identity of
 * one of six simulated agent processes, in sessions of 20 calls a few
 * seconds apart spread over the last 23 hours, so the report has time
 * series, several apps and projects, and timelines to draw. Nothing is
 * checked here: the test compares the report with `llmobs export`.
 * RECENT_S puts every record in the last RECENT_S seconds instead, for
 * `llmobs top`'s test (tests/e2e/top_tmux.sh). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../unit/corpus_util.h"
#include <linux/types.h>
#include "capture.h"
#include "conn.h"
#include "cost.h"
#include "detect.h"
#include "stats.h"
#include "store.h"

#define SESSION_CALLS	20

static const struct agent {
	unsigned pid;
	const char *comm, *app, *project;
} agents[] = {
	{ 41001, "python3", "support-agent", "helpdesk" },
	{ 41002, "node", "gemini-cli", "devtools" },
	{ 41003, "python3", "etl-classifier", "data" },
	{ 41004, "curl", "", "" },
	{ 41005, "claude", "claude-code", "devtools" },
	{ 41006, "python3", "batch-summarize", "data" },
};
#define NAGENTS (sizeof(agents) / sizeof(agents[0]))

struct run {
	struct conn_table *t;
	struct price_table *prices;
	struct store *store;
	unsigned long n;	/* records stored */
	unsigned long total;	/* records expected, for the time spread */
	unsigned long fed;	/* corpus exchanges fed */
	long recent_s;		/* RECENT_S given: the span, else 0 (23 h) */
	int64_t base_ns;
	__u64 pos[2];
	__u64 ts;
	int err;
};

static void on_record(void *ctx, struct exchange_record *r)
{
	struct run *run = ctx;
	unsigned long session = run->n / SESSION_CALLS, sessions;
	const struct agent *a = &agents[session % NAGENTS];
	int64_t span_ns = 23LL * 3600 * 1000000000, dur_ms;

	sessions = run->total / SESSION_CALLS + 1;
	r->pid = r->tid = a->pid;
	snprintf(r->comm, sizeof(r->comm), "%s", a->comm);
	snprintf(r->exe, sizeof(r->exe), "/usr/bin/%s", a->comm);
	snprintf(r->app, sizeof(r->app), "%s", a->app);
	snprintf(r->project, sizeof(r->project), "%s", a->project);
	/* sessions evenly over the day, calls 8 s apart, 0.4-6 s long */
	dur_ms = 400 + (int64_t)((run->n * 7919) % 5600);
	r->ts_start_ns = run->base_ns + span_ns / (int64_t)sessions * (int64_t)session +
			 (int64_t)(run->n % SESSION_CALLS) * 8000000000LL;
	if (run->recent_s)	/* all of it in the last recent_s seconds: llmobs top */
		r->ts_start_ns = run->base_ns + (int64_t)run->recent_s * 1000000000LL /
				 (int64_t)run->total * (int64_t)run->n;
	r->ts_end_ns = r->ts_start_ns + dur_ms * 1000000;
	r->latency_ms = dur_ms;
	if (r->stream)
		r->ttft_ms = dur_ms / 5;
	cost_price_record(run->prices, r);
	detect_record(r);	/* as llmobsd does, while the body is there */
	if (store_add(run->store, r))
		run->err = -EIO;
	run->n++;
}

static void feed(struct run *run, int dir, const char *data, size_t len)
{
	struct capture_event *ev = malloc(sizeof(*ev) + CAPTURE_CHUNK_BYTES);
	size_t off = 0;

	if (!ev)
		exit(1);
	do {
		size_t n = len - off < CAPTURE_CHUNK_BYTES ? len - off : CAPTURE_CHUNK_BYTES;

		memset(ev, 0, sizeof(*ev));
		ev->kind = CAPTURE_DATA;
		ev->dir = (__u8)dir;
		ev->tgid = ev->tid = 4242;
		ev->conn = 0xc0ffee;
		ev->ts_ns = run->ts;
		ev->call_len = (__u32)len;
		ev->offset = (__u32)off;
		ev->data_len = (__u32)n;
		ev->stream_pos = run->pos[dir] + off;
		memcpy(ev->data, data + off, n);
		conn_table_event(run->t, ev);
		off += n;
	} while (off < len);
	run->pos[dir] += len;
	free(ev);
}

struct buf {
	char *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			exit(1);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static __attribute__((format(printf, 2, 3)))
void puts_fmt(struct buf *b, const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	put(b, line, n > 0 && (size_t)n < sizeof(line) ? (size_t)n : 0);
}

static void headers(struct buf *b, const cJSON *line, const char *field)
{
	const cJSON *h;

	cJSON_ArrayForEach(h, cJSON_GetObjectItem(line, field))
		puts_fmt(b, "%s: %s\r\n", cJSON_GetArrayItem(h, 0)->valuestring,
			 cJSON_GetArrayItem(h, 1)->valuestring);
}

/* A support agent pasting a customer's ticket: an e-mail, a phone number
 * and, every third time, a card number (a test number, Luhn-valid). */
static void support_ticket(struct run *run)
{
	static const char resp_body[] = "{\"model\":\"gpt-4o-mini\",\"usage\":{\"prompt_tokens\""
					":180,\"completion_tokens\":60,\"total_tokens\":240}}";
	struct buf req = { 0 }, resp = { 0 };
	char body[512];
	int n;

	n = snprintf(body, sizeof(body), "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":"
		     "\"user\",\"content\":\"Ticket %lu from jane.doe%lu@example.com, call back "
		     "on +44 20 7946 %04lu.%s\"}]}", run->fed, run->fed, run->fed % 10000,
		     run->fed % 120 == 0 ? " Refund to card 4111 1111 1111 1111." : "");
	puts_fmt(&req, "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
		 "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", n, body);
	puts_fmt(&resp, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\n\r\n%s", sizeof(resp_body) - 1, resp_body);
	run->ts += 1000000;
	feed(run, CAPTURE_DIR_WRITE, req.p, req.len);
	run->ts += 1000000;
	feed(run, CAPTURE_DIR_READ, resp.p, resp.len);
	free(req.p);
	free(resp.p);
}

static void one(const cJSON *line, void *ctx)
{
	struct run *run = ctx;
	struct buf req = { 0 }, resp = { 0 };
	size_t qlen = 0, rlen = 0;
	unsigned char *q = corpus_b64(line, "req_body_b64", &qlen);
	unsigned char *r = corpus_b64(line, "resp_body_b64", &rlen);

	puts_fmt(&req, "%s %s HTTP/1.1\r\n", corpus_str(line, "method"), corpus_str(line, "path"));
	puts_fmt(&req, "Host: %s\r\n", corpus_str(line, "host"));
	headers(&req, line, "req_headers");
	puts_fmt(&req, "Content-Length: %zu\r\n\r\n", qlen);
	put(&req, q ? (char *)q : "", qlen);
	puts_fmt(&resp, "HTTP/1.1 %d X\r\n", cJSON_GetObjectItem(line, "status")->valueint);
	headers(&resp, line, "resp_headers");
	puts_fmt(&resp, "Content-Length: %zu\r\n\r\n", rlen);
	put(&resp, r ? (char *)r : "", rlen);
	run->ts += 1000000;
	feed(run, CAPTURE_DIR_WRITE, req.p, req.len);
	run->ts += 1000000;
	feed(run, CAPTURE_DIR_READ, resp.p, resp.len);
	free(req.p);
	free(resp.p);
	/* The corpus holds no personal data; a support agent's prompts do. */
	if (++run->fed % 40 == 0)
		support_ticket(run);
	free(q);
	free(r);
}

int main(int argc, char **argv)
{
	struct run run = { 0 };
	struct conn_table_opts o = { 0 };
	struct timespec now;
	int loops = argc > 3 ? atoi(argv[3]) : 2, n = 0, i;

	if (argc < 3) {
		fprintf(stderr, "usage: corpus_db CORPUS.jsonl OUT.db [LOOPS [RECENT_S]]\n");
		return 2;
	}
	setenv("CORPUS", argv[1], 1);
	if (price_table_load_default(&run.prices) || store_open(argv[2], false, &run.store)) {
		fprintf(stderr, "corpus_db: cannot load prices or open %s\n", argv[2]);
		return 1;
	}
	run.t = conn_table_new(&o, on_record, &run);
	if (!run.t)
		return 1;
	clock_gettime(CLOCK_REALTIME, &now);
	run.recent_s = argc > 4 ? atol(argv[4]) : 0;
	run.base_ns = ((int64_t)now.tv_sec - (run.recent_s ? run.recent_s : 23 * 3600 + 600)) *
		      1000000000LL;
	run.ts = 1000000000ULL;
	run.total = 463UL * (unsigned long)loops * 41 / 40;
	for (i = 0; i < loops && n >= 0; i++)
		n = corpus_foreach(one, &run);
	conn_table_free(run.t);
	store_put_counters(run.store, stats_names, stats, STAT__MAX);
	store_close(run.store);
	price_table_free(run.prices);
	if (n < 0 || run.err) {
		fprintf(stderr, "corpus_db: corpus %s: %s\n", argv[1], strerror(n < 0 ? -n : EIO));
		return 1;
	}
	printf("corpus_db: %lu records in %s\n", run.n, argv[2]);
	return 0;
}
