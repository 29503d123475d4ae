/* Connection table: capture events -> HTTP/1.1 messages or HTTP/2 frames
 * (h2.c) -> exchanges. See conn.h for the model; exchange.c turns a
 * finished exchange into a record. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "conn.h"
#include "exchange.h"
#include "h2.h"
#include "http1_stream.h"
#include "log.h"
#include "procinfo.h"
#include "stats.h"

#define DEFAULT_MAX_BODY_BYTES	(4u << 20)
#define DEFAULT_MAX_CONNS	4096
#define DEFAULT_MAX_PENDING	32
#define DEFAULT_IDLE_NS		(600LL * 1000000000LL)

enum conn_role {
	ROLE_UNKNOWN = 0,
	ROLE_CLIENT,	/* writes HTTP/1.1 requests: what we record */
	ROLE_H2,	/* the client of an HTTP/2 connection: recorded too */
	ROLE_IGNORED,	/* another protocol, or a first event we cannot read */
	ROLE_SERVER,	/* this process serves: ignored, and certainly so */
};

struct conn {
	struct conn *hnext;		/* hash chain */
	struct conn *lru_prev, *lru_next;
	__u32 tgid;
	__u64 id;			/* SSL* */
	enum conn_role role;
	int64_t last_ns;
	struct conn_peer peer;
	struct http_dir dirs[2];	/* CAPTURE_DIR_WRITE, CAPTURE_DIR_READ */
	struct exchange_queue queue;
	struct h2_conn *h2;		/* ROLE_H2 */
};

struct conn_table {
	struct conn_table_opts opts;
	struct exchange_ctx xctx;
	struct conn **buckets;
	size_t nbuckets;
	size_t count;
	struct conn lru;		/* sentinel: lru.lru_next is the oldest */
};

static size_t hash_key(__u32 tgid, __u64 id, size_t nbuckets)
{
	__u64 h = (id ^ ((__u64)tgid << 32) ^ tgid) * 0x9E3779B97F4A7C15ULL;

	return (size_t)(h >> 17) & (nbuckets - 1);
}

struct conn_table *conn_table_new(const struct conn_table_opts *opts,
				  conn_exchange_fn cb, void *ctx)
{
	struct conn_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->opts = *opts;
	if (!t->opts.max_body_bytes)
		t->opts.max_body_bytes = DEFAULT_MAX_BODY_BYTES;
	if (!t->opts.max_conns)
		t->opts.max_conns = DEFAULT_MAX_CONNS;
	if (!t->opts.max_pending)
		t->opts.max_pending = DEFAULT_MAX_PENDING;
	if (!t->opts.idle_timeout_ns)
		t->opts.idle_timeout_ns = DEFAULT_IDLE_NS;
	t->nbuckets = 64;
	while (t->nbuckets < t->opts.max_conns * 2)
		t->nbuckets <<= 1;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	t->lru.lru_next = t->lru.lru_prev = &t->lru;
	t->xctx.cb = cb;
	t->xctx.cb_ctx = ctx;
	t->xctx.max_body_bytes = t->opts.max_body_bytes;
	t->xctx.max_pending = t->opts.max_pending;
	t->xctx.realtime_offset_ns = t->opts.realtime_offset_ns;
	return t;
}

size_t conn_table_count(const struct conn_table *t)
{
	return t->count;
}

static void lru_unlink(struct conn *c)
{
	c->lru_prev->lru_next = c->lru_next;
	c->lru_next->lru_prev = c->lru_prev;
}

static void lru_push_newest(struct conn_table *t, struct conn *c)
{
	c->lru_prev = t->lru.lru_prev;
	c->lru_next = &t->lru;
	t->lru.lru_prev->lru_next = c;
	t->lru.lru_prev = c;
}

static void dir_note_gap(struct conn_table *t, struct conn *c, struct http_dir *d,
			 __u64 gap)
{
	stats_inc(STAT_STREAM_GAPS);
	stats_add(STAT_STREAM_GAP_BYTES, gap);
	if (c->role == ROLE_CLIENT)
		http1_stream_gap(&t->xctx, &c->queue, d, &c->peer, gap);
	else if (c->role == ROLE_H2)
		h2_conn_gap(c->h2, &t->xctx, &c->queue, d->is_response, gap);
}

/* A call cut at the per-call cap (or whose last chunks were dropped) is
 * known short once anything else happens on the connection: the BPF side
 * sends all of a call's chunks before it returns. */
static void conn_check_tails(struct conn_table *t, struct conn *c, int skip_dir)
{
	for (int i = 0; i < 2; i++) {
		struct http_dir *d = &c->dirs[i];

		if (i == skip_dir || !d->have_pos || d->call_end <= d->next_pos)
			continue;
		dir_note_gap(t, c, d, d->call_end - d->next_pos);
		d->next_pos = d->call_end;
	}
}

/* Ends a connection: what is still pending comes out incomplete. */
static void conn_finish(struct conn_table *t, struct conn *c)
{
	struct conn **pp = &t->buckets[hash_key(c->tgid, c->id, t->nbuckets)];

	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	lru_unlink(c);
	conn_check_tails(t, c, -1);
	if (c->role == ROLE_CLIENT)
		http1_stream_closed(&t->xctx, &c->queue, c->dirs, &c->peer);
	else if (c->role == ROLE_H2)
		h2_conn_free(c->h2, &t->xctx, &c->queue);
	http_dir_free(&c->dirs[0]);
	http_dir_free(&c->dirs[1]);
	exchange_queue_free(&c->queue);
	free(c);
	t->count--;
	stats[STAT_CONNS_OPEN] = t->count;
}

static struct conn *conn_lookup(struct conn_table *t, __u32 tgid, __u64 id)
{
	struct conn *c = t->buckets[hash_key(tgid, id, t->nbuckets)];

	while (c && (c->tgid != tgid || c->id != id))
		c = c->hnext;
	return c;
}

static struct conn *conn_create(struct conn_table *t, const struct capture_event *ev)
{
	size_t b = hash_key(ev->tgid, ev->conn, t->nbuckets);
	struct conn *c;

	if (t->count >= t->opts.max_conns) {
		stats_inc(STAT_CONNS_EVICTED);
		conn_finish(t, t->lru.lru_next);
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->tgid = ev->tgid;
	c->id = ev->conn;
	c->peer.tgid = ev->tgid;
	c->peer.cgroup_id = ev->cgroup_id;
	c->peer.source = ev->source;
	memcpy(c->peer.comm, ev->comm, sizeof(ev->comm));
	c->peer.comm[sizeof(c->peer.comm) - 1] = '\0';
	procinfo_exe((pid_t)ev->tgid, c->peer.exe, sizeof(c->peer.exe));
	c->dirs[CAPTURE_DIR_WRITE].is_response = false;
	c->dirs[CAPTURE_DIR_READ].is_response = true;
	c->hnext = t->buckets[b];
	t->buckets[b] = c;
	lru_push_newest(t, c);
	t->count++;
	stats[STAT_CONNS_OPEN] = t->count;
	return c;
}

static bool starts_with(const __u8 *d, size_t len, const char *s)
{
	size_t n = strlen(s);

	return len >= n && memcmp(d, s, n) == 0;
}

static bool looks_like_request(const __u8 *d, size_t len)
{
	static const char *const methods[] = {
		"GET ", "POST ", "PUT ", "PATCH ", "DELETE ", "HEAD ", "OPTIONS ",
	};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (starts_with(d, len, methods[i]))
			return true;
	return false;
}

static void conn_become_h2(struct conn *c, bool midway)
{
	c->h2 = h2_conn_new(midway);
	c->role = c->h2 ? ROLE_H2 : ROLE_IGNORED;
	stats_inc(STAT_HTTP2_CONNS);
}

/* Decides from the first bytes whose side of the connection this process is,
 * and whether it speaks a protocol we parse. */
static void conn_decide_role(struct conn *c, const struct capture_event *ev)
{
	const __u8 *d = ev->data;
	size_t len = ev->data_len;

	if (ev->offset != 0 || len == 0)
		return;
	if (ev->dir == CAPTURE_DIR_WRITE) {
		if (!memcmp(d, H2_PREFACE, len < H2_PREFACE_LEN ? len : H2_PREFACE_LEN) &&
		    len >= 3) {
			/* "PRI" starts no HTTP/1.1 method: the preface, maybe cut. */
			conn_become_h2(c, false);
		} else if (len == ev->call_len && h2_looks_like_frames(d, len)) {
			/* An HTTP/2 connection already open when we started. */
			conn_become_h2(c, true);
		} else if (looks_like_request(d, len)) {
			c->role = ROLE_CLIENT;
		} else if (starts_with(d, len, "HTTP/")) {
			stats_inc(STAT_SERVER_SIDE_CONNS);
			c->role = ROLE_SERVER;
		} else {
			stats_inc(STAT_UNSUPPORTED_PROTOCOL_CONNS);
			c->role = ROLE_IGNORED;
		}
	} else {
		if (starts_with(d, len, "PRI * HTTP/2") || looks_like_request(d, len)) {
			stats_inc(STAT_SERVER_SIDE_CONNS);
			c->role = ROLE_SERVER;
		}
		/* A response first: we joined mid-way; wait for a request. */
	}
}

static void conn_data(struct conn_table *t, struct conn *c,
		      const struct capture_event *ev)
{
	struct http_dir *d = &c->dirs[ev->dir & 1];
	const char *data = (const char *)ev->data;
	size_t len = ev->data_len;
	__u64 pos = ev->stream_pos;

	if (d->have_pos && pos < d->next_pos) {
		/* Overlap: keep only what is new. */
		__u64 dup = d->next_pos - pos;

		if (dup >= len)
			return;
		data += dup;
		len -= dup;
		pos += dup;
	}
	conn_check_tails(t, c, ev->dir & 1);
	if (d->have_pos && pos > d->next_pos)
		dir_note_gap(t, c, d, pos - d->next_pos);
	d->have_pos = true;
	d->next_pos = pos + len;
	if (ev->stream_pos - ev->offset + ev->call_len > d->call_end)
		d->call_end = ev->stream_pos - ev->offset + ev->call_len;

	if (c->role == ROLE_UNKNOWN) {
		conn_decide_role(c, ev);
		/* A server side for certain: its capture may stop copying it.
		 * Not another protocol: that may be a client whose request
		 * head was lost, and a gap later would let us see it. */
		if (c->role == ROLE_SERVER && t->opts.on_ignore)
			t->opts.on_ignore(t->opts.ignore_ctx, ev);
	}
	c->peer.tid = ev->tid;
	if (c->role == ROLE_H2) {
		h2_conn_data(c->h2, &t->xctx, &c->queue, ev->dir & 1, &c->peer, ev->ts_ns,
			     ev->offset == 0, data, len);
		return;
	}
	if (c->role != ROLE_CLIENT)
		return;
	http1_stream_data(&t->xctx, &c->queue, c->dirs, ev->dir & 1, &c->peer,
			  ev->ts_ns, ev->offset == 0, data, len);
}

void conn_table_event(struct conn_table *t, const struct capture_event *ev)
{
	struct conn *c, *next;

	stats_inc(STAT_EVENTS);
	switch (ev->kind) {
	case CAPTURE_DATA:
		if (ev->dir > CAPTURE_DIR_READ) {
			stats_inc(STAT_EVENTS_MALFORMED);
			return;
		}
		stats_add(STAT_EVENT_BYTES, ev->data_len);
		c = conn_lookup(t, ev->tgid, ev->conn);
		/* A freed SSL* can come back for a new connection: a stream
		 * starting again at 0 is a new connection. */
		if (c && ev->stream_pos == 0 && ev->offset == 0 &&
		    c->dirs[ev->dir & 1].have_pos && c->dirs[ev->dir & 1].next_pos > 0) {
			conn_finish(t, c);
			c = NULL;
		}
		if (!c)
			c = conn_create(t, ev);
		if (!c)
			return;
		c->last_ns = (int64_t)ev->ts_ns;
		lru_unlink(c);
		lru_push_newest(t, c);
		conn_data(t, c, ev);
		break;
	case CAPTURE_CLOSE:
		c = conn_lookup(t, ev->tgid, ev->conn);
		if (c)
			conn_finish(t, c);
		break;
	case CAPTURE_EXEC:
		procinfo_set_exe((pid_t)ev->tgid, (const char *)ev->data,
				 strnlen((const char *)ev->data, ev->data_len));
		break;
	case CAPTURE_EXIT:
		for (c = t->lru.lru_next; c != &t->lru; c = next) {
			next = c->lru_next;
			if (c->tgid == ev->tgid)
				conn_finish(t, c);
		}
		procinfo_forget((pid_t)ev->tgid);
		break;
	default:
		stats_inc(STAT_EVENTS_MALFORMED);
		break;
	}
}

void conn_table_expire(struct conn_table *t, int64_t now_ns)
{
	while (t->lru.lru_next != &t->lru &&
	       now_ns - t->lru.lru_next->last_ns > t->opts.idle_timeout_ns)
		conn_finish(t, t->lru.lru_next);
}

void conn_table_free(struct conn_table *t)
{
	if (!t)
		return;
	while (t->lru.lru_next != &t->lru)
		conn_finish(t, t->lru.lru_next);
	free(t->buckets);
	free(t);
}
