/* Key events and socket ciphertext of processes seen by their TLS secrets
 * -> plaintext capture events (see tls13_conns.h).
 *
 * Each process keeps its most recent application traffic secrets (the
 * key probe cannot say which connection derived which); each direction of
 * each of its TCP connections is a tls13_dir that finds its own secret by
 * trial decryption (tls13_decrypt.c). A key arriving after the records it
 * opens (two CPUs, one ring) makes that process's waiting directions try
 * again. Ciphertext lost on the way (a gap in the stream position) ends a
 * direction: records cannot be framed past it. Bounded: PROC_SECRETS
 * secrets per process, MAX_PROCS processes and MAX_CONNS connections,
 * beyond which new ones are counted and not followed. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "stats.h"
#include "tls13_decrypt.h"
#include "tls13_conns.h"

#define PROC_SECRETS	16
#define MAX_PROCS	256
#define MAX_CONNS	256		/* each ~67 KiB (two record buffers per direction) */

struct proc {
	__u32 tgid;
	int nsecrets, next;		/* a ring of the most recent */
	struct tls13_secret secrets[PROC_SECRETS];
};

struct cconn {
	__u32 tgid;
	__u64 conn;			/* the struct sock, as the BPF side names it */
	struct tls13_dir *dirs[2];
	__u64 cipher_pos[2];		/* next ciphertext byte expected */
	__u64 plain_pos[2];		/* next plaintext byte handed out */
	struct capture_event *last;	/* the event being decrypted: its fields */
	bool dead[2];
};

struct tls13_conns {
	struct proc *procs[MAX_PROCS];
	int nprocs;
	struct cconn *conns[MAX_CONNS];	/* few: coding agents keep a handful open */
	int nconns;
	tls13_conns_emit_fn emit;
	void *emit_ctx;
	const struct capture_event *cur;	/* the ciphertext event being fed */
	struct cconn *cur_conn;
	int cur_dir;
	/* what a plaintext event is built in: header + one record (last: the
	 * event ends in a flexible array) */
	union {
		struct capture_event ev;
		__u8 raw[sizeof(struct capture_event) + TLS13_RECORD_MAX];
	} out;
};

static struct cconn *conn_find(struct tls13_conns *t, __u32 tgid, __u64 conn, int *at)
{
	for (int i = 0; i < t->nconns; i++)
		if (t->conns[i]->tgid == tgid && t->conns[i]->conn == conn) {
			if (at)
				*at = i;
			return t->conns[i];
		}
	return NULL;
}

static struct proc *proc_find(struct tls13_conns *t, __u32 tgid, bool create)
{
	struct proc *p;

	for (int i = 0; i < t->nprocs; i++)
		if (t->procs[i]->tgid == tgid)
			return t->procs[i];
	if (!create || t->nprocs == MAX_PROCS)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->tgid = tgid;
	t->procs[t->nprocs++] = p;
	return p;
}

static void proc_free(struct proc *p)
{
	OPENSSL_cleanse(p, sizeof(*p));
	free(p);
}

static void cconn_free(struct cconn *c)
{
	if (!c)
		return;
	tls13_dir_free(c->dirs[0]);
	tls13_dir_free(c->dirs[1]);
	free(c->last);
	free(c);
}

static void conn_remove(struct tls13_conns *t, int i)
{
	struct cconn *c = t->conns[i];

	for (int d = 0; d < 2; d++)
		stats_add(STAT_TLS13_RECORDS_SKIPPED, tls13_dir_stats(c->dirs[d])->skipped);
	cconn_free(c);
	t->conns[i] = t->conns[--t->nconns];
}

/* Plaintext of the direction being fed, as a data event. */
static void on_plain(void *ctx, const uint8_t *data, size_t len)
{
	struct tls13_conns *t = ctx;
	struct capture_event *ev = &t->out.ev;
	struct cconn *c = t->cur_conn;

	if (len > TLS13_RECORD_MAX)
		return;	/* cannot be: a record's plaintext is smaller */
	memcpy(ev, t->cur, sizeof(*ev));
	ev->kind = CAPTURE_DATA;
	ev->source = CAPTURE_SOURCE_CIPHER;
	ev->dir = t->cur_dir;
	ev->stream_pos = c->plain_pos[t->cur_dir];
	ev->offset = 0;
	ev->call_len = len;
	ev->data_len = len;
	memcpy(ev->data, data, len);
	c->plain_pos[t->cur_dir] += len;
	t->emit(t->emit_ctx, ev);
}

/* A direction's outcome, counted once when it changes. */
static void note_state(struct cconn *c, int dir, int before)
{
	int now = tls13_dir_state(c->dirs[dir]);

	if (before == 0 && now == 1)
		stats_inc(STAT_TLS13_DIRS_SYNCED);
	if (before >= 0 && now < 0) {
		stats_inc(STAT_TLS13_RECORDS_FAILED);
		c->dead[dir] = true;
	}
}

static int on_key(struct tls13_conns *t, const struct capture_event *ev)
{
	const struct capture_key *k = (const struct capture_key *)ev->data;
	struct tls13_secret s;
	struct proc *p;
	int r;

	if (ev->data_len != sizeof(*k) || k->prk_len > CAPTURE_KEY_PRK_MAX ||
	    k->info_len > CAPTURE_KEY_INFO_MAX) {
		stats_inc(STAT_TLS13_KEYS_MALFORMED);
		return 1;
	}
	r = tls13_secret_from_expand(k->prk, k->prk_len, k->info, k->info_len, &s);
	if (r != 1) {
		if (r < 0)
			stats_inc(STAT_TLS13_KEYS_MALFORMED);
		return 1;
	}
	p = proc_find(t, ev->tgid, true);
	if (!p) {
		OPENSSL_cleanse(&s, sizeof(s));
		stats_inc(STAT_TLS13_CONNS_OVER_CAP);
		return 1;
	}
	p->secrets[p->next] = s;
	p->next = (p->next + 1) % PROC_SECRETS;
	if (p->nsecrets < PROC_SECRETS)
		p->nsecrets++;
	stats_inc(STAT_TLS13_SECRETS);
	OPENSSL_cleanse(&s, sizeof(s));
	return 2;	/* the process's waiting directions try again */
}

/* New secrets of p: its directions still searching try them on the
 * records they kept. */
static void retry_proc(struct tls13_conns *t, const struct proc *p)
{
	for (int i = 0; i < t->nconns; i++) {
		struct cconn *c = t->conns[i];

		if (c->tgid != p->tgid)
			continue;
		for (int d = 0; d < 2; d++) {
			if (tls13_dir_state(c->dirs[d]) != 0)
				continue;
			t->cur_conn = c;
			t->cur_dir = d;
			t->cur = c->last;
			tls13_dir_retry(c->dirs[d], p->secrets, p->nsecrets, on_plain, t);
			note_state(c, d, 0);
		}
	}
}

static void on_data(struct tls13_conns *t, const struct capture_event *ev)
{
	const struct proc *p = proc_find(t, ev->tgid, false);
	struct cconn *c = conn_find(t, ev->tgid, ev->conn, NULL);
	int d = ev->dir & 1, before;

	if (!c) {
		if (ev->stream_pos != 0 || t->nconns == MAX_CONNS) {
			/* joined mid-stream (the process was marked late):
			 * records cannot be framed; or no room */
			stats_inc(ev->stream_pos ? STAT_TLS13_CIPHER_GAPS : STAT_TLS13_CONNS_OVER_CAP);
			return;
		}
		c = calloc(1, sizeof(*c));
		if (!c)
			return;
		c->tgid = ev->tgid;
		c->conn = ev->conn;
		c->dirs[0] = tls13_dir_new();
		c->dirs[1] = tls13_dir_new();
		c->last = malloc(sizeof(*ev));
		if (!c->dirs[0] || !c->dirs[1] || !c->last) {
			cconn_free(c);
			return;
		}
		t->conns[t->nconns++] = c;
	}
	memcpy(c->last, ev, sizeof(*ev));
	if (c->dead[d])
		return;
	if (ev->stream_pos != c->cipher_pos[d]) {
		if (ev->stream_pos < c->cipher_pos[d])
			return;	/* seen already */
		stats_inc(STAT_TLS13_CIPHER_GAPS);
		c->dead[d] = true;
		return;
	}
	c->cipher_pos[d] += ev->data_len;
	before = tls13_dir_state(c->dirs[d]);
	t->cur = ev;
	t->cur_conn = c;
	t->cur_dir = d;
	tls13_dir_feed(c->dirs[d], ev->data, ev->data_len, p ? p->secrets : NULL,
		       p ? p->nsecrets : 0, on_plain, t);
	note_state(c, d, before);
}

static void on_close(struct tls13_conns *t, const struct capture_event *ev)
{
	int i;

	if (conn_find(t, ev->tgid, ev->conn, &i))
		conn_remove(t, i);
	t->emit(t->emit_ctx, ev);
}

/* Every connection and secret of tgid, at its exit. */
static void forget_tgid(struct tls13_conns *t, __u32 tgid)
{
	for (int i = 0; i < t->nprocs; i++)
		if (t->procs[i]->tgid == tgid) {
			proc_free(t->procs[i]);
			t->procs[i] = t->procs[--t->nprocs];
			break;
		}
	for (int i = 0; i < t->nconns;)
		if (t->conns[i]->tgid == tgid)
			conn_remove(t, i);
		else
			i++;
}

int tls13_conns_event(struct tls13_conns *t, const struct capture_event *ev,
		      tls13_conns_emit_fn emit, void *ctx)
{
	t->emit = emit;
	t->emit_ctx = ctx;
	if (ev->kind == CAPTURE_KEY) {
		const struct proc *p;

		if (on_key(t, ev) == 2 && (p = proc_find(t, ev->tgid, false)))
			retry_proc(t, p);
		return 1;
	}
	if (ev->kind == CAPTURE_EXIT) {
		forget_tgid(t, ev->tgid);
		return 0;
	}
	if (ev->source != CAPTURE_SOURCE_CIPHER)
		return 0;
	if (ev->kind == CAPTURE_DATA && ev->dir <= CAPTURE_DIR_READ)
		on_data(t, ev);
	else if (ev->kind == CAPTURE_CLOSE)
		on_close(t, ev);
	else
		stats_inc(STAT_EVENTS_MALFORMED);
	return 1;
}

struct tls13_conns *tls13_conns_new(void)
{
	return calloc(1, sizeof(struct tls13_conns));
}

void tls13_conns_free(struct tls13_conns *t)
{
	if (!t)
		return;
	for (int i = 0; i < t->nconns; i++)
		cconn_free(t->conns[i]);
	for (int i = 0; i < t->nprocs; i++)
		proc_free(t->procs[i]);
	free(t);
}
