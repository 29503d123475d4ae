/* HTTP/2 header blocks of one direction (for h2.c): fragments of HEADERS,
 * PUSH_PROMISE and CONTINUATION go through libnghttp2's HPACK inflater as
 * they come; the fields come out bounded (HTTP1_MAX_HEADERS fields,
 * HTTP1_MAX_HEAD_BYTES) and are read back as the HTTP/1.1 head the
 * exchange layer takes. */
#ifndef LLMOBS_H2_HPACK_H
#define LLMOBS_H2_HPACK_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include "http1.h"

struct h2_field {
	__u32 name, name_len, value, value_len;	/* offsets into the buffer */
};

/* One direction's decoder and the block it is in. Zero-fill, then
 * h2_hpack_init. */
struct h2_hpack {
	/* the block being decoded */
	bool active;		/* begun, END_HEADERS not seen yet */
	bool end_stream;	/* its HEADERS frame ended the stream */
	bool push;		/* PUSH_PROMISE: decoded for the table only */
	bool failed;		/* not all of it could be decoded */
	__u32 sid;
	/* private */
	void *_inf;		/* nghttp2_hd_inflater; NULL: none could be made */
	size_t _table_max, _table_want;
	bool _over;		/* fields past the bounds were dropped */
	char *_buf;
	size_t _len, _cap;
	struct h2_field _f[HTTP1_MAX_HEADERS];
	size_t _n;
};

/* table_max: the dynamic table size a size update may ask for (4096 from
 * the connection start; more when SETTINGS were missed). */
void h2_hpack_init(struct h2_hpack *hp, size_t table_max);
/* The receiving peer allows a table of bytes (SETTINGS_HEADER_TABLE_SIZE);
 * only a larger bound is kept, taken at the next block. */
void h2_hpack_allow_table(struct h2_hpack *hp, size_t bytes);
/* The state is in doubt (bytes lost): a fresh inflater, the block failed. */
void h2_hpack_lost(struct h2_hpack *hp);
void h2_hpack_begin(struct h2_hpack *hp, __u32 sid, bool end_stream, bool push);
void h2_hpack_feed(struct h2_hpack *hp, const __u8 *in, size_t len);
/* END_HEADERS: the block is complete. */
void h2_hpack_end(struct h2_hpack *hp);
/* The block as an HTTP/1.1 head (pointers into hp, valid until the next
 * block): :method, :path, :status into their places, :authority as the
 * Host header. Returns true when it decoded whole and has what the
 * exchange needs (method and path, or status). */
bool h2_hpack_message(const struct h2_hpack *hp, bool response, struct http1_message *m);
void h2_hpack_free(struct h2_hpack *hp);

#endif
