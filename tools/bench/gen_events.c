/* Synthetic capture files for `llmobsd --replay` (user/1-capture/capture_file.h):
 * OpenAI chat completions as the BPF side would deliver them, so that the
 * daemon's throughput and memory are measured without live traffic.
 *
 *   gen_events --out FILE [--prompt-bytes N] [--exchanges N] [--per-conn N]
 *              [--conns N] [--stream] [--sse-events N] [--vary-top]
 *              [--open-conns N | --half-streams N]
 *
 * Wire shapes follow tests/unit/test_conn.c and what SDKs send: the request
 * head and body are two SSL_write calls (a call over 16 KiB comes as 16 KiB
 * chunk events, as from bpf/tls_capture.bpf.c), a JSON response is one
 * SSL_read, a stream is chunked with one SSE event per chunk and per read,
 * ending with the include_usage chunk and [DONE]. --conns connections are
 * open at once and take turns, --per-conn exchanges each (keep-alive), then
 * are closed, so the file can be replayed in loops.
 *
 * --vary-top puts "Current time: <ISO-8601 timestamp>" at the top of the
 * system prompt, one second later on every call: the prompt-cache
 * analysis then sees each prompt change near its top (the costly case: no
 * resume from the last call, every segment lexed and hashed) instead of a
 * repeat. The timestamp has a fixed width, so every body is as long.
 *
 * Memory shapes: --open-conns N leaves N connections with a request head
 * and half its body sent; --half-streams N leaves N streams with their
 * request, response head and a few events. Neither closes anything. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "capture_file.h"

#define TGID		424242	/* no such process: exe stays unknown */
#define CONN_BASE	0x5a5a00000000ULL

struct gen {
	struct capture_file_writer *w;
	struct capture_event *ev;	/* one chunk's scratch */
	__u64 ts_ns;
	int err;
};

struct gconn {
	__u64 id;
	__u64 pos[2];
};

static const char filler[] =
	"The quick brown fox jumps over the lazy dog while the committee reviews "
	"quarterly numbers, asks for a summary of every open ticket, and wants the "
	"answer in three short bullet points with sources. ";

/* One TLS call: chunk events of at most CAPTURE_CHUNK_BYTES. */
static void emit_call(struct gen *g, struct gconn *c, int dir, const char *data, size_t len)
{
	for (size_t off = 0; off < len && !g->err; off += CAPTURE_CHUNK_BYTES) {
		size_t n = len - off < CAPTURE_CHUNK_BYTES ? len - off : CAPTURE_CHUNK_BYTES;
		struct capture_event *ev = g->ev;

		memset(ev, 0, sizeof(*ev));
		ev->kind = CAPTURE_DATA;
		ev->dir = (__u8)dir;
		ev->source = CAPTURE_SOURCE_UPROBE;
		ev->tgid = TGID;
		ev->tid = TGID;
		ev->conn = c->id;
		ev->ts_ns = g->ts_ns;
		ev->stream_pos = c->pos[dir] + off;
		ev->call_len = (__u32)len;
		ev->offset = (__u32)off;
		ev->data_len = (__u32)n;
		memcpy(ev->comm, "python3", 8);
		memcpy(ev->data, data + off, n);
		g->err = capture_file_write(g->w, ev);
	}
	c->pos[dir] += len;
	g->ts_ns += 50000;	/* 50 us between calls */
}

static void emit_close(struct gen *g, struct gconn *c)
{
	struct capture_event *ev = g->ev;

	if (g->err)
		return;
	memset(ev, 0, sizeof(*ev));
	ev->kind = CAPTURE_CLOSE;
	ev->tgid = TGID;
	ev->tid = TGID;
	ev->conn = c->id;
	ev->ts_ns = g->ts_ns;
	memcpy(ev->comm, "python3", 8);
	g->err = capture_file_write(g->w, ev);
}

struct msgs {
	char *head, *body, *resp;
	size_t head_len, body_len, resp_len;
	char **events;		/* stream: one chunk-framed SSE event each */
	size_t *event_lens;
	int nevents;
	char *resp_head;	/* stream: head with Transfer-Encoding: chunked */
	size_t resp_head_len;
};

static char *xprintf(size_t *len, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static char *xprintf(size_t *len, const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0) {
		perror("gen_events");
		exit(1);
	}
	*len = (size_t)n;
	return p;
}

/* A chat completions request whose body is about prompt_bytes long, the
 * headers of the OpenAI Python SDK, and the response. */
#define TOP_STAMP	"2026-12-07T10:00:00Z"

static void build(struct msgs *m, size_t prompt_bytes, int stream, int nevents, int vary_top)
{
	static const char resp_headers[] =
		"date: Tue, 01 Jul 2025 10:00:00 GMT\r\n"
		"connection: keep-alive\r\n"
		"access-control-expose-headers: X-Request-ID\r\n"
		"openai-organization: user-bench\r\nopenai-processing-ms: 412\r\n"
		"openai-version: 2020-10-01\r\n"
		"strict-transport-security: max-age=31536000; includeSubDomains; preload\r\n"
		"x-ratelimit-limit-requests: 10000\r\nx-ratelimit-limit-tokens: 30000000\r\n"
		"x-ratelimit-remaining-requests: 9999\r\nx-ratelimit-remaining-tokens: 29999000\r\n"
		"x-ratelimit-reset-requests: 6ms\r\nx-ratelimit-reset-tokens: 2ms\r\n"
		"x-request-id: req_0123456789abcdef0123456789abcdef\r\n"
		"cf-cache-status: DYNAMIC\r\nserver: cloudflare\r\n"
		"cf-ray: 8f0123456789abcd-FRA\r\nalt-svc: h3=\":443\"; ma=86400\r\n";
	size_t fixed, n, content_len;
	char *content;

	/* The body around the user content is ~200 bytes. */
	fixed = vary_top ? 236 : 200;
	content_len = prompt_bytes > fixed ? prompt_bytes - fixed : 16;
	content = malloc(content_len + 1);
	for (size_t i = 0; i < content_len; i++)
		content[i] = filler[i % (sizeof(filler) - 1)];
	content[content_len] = '\0';
	m->body = xprintf(&m->body_len,
			  "{\"messages\":[{\"role\":\"system\",\"content\":\"%sYou are a helpful "
			  "assistant.\"},{\"role\":\"user\",\"content\":\"%s\"}],"
			  "\"model\":\"gpt-4o-mini\",\"max_tokens\":400%s}",
			  vary_top ? "Current time: " TOP_STAMP ". " : "", content, stream ? ",\"stream\":true,\"stream_options\":"
					    "{\"include_usage\":true}" : "");
	free(content);
	m->head = xprintf(&m->head_len,
			  "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
			  "Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n"
			  "Accept: application/json\r\nContent-Type: application/json\r\n"
			  "User-Agent: OpenAI/Python 1.54.4\r\nX-Stainless-Lang: python\r\n"
			  "X-Stainless-Package-Version: 1.54.4\r\nX-Stainless-OS: Linux\r\n"
			  "X-Stainless-Arch: x64\r\nX-Stainless-Runtime: CPython\r\n"
			  "X-Stainless-Runtime-Version: 3.11.2\r\n"
			  "Authorization: Bearer sk-proj-benchbenchbenchbenchbenchbench\r\n"
			  "X-Stainless-Async: false\r\nx-stainless-retry-count: 0\r\n"
			  "Content-Length: %zu\r\n\r\n", m->body_len);
	if (!stream) {
		size_t blen;
		char *body = xprintf(&blen,
			"{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\","
			"\"created\":1751364000,\"model\":\"gpt-4o-mini-2024-07-18\","
			"\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
			"\"content\":\"%.400s\",\"refusal\":null},\"logprobs\":null,"
			"\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":%zu,"
			"\"completion_tokens\":96,\"total_tokens\":%zu,\"prompt_tokens_details\":"
			"{\"cached_tokens\":0,\"audio_tokens\":0},\"completion_tokens_details\":"
			"{\"reasoning_tokens\":0,\"audio_tokens\":0,\"accepted_prediction_tokens\":0,"
			"\"rejected_prediction_tokens\":0}},\"system_fingerprint\":\"fp_bench\"}",
			filler, prompt_bytes / 4, prompt_bytes / 4 + 96);

		m->resp = xprintf(&m->resp_len,
				  "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
				  "content-length: %zu\r\n%s\r\n%s", blen, resp_headers, body);
		free(body);
		return;
	}
	m->resp_head = xprintf(&m->resp_head_len,
			       "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
			       "transfer-encoding: chunked\r\n%s\r\n", resp_headers);
	m->nevents = nevents + 3;	/* role, tokens, usage, [DONE] + terminator */
	m->events = calloc(m->nevents + 1, sizeof(*m->events));
	m->event_lens = calloc(m->nevents + 1, sizeof(*m->event_lens));
	for (int i = 0; i < m->nevents; i++) {
		char data[512];
		size_t dlen;

		if (i == 0)
			snprintf(data, sizeof(data), "data: {\"id\":\"chatcmpl-bench\",\"object\":"
				 "\"chat.completion.chunk\",\"created\":1751364000,\"model\":"
				 "\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_bench\","
				 "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
				 "\"content\":\"\",\"refusal\":null},\"logprobs\":null,"
				 "\"finish_reason\":null}],\"usage\":null}\n\n");
		else if (i < m->nevents - 2)
			snprintf(data, sizeof(data), "data: {\"id\":\"chatcmpl-bench\",\"object\":"
				 "\"chat.completion.chunk\",\"created\":1751364000,\"model\":"
				 "\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_bench\","
				 "\"choices\":[{\"index\":0,\"delta\":{\"content\":\" word%d\"},"
				 "\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n", i);
		else if (i == m->nevents - 2)
			snprintf(data, sizeof(data), "data: {\"id\":\"chatcmpl-bench\",\"object\":"
				 "\"chat.completion.chunk\",\"created\":1751364000,\"model\":"
				 "\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_bench\","
				 "\"choices\":[],\"usage\":{\"prompt_tokens\":%zu,"
				 "\"completion_tokens\":%d,\"total_tokens\":%zu,"
				 "\"prompt_tokens_details\":{\"cached_tokens\":0},"
				 "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}\n\n",
				 prompt_bytes / 4, nevents, prompt_bytes / 4 + nevents);
		else
			snprintf(data, sizeof(data), "data: [DONE]\n\n");
		dlen = strlen(data);
		m->events[i] = xprintf(&n, "%zx\r\n%s\r\n", dlen, data);
		m->event_lens[i] = n;
	}
	m->events[m->nevents] = xprintf(&m->event_lens[m->nevents], "0\r\n\r\n");
}

static void send_request(struct gen *g, struct gconn *c, const struct msgs *m, size_t body)
{
	emit_call(g, c, CAPTURE_DIR_WRITE, m->head, m->head_len);
	if (body)
		emit_call(g, c, CAPTURE_DIR_WRITE, m->body, body);
}

/* The response in the reads a client makes; upto events of a stream. */
static void send_response(struct gen *g, struct gconn *c, const struct msgs *m, int upto)
{
	if (!m->events) {
		emit_call(g, c, CAPTURE_DIR_READ, m->resp, m->resp_len);
		return;
	}
	emit_call(g, c, CAPTURE_DIR_READ, m->resp_head, m->resp_head_len);
	for (int i = 0; i <= m->nevents && i < upto; i++)
		emit_call(g, c, CAPTURE_DIR_READ, m->events[i], m->event_lens[i]);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "prompt-bytes", required_argument, NULL, 'p' },
		{ "exchanges", required_argument, NULL, 'n' },
		{ "per-conn", required_argument, NULL, 'k' },
		{ "conns", required_argument, NULL, 'c' },
		{ "stream", no_argument, NULL, 's' },
		{ "sse-events", required_argument, NULL, 'e' },
		{ "open-conns", required_argument, NULL, 'O' },
		{ "half-streams", required_argument, NULL, 'H' },
		{ "vary-top", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL;
	long prompt = 10240, exchanges = 1000, per_conn = 10, conns = 8, events = 100;
	long open_conns = 0, half_streams = 0;
	int stream = 0, vary_top = 0, opt, err;
	char *stamp = NULL;
	struct gen g = { .ts_ns = 1000000000ULL };
	struct gconn *cs;
	struct msgs m = {};

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'o': out = optarg; break;
		case 'p': prompt = strtol(optarg, NULL, 10); break;
		case 'n': exchanges = strtol(optarg, NULL, 10); break;
		case 'k': per_conn = strtol(optarg, NULL, 10); break;
		case 'c': conns = strtol(optarg, NULL, 10); break;
		case 's': stream = 1; break;
		case 'e': events = strtol(optarg, NULL, 10); break;
		case 'O': open_conns = strtol(optarg, NULL, 10); break;
		case 'H': half_streams = strtol(optarg, NULL, 10); stream = 1; break;
		case 'V': vary_top = 1; break;
		default: out = NULL; prompt = -1; break;
		}
	}
	if (!out || prompt < 0 || exchanges < 1 || per_conn < 1 || conns < 1 || events < 1 ||
	    open_conns < 0 || half_streams < 0 || optind < argc) {
		fprintf(stderr, "usage: gen_events --out FILE [--prompt-bytes N] [--exchanges N] "
				"[--per-conn N] [--conns N] [--stream] [--sse-events N] [--vary-top] "
				"[--open-conns N | --half-streams N]\n");
		return 2;
	}
	unlink(out);	/* a fresh file, not an append */
	err = capture_file_create(out, &g.w);
	g.ev = malloc(sizeof(*g.ev) + CAPTURE_CHUNK_BYTES);
	if (err || !g.ev) {
		fprintf(stderr, "gen_events: %s: %s\n", out, strerror(err ? -err : ENOMEM));
		return 1;
	}
	build(&m, (size_t)prompt, stream, (int)events, vary_top);
	if (vary_top)
		stamp = strstr(m.body, TOP_STAMP);

	if (open_conns || half_streams) {
		long n = open_conns ? open_conns : half_streams;

		cs = calloc(n, sizeof(*cs));
		for (long i = 0; i < n; i++) {
			cs[i].id = CONN_BASE + (__u64)i * 0x1000;
			send_request(&g, &cs[i], &m, open_conns ? m.body_len / 2 : m.body_len);
			if (half_streams)
				send_response(&g, &cs[i], &m, 5);
		}
	} else {
		long done = 0, next_id = 0, turn = 0;

		cs = calloc(conns, sizeof(*cs));
		for (long i = 0; i < conns; i++)
			cs[i].id = CONN_BASE + (__u64)next_id++ * 0x1000;
		/* Connections take turns, one exchange each; every per_conn
		 * exchanges one closes and a new one takes its place. */
		while (done < exchanges && !g.err) {
			struct gconn *c = &cs[turn % conns];

			if (stamp) {	/* same width: 10:00:00 plus one second a call */
				long t = 36000 + done % 50000;
				char ts[sizeof(TOP_STAMP)];

				snprintf(ts, sizeof(ts), "2026-12-07T%02ld:%02ld:%02ldZ", t / 3600,
					 t / 60 % 60, t % 60);
				memcpy(stamp, ts, sizeof(TOP_STAMP) - 1);
			}
			send_request(&g, c, &m, m.body_len);
			send_response(&g, c, &m, m.nevents + 1);
			done++;
			turn++;
			if ((c->pos[0] / (m.head_len + m.body_len)) >= (__u64)per_conn ||
			    done == exchanges) {
				emit_close(&g, c);
				memset(c, 0, sizeof(*c));
				c->id = CONN_BASE + (__u64)next_id++ * 0x1000;
			}
		}
		/* The others, still open, close too: the file replays in loops. */
		for (long i = 0; i < conns; i++)
			if (cs[i].pos[0])
				emit_close(&g, &cs[i]);
	}
	err = g.err ? g.err : capture_file_close(g.w);
	if (err) {
		fprintf(stderr, "gen_events: %s: %s\n", out, strerror(-err));
		return 1;
	}
	printf("gen_events: %s: request %zu + %zu bytes, response %s\n", out, m.head_len,
	       m.body_len, stream ? "stream" : "json");
	return 0;
}
