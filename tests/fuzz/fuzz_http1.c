/* HTTP/1.1 heads and body framing (user/http1.c).
 * Input: [mode][resume point] then the head bytes.
 * mode bit 0: request (1) or response (0); bits 1-2: the request method a
 * response answers (GET, HEAD, CONNECT, POST).
 * Checks: a head is consumed within the input and every result points into
 * it; each shorter prefix of a complete head is PARTIAL; a call resumed
 * after a PARTIAL prefix agrees with the whole parse; framing is one of the
 * defined values and a request is never framed by close. */
#include <stdbool.h>
#include "fuzz.h"
#include "http1.h"

static void check_span(const char *buf, size_t len, const char *p, size_t n,
		       const char *what)
{
	FUZZ_CHECK(!n || (p >= buf && p + n <= buf + len), "%s outside the head", what);
}

static void check_message(const char *buf, int r, const struct http1_message *m,
			  int is_request)
{
	size_t i;

	FUZZ_CHECK(m->num_headers <= HTTP1_MAX_HEADERS, "%zu headers", m->num_headers);
	FUZZ_CHECK(m->minor_version >= 0 && m->minor_version <= 9, "minor %d",
		   m->minor_version);
	if (is_request) {
		FUZZ_CHECK(m->method_len > 0 && m->path_len > 0, "empty method or path");
		check_span(buf, (size_t)r, m->method, m->method_len, "method");
		check_span(buf, (size_t)r, m->path, m->path_len, "path");
	} else {
		FUZZ_CHECK(m->status >= 100 && m->status <= 999, "status %d", m->status);
		check_span(buf, (size_t)r, m->reason, m->reason_len, "reason");
	}
	for (i = 0; i < m->num_headers; i++) {
		check_span(buf, (size_t)r, m->headers[i].name, m->headers[i].name_len, "name");
		check_span(buf, (size_t)r, m->headers[i].value, m->headers[i].value_len,
			   "value");
		FUZZ_CHECK(m->headers[i].name_len > 0, "empty header name");
	}
}

static void check_framing(const struct http1_message *m, int is_request, int method)
{
	static const char *const methods[] = { "GET", "HEAD", "CONNECT", "POST" };
	const char *rm = is_request ? NULL : methods[method];
	uint64_t clen = UINT64_MAX;
	int f = http1_body_framing(m, rm, rm ? strlen(rm) : 0, &clen);

	FUZZ_CHECK(f == HTTP1_ERROR || (f >= HTTP1_BODY_NONE && f <= HTTP1_BODY_UNTIL_CLOSE),
		   "framing %d", f);
	FUZZ_CHECK(!is_request || f != HTTP1_BODY_UNTIL_CLOSE, "request framed by close");
	FUZZ_CHECK(f != HTTP1_BODY_LENGTH || clen < 1000000000000000ULL,
		   "content length %llu", (unsigned long long)clen);
	/* what exchange.c looks up */
	http1_find_header(m, "host");
	http1_find_header(m, "content-type");
	http1_header_has_token(http1_find_header(m, "connection"), "close");
	http1_header_has_token(http1_find_header(m, "content-encoding"), "gzip");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t mode = fuzz_u8(&in), resume = fuzz_u8(&in);
	int is_request = mode & 1, method = (mode >> 1) & 3;
	int (*parse)(const char *, size_t, struct http1_message *, size_t) =
		is_request ? http1_parse_request : http1_parse_response;
	struct http1_message m, m2;
	size_t len = in.len, k;
	char *buf = fuzz_dup(in.p, len);
	int r, rp;

	r = parse(buf, len, &m, 0);
	FUZZ_CHECK(r == HTTP1_PARTIAL || r == HTTP1_ERROR || (r > 0 && (size_t)r <= len),
		   "parse returned %d for %zu bytes", r, len);
	if (r > 0) {
		check_message(buf, r, &m, is_request);
		check_framing(&m, is_request, method);
		/* one byte short of the end of the head is never a head */
		rp = parse(buf, (size_t)r - 1, &m2, 0);
		FUZZ_CHECK(rp == HTTP1_PARTIAL, "prefix of %d bytes gave %d", r - 1, rp);
	}

	/* Resume as exchange.c does: an earlier call saw k bytes, PARTIAL. */
	k = len ? resume % (len + 1) : 0;
	if (k && k < len && parse(buf, k, &m2, 0) == HTTP1_PARTIAL) {
		rp = parse(buf, len, &m2, k);
		if (r > 0) {
			FUZZ_CHECK(rp == r, "resumed after %zu gave %d, whole %d", k, rp, r);
			FUZZ_CHECK(m2.num_headers == m.num_headers, "resumed header count");
		} else if (r == HTTP1_PARTIAL) {
			FUZZ_CHECK(rp == HTTP1_PARTIAL, "resumed after %zu gave %d, whole PARTIAL",
				   k, rp);
		} else {
			FUZZ_CHECK(rp <= 0, "resumed after %zu accepted what whole rejects", k);
		}
	}
	free(buf);
	return 0;
}
