/* libllmobs.so: LD_PRELOAD=libllmobs.so app observes app's TLS plaintext
 * without root or BPF. SSL_write(_ex) and SSL_read(_ex) are interposed:
 * the real function runs first and its result and errno go back unchanged;
 * then the bytes it moved go into the process's ring (shim_conn.c) as
 * struct capture_event chunks, exactly as the BPF path sends them.
 * SSL_free and SSL_shutdown end a connection.
 *
 * Only calls that go through the dynamic linker can be seen: a binary with
 * OpenSSL linked in (Node) calls it directly, and the shim then reports
 * "no libssl calls seen" (LLMOBS_DEBUG=1). */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "shim.h"

#define SHIM_API	__attribute__((visibility("default")))

/* Stream positions per (SSL*, direction): a fixed open-addressing table,
 * so the hot path never allocates. A process with more live connections
 * than fit drops (and counts) the extra ones. */
#define STREAM_SLOTS	4096
#define STREAM_PROBES	32
#define KEY_EMPTY	0
#define KEY_FREED	1	/* tombstone: the chain goes on past it */

enum stream_role {
	ROLE_UNKNOWN = 0,
	ROLE_CLIENT,		/* or anything else the daemon decides on */
	ROLE_SERVER,		/* this process serves: never recorded */
};

struct stream_slot {
	__u64 key;		/* SSL*, atomic */
	__u64 pos[2];		/* bytes moved per enum capture_dir */
	__u32 role;		/* enum stream_role */
	__u32 _pad;
};

static struct stream_slot streams[STREAM_SLOTS];

static const char *const fn_names[FN__MAX] = {
	"SSL_write", "SSL_read", "SSL_write_ex", "SSL_read_ex", "SSL_free", "SSL_shutdown",
};

typedef int (*rw_fn)(void *ssl, void *buf, int num);
typedef int (*rw_ex_fn)(void *ssl, void *buf, size_t num, size_t *done);
typedef void (*free_fn)(void *ssl);
typedef int (*shutdown_fn)(void *ssl);

/* The SSL* this thread is inside a call of: an interposed call made from
 * within the real one on the same SSL (LibreSSL's SSL_write_ex calls
 * SSL_write) is the same bytes and is passed through uncaptured. */
static __thread void *active_ssl __attribute__((tls_model("initial-exec")));
static __thread __u32 cached_tid __attribute__((tls_model("initial-exec")));
/* Calls left before this thread, not connected, looks again whether a
 * connection attempt is due (a clock read and another cache line). */
static __thread __u32 retry_skip __attribute__((tls_model("initial-exec")));

SHIM_API int SSL_write(void *ssl, const void *buf, int num);
SHIM_API int SSL_read(void *ssl, void *buf, int num);
SHIM_API int SSL_write_ex(void *ssl, const void *buf, size_t num, size_t *written);
SHIM_API int SSL_read_ex(void *ssl, void *buf, size_t num, size_t *readbytes);
SHIM_API void SSL_free(void *ssl);
SHIM_API int SSL_shutdown(void *ssl);

static void *const own_fns[FN__MAX] = {
	(void *)SSL_write, (void *)SSL_read, (void *)SSL_write_ex,
	(void *)SSL_read_ex, (void *)SSL_free, (void *)SSL_shutdown,
};

/* ---- finding the real functions ---------------------------------------- */

/* libssl loaded with RTLD_LOCAL by a module (Python's _ssl) is not in the
 * scope RTLD_NEXT searches: look in the calling module's own dependencies,
 * which is where its reference would have bound without us. */
static void *lookup_from(void *caller, const char *name)
{
	struct link_map *lm = NULL;
	Dl_info info;
	void *h, *p = NULL;

	if (!dladdr1(caller, &info, (void **)&lm, RTLD_DL_LINKMAP) || !lm)
		return NULL;
	h = dlopen(lm->l_name && lm->l_name[0] ? lm->l_name : NULL, RTLD_LAZY | RTLD_NOLOAD);
	if (!h)
		return NULL;
	p = dlsym(h, name);
	dlclose(h);
	return p;
}

/* Once per function: kept out of line so the calls after pay for a load. */
static __attribute__((noinline, cold)) void *resolve_slow(enum shim_real f, void *caller)
{
	void *p, *h;

	p = dlsym(RTLD_NEXT, fn_names[f]);
	if (!p || p == own_fns[f])
		p = lookup_from(caller, fn_names[f]);
	if ((!p || p == own_fns[f]) && (h = dlopen("libssl.so.3", RTLD_LAZY | RTLD_NOLOAD))) {
		p = dlsym(h, fn_names[f]);
		dlclose(h);
	}
	if (!p || p == own_fns[f]) {
		shim_log("cannot find the real %s", fn_names[f]);
		return NULL;
	}
	__atomic_store_n(&shim_hot.real[f], p, __ATOMIC_RELEASE);
	return p;
}

static inline void *resolve(enum shim_real f, void *caller)
{
	void *p = __atomic_load_n(&shim_hot.real[f], __ATOMIC_ACQUIRE);

	return p ? p : resolve_slow(f, caller);
}

/* ---- stream positions ------------------------------------------------- */

static __u32 slot_hash(__u64 key)
{
	return (__u32)((key * 0x9E3779B97F4A7C15ull) >> 40) & (STREAM_SLOTS - 1);
}

/* The slot of ssl, taken if new; NULL when its probe window is full. */
static struct stream_slot *stream_get(void *ssl)
{
	__u64 key = (__u64)(unsigned long)ssl, h = slot_hash(key);

	for (int tries = 0; tries < 4; tries++) {
		struct stream_slot *free_slot = NULL;
		__u64 free_key = 0;

		for (int i = 0; i < STREAM_PROBES; i++) {
			struct stream_slot *s = &streams[(h + i) & (STREAM_SLOTS - 1)];
			__u64 k = __atomic_load_n(&s->key, __ATOMIC_ACQUIRE);

			if (k == key)
				return s;
			if (k == KEY_FREED && !free_slot) {
				free_slot = s;
				free_key = k;
			}
			if (k == KEY_EMPTY) {
				if (!free_slot) {
					free_slot = s;
					free_key = k;
				}
				break;
			}
		}
		if (!free_slot)
			return NULL;
		/* Positions were zeroed when the slot was freed. */
		if (__atomic_compare_exchange_n(&free_slot->key, &free_key, key, 0,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			return free_slot;
	}
	return NULL;
}

static struct stream_slot *stream_find(void *ssl)
{
	__u64 key = (__u64)(unsigned long)ssl, h = slot_hash(key);

	for (int i = 0; i < STREAM_PROBES; i++) {
		struct stream_slot *s = &streams[(h + i) & (STREAM_SLOTS - 1)];
		__u64 k = __atomic_load_n(&s->key, __ATOMIC_ACQUIRE);

		if (k == key)
			return s;
		if (k == KEY_EMPTY)
			return NULL;
	}
	return NULL;
}

/* ---- capture ---------------------------------------------------------- */

static bool starts_with(const void *buf, size_t len, const char *s)
{
	size_t n = strlen(s);

	return len >= n && memcmp(buf, s, n) == 0;
}

static bool looks_like_request(const void *buf, size_t len)
{
	static const char *const methods[] = {
		"GET ", "POST ", "PUT ", "PATCH ", "DELETE ", "HEAD ", "OPTIONS ", "PRI * HTTP/2",
	};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (starts_with(buf, len, methods[i]))
			return true;
	return false;
}

/* From a direction's first bytes: a process that reads a request or
 * writes a response first is the server, which the daemon never records
 * (conn.c counts it as server_side_conns from that first event). Sending
 * the rest of such a connection would only cost the application. */
static enum stream_role decide_role(int dir, const void *buf, size_t len)
{
	if (dir == CAPTURE_DIR_WRITE)
		return starts_with(buf, len, "HTTP/") ? ROLE_SERVER : ROLE_CLIENT;
	return looks_like_request(buf, len) ? ROLE_SERVER : ROLE_UNKNOWN;
}

static __u32 current_tid(void)
{
	if (!cached_tid)
		cached_tid = (__u32)gettid();
	return cached_tid;
}

static void event_fill(struct capture_event *ev, __u64 now, void *ssl, __u8 kind)
{
	memset(ev, 0, sizeof(*ev));
	ev->ts_ns = now;
	ev->conn = (__u64)(unsigned long)ssl;
	ev->tid = current_tid();
	ev->kind = kind;
	ev->source = CAPTURE_SOURCE_PRELOAD;
}

/* The bytes a call moved: chunked like the BPF side, up to the same cap;
 * the position advances by the whole call, so every lost byte shows. */
static void capture_send(struct shim_ring *ring, void *ssl, int dir, const void *buf,
			 size_t len, size_t keep, __u64 pos);

/* Inlined into each interposer: the steady states that send nothing (a
 * server-side connection, no daemon) cost no more than this. */
static inline __attribute__((always_inline)) void capture(void *ssl, int dir,
						      const void *buf, size_t len)
{
	size_t keep = len < shim_hot.max_call_bytes ? len : shim_hot.max_call_bytes;
	struct stream_slot *slot;
	struct shim_ring *ring;
	__u32 role;
	__u64 pos;

	if (len > 0xffffffffu)
		return;		/* call_len is 32 bits, as on the BPF side */
	shim_count_fast(SHIM_STAT_CALLS, 1);
	slot = stream_get(ssl);
	if (!slot) {
		shim_count(SHIM_STAT_DROP_NO_SLOT_EVENTS, 1);
		shim_count(SHIM_STAT_DROP_NO_SLOT_BYTES, len);
		return;
	}
	/* Not an atomic add: OpenSSL forbids concurrent calls on one SSL, and
	 * each direction has its own position. */
	pos = __atomic_load_n(&slot->pos[dir], __ATOMIC_RELAXED);
	__atomic_store_n(&slot->pos[dir], pos + len, __ATOMIC_RELAXED);
	role = __atomic_load_n(&slot->role, __ATOMIC_RELAXED);
	if (role == ROLE_SERVER) {
		if (shim_debug)		/* only ever printed */
			shim_count_fast(SHIM_STAT_SERVER_BYTES, len);
		return;
	}
	if (role == ROLE_UNKNOWN && pos == 0 && (role = decide_role(dir, buf, len)))
		__atomic_store_n(&slot->role, role, __ATOMIC_RELAXED);
	if (keep < len)
		shim_count(SHIM_STAT_DROP_OVER_CAP_BYTES, len - keep);
	ring = shim_conn_ring();
	if (!ring) {
		/* The steady state of a process without a daemon: cheap. */
		shim_count_fast(SHIM_STAT_DROP_NO_DAEMON_EVENTS,
				(keep + CAPTURE_CHUNK_BYTES - 1) / CAPTURE_CHUNK_BYTES);
		shim_count_fast(SHIM_STAT_DROP_NO_DAEMON_BYTES, keep);
		return;
	}
	capture_send(ring, ssl, dir, buf, len, keep, pos);
}

static void capture_send(struct shim_ring *ring, void *ssl, int dir, const void *buf,
			 size_t len, size_t keep, __u64 pos)
{
	__u64 now = shim_now_ns(), rpos, used = 0, sent = 0, nev = 0;
	bool kick = false;

	for (size_t off = 0; off < keep; off += CAPTURE_CHUNK_BYTES) {
		__u32 n = keep - off < CAPTURE_CHUNK_BYTES ? keep - off : CAPTURE_CHUNK_BYTES;
		struct capture_event *ev = shim_ring_reserve(ring, sizeof(*ev) + n, &rpos, &used);

		if (!ev) {
			shim_count(SHIM_STAT_DROP_RING_FULL_EVENTS, 1);
			shim_count(SHIM_STAT_DROP_RING_FULL_BYTES, n);
			kick = true;
			continue;
		}
		event_fill(ev, now, ssl, CAPTURE_DATA);
		ev->stream_pos = pos + off;
		ev->call_len = (__u32)len;
		ev->offset = (__u32)off;
		ev->data_len = n;
		ev->dir = dir;
		memcpy(ev->data, (const char *)buf + off, n);
		shim_ring_commit(ev, rpos);
		nev++;
		sent += n;
		if (used > ring->size / 2)
			kick = true;
	}
	/* The daemon counts what it gets: these are for LLMOBS_DEBUG only. */
	if (shim_debug) {
		shim_count_fast(SHIM_STAT_EVENTS, nev);
		shim_count_fast(SHIM_STAT_BYTES, sent);
	}
	if (kick)
		shim_conn_kick();
	shim_conn_tick(now);
}

/* The connection is over: tell the daemon, and free its positions so that
 * an SSL* reused for a new connection starts again at 0. */
static void capture_close(void *ssl)
{
	struct stream_slot *slot = stream_find(ssl);
	struct shim_ring *ring;
	struct capture_event *ev;
	__u64 rpos, used;

	if (!slot)
		return;
	ring = shim_conn_ring();
	if (ring && (ev = shim_ring_reserve(ring, sizeof(*ev), &rpos, &used))) {
		event_fill(ev, shim_now_ns(), ssl, CAPTURE_CLOSE);
		shim_ring_commit(ev, rpos);
		if (shim_debug)
			shim_count(SHIM_STAT_EVENTS, 1);
	}
	__atomic_store_n(&slot->pos[0], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&slot->pos[1], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&slot->role, ROLE_UNKNOWN, __ATOMIC_RELAXED);
	__atomic_store_n(&slot->key, KEY_FREED, __ATOMIC_RELEASE);
}

/* For shim_plain.c (shim_capture_ops): the same capture, for sockets it
 * watches. */
static void plain_capture(void *conn, int dir, const void *buf, size_t len)
{
	capture(conn, dir, buf, len);
}

/* ---- the interposers -------------------------------------------------- */

/* Not connected: a thread's first call always looks whether an attempt is
 * due (a shim connects before the call, see shim_conn_retry), then one
 * call in 64. */
static inline void connect_if_due(void)
{
	if (!shim_conn_ring() && !retry_skip--) {
		retry_skip = 63;
		shim_conn_retry();
	}
}

/* Before the real call: connect if due (see shim_conn_ring). Returns
 * whether this call is the outermost on ssl, i.e. the one to capture. */
static bool call_enter(void *ssl, void **prev)
{
	*prev = active_ssl;
	if (active_ssl == ssl)
		return false;
	active_ssl = ssl;
	connect_if_due();
	return true;
}

/* The same for shim_plain.c's sockets; false inside an SSL call of this
 * thread, whose socket I/O is TLS records, not plaintext. */
static bool plain_prepare(void)
{
	if (active_ssl)
		return false;
	connect_if_due();
	return true;
}

SHIM_API int SSL_write(void *ssl, const void *buf, int num)
{
	int saved = errno, ret;
	rw_fn real = resolve(FN_WRITE, __builtin_return_address(0));
	void *prev;
	bool outer;

	if (!real)
		return -1;
	outer = call_enter(ssl, &prev);
	errno = saved;
	ret = real(ssl, (void *)buf, num);
	saved = errno;
	if (outer) {
		active_ssl = prev;
		if (ret > 0)
			capture(ssl, CAPTURE_DIR_WRITE, buf, (size_t)ret);
	}
	errno = saved;
	return ret;
}

SHIM_API int SSL_read(void *ssl, void *buf, int num)
{
	int saved = errno, ret;
	rw_fn real = resolve(FN_READ, __builtin_return_address(0));
	void *prev;
	bool outer;

	if (!real)
		return -1;
	outer = call_enter(ssl, &prev);
	errno = saved;
	ret = real(ssl, buf, num);
	saved = errno;
	if (outer) {
		active_ssl = prev;
		if (ret > 0)
			capture(ssl, CAPTURE_DIR_READ, buf, (size_t)ret);
	}
	errno = saved;
	return ret;
}

SHIM_API int SSL_write_ex(void *ssl, const void *buf, size_t num, size_t *written)
{
	int saved = errno, ret;
	rw_ex_fn real = resolve(FN_WRITE_EX, __builtin_return_address(0));
	void *prev;
	bool outer;

	if (!real)
		return 0;
	outer = call_enter(ssl, &prev);
	errno = saved;
	ret = real(ssl, (void *)buf, num, written);
	saved = errno;
	if (outer) {
		active_ssl = prev;
		if (ret == 1 && written && *written)
			capture(ssl, CAPTURE_DIR_WRITE, buf, *written);
	}
	errno = saved;
	return ret;
}

SHIM_API int SSL_read_ex(void *ssl, void *buf, size_t num, size_t *readbytes)
{
	int saved = errno, ret;
	rw_ex_fn real = resolve(FN_READ_EX, __builtin_return_address(0));
	void *prev;
	bool outer;

	if (!real)
		return 0;
	outer = call_enter(ssl, &prev);
	errno = saved;
	ret = real(ssl, buf, num, readbytes);
	saved = errno;
	if (outer) {
		active_ssl = prev;
		if (ret == 1 && readbytes && *readbytes)
			capture(ssl, CAPTURE_DIR_READ, buf, *readbytes);
	}
	errno = saved;
	return ret;
}

/* Closed before the real free: once freed, the address may come back from
 * another thread's SSL_new and must not lose that connection's slot. */
SHIM_API void SSL_free(void *ssl)
{
	int saved = errno;
	free_fn real = resolve(FN_FREE, __builtin_return_address(0));

	if (ssl)
		capture_close(ssl);
	errno = saved;
	if (real)
		real(ssl);
}

SHIM_API int SSL_shutdown(void *ssl)
{
	int saved = errno, ret;
	shutdown_fn real = resolve(FN_SHUTDOWN, __builtin_return_address(0));

	if (!real)
		return -1;
	errno = saved;
	ret = real(ssl);
	saved = errno;
	if (ssl)
		capture_close(ssl);
	errno = saved;
	return ret;
}

/* ---- process lifecycle ------------------------------------------------ */

static void on_fork_child(void)
{
	cached_tid = 0;
	retry_skip = 0;
	active_ssl = NULL;
	shim_conn_fork_child();
}

__attribute__((constructor)) static void shim_init(void)
{
	const char *debug = getenv("LLMOBS_DEBUG"), *cap = getenv("LLMOBS_MAX_CALL_BYTES");
	unsigned long v;

	shim_debug = debug && strcmp(debug, "1") == 0;
	if (cap) {
		v = strtoul(cap, NULL, 10);
		if (v >= 1 && v <= CAPTURE_MAX_CHUNKS_LIMIT * CAPTURE_CHUNK_BYTES)
			shim_hot.max_call_bytes = (__u32)v;
		else
			shim_log("LLMOBS_MAX_CALL_BYTES=%s ignored (1..%u)", cap,
				 CAPTURE_MAX_CHUNKS_LIMIT * CAPTURE_CHUNK_BYTES);
	}
	static const struct shim_capture_ops plain_ops = {
		.capture = plain_capture,
		.close = capture_close,
		.prepare = plain_prepare,
	};

	shim_conn_init();
	shim_plain_init(&plain_ops);
	pthread_atfork(shim_conn_fork_prepare, shim_conn_fork_parent, on_fork_child);
}

__attribute__((destructor)) static void shim_fini(void)
{
	__u64 *s = shim_stats;

	shim_conn_exit();
	if (!shim_debug)
		return;
	if (!s[SHIM_STAT_CALLS]) {
		shim_log("no libssl calls seen (a binary with OpenSSL built in, like "
			 "Node, calls it directly: only the BPF daemon sees it)");
		return;
	}
	shim_log("%llu calls, %llu events, %llu bytes sent; dropped: ring full %llu "
		 "events (%llu bytes), no daemon %llu (%llu bytes), over cap %llu bytes, "
		 "table full %llu (%llu bytes); %llu reconnects; %llu bytes of server-side "
		 "connections not sent",
		 (unsigned long long)s[SHIM_STAT_CALLS], (unsigned long long)s[SHIM_STAT_EVENTS],
		 (unsigned long long)s[SHIM_STAT_BYTES],
		 (unsigned long long)s[SHIM_STAT_DROP_RING_FULL_EVENTS],
		 (unsigned long long)s[SHIM_STAT_DROP_RING_FULL_BYTES],
		 (unsigned long long)s[SHIM_STAT_DROP_NO_DAEMON_EVENTS],
		 (unsigned long long)s[SHIM_STAT_DROP_NO_DAEMON_BYTES],
		 (unsigned long long)s[SHIM_STAT_DROP_OVER_CAP_BYTES],
		 (unsigned long long)s[SHIM_STAT_DROP_NO_SLOT_EVENTS],
		 (unsigned long long)s[SHIM_STAT_DROP_NO_SLOT_BYTES],
		 (unsigned long long)s[SHIM_STAT_RECONNECTS],
		 (unsigned long long)s[SHIM_STAT_SERVER_BYTES]);
}
