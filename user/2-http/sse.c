/* Server-Sent Events, as the WHATWG "event stream interpretation" reads
 * them. Two buffers, both capped: the current line and the current event's
 * data. A peer that never sends a newline, or sends endless data lines,
 * gets its event cut and flagged, never more memory. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

#define SSE_DEFAULT_MAX_EVENT_BYTES	(1024 * 1024)
/* Room on a line for "data: " or an "event: " name beyond the data cap,
 * so a data line that just fits is not reported as cut. */
#define SSE_LINE_SLACK			64

static const unsigned char bom[3] = { 0xef, 0xbb, 0xbf };

void sse_init(struct sse_parser *p, size_t max_event_bytes)
{
	memset(p, 0, sizeof(*p));
	if (!max_event_bytes)
		max_event_bytes = SSE_DEFAULT_MAX_EVENT_BYTES;
	if (max_event_bytes > SIZE_MAX / 2)	/* keeps cap + slack from wrapping */
		max_event_bytes = SIZE_MAX / 2;
	p->max_event_bytes = max_event_bytes;
}

void sse_free(struct sse_parser *p)
{
	free(p->_line);
	free(p->_data);
	p->_line = p->_data = NULL;
	p->_line_len = p->_line_cap = p->_data_len = p->_data_cap = 0;
}

/* Grows *buf to hold need bytes, doubling, never past limit. */
static int reserve(char **buf, size_t *cap, size_t need, size_t limit)
{
	size_t ncap = *cap ? *cap : 256;
	char *nbuf;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	if (ncap > limit)
		ncap = limit;
	nbuf = realloc(*buf, ncap);
	if (!nbuf)
		return -ENOMEM;
	*buf = nbuf;
	*cap = ncap;
	return 0;
}

static int line_append(struct sse_parser *p, const char *s, size_t n)
{
	size_t limit = p->max_event_bytes + SSE_LINE_SLACK;
	int err;

	if (n > limit - p->_line_len) {
		n = limit - p->_line_len;
		p->_line_overflow = true;
	}
	if (!n)
		return 0;
	err = reserve(&p->_line, &p->_line_cap, p->_line_len + n, limit);
	if (err)
		return err;
	memcpy(p->_line + p->_line_len, s, n);
	p->_line_len += n;
	return 0;
}

/* The data buffer keeps one byte past the cap for the NUL. */
static int data_append(struct sse_parser *p, const char *s, size_t n)
{
	size_t room = p->max_event_bytes - p->_data_len;
	int err;

	if (n > room) {
		n = room;
		p->_truncated = true;
	}
	err = reserve(&p->_data, &p->_data_cap, p->_data_len + n + 1,
		      p->max_event_bytes + 1);
	if (err)
		return err;
	memcpy(p->_data + p->_data_len, s, n);
	p->_data_len += n;
	return 0;
}

static int dispatch(struct sse_parser *p, sse_event_fn cb, void *ctx)
{
	bool truncated = p->_truncated;
	int err;

	if (!p->_have_data) {
		p->_event_len = 0;
		return 0;
	}
	/* data_append reserved the NUL's byte even for empty data */
	p->_data[p->_data_len] = '\0';
	p->_event[p->_event_len] = '\0';
	p->events++;
	if (truncated)
		p->events_truncated++;
	err = cb(ctx, p->_event, p->_event_len, p->_data, p->_data_len, truncated);
	p->_data_len = 0;
	p->_event_len = 0;
	p->_have_data = false;
	p->_truncated = false;
	return err;
}

static int field_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && memcmp(name, want, len) == 0;
}

static int process_line(struct sse_parser *p, sse_event_fn cb, void *ctx)
{
	const char *line = p->_line, *colon, *value;
	size_t len = p->_line_len, name_len, value_len;
	int err;

	if (len == 0)
		return dispatch(p, cb, ctx);
	if (line[0] == ':')
		return 0;	/* comment, e.g. a keep-alive ping */
	colon = memchr(line, ':', len);
	name_len = colon ? (size_t)(colon - line) : len;
	value = colon ? colon + 1 : line + len;
	value_len = (size_t)(line + len - value);
	if (value_len && value[0] == ' ') {
		value++;
		value_len--;
	}
	if (field_is(line, name_len, "data")) {
		if (p->_have_data) {
			err = data_append(p, "\n", 1);
			if (err)
				return err;
		}
		if (p->_line_overflow)
			p->_truncated = true;
		err = data_append(p, value, value_len);
		if (err)
			return err;
		/* only now is _data sure to exist for dispatch */
		p->_have_data = true;
		return 0;
	}
	if (field_is(line, name_len, "event")) {
		/* names are short words; a longer one is kept cut */
		if (value_len > sizeof(p->_event) - 1)
			value_len = sizeof(p->_event) - 1;
		memcpy(p->_event, value, value_len);
		p->_event_len = value_len;
	}
	/* id and retry steer browser reconnects: nothing to observe */
	return 0;
}

static int end_line(struct sse_parser *p, sse_event_fn cb, void *ctx)
{
	int err = process_line(p, cb, ctx);

	p->_line_len = 0;
	p->_line_overflow = false;
	return err;
}

/* A BOM may itself arrive split; the bytes matched so far are counted in
 * _line_len (the line is empty until the check ends). */
static size_t skip_bom(struct sse_parser *p, const char *buf, size_t len, int *err)
{
	size_t i = 0;

	*err = 0;
	while (i < len && !p->_bom_checked) {
		if ((unsigned char)buf[i] == bom[p->_line_len]) {
			i++;
			if (++p->_line_len == sizeof(bom)) {
				p->_line_len = 0;
				p->_bom_checked = true;
			}
			continue;
		}
		/* not a BOM: what matched was the start of a line */
		{
			size_t matched = p->_line_len;

			p->_line_len = 0;
			p->_bom_checked = true;
			*err = line_append(p, (const char *)bom, matched);
		}
	}
	return i;
}

int sse_feed(struct sse_parser *p, const char *buf, size_t len, sse_event_fn cb,
	     void *ctx)
{
	int err = 0;
	size_t i = skip_bom(p, buf, len, &err);

	if (err || !p->_bom_checked)
		return err;
	while (i < len) {
		size_t j;

		if (p->_skip_lf) {
			p->_skip_lf = false;
			if (buf[i] == '\n') {
				i++;
				continue;
			}
		}
		for (j = i; j < len && buf[j] != '\n' && buf[j] != '\r'; j++)
			;
		err = line_append(p, buf + i, j - i);
		if (err)
			return err;
		if (j == len)
			break;
		p->_skip_lf = buf[j] == '\r';
		i = j + 1;
		err = end_line(p, cb, ctx);
		if (err)
			return err;
	}
	return 0;
}
