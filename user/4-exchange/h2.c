/* HTTP/2 client connections -> exchanges (see h2.h).
 *
 * Each direction is a resumable frame parser: a 9-byte frame header, then
 * the payload as prefix (pad length, priority, promised stream), content
 * and padding, any of which may be split across events. DATA content goes
 * straight to the stream's exchange; header block fragments go straight to
 * the direction's HPACK decoder (h2_hpack.c), which takes them in pieces,
 * so neither is buffered here. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "h2.h"
#include "h2_hpack.h"
#include "stats.h"

#define FRAME_HEADER_LEN	9
#define DEFAULT_MAX_FRAME	16384
#define MAX_FRAME_LIMIT		((1u << 24) - 1)
#define DEFAULT_HPACK_TABLE	4096

enum frame_type {
	F_DATA = 0,
	F_HEADERS = 1,
	F_PRIORITY = 2,
	F_RST_STREAM = 3,
	F_SETTINGS = 4,
	F_PUSH_PROMISE = 5,
	F_PING = 6,
	F_GOAWAY = 7,
	F_WINDOW_UPDATE = 8,
	F_CONTINUATION = 9,
};

#define FL_END_STREAM		0x01	/* DATA, HEADERS */
#define FL_ACK			0x01	/* SETTINGS, PING */
#define FL_END_HEADERS		0x04
#define FL_PADDED		0x08
#define FL_PRIORITY		0x20

#define ERR_REFUSED_STREAM	0x7
#define SET_HEADER_TABLE_SIZE	0x1
#define SET_MAX_FRAME_SIZE	0x5

enum dir_state {
	ST_PREFACE = 0,	/* client: the connection preface */
	ST_HEAD,	/* (more of) a frame header */
	ST_PAYLOAD,
	ST_LOST,	/* out of step: wait for a call that starts with frames */
};

struct h2_dir {
	enum dir_state state;
	size_t preface_got;
	__u8 fh[FRAME_HEADER_LEN];
	size_t fh_len;
	/* the frame being read */
	__u32 len, got, prefix, pad, sid;
	__u8 type, flags;
	bool skip;		/* bytes of it were lost: take no action on it */
	__u8 ctl[8];		/* fixed fields, a control payload's first bytes */
	size_t ctl_len;
	/* what the receiving side allows this direction's sender */
	__u32 max_frame;
	struct h2_hpack hp;		/* and its header blocks */
};

struct h2_stream {
	struct h2_stream *next;
	__u32 id;
	struct exchange *ex;	/* NULL once finished or dropped */
	bool req_ended, resp_started;
	struct http_dir body[2];	/* request, response body decoding */
};

struct h2_conn {
	struct h2_dir dirs[2];		/* CAPTURE_DIR_WRITE, CAPTURE_DIR_READ */
	struct h2_stream *streams;
	size_t nstreams;
	__u32 last_sid;			/* highest client stream seen */
	/* the event being handled */
	struct exchange_ctx *x;
	struct exchange_queue *q;
	const struct conn_peer *peer;
	__u64 ts_ns;
};

static __u32 be24(const __u8 *p)
{
	return (__u32)p[0] << 16 | (__u32)p[1] << 8 | p[2];
}

static __u32 be32(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

/* ---- streams ---- */

static struct h2_stream *stream_find(struct h2_conn *h, __u32 id)
{
	struct h2_stream *s = h->streams;

	while (s && s->id != id)
		s = s->next;
	return s;
}

static struct h2_stream *stream_new(struct h2_conn *h, __u32 id)
{
	struct h2_stream *s = calloc(1, sizeof(*s)), **pp = &h->streams;

	if (!s)
		return NULL;
	s->id = id;
	s->body[0].is_response = false;
	s->body[1].is_response = true;
	/* Oldest first, so a closing connection records in request order. */
	while (*pp)
		pp = &(*pp)->next;
	*pp = s;
	h->nstreams++;
	return s;
}

/* Forgets s; an exchange still open comes out incomplete first, so that
 * it never points at the freed body states. */
static void stream_free(struct h2_conn *h, struct h2_stream *s)
{
	struct h2_stream **pp = &h->streams;

	while (*pp && *pp != s)
		pp = &(*pp)->next;
	if (*pp)
		*pp = s->next;
	h->nstreams--;
	if (s->ex)
		exchange_abort(h->x, h->q, s->ex, false);
	http_dir_free(&s->body[0]);
	http_dir_free(&s->body[1]);
	free(s);
}

/* The server will never process s (GOAWAY, REFUSED_STREAM): the client
 * retries elsewhere, so no record, or the call would count twice. */
static void stream_refused(struct h2_conn *h, struct h2_stream *s)
{
	if (s->ex) {
		exchange_discard(h->q, s->ex);
		s->ex = NULL;
	}
	stats_inc(STAT_H2_STREAMS_REFUSED);
	stream_free(h, s);
}

static void stream_end(struct h2_conn *h, int dir, struct h2_stream *s)
{
	if (dir == CAPTURE_DIR_WRITE) {
		if (!s->req_ended && s->ex)
			exchange_message_end(h->x, h->q, &s->body[0], h->ts_ns);
		s->req_ended = true;
		return;
	}
	if (s->ex && s->resp_started) {
		exchange_message_end(h->x, h->q, &s->body[1], h->ts_ns);
		s->ex = NULL;	/* the record is out */
	}
	stream_free(h, s);
}

static void request_headers(struct h2_conn *h, struct h2_hpack *b)
{
	struct h2_stream *s = stream_find(h, b->sid);
	struct http1_message m;
	bool known;

	if (!s) {
		/* Client streams are odd and rise; an old id is a stream we
		 * already finished or dropped (trailers, late frames). */
		if (!(b->sid & 1) || b->sid <= h->last_sid)
			return;
		h->last_sid = b->sid;
		if (h->nstreams >= H2_MAX_STREAMS) {
			stats_inc(STAT_H2_STREAMS_OVER_CAP);
			return;
		}
		s = stream_new(h, b->sid);
		if (!s)
			return;
		known = h2_hpack_message(b, false, &m);
		if (!known)
			stats_inc(STAT_H2_HEADERS_UNKNOWN);
		s->ex = exchange_request_start(h->x, h->q, &s->body[0], &m, !known,
					       h->peer, h->ts_ns);
		if (!s->ex) {
			stream_free(h, s);
			return;
		}
	}
	/* Otherwise these are trailers: nothing in them is recorded. */
	if (b->end_stream)
		stream_end(h, CAPTURE_DIR_WRITE, s);
}

static void response_headers(struct h2_conn *h, struct h2_hpack *b)
{
	struct h2_stream *s = stream_find(h, b->sid);
	struct http1_message m;
	bool known;

	if (!s) {
		if (b->sid & 1)
			stats_inc(STAT_UNMATCHED_RESPONSES);
		return;		/* even: a pushed stream, not ours to record */
	}
	if (!s->resp_started) {
		known = h2_hpack_message(b, true, &m);
		if (known && m.status < 200)
			return;	/* interim (100, 103): the final head follows */
		if (!known)
			stats_inc(STAT_H2_HEADERS_UNKNOWN);
		s->resp_started = true;
		if (s->ex)
			exchange_response_start(h->x, h->q, &s->body[1], s->ex, &m, !known,
						h->ts_ns);
	}
	if (b->end_stream)
		stream_end(h, CAPTURE_DIR_READ, s);
}

static void block_end(struct h2_conn *h, int dir)
{
	struct h2_dir *d = &h->dirs[dir];
	struct h2_hpack *b = &d->hp;

	h2_hpack_end(b);
	if (b->push)
		return;
	if (dir == CAPTURE_DIR_WRITE)
		request_headers(h, b);
	else
		response_headers(h, b);
}

/* ---- losing step ---- */

/* dir can no longer be followed until a call starts with frames again. */
static void dir_lost(struct h2_conn *h, int dir)
{
	struct h2_dir *d = &h->dirs[dir];
	struct h2_stream *s, *next;

	d->state = ST_LOST;
	d->fh_len = 0;
	h2_hpack_lost(&d->hp);	/* lost bytes may have held header blocks */
	d->hp.active = false;
	for (s = h->streams; s; s = next) {
		next = s->next;
		if (!s->ex)
			continue;
		if (dir == CAPTURE_DIR_READ) {
			/* Responses cannot be followed any more. */
			exchange_abort(h->x, h->q, s->ex, true);
			s->ex = NULL;
			stream_free(h, s);
		} else {
			/* Their requests lost bytes; responses still price them. */
			exchange_mark_lost(s->ex);
		}
	}
}

static void protocol_error(struct h2_conn *h, int dir)
{
	stats_inc(STAT_H2_PROTOCOL_ERRORS);
	dir_lost(h, dir);
}

/* ---- frames ---- */

/* Checks a frame header as RFC 9113 §6 has it; sets the prefix length.
 * Unknown types are allowed (§4.1: ignored). */
static int frame_check(__u8 type, __u8 flags, __u32 len, __u32 sid, bool from_client,
		       __u32 max_frame, __u32 *prefix)
{
	__u32 padded = flags & FL_PADDED ? 1 : 0;

	*prefix = 0;
	if (len > max_frame)
		return -EPROTO;
	switch (type) {
	case F_DATA:
		*prefix = padded;
		return sid ? 0 : -EPROTO;
	case F_HEADERS:
		*prefix = padded + (flags & FL_PRIORITY ? 5 : 0);
		return sid && *prefix <= len ? 0 : -EPROTO;
	case F_PUSH_PROMISE:
		*prefix = padded + 4;
		return sid && !from_client && *prefix <= len ? 0 : -EPROTO;
	case F_CONTINUATION:
		return sid ? 0 : -EPROTO;
	case F_PRIORITY:
		return sid && len == 5 ? 0 : -EPROTO;
	case F_RST_STREAM:
		return sid && len == 4 ? 0 : -EPROTO;
	case F_SETTINGS:
		if (sid)
			return -EPROTO;
		return (flags & FL_ACK ? len == 0 : len % 6 == 0) ? 0 : -EPROTO;
	case F_PING:
		return !sid && len == 8 ? 0 : -EPROTO;
	case F_GOAWAY:
		return !sid && len >= 8 ? 0 : -EPROTO;
	case F_WINDOW_UPDATE:
		return len == 4 ? 0 : -EPROTO;
	default:
		return 0;
	}
}

/* A run of plausible frames from data[0]: only known types, no more than
 * max_frame each. exact: they must end at len; else the last may go on
 * past it (a read cuts frames anywhere). */
static bool frames_plausible(const __u8 *p, size_t len, __u32 max_frame, bool exact)
{
	size_t pos = 0, n = 0;
	__u32 prefix;

	while (pos + FRAME_HEADER_LEN <= len) {
		const __u8 *f = p + pos;
		__u32 flen = be24(f), sid = be32(f + 5) & 0x7fffffff;

		if (f[3] > F_CONTINUATION || f[3] == F_CONTINUATION ||
		    frame_check(f[3], f[4], flen, sid, false, max_frame, &prefix) < 0)
			return false;
		n++;
		pos += FRAME_HEADER_LEN + flen;
	}
	if (!n)
		return false;
	return exact ? pos == len : true;
}

bool h2_looks_like_frames(const __u8 *data, size_t len)
{
	return frames_plausible(data, len, DEFAULT_MAX_FRAME, true);
}

static void on_setting(struct h2_conn *h, int dir, __u16 id, __u32 val)
{
	/* What one side allows is what the other side's sender may use. */
	struct h2_dir *o = &h->dirs[!dir];

	if (id == SET_HEADER_TABLE_SIZE) {
		h2_hpack_allow_table(&o->hp, val < H2_MAX_HPACK_TABLE ? val : H2_MAX_HPACK_TABLE);
	} else if (id == SET_MAX_FRAME_SIZE) {
		if (val >= DEFAULT_MAX_FRAME && val <= MAX_FRAME_LIMIT && val > o->max_frame)
			o->max_frame = val;
	}
}

static void frame_content(struct h2_conn *h, int dir, const __u8 *p, size_t n)
{
	struct h2_dir *d = &h->dirs[dir];
	struct h2_stream *s;

	switch (d->type) {
	case F_DATA:
		s = stream_find(h, d->sid);
		if (s && s->ex && !(dir == CAPTURE_DIR_WRITE && s->req_ended))
			exchange_body(h->x, &s->body[dir], (const char *)p, n, h->ts_ns);
		break;
	case F_HEADERS:
	case F_CONTINUATION:
	case F_PUSH_PROMISE:
		h2_hpack_feed(&d->hp, p, n);
		break;
	case F_SETTINGS:
		for (size_t i = 0; i < n; i++) {
			d->ctl[d->ctl_len++] = p[i];
			if (d->ctl_len == 6) {
				if (!d->skip)
					on_setting(h, dir, (__u16)(d->ctl[0] << 8 | d->ctl[1]),
						   be32(d->ctl + 2));
				d->ctl_len = 0;
			}
		}
		break;
	default:
		for (size_t i = 0; i < n && d->ctl_len < sizeof(d->ctl); i++)
			d->ctl[d->ctl_len++] = p[i];
		break;
	}
}

static void frame_end(struct h2_conn *h, int dir)
{
	struct h2_dir *d = &h->dirs[dir];
	struct h2_stream *s;
	__u32 last;

	d->state = ST_HEAD;
	switch (d->type) {
	case F_DATA:
		if ((d->flags & FL_END_STREAM) && (s = stream_find(h, d->sid)))
			stream_end(h, dir, s);
		break;
	case F_HEADERS:
	case F_CONTINUATION:
	case F_PUSH_PROMISE:
		if (d->flags & FL_END_HEADERS)
			block_end(h, dir);
		break;
	case F_RST_STREAM:
		s = stream_find(h, d->sid);
		if (!s || d->skip)
			break;
		if (be32(d->ctl) == ERR_REFUSED_STREAM) {
			stream_refused(h, s);
		} else {
			stats_inc(STAT_H2_STREAMS_RESET);
			stream_free(h, s);	/* incomplete: truncated or no_response */
		}
		break;
	case F_GOAWAY:
		if (dir != CAPTURE_DIR_READ || d->skip)
			break;
		/* Streams past the last one the server processed never ran. */
		last = be32(d->ctl) & 0x7fffffff;
		for (struct h2_stream *n, *t = h->streams; t; t = n) {
			n = t->next;
			if (t->id > last)
				stream_refused(h, t);
		}
		break;
	default:
		break;
	}
}

static size_t feed_preface(struct h2_conn *h, int dir, const char *data, size_t len)
{
	struct h2_dir *d = &h->dirs[dir];
	size_t n = H2_PREFACE_LEN - d->preface_got;

	if (n > len)
		n = len;
	if (memcmp(data, H2_PREFACE + d->preface_got, n) != 0) {
		protocol_error(h, dir);
		return len;
	}
	d->preface_got += n;
	if (d->preface_got == H2_PREFACE_LEN)
		d->state = ST_HEAD;
	return n;
}

static size_t feed_head(struct h2_conn *h, int dir, const char *data, size_t len)
{
	struct h2_dir *d = &h->dirs[dir];
	size_t n = FRAME_HEADER_LEN - d->fh_len;

	if (n > len)
		n = len;
	memcpy(d->fh + d->fh_len, data, n);
	d->fh_len += n;
	if (d->fh_len < FRAME_HEADER_LEN)
		return n;
	d->fh_len = 0;
	d->len = be24(d->fh);
	d->type = d->fh[3];
	d->flags = d->fh[4];
	d->sid = be32(d->fh + 5) & 0x7fffffff;
	d->got = 0;
	d->pad = 0;
	d->ctl_len = 0;
	d->skip = false;
	/* A header block goes on only in CONTINUATION frames of its stream. */
	if ((d->hp.active && (d->type != F_CONTINUATION || d->sid != d->hp.sid)) ||
	    (!d->hp.active && d->type == F_CONTINUATION) ||
	    frame_check(d->type, d->flags, d->len, d->sid, dir == CAPTURE_DIR_WRITE,
			d->max_frame, &d->prefix) < 0) {
		protocol_error(h, dir);
		return n;
	}
	if (d->type == F_HEADERS)
		h2_hpack_begin(&d->hp, d->sid, d->flags & FL_END_STREAM, false);
	else if (d->type == F_PUSH_PROMISE)
		h2_hpack_begin(&d->hp, d->sid, false, true);
	d->state = ST_PAYLOAD;
	if (d->len == 0)
		frame_end(h, dir);
	return n;
}

static size_t feed_payload(struct h2_conn *h, int dir, const char *data, size_t len)
{
	struct h2_dir *d = &h->dirs[dir];
	const __u8 *p = (const __u8 *)data;
	size_t used = 0, n;

	while (used < len && d->got < d->len) {
		if (d->got < d->prefix) {
			/* Pad length first, then priority or the promised stream. */
			if (d->got == 0 && (d->flags & FL_PADDED)) {
				d->pad = p[used];
				if (d->prefix + d->pad > d->len) {
					protocol_error(h, dir);
					return len;
				}
			}
			d->got++;
			used++;
			continue;
		}
		if (d->got < d->len - d->pad) {
			n = len - used;
			if (n > d->len - d->pad - d->got)
				n = d->len - d->pad - d->got;
			frame_content(h, dir, p + used, n);
			d->got += (__u32)n;
			used += n;
			continue;
		}
		n = len - used;		/* padding */
		if (n > d->len - d->got)
			n = d->len - d->got;
		d->got += (__u32)n;
		used += n;
	}
	if (d->got == d->len)
		frame_end(h, dir);
	return used;
}

/* ---- the connection ---- */

struct h2_conn *h2_conn_new(bool midway)
{
	struct h2_conn *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	for (int i = 0; i < 2; i++) {
		struct h2_dir *d = &h->dirs[i];

		d->max_frame = DEFAULT_MAX_FRAME;
		/* Joined mid-way, the SETTINGS were missed: allow what any
		 * table size update may say. */
		h2_hpack_init(&d->hp, midway ? H2_MAX_HPACK_TABLE : DEFAULT_HPACK_TABLE);
	}
	h->dirs[CAPTURE_DIR_WRITE].state = midway ? ST_HEAD : ST_PREFACE;
	h->dirs[CAPTURE_DIR_READ].state = midway ? ST_LOST : ST_HEAD;
	return h;
}

void h2_conn_data(struct h2_conn *h, struct exchange_ctx *x, struct exchange_queue *q,
		  int dir, const struct conn_peer *peer, __u64 ts_ns, bool call_start,
		  const char *data, size_t len)
{
	struct h2_dir *d = &h->dirs[dir];
	size_t n;

	h->x = x;
	h->q = q;
	h->peer = peer;
	h->ts_ns = ts_ns;
	if (d->state == ST_LOST) {
		if (!call_start || !frames_plausible((const __u8 *)data, len, d->max_frame, false))
			return;
		d->state = ST_HEAD;
		d->fh_len = 0;
	}
	while (len && d->state != ST_LOST) {
		switch (d->state) {
		case ST_PREFACE:
			n = feed_preface(h, dir, data, len);
			break;
		case ST_HEAD:
			n = feed_head(h, dir, data, len);
			break;
		default:
			n = feed_payload(h, dir, data, len);
			break;
		}
		data += n;
		len -= n;
	}
}

void h2_conn_gap(struct h2_conn *h, struct exchange_ctx *x, struct exchange_queue *q,
		 int dir, __u64 gap)
{
	struct h2_dir *d = &h->dirs[dir];
	struct h2_stream *s;

	h->x = x;
	h->q = q;
	if (d->state == ST_LOST)
		return;
	if (d->state != ST_PAYLOAD || gap > d->len - d->got) {
		dir_lost(h, dir);
		return;
	}
	/* The frame survives: only what it carried is gone. */
	d->skip = true;
	switch (d->type) {
	case F_DATA:
		s = stream_find(h, d->sid);
		if (s && s->ex) {
			exchange_body_lost(&s->body[dir]);
			exchange_mark_lost(s->ex);
		}
		break;
	case F_HEADERS:
	case F_CONTINUATION:
	case F_PUSH_PROMISE:
		h2_hpack_lost(&d->hp);
		break;
	default:
		break;
	}
	d->got += (__u32)gap;
	if (d->got == d->len)
		frame_end(h, dir);
}

void h2_conn_free(struct h2_conn *h, struct exchange_ctx *x, struct exchange_queue *q)
{
	if (!h)
		return;
	h->x = x;
	h->q = q;
	while (h->streams)
		stream_free(h, h->streams);
	for (int i = 0; i < 2; i++) {
		h2_hpack_free(&h->dirs[i].hp);
	}
	free(h);
}
