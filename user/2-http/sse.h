/* Server-Sent Events (WHATWG HTML §9.2) parser: resumable over any split of
 * the stream, bounded memory. Handles LF, CRLF and CR line ends, comments,
 * multi-line data (joined with '\n'), "event:" names, a leading BOM. */
#ifndef LLMOBS_SSE_H
#define LLMOBS_SSE_H

#include <stdbool.h>
#include <stddef.h>

/* Called per dispatched event. event is "" (len 0) when unnamed. data is
 * NUL-terminated at data[data_len]. truncated: the event's data passed the
 * cap and was cut. Returns 0 to go on or -errno to stop. */
typedef int (*sse_event_fn)(void *ctx, const char *event, size_t event_len,
			    const char *data, size_t data_len, bool truncated);

struct sse_parser {
	size_t max_event_bytes;		/* bound on one event's data */
	unsigned long events;		/* dispatched */
	unsigned long events_truncated;
	/* private */
	char *_line;
	size_t _line_len, _line_cap;
	char *_data;
	size_t _data_len, _data_cap;
	char _event[64];
	size_t _event_len;
	bool _truncated;
	bool _have_data;
	bool _skip_lf;		/* last byte was CR */
	bool _bom_checked;
	bool _line_overflow;
};

void sse_init(struct sse_parser *p, size_t max_event_bytes);
/* Returns 0, -ENOMEM, or the callback's error. */
int sse_feed(struct sse_parser *p, const char *buf, size_t len, sse_event_fn cb,
	     void *ctx);
void sse_free(struct sse_parser *p);

#endif
