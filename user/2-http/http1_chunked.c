/* Chunked transfer coding (RFC 9112 §7.1), decoded in place and resumable
 * at any byte, as picohttpparser's phr_decode_chunked with trailers
 * consumed. Stricter than it on line ends and control bytes, and every
 * size or trailer line is bounded, so a garbage body fails fast. */
#include <string.h>

#include "http1.h"

static inline int is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static inline int is_ctl(char c)
{
	unsigned char u = (unsigned char)c;

	return (u < 0x20 && u != '\t') || u == 0x7f;
}

enum {
	CH_SIZE = 0,		/* hex digits of the chunk size */
	CH_SIZE_WS,		/* blanks after the size */
	CH_EXT,			/* ";name=value" extensions */
	CH_SIZE_LF,		/* CR seen, LF must follow */
	CH_DATA,
	CH_DATA_CR,		/* CRLF after the data */
	CH_DATA_LF,
	CH_TRAILER_HEAD,	/* start of a trailer line or the final CRLF */
	CH_TRAILER_LINE,
	CH_TRAILER_LF,
	CH_END_LF,		/* CR of the final empty line seen */
};

/* A size line with extensions, or a trailer line, longer than this is not
 * something a server sends; refusing it bounds the work on garbage. */
#define CHUNK_LINE_MAX	8192
/* 16 hex digits fill a uint64_t; more (even leading zeros) is garbage. */
#define CHUNK_HEX_MAX	16

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

ssize_t http1_decode_chunked(struct http1_chunked_decoder *dec, char *buf,
			     size_t *bufsz)
{
	size_t dst = 0, src = 0, n = *bufsz;
	ssize_t ret = HTTP1_PARTIAL;

	while (src < n) {
		char c = buf[src];
		int v;

		if (dec->_state != CH_DATA && ++dec->_line_bytes > CHUNK_LINE_MAX)
			goto error;
		switch (dec->_state) {
		case CH_SIZE:
			v = hex_value(c);
			if (v >= 0) {
				if (++dec->_hex_count > CHUNK_HEX_MAX)
					goto error;
				dec->_bytes_left = dec->_bytes_left << 4 | (uint64_t)v;
				src++;
				break;
			}
			if (dec->_hex_count == 0)
				goto error;
			dec->_state = CH_SIZE_WS;
			/* fallthrough */
		case CH_SIZE_WS:
			src++;
			if (is_ows(c))
				break;
			if (c == ';')
				dec->_state = CH_EXT;
			else if (c == '\r')
				dec->_state = CH_SIZE_LF;
			else if (c == '\n')
				goto size_line_done;
			else
				goto error;
			break;
		case CH_EXT:
			src++;
			if (c == '\r')
				dec->_state = CH_SIZE_LF;
			else if (c == '\n')
				goto size_line_done;
			else if (is_ctl(c))
				goto error;
			break;
		case CH_SIZE_LF:
			src++;
			if (c != '\n')
				goto error;
size_line_done:
			dec->_hex_count = 0;
			dec->_line_bytes = 0;
			dec->_state = dec->_bytes_left ? CH_DATA : CH_TRAILER_HEAD;
			break;
		case CH_DATA: {
			size_t avail = n - src;

			if (avail > dec->_bytes_left)
				avail = (size_t)dec->_bytes_left;
			if (dst != src)
				memmove(buf + dst, buf + src, avail);
			src += avail;
			dst += avail;
			dec->_bytes_left -= avail;
			if (!dec->_bytes_left)
				dec->_state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			src++;
			if (c == '\r')
				dec->_state = CH_DATA_LF;
			else if (c == '\n')
				goto data_done;
			else
				goto error;
			break;
		case CH_DATA_LF:
			src++;
			if (c != '\n')
				goto error;
data_done:
			dec->_line_bytes = 0;
			dec->_state = CH_SIZE;
			break;
		case CH_TRAILER_HEAD:
			src++;
			if (c == '\r') {
				dec->_state = CH_END_LF;
			} else if (c == '\n') {
				goto complete;
			} else {
				/* a trailer field starts with its name: a
				 * blank would be obs-fold */
				if (is_ctl(c) || is_ows(c) || c == ':')
					goto error;
				dec->_state = CH_TRAILER_LINE;
			}
			break;
		case CH_TRAILER_LINE:
			src++;
			if (c == '\r')
				dec->_state = CH_TRAILER_LF;
			else if (c == '\n')
				goto trailer_done;
			else if (is_ctl(c))
				goto error;
			break;
		case CH_TRAILER_LF:
			src++;
			if (c != '\n')
				goto error;
trailer_done:
			dec->_line_bytes = 0;
			dec->_state = CH_TRAILER_HEAD;
			break;
		case CH_END_LF:
			src++;
			if (c != '\n')
				goto error;
			goto complete;
		default:
			goto error;
		}
	}
	goto out;

complete:
	/* The rest belongs to the next message: keep it right after the
	 * payload, and leave the decoder ready for another body. */
	ret = (ssize_t)(n - src);
	if (dst != src)
		memmove(buf + dst, buf + src, n - src);
	memset(dec, 0, sizeof(*dec));
	goto out;
error:
	ret = HTTP1_ERROR;
out:
	*bufsz = dst;
	return ret;
}
