/* HTTP/1.1 heads and body framing (RFC 9112), picohttpparser style: the
 * message points into the caller's buffer; a head that is cut short gives
 * HTTP1_PARTIAL, bytes no conforming peer would send give HTTP1_ERROR as
 * soon as they are seen, so a binary or HTTP/2 stream is rejected early
 * rather than after HTTP1_MAX_HEAD_BYTES. */
#include <string.h>
#include <strings.h>

#include "http1.h"

/* RFC 9110 §5.6.2 tchar */
static const char token_char_map[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
	['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
	['`'] = 1, ['|'] = 1, ['~'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
	['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
	['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
	['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
	['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
};

static inline int is_token(char c)
{
	return token_char_map[(unsigned char)c];
}

/* CTLs other than HTAB never appear in a field value, path or reason;
 * bytes >= 0x80 (obs-text) do. */
static inline int is_ctl(char c)
{
	unsigned char u = (unsigned char)c;

	return (u < 0x20 && u != '\t') || u == 0x7f;
}

static inline int is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* CRLF, or a bare LF as RFC 9112 §2.2 lets a recipient accept. */
static int parse_eol(const char **pp, const char *end)
{
	const char *p = *pp;

	if (p == end)
		return HTTP1_PARTIAL;
	if (*p == '\r') {
		if (++p == end)
			return HTTP1_PARTIAL;
		if (*p != '\n')
			return HTTP1_ERROR;
	} else if (*p != '\n') {
		return HTTP1_ERROR;
	}
	*pp = p + 1;
	return 0;
}

/* A non-empty token ended by delim, which is consumed. */
static int parse_token(const char **pp, const char *end, char delim,
		       const char **tok, size_t *tok_len)
{
	const char *p = *pp, *start = p;

	for (; p < end && *p != delim; p++)
		if (!is_token(*p))
			return HTTP1_ERROR;
	if (p == end)
		return HTTP1_PARTIAL;
	if (p == start)
		return HTTP1_ERROR;
	*tok = start;
	*tok_len = (size_t)(p - start);
	*pp = p + 1;
	return 0;
}

/* Compared byte by byte so a wrong prefix fails before the line is whole. */
static int parse_version(const char **pp, const char *end, int *minor_version)
{
	static const char prefix[] = "HTTP/1.";
	const char *p = *pp;
	size_t i;

	for (i = 0; i < sizeof(prefix) - 1; i++, p++) {
		if (p == end)
			return HTTP1_PARTIAL;
		if (*p != prefix[i])
			return HTTP1_ERROR;
	}
	if (p == end)
		return HTTP1_PARTIAL;
	if (*p < '0' || *p > '9')
		return HTTP1_ERROR;
	*minor_version = *p - '0';
	*pp = p + 1;
	return 0;
}

/* Empty lines before a message are skipped (RFC 9112 §2.2): some peers
 * send a stray CRLF after a body. */
static int skip_empty_lines(const char **pp, const char *end)
{
	const char *p = *pp;
	int r;

	while (p < end && (*p == '\r' || *p == '\n')) {
		r = parse_eol(&p, end);
		if (r)
			return r;
	}
	*pp = p;
	return p == end ? HTTP1_PARTIAL : 0;
}

static int parse_request_line(const char **pp, const char *end,
			      struct http1_message *msg)
{
	const char *p = *pp;
	int r;

	r = parse_token(&p, end, ' ', &msg->method, &msg->method_len);
	if (r)
		return r;
	msg->path = p;
	for (; p < end && *p != ' '; p++)
		if (is_ctl(*p) || *p == '\t')
			return HTTP1_ERROR;
	if (p == end)
		return HTTP1_PARTIAL;
	if (p == msg->path)
		return HTTP1_ERROR;
	msg->path_len = (size_t)(p - msg->path);
	p++;
	r = parse_version(&p, end, &msg->minor_version);
	if (r)
		return r;
	r = parse_eol(&p, end);
	if (r)
		return r;
	*pp = p;
	return 0;
}

static int parse_status_line(const char **pp, const char *end,
			     struct http1_message *msg)
{
	const char *p = *pp;
	int i, r;

	r = parse_version(&p, end, &msg->minor_version);
	if (r)
		return r;
	if (p == end)
		return HTTP1_PARTIAL;
	if (*p++ != ' ')
		return HTTP1_ERROR;
	msg->status = 0;
	for (i = 0; i < 3; i++, p++) {
		if (p == end)
			return HTTP1_PARTIAL;
		if (*p < '0' || *p > '9')
			return HTTP1_ERROR;
		msg->status = msg->status * 10 + (*p - '0');
	}
	if (msg->status < 100)
		return HTTP1_ERROR;
	if (p == end)
		return HTTP1_PARTIAL;
	/* The reason phrase may be absent, with or without its space. */
	if (*p == ' ')
		p++;
	else if (*p != '\r' && *p != '\n')
		return HTTP1_ERROR;
	msg->reason = p;
	for (; p < end && *p != '\r' && *p != '\n'; p++)
		if (is_ctl(*p))
			return HTTP1_ERROR;
	msg->reason_len = (size_t)(p - msg->reason);
	r = parse_eol(&p, end);
	if (r)
		return r;
	*pp = p;
	return 0;
}

static int parse_headers(const char **pp, const char *end,
			 struct http1_message *msg)
{
	const char *p = *pp;
	int r;

	for (;;) {
		struct http1_header *h;
		const char *v_end;

		if (p == end)
			return HTTP1_PARTIAL;
		if (*p == '\r' || *p == '\n') {
			r = parse_eol(&p, end);
			if (r)
				return r;
			*pp = p;
			return 0;
		}
		if (msg->num_headers == HTTP1_MAX_HEADERS)
			return HTTP1_ERROR;
		/* obs-fold (RFC 9112 §5.2) is rejected: a name cannot start
		 * with blank, and nothing we observe uses folding. */
		h = &msg->headers[msg->num_headers];
		r = parse_token(&p, end, ':', &h->name, &h->name_len);
		if (r)
			return r;
		while (p < end && is_ows(*p))
			p++;
		h->value = p;
		for (; p < end && *p != '\r' && *p != '\n'; p++)
			if (is_ctl(*p))
				return HTTP1_ERROR;
		if (p == end)
			return HTTP1_PARTIAL;
		for (v_end = p; v_end > h->value && is_ows(v_end[-1]); v_end--)
			;
		h->value_len = (size_t)(v_end - h->value);
		r = parse_eol(&p, end);
		if (r)
			return r;
		msg->num_headers++;
	}
}

/* Whether buf holds an empty line, looking only at bytes from last_len - 3
 * on: the bytes before were seen by an earlier call and held none. */
static int head_complete(const char *buf, size_t len, size_t last_len)
{
	size_t i = last_len > 3 ? last_len - 3 : 0;

	for (; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n')
			return 1;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return 1;
	}
	return 0;
}

static int parse_head(const char *buf, size_t len, struct http1_message *msg,
		      size_t last_len, int is_request)
{
	size_t lim = len < HTTP1_MAX_HEAD_BYTES ? len : HTTP1_MAX_HEAD_BYTES;
	const char *p = buf, *end = buf + lim;
	int r;

	memset(msg, 0, offsetof(struct http1_message, headers));
	msg->num_headers = 0;
	msg->minor_version = -1;

	/* A resumed call only needs a full parse once the head may be whole. */
	if (last_len && last_len < lim && !head_complete(buf, lim, last_len))
		return len >= HTTP1_MAX_HEAD_BYTES ? HTTP1_ERROR : HTTP1_PARTIAL;

	r = skip_empty_lines(&p, end);
	if (!r)
		r = is_request ? parse_request_line(&p, end, msg)
			       : parse_status_line(&p, end, msg);
	if (!r)
		r = parse_headers(&p, end, msg);
	if (r == HTTP1_PARTIAL && len >= HTTP1_MAX_HEAD_BYTES)
		return HTTP1_ERROR;
	return r ? r : (int)(p - buf);
}

int http1_parse_request(const char *buf, size_t len, struct http1_message *msg,
			size_t last_len)
{
	return parse_head(buf, len, msg, last_len, 1);
}

int http1_parse_response(const char *buf, size_t len, struct http1_message *msg,
			 size_t last_len)
{
	return parse_head(buf, len, msg, last_len, 0);
}

const struct http1_header *http1_find_header(const struct http1_message *msg,
					     const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < msg->num_headers; i++) {
		const struct http1_header *h = &msg->headers[i];

		if (h->name_len == n && strncasecmp(h->name, name, n) == 0)
			return h;
	}
	return NULL;
}

/* Next element of a comma-separated list, blanks trimmed and parameters
 * (";q=...") cut off; empty elements are skipped as RFC 9110 §5.6.1 asks.
 * Returns 0 at the end of the list. */
static int next_element(const char **pp, const char *end, const char **elem,
			size_t *elem_len)
{
	const char *p = *pp, *e, *stop;

	for (;;) {
		while (p < end && (is_ows(*p) || *p == ','))
			p++;
		if (p == end)
			return 0;
		for (e = p; e < end && *e != ','; e++)
			;
		for (stop = p; stop < e && *stop != ';'; stop++)
			;
		while (stop > p && is_ows(stop[-1]))
			stop--;
		*pp = e;
		if (stop > p) {
			*elem = p;
			*elem_len = (size_t)(stop - p);
			return 1;
		}
		p = e;
	}
}

static int elem_is(const char *e, size_t len, const char *token)
{
	return strlen(token) == len && strncasecmp(e, token, len) == 0;
}

bool http1_header_has_token(const struct http1_header *h, const char *token)
{
	const char *p, *e;
	size_t elen;

	if (!h)
		return false;
	p = h->value;
	while (next_element(&p, h->value + h->value_len, &e, &elen))
		if (elem_is(e, elen, token))
			return true;
	return false;
}

static int method_is(const char *m, size_t len, const char *want)
{
	return m && strlen(want) == len && memcmp(m, want, len) == 0;
}

/* Every Transfer-Encoding line, in order, as one list. Returns 1 when the
 * final coding is chunked, 0 when it is another known coding, HTTP1_ERROR
 * for an unknown coding, chunked before the end, or an empty list. */
static int transfer_codings(const struct http1_message *msg)
{
	static const char *const known[] = {
		"gzip", "x-gzip", "deflate", "compress", "x-compress", "identity",
	};
	int n = 0, last_chunked = 0;
	size_t i, k;

	for (i = 0; i < msg->num_headers; i++) {
		const struct http1_header *h = &msg->headers[i];
		const char *p = h->value, *e;
		size_t elen;

		if (!elem_is(h->name, h->name_len, "transfer-encoding"))
			continue;
		while (next_element(&p, h->value + h->value_len, &e, &elen)) {
			if (last_chunked)	/* chunked must be last, once */
				return HTTP1_ERROR;
			n++;
			if (elem_is(e, elen, "chunked")) {
				last_chunked = 1;
				continue;
			}
			for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
				if (elem_is(e, elen, known[k]))
					break;
			if (k == sizeof(known) / sizeof(known[0]))
				return HTTP1_ERROR;
		}
	}
	return n ? last_chunked : HTTP1_ERROR;
}

/* All Content-Length values, including "42, 42" lists, must agree
 * (RFC 9112 §6.3 rule 5). Returns 1 with *len set, 0 if absent, or
 * HTTP1_ERROR for anything but digits (signs, blanks inside, parameters). */
static int content_length(const struct http1_message *msg, uint64_t *len)
{
	int seen = 0;
	size_t i;

	for (i = 0; i < msg->num_headers; i++) {
		const struct http1_header *h = &msg->headers[i];
		const char *p = h->value, *end = h->value + h->value_len;

		if (!elem_is(h->name, h->name_len, "content-length"))
			continue;
		for (;;) {
			uint64_t v = 0;
			size_t digits = 0;

			while (p < end && is_ows(*p))
				p++;
			for (; p < end && *p >= '0' && *p <= '9'; p++, digits++)
				v = v * 10 + (uint64_t)(*p - '0');
			while (p < end && is_ows(*p))
				p++;
			/* 15 digits are petabytes: longer is junk or an attack */
			if (digits == 0 || digits > 15 || (p < end && *p != ','))
				return HTTP1_ERROR;
			if (seen && v != *len)
				return HTTP1_ERROR;
			*len = v;
			seen = 1;
			if (p == end)
				break;
			p++;	/* the comma */
		}
	}
	return seen;
}

int http1_body_framing(const struct http1_message *msg, const char *request_method,
		       size_t request_method_len, uint64_t *content_length_out)
{
	const int is_response = request_method != NULL;
	uint64_t len = 0;
	int r;

	if (is_response) {
		if (method_is(request_method, request_method_len, "HEAD") ||
		    (msg->status >= 100 && msg->status < 200) ||
		    msg->status == 204 || msg->status == 304)
			return HTTP1_BODY_NONE;
		/* A CONNECT 2xx turns the connection into a tunnel: what
		 * follows is not this message's body, nor HTTP at all. */
		if (method_is(request_method, request_method_len, "CONNECT") &&
		    msg->status >= 200 && msg->status < 300)
			return HTTP1_BODY_NONE;
	}

	if (http1_find_header(msg, "transfer-encoding")) {
		r = transfer_codings(msg);
		if (r == HTTP1_ERROR)
			return HTTP1_ERROR;
		if (r == 1)
			return HTTP1_BODY_CHUNKED;
		/* Without a final chunked only the close ends a response;
		 * a request cannot be delimited at all (§6.3 rule 4). */
		return is_response ? HTTP1_BODY_UNTIL_CLOSE : HTTP1_ERROR;
	}

	r = content_length(msg, &len);
	if (r == HTTP1_ERROR)
		return HTTP1_ERROR;
	if (r == 1) {
		if (content_length_out)
			*content_length_out = len;
		return HTTP1_BODY_LENGTH;
	}
	return is_response ? HTTP1_BODY_UNTIL_CLOSE : HTTP1_BODY_NONE;
}
