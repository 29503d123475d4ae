/* HTTP/1.1 message heads and body framing, in the manner of picohttpparser:
 * zero-copy (results point into the caller's buffer), resumable, and each
 * call returns bytes consumed, HTTP1_PARTIAL (need more) or HTTP1_ERROR. */
#ifndef LLMOBS_HTTP1_H
#define LLMOBS_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP1_PARTIAL		(-2)
#define HTTP1_ERROR		(-1)
#define HTTP1_MAX_HEADERS	64
#define HTTP1_MAX_HEAD_BYTES	(64 * 1024)	/* larger heads are errors */

struct http1_header {
	const char *name;
	size_t name_len;
	const char *value;	/* leading/trailing blanks stripped */
	size_t value_len;
};

struct http1_message {
	const char *method;	/* requests */
	size_t method_len;
	const char *path;
	size_t path_len;
	int status;		/* responses */
	const char *reason;
	size_t reason_len;
	int minor_version;
	struct http1_header headers[HTTP1_MAX_HEADERS];
	size_t num_headers;
};

/* Parse a request (or response) head in buf[0..len). last_len is how many
 * bytes an earlier call on the same (grown) buffer already saw, 0 at first:
 * it lets a resumed call skip the search for the end of the head.
 * Returns the head's length in bytes (> 0), HTTP1_PARTIAL or HTTP1_ERROR. */
int http1_parse_request(const char *buf, size_t len, struct http1_message *msg,
			size_t last_len);
int http1_parse_response(const char *buf, size_t len, struct http1_message *msg,
			 size_t last_len);

/* Case-insensitive lookup; NULL when absent. */
const struct http1_header *http1_find_header(const struct http1_message *msg,
					     const char *name);
/* true if the comma-separated header value list contains token (case-insensitive) */
bool http1_header_has_token(const struct http1_header *h, const char *token);

enum http1_framing {
	HTTP1_BODY_NONE = 0,		/* no body (e.g. 204, 304, HEAD reply) */
	HTTP1_BODY_LENGTH = 1,		/* Content-Length bytes */
	HTTP1_BODY_CHUNKED = 2,		/* Transfer-Encoding: chunked */
	HTTP1_BODY_UNTIL_CLOSE = 3,	/* response without length: till close */
};

/* How the body of msg is delimited (RFC 9112 §6.3). request_method is the
 * method of the request a response answers (NULL for requests). Sets
 * *content_length for HTTP1_BODY_LENGTH. Returns the framing or HTTP1_ERROR
 * (conflicting or invalid Content-Length, unknown transfer coding). */
int http1_body_framing(const struct http1_message *msg, const char *request_method,
		       size_t request_method_len, uint64_t *content_length);

/* Chunked transfer decoding, in place. Zero-fill before start. */
struct http1_chunked_decoder {
	uint64_t _bytes_left;	/* in the current chunk */
	size_t _hex_count;
	int _state;
	size_t _line_bytes;	/* length of the size/trailer line so far */
};

/* Decode buf[0..*bufsz) as phr_decode_chunked does: the payload bytes are
 * moved to the front of buf and *bufsz is set to their count. Returns
 * HTTP1_PARTIAL while the body goes on, HTTP1_ERROR on bad framing, or, once
 * the last chunk and its trailers are consumed, the number of bytes left
 * undecoded (the next message's), which then start at buf[*bufsz]. */
ssize_t http1_decode_chunked(struct http1_chunked_decoder *dec, char *buf,
			     size_t *bufsz);

#endif
