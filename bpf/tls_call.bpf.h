/* The second half of every TLS plaintext probe, whatever the library
 * (bpf/tls_capture.bpf.c: SSL_*; bpf/go_tls.bpf.c: Go crypto/tls): given
 * a call that moved len bytes at buf on connection conn, advance the
 * connection's stream position, honour the daemon's mark on server sides,
 * and copy the bytes into the ring in 16 KiB chunks up to the per-call cap.
 * One stream_pos map for all of them (userspace shares it with
 * bpf_map__reuse_fd), so the daemon marks a connection the same way
 * whichever probe saw it. The includer defines targ_max_chunks and
 * includes capture_event.bpf.h first. */
#ifndef LLMOBS_TLS_CALL_BPF_H
#define LLMOBS_TLS_CALL_BPF_H

/* Bytes moved so far per (tgid, SSL*, dir): stream_pos lets userspace see
 * every lost byte; TLS_STREAM_IGNORED in it, set by the daemon, stops the
 * copying. LRU, so connections never freed cannot fill it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tls_stream_key);
	__type(value, struct tls_stream_pos);
} stream_pos SEC(".maps");

/* Calls and bytes of ignored connections, not copied (not a loss). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct capture_drop_count);
} ignored SEC(".maps");

/* Waking the daemon for each event cost more than all the rest of
 * capturing a call: an irq_work and, on a VM, an IPI to the daemon's CPU,
 * 6-7 us of the 8 us llmobsd added to an SSL call beyond the uprobe trap
 * (make bench, docs/performance.md). So the calls of a connection under
 * way (WAKE_BATCH) wake it once per 1/WAKEUP_SHARE of the ring filled, and
 * it collects the rest on its poll timeout (tls_capture_poll(), at most
 * 100 ms). A connection's first call and its end wake it at once
 * (WAKE_NOW): a short-lived process is then seen while it lives, which is
 * when the daemon can tell whether an LD_PRELOAD shim reports it; and exec
 * and exit events wake it as they always did (WAKE_ADAPTIVE): an exec
 * wants its libraries attached before its first call. */
#define WAKEUP_SHARE	16

enum wake { WAKE_ADAPTIVE, WAKE_BATCH, WAKE_NOW };

/* The flags that commit an event of size bytes as wake says. */
static __always_inline __u64 wake_flags(enum wake wake, __u64 size)
{
	__u64 step, avail;

	if (wake == WAKE_NOW)
		return BPF_RB_FORCE_WAKEUP;
	if (wake != WAKE_BATCH)
		return 0;
	/* Crossing a multiple of step wakes: one wakeup per step of data,
	 * even when producers on other CPUs race past one. */
	step = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) / WAKEUP_SHARE;
	avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	return step && avail / step != (avail + size) / step ? BPF_RB_FORCE_WAKEUP
							     : BPF_RB_NO_WAKEUP;
}

static __always_inline void event_send(struct capture_event *ev, enum wake wake)
{
	__u32 n = ev->data_len;
	__u64 size;

	if (n > CAPTURE_CHUNK_BYTES)	/* never true; bounds for the verifier */
		n = CAPTURE_CHUNK_BYTES;
	size = sizeof(*ev) + n;
	if (bpf_ringbuf_output(&events, ev, size, wake_flags(wake, size)))
		count_drop(CAPTURE_DROP_RINGBUF_FULL, n);
}

struct chunk_ctx {
	__u64 buf;
	__u64 pos;		/* stream position of the call's first byte */
	__u64 len;		/* bytes to copy (call_len clamped to the cap) */
};

static long copy_chunk(__u32 i, struct chunk_ctx *c)
{
	__u32 slot = SCRATCH_PROBE;
	struct scratch *s = bpf_map_lookup_elem(&scratch, &slot);
	/* 64-bit on purpose: clang bounds-checks a zero-extended copy of a
	 * 32-bit value and then passes the unchecked register on. */
	__u64 off = (__u64)i * CAPTURE_CHUNK_BYTES, n;
	struct capture_event *ev;

	if (!s || off >= c->len)
		return 1;
	ev = (struct capture_event *)s->raw;
	n = c->len - off;
	if (n > CAPTURE_CHUNK_BYTES)
		n = CAPTURE_CHUNK_BYTES;
	ev->offset = off;
	ev->stream_pos = c->pos + off;
	if (n == CAPTURE_CHUNK_BYTES) {
		/* A full chunk is read straight into the ring: copying it to
		 * the scratch and then to the ring was half of what llmobsd
		 * added to a 64 KiB call beyond the trap (make bench). A
		 * shorter one goes through the scratch, which reserves no more
		 * of the ring than it fills. The wake flags come first: the
		 * reservation would count in AVAIL_DATA. */
		__u64 flags = wake_flags(c->pos == 0 && i == 0 ? WAKE_NOW : WAKE_BATCH,
					 EVENT_MAX_BYTES);
		struct capture_event *r = bpf_ringbuf_reserve(&events, EVENT_MAX_BYTES, 0);

		if (!r) {
			count_drop(CAPTURE_DROP_RINGBUF_FULL, n);
			return 0;
		}
		__builtin_memcpy(r, ev, sizeof(*ev));
		r->data_len = CAPTURE_CHUNK_BYTES;
		if (bpf_probe_read_user(r->data, CAPTURE_CHUNK_BYTES, (const void *)(c->buf + off))) {
			bpf_ringbuf_discard(r, BPF_RB_NO_WAKEUP);
			count_drop(CAPTURE_DROP_READ_FAILED, n);
			return 0;
		}
		bpf_ringbuf_submit(r, flags);
		return 0;
	}
	if (bpf_probe_read_user(ev->data, n, (const void *)(c->buf + off))) {
		count_drop(CAPTURE_DROP_READ_FAILED, n);
		return 0;
	}
	ev->data_len = n;
	event_send(ev, c->pos == 0 && i == 0 ? WAKE_NOW : WAKE_BATCH);
	return 0;
}

/* A direction's first call: born now, or ignored already when the daemon
 * marked the other direction of the same connection. */
static __always_inline void stream_new(const struct tls_stream_key *key)
{
	struct tls_stream_key other = *key;
	struct tls_stream_pos v = { .birth_ns = bpf_ktime_get_ns() }, *o;

	other.dir = !key->dir;
	o = bpf_map_lookup_elem(&stream_pos, &other);
	if (o) {
		v.birth_ns = o->birth_ns;
		v.pos = o->pos & TLS_STREAM_IGNORED;
	}
	bpf_map_update_elem(&stream_pos, key, &v, BPF_NOEXIST);
}

/* Emits the call of thread id (pid_tgid) that moved len bytes at buf on
 * connection conn in direction dir. */
static __always_inline void tls_call_emit(__u64 id, __u64 conn, __u8 dir, __u64 buf, __u64 len)
{
	struct tls_stream_key key = {};
	struct tls_stream_pos *sp_val;
	struct capture_event *ev;
	struct chunk_ctx c = {};
	__u32 cap, chunks, nr;

	key.ssl = conn;
	key.tgid = id >> 32;
	key.dir = dir;
	sp_val = bpf_map_lookup_elem(&stream_pos, &key);
	if (!sp_val) {
		stream_new(&key);
		sp_val = bpf_map_lookup_elem(&stream_pos, &key);
		if (!sp_val)
			return;
	}
	/* Advance by the whole call, copied or not, so every loss shows. */
	c.pos = __sync_fetch_and_add(&sp_val->pos, len);
	if (c.pos & TLS_STREAM_IGNORED) {
		/* A server side (an HTTPS server on the host): copying it
		 * would cost it the most for nothing. */
		count_in(&ignored, 0, len);
		return;
	}
	c.buf = buf;

	ev = event_init(SCRATCH_PROBE, CAPTURE_SOURCE_UPROBE, CAPTURE_DATA, conn, id);
	if (!ev)
		return;
	ev->call_len = len;
	ev->dir = dir;

	chunks = targ_max_chunks;
	if (chunks > CAPTURE_MAX_CHUNKS_LIMIT)
		chunks = CAPTURE_MAX_CHUNKS_LIMIT;
	cap = chunks * CAPTURE_CHUNK_BYTES;
	c.len = len;
	if (len > cap) {
		count_drop(CAPTURE_DROP_OVER_CAP, len - cap);
		c.len = cap;
	}
	nr = (c.len + CAPTURE_CHUNK_BYTES - 1) / CAPTURE_CHUNK_BYTES;
	bpf_loop(nr, copy_chunk, &c, 0);
}

/* A connection's end (SSL_free, Go's Conn.Close): CLOSE only for one that
 * moved data since the capture started. The position entries say so, and
 * deleting them tells a wrapper's nested call (an LD_PRELOAD shim calling
 * the real SSL_free) from the first. */
static __always_inline void tls_call_close(__u64 id, __u64 conn)
{
	struct tls_stream_key key = { .ssl = conn, .tgid = id >> 32 };
	struct capture_event *ev;
	bool seen;

	key.dir = CAPTURE_DIR_WRITE;
	seen = !bpf_map_delete_elem(&stream_pos, &key);
	key.dir = CAPTURE_DIR_READ;
	seen |= !bpf_map_delete_elem(&stream_pos, &key);
	if (!seen)
		return;
	ev = event_init(SCRATCH_PROBE, CAPTURE_SOURCE_UPROBE, CAPTURE_CLOSE, conn, id);
	if (ev)
		event_send(ev, WAKE_NOW);
}

#endif /* LLMOBS_TLS_CALL_BPF_H */
