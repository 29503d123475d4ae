/* http1: heads parsed whole and resumed at every byte boundary, framing
 * rules, chunked decoding at every split. Inputs are copied into buffers of
 * their exact size so ASan catches any read past the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>

#include "corpus_util.h"
#include "http1.h"

#define WHOLE	0	/* expected head length: the whole input */

struct head_case {
	const char *name;
	const char *in;
	size_t len;		/* 0: strlen(in) */
	int ret;		/* WHOLE, a length, HTTP1_PARTIAL or HTTP1_ERROR */
	const char *method;	/* requests */
	const char *path;
	int status;		/* responses */
	const char *reason;
	int minor;
	size_t num_headers;
	const char *h_name;	/* last header */
	const char *h_value;
};

static const struct head_case request_cases[] = {
	{ "minimal", "GET / HTTP/1.1\r\n\r\n", 0, WHOLE, "GET", "/", 0, NULL, 1, 0, NULL, NULL },
	{ "openai post",
	  "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
	  "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n",
	  0, WHOLE, "POST", "/v1/chat/completions", 0, NULL, 1, 3, "Content-Length", "2" },
	{ "bare LF", "GET /x HTTP/1.0\nHost: a\n\n", 0, WHOLE, "GET", "/x", 0, NULL, 0, 1, "Host", "a" },
	{ "leading empty line", "\r\nGET /q?a=b HTTP/1.1\r\n\r\n", 0, WHOLE, "GET", "/q?a=b", 0, NULL, 1, 0, NULL, NULL },
	{ "value blanks trimmed", "GET / HTTP/1.1\r\nX-A:   spaced value \t \r\n\r\n",
	  0, WHOLE, "GET", "/", 0, NULL, 1, 1, "X-A", "spaced value" },
	{ "empty value", "GET / HTTP/1.1\r\nX-E:\r\n\r\n", 0, WHOLE, "GET", "/", 0, NULL, 1, 1, "X-E", "" },
	{ "obs-text value", "GET / HTTP/1.1\r\nX-U: caf\xc3\xa9\r\n\r\n",
	  0, WHOLE, "GET", "/", 0, NULL, 1, 1, "X-U", "caf\xc3\xa9" },
	{ "tab inside value", "GET / HTTP/1.1\r\nX-T: a\tb\r\n\r\n", 0, WHOLE, "GET", "/", 0, NULL, 1, 1, "X-T", "a\tb" },
	{ "body follows", "POST /v1/messages HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
	  0, 49, "POST", "/v1/messages", 0, NULL, 1, 1, "Content-Length", "5" },
	{ "absolute form", "POST http://localhost:11434/api/chat HTTP/1.1\r\n\r\n",
	  0, WHOLE, "POST", "http://localhost:11434/api/chat", 0, NULL, 1, 0, NULL, NULL },
	{ "incomplete", "GET / HTTP/1.1\r\nX-A: b\r\n\r", 0, HTTP1_PARTIAL, NULL, NULL, 0, NULL, 0, 0, NULL, NULL },
	{ "double space", "GET  / HTTP/1.1\r\n\r\n", 0, HTTP1_ERROR, NULL, NULL, 0, NULL, 0, 0, NULL, NULL },
	{ "http/2 version", "GET / HTTP/2.0\r\n\r\n", 0, HTTP1_ERROR, NULL, NULL, 0, NULL, 0, 0, NULL, NULL },
	{ "h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0, HTTP1_ERROR, NULL, NULL, 0, NULL, 0, 0, NULL, NULL },
	{ "space before colon", "GET / HTTP/1.1\r\nX-A : b\r\n\r\n", 0, HTTP1_ERROR, NULL, NULL, 0, NULL, 0, 0, NULL, NULL },
	{ "obs-fold", "GET / HTTP/1.1\r\nX-A: b\r\n folded\r\n\r\n", 0, HTTP1_ERROR, NULL, NULL, 0, NULL, 0, 0, NULL, NULL },
	{ "ctl in value", "GET / HTTP/1.1\r\nX-A: b\x01" "c\r\n\r\n", 0, HTTP1_ERROR, NULL, NULL, 0, NULL, 0, 0, NULL, NULL },
	{ "bare CR", "GET / HTTP/1.1\rX\r\n\r\n", 0, HTTP1_ERROR, NULL, NULL, 0, NULL, 0, 0, NULL, NULL },
	{ "NUL in method", "G\0T / HTTP/1.1\r\n\r\n", 18, HTTP1_ERROR, NULL, NULL, 0, NULL, 0, 0, NULL, NULL },
	{ "DEL in path", "GET /a\x7f HTTP/1.1\r\n\r\n", 0, HTTP1_ERROR, NULL, NULL, 0, NULL, 0, 0, NULL, NULL },
	{ "TLS record", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 0, HTTP1_ERROR, NULL, NULL, 0, NULL, 0, 0, NULL, NULL },
	{ "no header name", "GET / HTTP/1.1\r\n: v\r\n\r\n", 0, HTTP1_ERROR, NULL, NULL, 0, NULL, 0, 0, NULL, NULL },
	{ "no method", " / HTTP/1.1\r\n\r\n", 0, HTTP1_ERROR, NULL, NULL, 0, NULL, 0, 0, NULL, NULL },
	{ "junk after version", "GET / HTTP/1.1x\r\n\r\n", 0, HTTP1_ERROR, NULL, NULL, 0, NULL, 0, 0, NULL, NULL },
	{ "lowercase proto", "GET / http/1.1\r\n\r\n", 0, HTTP1_ERROR, NULL, NULL, 0, NULL, 0, 0, NULL, NULL },
	{ "json as request", "{\"model\":\"gpt-4o\"}\r\n\r\n", 0, HTTP1_ERROR, NULL, NULL, 0, NULL, 0, 0, NULL, NULL },
};

static const struct head_case response_cases[] = {
	{ "sse head",
	  "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
	  0, WHOLE, NULL, NULL, 200, "OK", 1, 2, "Transfer-Encoding", "chunked" },
	{ "1.0 not found", "HTTP/1.0 404 Not Found\r\n\r\n", 0, WHOLE, NULL, NULL, 404, "Not Found", 0, 0, NULL, NULL },
	{ "no reason", "HTTP/1.1 204\r\n\r\n", 0, WHOLE, NULL, NULL, 204, "", 1, 0, NULL, NULL },
	{ "empty reason", "HTTP/1.1 200 \r\n\r\n", 0, WHOLE, NULL, NULL, 200, "", 1, 0, NULL, NULL },
	{ "bare LF", "HTTP/1.1 500 Internal Server Error\nX: y\n\n", 0, WHOLE, NULL, NULL, 500,
	  "Internal Server Error", 1, 1, "X", "y" },
	{ "body follows", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", 0, 38, NULL, NULL, 200, "OK", 1, 1,
	  "Content-Length", "2" },
	{ "obs-text reason", "HTTP/1.1 200 D\xc3\xa9j\xc3\xa0\r\n\r\n", 0, WHOLE, NULL, NULL, 200,
	  "D\xc3\xa9j\xc3\xa0", 1, 0, NULL, NULL },
	{ "stray CRLF before", "\r\nHTTP/1.1 100 Continue\r\n\r\n", 0, WHOLE, NULL, NULL, 100, "Continue", 1, 0, NULL, NULL },
	{ "incomplete", "HTTP/1.1 200 OK\r\nA: b", 0, HTTP1_PARTIAL, NULL, NULL, 0, NULL, 0, 0, NULL, NULL },
	{ "two digit status", "HTTP/1.1 20 OK\r\n\r\n", 0, HTTP1_ERROR, NULL, NULL, 0, NULL, 0, 0, NULL, NULL },
	{ "four digit status", "HTTP/1.1 2000 OK\r\n\r\n", 0, HTTP1_ERROR, NULL, NULL, 0, NULL, 0, 0, NULL, NULL },
	{ "status glued", "HTTP/1.1 200OK\r\n\r\n", 0, HTTP1_ERROR, NULL, NULL, 0, NULL, 0, 0, NULL, NULL },
	{ "status below 100", "HTTP/1.1 099 X\r\n\r\n", 0, HTTP1_ERROR, NULL, NULL, 0, NULL, 0, 0, NULL, NULL },
	{ "ctl in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", 0, HTTP1_ERROR, NULL, NULL, 0, NULL, 0, 0, NULL, NULL },
	{ "lowercase proto", "http/1.1 200 OK\r\n\r\n", 0, HTTP1_ERROR, NULL, NULL, 0, NULL, 0, 0, NULL, NULL },
	{ "double space", "HTTP/1.1  200 OK\r\n\r\n", 0, HTTP1_ERROR, NULL, NULL, 0, NULL, 0, 0, NULL, NULL },
	{ "h2 settings frame", "\x00\x00\x12\x04\x00\x00\x00\x00\x00", 9, HTTP1_ERROR, NULL, NULL, 0, NULL, 0, 0, NULL, NULL },
	{ "request as response", "GET / HTTP/1.1\r\n\r\n", 0, HTTP1_ERROR, NULL, NULL, 0, NULL, 0, 0, NULL, NULL },
};

typedef int (*parse_fn)(const char *, size_t, struct http1_message *, size_t);

static char *exact_copy(const char *s, size_t len)
{
	char *b = malloc(len ? len : 1);

	assert_non_null(b);
	memcpy(b, s, len);
	return b;
}

static int parse_copy(parse_fn fn, const char *s, size_t len,
		      struct http1_message *msg, size_t last_len, char **keep)
{
	char *b = exact_copy(s, len);
	int r = fn(b, len, msg, last_len);

	if (keep)
		*keep = b;
	else
		free(b);
	return r;
}

static void check_streq(const char *what, const char *case_name, const char *p,
			size_t len, const char *want)
{
	if (strlen(want) != len || memcmp(p, want, len) != 0)
		fail_msg("%s: %s is '%.*s', want '%s'", case_name, what, (int)len, p, want);
}

/* buf must still be alive: the message points into it. */
static void check_msg(const struct head_case *c, const struct http1_message *m,
		      int is_request)
{
	if (is_request) {
		check_streq("method", c->name, m->method, m->method_len, c->method);
		check_streq("path", c->name, m->path, m->path_len, c->path);
	} else {
		assert_int_equal(m->status, c->status);
		check_streq("reason", c->name, m->reason, m->reason_len, c->reason);
	}
	assert_int_equal(m->minor_version, c->minor);
	assert_int_equal(m->num_headers, c->num_headers);
	if (c->h_name) {
		const struct http1_header *h = &m->headers[m->num_headers - 1];

		check_streq("header name", c->name, h->name, h->name_len, c->h_name);
		check_streq("header value", c->name, h->value, h->value_len, c->h_value);
	}
}

static void run_head_cases(const struct head_case *cases, size_t n, parse_fn fn,
			   int is_request)
{
	struct http1_message m;
	size_t i, k;

	for (i = 0; i < n; i++) {
		const struct head_case *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->in);
		int want = c->ret == WHOLE ? (int)len : c->ret;
		int r, saw_error = 0;
		char *b;

		r = parse_copy(fn, c->in, len, &m, 0, &b);
		if (r != want)
			fail_msg("%s: whole parse gave %d, want %d", c->name, r, want);
		if (r > 0)
			check_msg(c, &m, is_request);
		free(b);

		/* Every prefix: a shorter head is never complete, and once a
		 * prefix is wrong every longer one stays wrong. */
		for (k = 0; k < len; k++) {
			r = parse_copy(fn, c->in, k, &m, 0, NULL);
			if (want > 0 && (size_t)want > k && r != HTTP1_PARTIAL)
				fail_msg("%s: prefix %zu gave %d", c->name, k, r);
			if (saw_error && r != HTTP1_ERROR)
				fail_msg("%s: prefix %zu recovered from error", c->name, k);
			saw_error |= r == HTTP1_ERROR;
			/* resume: k bytes seen before, now the whole input;
			 * an earlier call only saw a partial head */
			if (want > 0 && (size_t)want <= k)
				continue;
			r = parse_copy(fn, c->in, len, &m, k, &b);
			if (want != HTTP1_ERROR && r != want)
				fail_msg("%s: resumed after %zu gave %d, want %d", c->name, k, r, want);
			if (want == HTTP1_ERROR && r > 0)
				fail_msg("%s: resumed after %zu accepted bad input", c->name, k);
			if (r > 0)
				check_msg(c, &m, is_request);
			free(b);
		}
	}
}

static void test_requests(void **state)
{
	run_head_cases(request_cases, sizeof(request_cases) / sizeof(request_cases[0]),
		       http1_parse_request, 1);
}

static void test_responses(void **state)
{
	run_head_cases(response_cases, sizeof(response_cases) / sizeof(response_cases[0]),
		       http1_parse_response, 0);
}

static void test_pipelined(void **state)
{
	static const char in[] =
		"POST /v1/messages HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
		"GET /v1/models HTTP/1.1\r\nHost: a\r\n\r\n"
		"POST /v1/responses HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		"0\r\n\r\n";
	static const char *const paths[] = { "/v1/messages", "/v1/models", "/v1/responses" };
	char *b = exact_copy(in, sizeof(in) - 1);
	size_t off = 0, i;

	for (i = 0; i < 3; i++) {
		struct http1_message m;
		uint64_t cl = 0;
		int r = http1_parse_request(b + off, sizeof(in) - 1 - off, &m, 0);

		assert_true(r > 0);
		check_streq("path", "pipelined", m.path, m.path_len, paths[i]);
		off += (size_t)r;
		switch (http1_body_framing(&m, NULL, 0, &cl)) {
		case HTTP1_BODY_LENGTH:
			off += cl;
			break;
		case HTTP1_BODY_NONE:
			break;
		case HTTP1_BODY_CHUNKED: {
			struct http1_chunked_decoder d = { 0 };
			size_t sz = sizeof(in) - 1 - off;

			assert_int_equal(http1_decode_chunked(&d, b + off, &sz), 0);
			assert_int_equal(sz, 0);
			off = sizeof(in) - 1;
			break;
		}
		default:
			fail_msg("unexpected framing for request %zu", i);
		}
	}
	assert_int_equal(off, sizeof(in) - 1);
	free(b);
}

/* Heads built to size: n headers, or one header value of value_len. */
static char *build_head(size_t n_headers, size_t value_len, size_t *len)
{
	size_t cap = 64 + n_headers * 32 + value_len, i;
	char *b = malloc(cap);
	int o;

	assert_non_null(b);
	o = snprintf(b, cap, "GET / HTTP/1.1\r\n");
	for (i = 0; i < n_headers; i++)
		o += snprintf(b + o, cap - (size_t)o, "X-H%zu: v\r\n", i);
	if (value_len) {
		o += snprintf(b + o, cap - (size_t)o, "X-Big: ");
		memset(b + o, 'a', value_len);
		o += (int)value_len;
		o += snprintf(b + o, cap - (size_t)o, "\r\n");
	}
	o += snprintf(b + o, cap - (size_t)o, "\r\n");
	*len = (size_t)o;
	return b;
}

static void test_limits(void **state)
{
	struct http1_message m;
	size_t len;
	char *b;

	b = build_head(HTTP1_MAX_HEADERS, 0, &len);
	assert_int_equal(http1_parse_request(b, len, &m, 0), (int)len);
	assert_int_equal(m.num_headers, HTTP1_MAX_HEADERS);
	free(b);

	b = build_head(HTTP1_MAX_HEADERS + 1, 0, &len);
	assert_int_equal(http1_parse_request(b, len, &m, 0), HTTP1_ERROR);
	free(b);

	b = build_head(0, HTTP1_MAX_HEAD_BYTES - 100, &len);
	assert_true(len < HTTP1_MAX_HEAD_BYTES);
	assert_int_equal(http1_parse_request(b, len, &m, 0), (int)len);
	free(b);

	/* over the limit: an error whole, and already once the limit is
	 * buffered without an end in sight, resumed or not */
	b = build_head(0, HTTP1_MAX_HEAD_BYTES, &len);
	assert_int_equal(http1_parse_request(b, len, &m, 0), HTTP1_ERROR);
	assert_int_equal(http1_parse_request(b, HTTP1_MAX_HEAD_BYTES, &m, 0), HTTP1_ERROR);
	assert_int_equal(http1_parse_request(b, HTTP1_MAX_HEAD_BYTES - 1, &m, 0), HTTP1_PARTIAL);
	assert_int_equal(http1_parse_request(b, HTTP1_MAX_HEAD_BYTES, &m,
					     HTTP1_MAX_HEAD_BYTES - 1), HTTP1_ERROR);
	free(b);
}

/* xorshift: reproducible pseudo-random bytes */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void test_garbage(void **state)
{
	static const char good[] =
		"POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
		"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n";
	const size_t big = 1 << 20;
	struct http1_message m;
	char *b = malloc(big);
	size_t i, j;
	int r;

	assert_non_null(b);
	for (i = 0; i < big; i++)
		b[i] = (char)rng();
	b[0] = '\x17';	/* a TLS application-data record */
	assert_int_equal(http1_parse_request(b, big, &m, 0), HTTP1_ERROR);
	assert_int_equal(http1_parse_response(b, big, &m, 0), HTTP1_ERROR);
	/* a good request line followed by binary */
	memcpy(b, good, 36);
	assert_int_equal(http1_parse_request(b, big, &m, 0), HTTP1_ERROR);
	free(b);

	/* mutated heads: any result is fine but a crash, an over-read or a
	 * header pointing outside the input */
	for (i = 0; i < 20000; i++) {
		size_t len = sizeof(good) - 1;
		char *c = exact_copy(good, len);

		for (j = 0; j < 1 + rng() % 4; j++)
			c[rng() % len] = (char)rng();
		len -= rng() % 8;
		r = (i & 1 ? http1_parse_response : http1_parse_request)(c, len, &m, 0);
		assert_true(r == HTTP1_ERROR || r == HTTP1_PARTIAL || (r > 0 && (size_t)r <= len));
		for (j = 0; r > 0 && j < m.num_headers; j++) {
			assert_true(m.headers[j].name >= c &&
				    m.headers[j].name + m.headers[j].name_len <= c + r);
			assert_true(m.headers[j].value >= c &&
				    m.headers[j].value + m.headers[j].value_len <= c + r);
		}
		free(c);
	}
}

static void test_find_header(void **state)
{
	static const char in[] =
		"HTTP/1.1 101 Switching Protocols\r\nConnection: keep-alive, Upgrade\r\n"
		"te: trailers;q=1 , gzip\r\nX-Empty:\r\n\r\n";
	struct http1_message m;
	const struct http1_header *h;

	assert_true(http1_parse_response(in, sizeof(in) - 1, &m, 0) > 0);
	h = http1_find_header(&m, "CONNECTION");
	assert_non_null(h);
	assert_true(http1_header_has_token(h, "upgrade"));
	assert_true(http1_header_has_token(h, "Keep-Alive"));
	assert_false(http1_header_has_token(h, "keep"));
	assert_false(http1_header_has_token(h, "close"));
	h = http1_find_header(&m, "TE");
	assert_true(http1_header_has_token(h, "trailers"));
	assert_true(http1_header_has_token(h, "gzip"));
	assert_false(http1_header_has_token(h, "q=1"));
	h = http1_find_header(&m, "x-empty");
	assert_non_null(h);
	assert_false(http1_header_has_token(h, ""));
	assert_null(http1_find_header(&m, "content-length"));
	assert_null(http1_find_header(&m, "connectio"));
	assert_false(http1_header_has_token(NULL, "close"));
}

struct framing_case {
	const char *name;
	const char *head;	/* request when method is NULL */
	const char *method;	/* the request a response answers */
	int want;
	uint64_t length;
};

#define RQ "POST / HTTP/1.1\r\n"
#define RS "HTTP/1.1 200 OK\r\n"

static const struct framing_case framing_cases[] = {
	{ "request no body", RQ "\r\n", NULL, HTTP1_BODY_NONE, 0 },
	{ "request length", RQ "Content-Length: 10\r\n\r\n", NULL, HTTP1_BODY_LENGTH, 10 },
	{ "request zero length", RQ "Content-Length: 0\r\n\r\n", NULL, HTTP1_BODY_LENGTH, 0 },
	{ "request chunked", RQ "Transfer-Encoding: chunked\r\n\r\n", NULL, HTTP1_BODY_CHUNKED, 0 },
	{ "chunked wins over length", RQ "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
	  NULL, HTTP1_BODY_CHUNKED, 0 },
	{ "chunked wins over bad length", RS "Content-Length: x\r\nTransfer-Encoding: chunked\r\n\r\n",
	  "GET", HTTP1_BODY_CHUNKED, 0 },
	{ "chunked any case", RS "transfer-encoding: Chunked\r\n\r\n", "POST", HTTP1_BODY_CHUNKED, 0 },
	{ "gzip then chunked", RQ "Transfer-Encoding: gzip, chunked\r\n\r\n", NULL, HTTP1_BODY_CHUNKED, 0 },
	{ "codings over two lines", RQ "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
	  NULL, HTTP1_BODY_CHUNKED, 0 },
	{ "request not chunked last", RQ "Transfer-Encoding: gzip\r\n\r\n", NULL, HTTP1_ERROR, 0 },
	{ "chunked not last", RQ "Transfer-Encoding: chunked, gzip\r\n\r\n", NULL, HTTP1_ERROR, 0 },
	{ "chunked twice", RQ "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
	  NULL, HTTP1_ERROR, 0 },
	{ "unknown coding", RS "Transfer-Encoding: foo, chunked\r\n\r\n", "GET", HTTP1_ERROR, 0 },
	{ "empty coding", RS "Transfer-Encoding:\r\n\r\n", "GET", HTTP1_ERROR, 0 },
	{ "response gzip till close", RS "Transfer-Encoding: gzip\r\n\r\n", "GET", HTTP1_BODY_UNTIL_CLOSE, 0 },
	{ "length not a number", RQ "Content-Length: abc\r\n\r\n", NULL, HTTP1_ERROR, 0 },
	{ "negative length", RQ "Content-Length: -1\r\n\r\n", NULL, HTTP1_ERROR, 0 },
	{ "plus sign", RQ "Content-Length: +5\r\n\r\n", NULL, HTTP1_ERROR, 0 },
	{ "empty length", RQ "Content-Length:\r\n\r\n", NULL, HTTP1_ERROR, 0 },
	{ "blank inside length", RQ "Content-Length: 1 2\r\n\r\n", NULL, HTTP1_ERROR, 0 },
	{ "length parameter", RQ "Content-Length: 5;x=1\r\n\r\n", NULL, HTTP1_ERROR, 0 },
	{ "huge length", RQ "Content-Length: 99999999999999999999\r\n\r\n", NULL, HTTP1_ERROR, 0 },
	{ "repeated same list", RQ "Content-Length: 42, 42\r\n\r\n", NULL, HTTP1_BODY_LENGTH, 42 },
	{ "repeated same lines", RS "Content-Length: 7\r\nContent-Length: 7\r\n\r\n", "GET", HTTP1_BODY_LENGTH, 7 },
	{ "conflicting list", RQ "Content-Length: 42, 43\r\n\r\n", NULL, HTTP1_ERROR, 0 },
	{ "conflicting lines", RS "Content-Length: 7\r\nContent-Length: 8\r\n\r\n", "GET", HTTP1_ERROR, 0 },
	{ "trailing comma", RQ "Content-Length: 4,\r\n\r\n", NULL, HTTP1_ERROR, 0 },
	{ "response till close", RS "Content-Type: text/event-stream\r\n\r\n", "POST", HTTP1_BODY_UNTIL_CLOSE, 0 },
	{ "response length", RS "Content-Length: 5\r\n\r\n", "POST", HTTP1_BODY_LENGTH, 5 },
	{ "HEAD reply", RS "Content-Length: 5\r\n\r\n", "HEAD", HTTP1_BODY_NONE, 0 },
	{ "HEAD reply chunked", RS "Transfer-Encoding: chunked\r\n\r\n", "HEAD", HTTP1_BODY_NONE, 0 },
	{ "204", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", "DELETE", HTTP1_BODY_NONE, 0 },
	{ "304", "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", "GET", HTTP1_BODY_NONE, 0 },
	{ "100", "HTTP/1.1 100 Continue\r\n\r\n", "POST", HTTP1_BODY_NONE, 0 },
	{ "101", "HTTP/1.1 101 Switching Protocols\r\n\r\n", "GET", HTTP1_BODY_NONE, 0 },
	{ "CONNECT 200", RS "Content-Length: 5\r\n\r\n", "CONNECT", HTTP1_BODY_NONE, 0 },
	{ "CONNECT 407", "HTTP/1.1 407 Auth\r\nContent-Length: 5\r\n\r\n", "CONNECT", HTTP1_BODY_LENGTH, 5 },
	{ "error with length", "HTTP/1.1 400 Bad Request\r\nContent-Length: 90\r\n\r\n", "POST",
	  HTTP1_BODY_LENGTH, 90 },
};

static void test_framing(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(framing_cases) / sizeof(framing_cases[0]); i++) {
		const struct framing_case *c = &framing_cases[i];
		size_t len = strlen(c->head);
		struct http1_message m;
		uint64_t cl = 12345;
		char *b = exact_copy(c->head, len);
		int r = c->method ? http1_parse_response(b, len, &m, 0)
				  : http1_parse_request(b, len, &m, 0);

		if (r != (int)len)
			fail_msg("%s: head parse gave %d", c->name, r);
		r = http1_body_framing(&m, c->method, c->method ? strlen(c->method) : 0, &cl);
		if (r != c->want)
			fail_msg("%s: framing %d, want %d", c->name, r, c->want);
		if (r == HTTP1_BODY_LENGTH && cl != c->length)
			fail_msg("%s: length %llu, want %llu", c->name,
				 (unsigned long long)cl, (unsigned long long)c->length);
		free(b);
	}
}

struct chunked_case {
	const char *name;
	const char *in;
	ssize_t ret;		/* HTTP1_PARTIAL, HTTP1_ERROR, or 0 (done) */
	const char *payload;	/* decoded, for ret >= 0 and PARTIAL */
	const char *rest;	/* bytes after the body, for ret >= 0 */
};

static const struct chunked_case chunked_cases[] = {
	{ "one chunk", "5\r\nhello\r\n0\r\n\r\n", 0, "hello", "" },
	{ "two chunks, next message", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nGET / HTTP/1.1\r\n",
	  0, "hello world", "GET / HTTP/1.1\r\n" },
	{ "extensions", "5;name=value\r\nhello\r\n3;a;b=\"q\"\r\nabc\r\n0;last\r\n\r\n", 0, "helloabc", "" },
	{ "blank before extension", "5 ;a=b\r\nhello\r\n0\t\r\n\r\n", 0, "hello", "" },
	{ "trailers", "3\r\nabc\r\n0\r\nX-Trailer: 1\r\nServer-Timing: db;dur=53\r\n\r\nHTTP/1.1",
	  0, "abc", "HTTP/1.1" },
	{ "upper and lower hex", "A\r\n0123456789\r\nb\r\nabcdefghijk\r\n0\r\n\r\n", 0,
	  "0123456789abcdefghijk", "" },
	{ "bare LF", "3\nabc\n0\n\n", 0, "abc", "" },
	{ "leading zeros", "0003\r\nabc\r\n0000\r\n\r\n", 0, "abc", "" },
	{ "empty body", "0\r\n\r\n", 0, "", "" },
	{ "CRLF inside data", "4\r\n\r\n\r\n\r\n0\r\n\r\n", 0, "\r\n\r\n", "" },
	{ "unfinished", "5\r\nhello\r\n3\r\nab", HTTP1_PARTIAL, "helloab", NULL },
	{ "unfinished trailers", "1\r\na\r\n0\r\nX: y\r\n", HTTP1_PARTIAL, "a", NULL },
	{ "not hex", "x\r\nabc\r\n", HTTP1_ERROR, NULL, NULL },
	{ "empty size", "\r\nabc\r\n", HTTP1_ERROR, NULL, NULL },
	{ "negative size", "-1\r\n", HTTP1_ERROR, NULL, NULL },
	{ "data overruns", "5\r\nhelloX\r\n0\r\n\r\n", HTTP1_ERROR, NULL, NULL },
	{ "junk after size", "5 x\r\nhello\r\n", HTTP1_ERROR, NULL, NULL },
	{ "hex too long", "11111111111111111\r\n", HTTP1_ERROR, NULL, NULL },
	{ "ctl in size line", "5\x01\r\nhello\r\n", HTTP1_ERROR, NULL, NULL },
	{ "ctl in extension", "5;a\x01\r\nhello\r\n", HTTP1_ERROR, NULL, NULL },
	{ "CR without LF", "5\rhello\r\n", HTTP1_ERROR, NULL, NULL },
	{ "ctl in trailer", "0\r\nX: a\x02\r\n\r\n", HTTP1_ERROR, NULL, NULL },
	{ "folded trailer", "0\r\n folded\r\n\r\n", HTTP1_ERROR, NULL, NULL },
	{ "final CR without LF", "0\r\n\rX", HTTP1_ERROR, NULL, NULL },
	{ "html instead", "<html><body>oops</body></html>\r\n", HTTP1_ERROR, NULL, NULL },
};

/* Decodes in split into pieces at the given cut points (sorted, within
 * len). The result, payload and rest are compared by the caller. */
static ssize_t decode_pieces(const char *in, size_t len, const size_t *cuts, size_t ncuts,
			     char *payload, size_t *payload_len, char *rest, size_t *rest_len)
{
	struct http1_chunked_decoder d;
	size_t start = 0, i;
	ssize_t r = HTTP1_PARTIAL;

	memset(&d, 0, sizeof(d));
	*payload_len = *rest_len = 0;
	for (i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : len, sz = end - start;
		char *b = exact_copy(in + start, sz);

		r = http1_decode_chunked(&d, b, &sz);
		memcpy(payload + *payload_len, b, sz);
		*payload_len += sz;
		if (r >= 0) {
			/* the rest of this piece, then the pieces not fed */
			memcpy(rest, b + sz, (size_t)r);
			memcpy(rest + r, in + end, len - end);
			*rest_len = (size_t)r + len - end;
			free(b);
			return 0;
		}
		free(b);
		if (r == HTTP1_ERROR)
			return r;
		start = end;
	}
	return r;
}

static void check_chunked(const struct chunked_case *c, const size_t *cuts, size_t ncuts,
			  const char *how)
{
	size_t len = strlen(c->in), plen, rlen;
	char *payload = malloc(len + 1), *rest = malloc(len + 1);
	ssize_t r;

	assert_non_null(payload);
	assert_non_null(rest);
	r = decode_pieces(c->in, len, cuts, ncuts, payload, &plen, rest, &rlen);
	if (r != c->ret)
		fail_msg("%s (%s): returned %zd, want %zd", c->name, how, r, c->ret);
	if (c->payload)
		check_streq("payload", c->name, payload, plen, c->payload);
	if (r >= 0)
		check_streq("rest", c->name, rest, rlen, c->rest);
	free(payload);
	free(rest);
}

static void test_chunked(void **state)
{
	size_t i, k, j;

	for (i = 0; i < sizeof(chunked_cases) / sizeof(chunked_cases[0]); i++) {
		const struct chunked_case *c = &chunked_cases[i];
		size_t len = strlen(c->in), *every = malloc(len * sizeof(size_t) + 1);

		assert_non_null(every);
		check_chunked(c, NULL, 0, "whole");
		for (k = 0; k <= len; k++)
			check_chunked(c, &k, 1, "split");
		for (j = 0; j < len; j++)
			every[j] = j;
		check_chunked(c, every, len, "byte by byte");
		free(every);
	}
}

/* A large body with random chunk sizes and extensions, decoded from random
 * pieces: the payload comes back byte for byte. */
static void test_chunked_random(void **state)
{
	const size_t payload_len = 200000;
	char *payload = malloc(payload_len), *enc = malloc(payload_len * 2 + 64);
	char *out = malloc(payload_len * 2 + 64), *rest = malloc(payload_len * 2 + 64);
	size_t enc_len = 0, off = 0, cuts[64], ncuts, i, plen, rlen;
	int round;

	assert_true(payload && enc && out && rest);
	for (i = 0; i < payload_len; i++)
		payload[i] = (char)rng();
	while (off < payload_len) {
		size_t n = 1 + rng() % 5000;

		if (n > payload_len - off)
			n = payload_len - off;
		enc_len += (size_t)sprintf(enc + enc_len, rng() & 1 ? "%zx\r\n" : "%zX;ext=%d\r\n",
					   n, (int)(rng() % 100));
		memcpy(enc + enc_len, payload + off, n);
		enc_len += n;
		enc_len += (size_t)sprintf(enc + enc_len, "\r\n");
		off += n;
	}
	enc_len += (size_t)sprintf(enc + enc_len, "0\r\nX-Sum: 1\r\n\r\n");

	for (round = 0; round < 50; round++) {
		ncuts = rng() % 64;
		for (i = 0; i < ncuts; i++)
			cuts[i] = rng() % (enc_len + 1);
		/* sort the cut points */
		for (i = 1; i < ncuts; i++)
			for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
				size_t t = cuts[j];

				cuts[j] = cuts[j - 1];
				cuts[j - 1] = t;
			}
		assert_int_equal(decode_pieces(enc, enc_len, cuts, ncuts, out, &plen, rest, &rlen), 0);
		assert_int_equal(plen, payload_len);
		assert_memory_equal(out, payload, payload_len);
		assert_int_equal(rlen, 0);
	}
	free(payload);
	free(enc);
	free(out);
	free(rest);
}

static void test_chunked_bounds(void **state)
{
	struct http1_chunked_decoder d;
	size_t n = 20000, sz;
	char *b = malloc(n);

	/* an endless extension is refused, not scanned forever */
	assert_non_null(b);
	memset(b, 'a', n);
	memcpy(b, "5;", 2);
	memset(&d, 0, sizeof(d));
	sz = n;
	assert_int_equal(http1_decode_chunked(&d, b, &sz), HTTP1_ERROR);
	/* an endless trailer line too */
	memcpy(b, "0\r\nX: ", 6);
	memset(&d, 0, sizeof(d));
	sz = n;
	assert_int_equal(http1_decode_chunked(&d, b, &sz), HTTP1_ERROR);
	/* but the biggest size a uint64_t holds only needs more data */
	memcpy(b, "ffffffffffffffff\r\n", 18);
	memset(&d, 0, sizeof(d));
	sz = n;
	assert_int_equal(http1_decode_chunked(&d, b, &sz), HTTP1_PARTIAL);
	assert_int_equal(sz, n - 18);
	free(b);
}

/* Growing text buffer for the corpus heads and bodies. */
struct text {
	char *buf;
	size_t len, cap;
};

static void text_put(struct text *t, const void *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->buf = realloc(t->buf, t->cap);
		assert_non_null(t->buf);
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

static void text_puts(struct text *t, const char *s)
{
	text_put(t, s, strlen(s));
}

static size_t put_headers(struct text *t, const cJSON *line, const char *field)
{
	const cJSON *h;
	size_t n = 0;

	cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(line, field)) {
		text_puts(t, cJSON_GetArrayItem(h, 0)->valuestring);
		text_puts(t, ": ");
		text_puts(t, cJSON_GetArrayItem(h, 1)->valuestring);
		text_puts(t, "\r\n");
		n++;
	}
	return n;
}

/* Every recorded header comes back, in order, name and value exact. */
static void check_headers(const struct http1_message *m, size_t first, const cJSON *line,
			  const char *field, const char *id)
{
	const cJSON *h;
	size_t i = first;

	cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(line, field)) {
		const struct http1_header *got = &m->headers[i++];

		check_streq("corpus header name", id, got->name, got->name_len,
			    cJSON_GetArrayItem(h, 0)->valuestring);
		check_streq("corpus header value", id, got->value, got->value_len,
			    cJSON_GetArrayItem(h, 1)->valuestring);
	}
}

/* One chunk per SSE event, as the corpus README asks of a sender, with an
 * extension on every other chunk and a trailer at the end. */
static void put_chunked(struct text *t, const unsigned char *body, size_t len)
{
	size_t off = 0, k = 0;
	char line[64];

	while (off < len) {
		const unsigned char *ev = memmem(body + off, len - off, "\n\n", 2);
		size_t n = ev ? (size_t)(ev - body - off) + 2 : len - off;

		if (k++ & 1)
			snprintf(line, sizeof(line), "%zx;seq=%zu\r\n", n, k);
		else
			snprintf(line, sizeof(line), "%zx\r\n", n);
		text_puts(t, line);
		text_put(t, body + off, n);
		text_puts(t, "\r\n");
		off += n;
	}
	text_puts(t, "0\r\nX-Done: 1\r\n\r\n");
}

struct corpus_counts {
	int requests;
	int chunked;
};

static void corpus_http1_line(const cJSON *line, void *ctx)
{
	struct corpus_counts *cc = ctx;
	const char *id = corpus_str(line, "id");
	struct text t = { 0 };
	struct http1_message m;
	unsigned char *req_body, *resp_body;
	size_t req_len, resp_len, n, head_len, cuts[32], ncuts, i, plen, rlen;
	uint64_t cl = 0;
	char num[64], *out, *rest;
	int r, round;

	req_body = corpus_b64(line, "req_body_b64", &req_len);
	resp_body = corpus_b64(line, "resp_body_b64", &resp_len);
	if (!req_body || !resp_body)
		fail_msg("%s: bad base64", id);

	/* request: recorded method, path and headers, plus host and length */
	text_puts(&t, corpus_str(line, "method"));
	text_puts(&t, " ");
	text_puts(&t, corpus_str(line, "path"));
	text_puts(&t, " HTTP/1.1\r\nHost: ");
	text_puts(&t, corpus_str(line, "host"));
	text_puts(&t, "\r\n");
	n = put_headers(&t, line, "req_headers");
	snprintf(num, sizeof(num), "Content-Length: %zu\r\n\r\n", req_len);
	text_puts(&t, num);
	head_len = t.len;
	text_put(&t, req_body, req_len);
	r = parse_copy(http1_parse_request, t.buf, t.len, &m, 0, &out);
	if (r != (int)head_len)
		fail_msg("%s: request head parse gave %d, want %zu", id, r, head_len);
	check_streq("method", id, m.method, m.method_len, corpus_str(line, "method"));
	check_streq("path", id, m.path, m.path_len, corpus_str(line, "path"));
	assert_int_equal(m.num_headers, n + 2);
	check_headers(&m, 1, line, "req_headers", id);
	assert_int_equal(http1_body_framing(&m, NULL, 0, &cl), HTTP1_BODY_LENGTH);
	assert_int_equal(cl, req_len);
	free(out);
	cc->requests++;

	/* response: streamed bodies chunked, the others with a length */
	t.len = 0;
	snprintf(num, sizeof(num), "HTTP/1.1 %d Recorded\r\n",
		 cJSON_GetObjectItemCaseSensitive(line, "status")->valueint);
	text_puts(&t, num);
	n = put_headers(&t, line, "resp_headers");
	if (corpus_bool(line, "stream"))
		text_puts(&t, "Transfer-Encoding: chunked\r\n\r\n");
	else {
		snprintf(num, sizeof(num), "Content-Length: %zu\r\n\r\n", resp_len);
		text_puts(&t, num);
	}
	head_len = t.len;
	r = parse_copy(http1_parse_response, t.buf, t.len, &m, 0, &out);
	if (r != (int)head_len)
		fail_msg("%s: response head parse gave %d", id, r);
	assert_int_equal(m.status, cJSON_GetObjectItemCaseSensitive(line, "status")->valueint);
	assert_int_equal(m.num_headers, n + 1);
	check_headers(&m, 0, line, "resp_headers", id);
	r = http1_body_framing(&m, corpus_str(line, "method"), strlen(corpus_str(line, "method")), &cl);
	free(out);
	if (!corpus_bool(line, "stream")) {
		assert_int_equal(r, HTTP1_BODY_LENGTH);
		assert_int_equal(cl, resp_len);
		goto out;
	}
	assert_int_equal(r, HTTP1_BODY_CHUNKED);
	t.len = 0;
	put_chunked(&t, resp_body, resp_len);
	text_puts(&t, "HTTP/1.1 200 OK\r\n");	/* the next message */
	out = malloc(t.len + 1);
	rest = malloc(t.len + 1);
	assert_true(out && rest);
	for (round = 0; round < 10; round++) {
		ncuts = rng() % 32;
		for (i = 0; i < ncuts; i++)
			cuts[i] = rng() % (t.len + 1);
		for (i = 1; i < ncuts; i++)
			for (size_t j = i; j > 0 && cuts[j - 1] > cuts[j]; j--) {
				size_t tmp = cuts[j];

				cuts[j] = cuts[j - 1];
				cuts[j - 1] = tmp;
			}
		assert_int_equal(decode_pieces(t.buf, t.len, cuts, ncuts, out, &plen, rest, &rlen), 0);
		if (plen != resp_len || memcmp(out, resp_body, resp_len) != 0)
			fail_msg("%s: chunked body differs after %zu cuts", id, ncuts);
		check_streq("rest", id, rest, rlen, "HTTP/1.1 200 OK\r\n");
	}
	free(out);
	free(rest);
	cc->chunked++;
out:
	free(t.buf);
	free(req_body);
	free(resp_body);
}

static void test_corpus(void **state)
{
	struct corpus_counts cc = { 0 };
	int n = corpus_foreach(corpus_http1_line, &cc);

	if (n == -ENOENT) {
		print_message("CORPUS not set or missing: corpus heads check skipped\n");
		skip();
	}
	assert_int_equal(n, cc.requests);
	assert_true(cc.chunked >= 50);
	print_message("corpus: %d exchanges as heads, %d chunked bodies decoded at random splits\n",
		      cc.requests, cc.chunked);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requests),
		cmocka_unit_test(test_responses),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_find_header),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_chunked),
		cmocka_unit_test(test_chunked_random),
		cmocka_unit_test(test_chunked_bounds),
		cmocka_unit_test(test_corpus),
	};

	return cmocka_run_group_tests_name("http1", tests, NULL, NULL);
}
