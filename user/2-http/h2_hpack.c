/* HTTP/2 header blocks through libnghttp2's HPACK inflater (see h2_hpack.h).
 *
 * HPACK state we cannot trust (the connection was joined mid-way, bytes
 * were lost, or a block failed to decode) is handled by starting a fresh,
 * empty inflater: the entries it then learns are exactly the newest ones
 * of the real table, so a block that decodes is decoded right, and a block
 * that refers to an entry we never saw fails: its exchange is then
 * headers-unknown (priced from its body; see exchange.h). The fields a
 * failing block emitted before the unknown reference are right too. */
#include <stdlib.h>
#include <string.h>
#include <nghttp2/nghttp2.h>
#include "h2_hpack.h"
#include "stats.h"

static void inflater_new(struct h2_hpack *hp)
{
	nghttp2_hd_inflater *inf = NULL;

	if (hp->_inf)
		nghttp2_hd_inflate_del(hp->_inf);
	hp->_inf = NULL;
	if (nghttp2_hd_inflate_new(&inf) != 0)
		return;
	/* Only raises the bound a table size update may ask for; the table
	 * itself stays at the protocol's 4096 until the encoder says. */
	nghttp2_hd_inflate_change_table_size(inf, hp->_table_max);
	hp->_inf = inf;
}

void h2_hpack_init(struct h2_hpack *hp, size_t table_max)
{
	hp->_table_max = hp->_table_want = table_max;
	inflater_new(hp);
}

void h2_hpack_allow_table(struct h2_hpack *hp, size_t bytes)
{
	/* A larger bound decodes all a smaller one does, and the encoder
	 * announces the size it uses. */
	if (bytes > hp->_table_want)
		hp->_table_want = bytes;
}

void h2_hpack_lost(struct h2_hpack *hp)
{
	hp->failed = true;
	inflater_new(hp);
}

static void field_add(struct h2_hpack *hp, const nghttp2_nv *nv)
{
	size_t need = nv->namelen + nv->valuelen;
	struct h2_field *f;

	if (hp->_over)
		return;
	if (hp->_n == HTTP1_MAX_HEADERS || hp->_len + need > HTTP1_MAX_HEAD_BYTES) {
		hp->_over = true;
		stats_inc(STAT_HTTP_HEAD_TOO_LARGE);
		return;
	}
	/* !_buf: an empty field (HPACK allows it) still needs a buffer
	 * to point into; NULL + 0 is UB */
	if (hp->_len + need > hp->_cap || !hp->_buf) {
		size_t cap = hp->_cap ? hp->_cap : 1024;
		char *p;

		while (cap < hp->_len + need)
			cap *= 2;
		if (cap > HTTP1_MAX_HEAD_BYTES)
			cap = HTTP1_MAX_HEAD_BYTES;
		p = realloc(hp->_buf, cap);
		if (!p) {
			hp->_over = true;
			return;
		}
		hp->_buf = p;
		hp->_cap = cap;
	}
	f = &hp->_f[hp->_n++];
	f->name = (__u32)hp->_len;
	f->name_len = (__u32)nv->namelen;
	memcpy(hp->_buf + hp->_len, nv->name, nv->namelen);
	hp->_len += nv->namelen;
	f->value = (__u32)hp->_len;
	f->value_len = (__u32)nv->valuelen;
	memcpy(hp->_buf + hp->_len, nv->value, nv->valuelen);
	hp->_len += nv->valuelen;
}

static void inflate(struct h2_hpack *hp, const __u8 *in, size_t len, bool final)
{
	if (hp->failed)
		return;
	if (!hp->_inf) {
		hp->failed = true;
		return;
	}
	for (;;) {
		nghttp2_nv nv;
		int flags = 0;
		ssize_t r = nghttp2_hd_inflate_hd2(hp->_inf, &nv, &flags, in, len, final);

		if (r < 0) {
			/* A reference to an entry we never saw, or corrupt input:
			 * what was emitted so far is right, the rest is unknown. */
			stats_inc(STAT_H2_HPACK_ERRORS);
			h2_hpack_lost(hp);
			return;
		}
		if (r) {	/* h2_hpack_end feeds (NULL, 0): NULL + 0 is UB */
			in += r;
			len -= (size_t)r;
		}
		if (flags & NGHTTP2_HD_INFLATE_EMIT)
			field_add(hp, &nv);
		if (flags & NGHTTP2_HD_INFLATE_FINAL) {
			nghttp2_hd_inflate_end_headers(hp->_inf);
			return;
		}
		if (!(flags & NGHTTP2_HD_INFLATE_EMIT) && len == 0)
			return;
	}
}

void h2_hpack_begin(struct h2_hpack *hp, __u32 sid, bool end_stream, bool push)
{
	hp->active = true;
	hp->end_stream = end_stream;
	hp->push = push;
	hp->failed = false;
	hp->_over = false;
	hp->sid = sid;
	hp->_len = 0;
	hp->_n = 0;
	/* A larger table the peer allowed takes effect between blocks, the
	 * only time the inflater accepts the change. */
	if (hp->_table_want > hp->_table_max && hp->_inf &&
	    nghttp2_hd_inflate_change_table_size(hp->_inf, hp->_table_want) == 0)
		hp->_table_max = hp->_table_want;
}

void h2_hpack_feed(struct h2_hpack *hp, const __u8 *in, size_t len)
{
	inflate(hp, in, len, false);
}

void h2_hpack_end(struct h2_hpack *hp)
{
	inflate(hp, NULL, 0, true);
	hp->active = false;
}

static bool field_is(const struct h2_hpack *hp, const struct h2_field *f, const char *name)
{
	size_t n = strlen(name);

	return f->name_len == n && memcmp(hp->_buf + f->name, name, n) == 0;
}

bool h2_hpack_message(const struct h2_hpack *hp, bool response, struct http1_message *m)
{
	static const char host[] = "host";
	bool have;

	memset(m, 0, sizeof(*m));
	m->minor_version = 1;
	for (size_t i = 0; i < hp->_n; i++) {
		const struct h2_field *f = &hp->_f[i];
		const char *v = hp->_buf + f->value;
		struct http1_header *h;

		if (f->name_len && hp->_buf[f->name] == ':') {
			if (field_is(hp, f, ":method")) {
				m->method = v;
				m->method_len = f->value_len;
			} else if (field_is(hp, f, ":path")) {
				m->path = v;
				m->path_len = f->value_len;
			} else if (field_is(hp, f, ":status") && f->value_len == 3 &&
				   v[0] >= '1' && v[0] <= '5' && v[1] >= '0' && v[1] <= '9' &&
				   v[2] >= '0' && v[2] <= '9') {
				m->status = (v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0');
			} else if (field_is(hp, f, ":authority") && m->num_headers < HTTP1_MAX_HEADERS) {
				h = &m->headers[m->num_headers++];
				h->name = host;
				h->name_len = 4;
				h->value = v;
				h->value_len = f->value_len;
			}
			continue;
		}
		if (m->num_headers == HTTP1_MAX_HEADERS)
			continue;
		h = &m->headers[m->num_headers++];
		h->name = hp->_buf + f->name;
		h->name_len = f->name_len;
		h->value = v;
		h->value_len = f->value_len;
	}
	have = response ? m->status != 0 : m->method && m->path;
	return have && !hp->failed;
}

void h2_hpack_free(struct h2_hpack *hp)
{
	if (hp->_inf)
		nghttp2_hd_inflate_del(hp->_inf);
	free(hp->_buf);
	memset(hp, 0, sizeof(*hp));
}
