/* A shim's ring, daemon side: attach (check the memfd, map it), drain
 * (copy each committed record out, check it, say who sent it), account the
 * shim's counters. The shim can write the shared pages at any moment, so
 * every value read from them is read once and checked before use. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "log.h"
#include "procinfo.h"
#include "shim_client.h"
#include "stats.h"

#define STALL_NS		(5ull * 1000000000)	/* a record never committed */
#define PID_LIMIT		(4u << 20)		/* PID_MAX_LIMIT on 64-bit */
#define STAT_SANE_DELTA		(1ull << 40)

/* ---- what /proc says about the process ---------------------------------- */

static int read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = '\0';
	return (int)n;
}

static int read_comm(__u32 pid, __u32 tid, char comm[CAPTURE_COMM_LEN])
{
	char path[64], buf[64];
	int n;

	snprintf(path, sizeof(path), "/proc/%u/task/%u/comm", pid, tid);
	n = read_small(path, buf, sizeof(buf));
	if (n < 0)
		return n;
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	memset(comm, 0, CAPTURE_COMM_LEN);
	memcpy(comm, buf, n < CAPTURE_COMM_LEN ? n : CAPTURE_COMM_LEN - 1);
	return 0;
}

/* The cgroup v2 id BPF reports (bpf_get_current_cgroup_id) is the inode of
 * the process's cgroup directory. 0 when unknown. */
static __u64 read_cgroup_id(__u32 pid)
{
	char path[64], buf[4096], dir[4200];
	struct stat st;
	char *p;

	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	if (read_small(path, buf, sizeof(buf)) < 0)
		return 0;
	p = strstr(buf, "0::/");
	if (!p || (p != buf && p[-1] != '\n'))
		return 0;
	p += 3;
	p[strcspn(p, "\n")] = '\0';
	snprintf(dir, sizeof(dir), "/sys/fs/cgroup%s", p);
	return stat(dir, &st) == 0 ? (__u64)st.st_ino : 0;
}

/* A tid is the shim's claim: kept only if /proc shows that thread in the
 * client's process (remembered for the next events), else 0. The thread's
 * comm comes with it, as bpf_get_current_comm gives it. */
static __u32 check_tid(struct shim_client *c, __u32 tid, char comm[CAPTURE_COMM_LEN])
{
	struct shim_tid *t;

	for (int i = 0; i < SHIM_CLIENT_TIDS; i++) {
		if (tid && c->tids[i].tid == tid) {
			memcpy(comm, c->tids[i].comm, CAPTURE_COMM_LEN);
			return tid;
		}
	}
	memcpy(comm, c->comm, CAPTURE_COMM_LEN);
	if (!tid || tid >= PID_LIMIT)
		goto unverified;
	t = &c->tids[c->tid_next++ % SHIM_CLIENT_TIDS];
	t->tid = 0;
	if (read_comm(c->pid, tid, t->comm))
		goto unverified;	/* not its thread, or already gone */
	t->tid = tid;
	memcpy(comm, t->comm, CAPTURE_COMM_LEN);
	return tid;
unverified:
	stats_inc(STAT_SHIM_TIDS_UNVERIFIED);
	return 0;
}

/* ---- attach / detach ----------------------------------------------------- */

int shim_client_attach(struct shim_client *c, const struct shim_hello *h, int memfd,
		       size_t budget_bytes)
{
	size_t bytes = SHIM_HDR_BYTES + (size_t)h->ring_bytes;
	char exe[256];
	struct stat st;
	__u64 prod, cur;
	void *map;
	int seals;

	if (h->magic != SHIM_MAGIC || h->version != SHIM_VERSION || h->flags ||
	    h->ring_bytes < SHIM_RING_MIN_BYTES || h->ring_bytes > SHIM_RING_MAX_BYTES ||
	    (h->ring_bytes & (h->ring_bytes - 1)) ||
	    /* records start at multiples of SHIM_REC_ALIGN: another start
	     * would have us read misaligned record headers */
	    (h->start_pos & (SHIM_REC_ALIGN - 1)))
		return -EPROTO;
	seals = fcntl(memfd, F_GET_SEALS);
	if (fstat(memfd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size < bytes ||
	    seals < 0 || !(seals & F_SEAL_SHRINK) ||
	    (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)))
		return -EPROTO;
	if (bytes > budget_bytes)
		return -ENOSPC;
	map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (map == MAP_FAILED)
		return -errno;
	c->hdr = map;
	c->data = (const __u8 *)map + SHIM_HDR_BYTES;
	c->size = h->ring_bytes;
	c->map_bytes = bytes;
	c->cons = h->start_pos;
	prod = __atomic_load_n(&c->hdr->producer_pos, __ATOMIC_ACQUIRE);
	if (prod - c->cons > c->size) {
		munmap(map, bytes);
		return -EPROTO;
	}
	/* A daemon may have read on since the shim looked (this one, finishing
	 * the process's previous connection): never deliver a record twice. */
	cur = __atomic_load_n(&c->hdr->consumer_pos, __ATOMIC_ACQUIRE);
	if (cur - c->cons <= prod - c->cons && !(cur & (SHIM_REC_ALIGN - 1)))
		c->cons = cur;
	c->active = true;
	if (read_comm(c->pid, c->pid, c->comm))
		memset(c->comm, 0, sizeof(c->comm));
	c->cgroup_id = read_cgroup_id(c->pid);
	/* Remembered now: a short-lived process is gone by the time its ring
	 * is drained, and its /proc/PID/exe with it. */
	procinfo_exe((pid_t)c->pid, exe, sizeof(exe));
	return 0;
}

void shim_client_detach(struct shim_client *c)
{
	if (c->active)
		munmap(c->hdr, c->map_bytes);
	c->active = false;
	c->hdr = NULL;
	c->data = NULL;
}

/* ---- draining ------------------------------------------------------------- */

void shim_client_account(struct shim_client *c)
{
	static const enum stats_counter map[SHIM_STAT__MAX] = {
		[SHIM_STAT_CALLS] = STAT_SHIM_CALLS,
		[SHIM_STAT_EVENTS] = STAT__MAX,	/* the daemon counts what it gets */
		[SHIM_STAT_BYTES] = STAT__MAX,
		[SHIM_STAT_DROP_RING_FULL_EVENTS] = STAT_SHIM_DROP_RING_FULL_EVENTS,
		[SHIM_STAT_DROP_RING_FULL_BYTES] = STAT_SHIM_DROP_RING_FULL_BYTES,
		[SHIM_STAT_DROP_NO_DAEMON_EVENTS] = STAT_SHIM_DROP_NO_DAEMON_EVENTS,
		[SHIM_STAT_DROP_NO_DAEMON_BYTES] = STAT_SHIM_DROP_NO_DAEMON_BYTES,
		[SHIM_STAT_DROP_OVER_CAP_BYTES] = STAT_SHIM_DROP_OVER_CAP_BYTES,
		[SHIM_STAT_DROP_NO_SLOT_EVENTS] = STAT_SHIM_DROP_NO_SLOT_EVENTS,
		[SHIM_STAT_DROP_NO_SLOT_BYTES] = STAT_SHIM_DROP_NO_SLOT_BYTES,
		[SHIM_STAT_RECONNECTS] = STAT_SHIM_RECONNECTS,
		[SHIM_STAT_SERVER_BYTES] = STAT__MAX,	/* not a loss */
	};

	if (!c->active)
		return;
	for (int i = 0; i < SHIM_STAT__MAX; i++) {
		__u64 now = __atomic_load_n(&c->hdr->stats[i], __ATOMIC_RELAXED);
		__u64 seen = __atomic_load_n(&c->hdr->stats_seen[i], __ATOMIC_RELAXED);

		if (now == seen)
			continue;
		/* Informational, and the shim's word: bounded, never negative. */
		if (now > seen && now - seen < STAT_SANE_DELTA && map[i] != STAT__MAX)
			stats_add(map[i], now - seen);
		__atomic_store_n(&c->hdr->stats_seen[i], now, __ATOMIC_RELAXED);
	}
}

/* One record, copied out of the ring (len bytes): checked, then given the
 * daemon's view of who sent it. Returns whether it was delivered. */
static bool deliver(struct shim_client *c, struct capture_event *ev, __u32 len,
		    __u64 now, shim_event_fn cb, void *ctx)
{
	bool ok;

	switch (ev->kind) {
	case CAPTURE_DATA:
		ok = ev->data_len == len - sizeof(*ev) && ev->data_len > 0 &&
		     ev->dir <= CAPTURE_DIR_READ &&
		     (__u64)ev->offset + ev->data_len <= ev->call_len;
		break;
	case CAPTURE_CLOSE:
		ok = ev->data_len == 0 && len == sizeof(*ev);
		break;
	default:	/* EXEC/EXIT are the daemon's to say */
		ok = false;
		break;
	}
	if (!ok) {
		stats_inc(STAT_SHIM_MESSAGES_MALFORMED);
		return false;
	}
	ev->tgid = c->pid;
	ev->uid = c->uid;
	ev->cgroup_id = c->cgroup_id;
	ev->source = CAPTURE_SOURCE_PRELOAD;
	ev->flags = 0;
	ev->tid = check_tid(c, ev->tid, ev->comm);
	if (ev->ts_ns > now)
		ev->ts_ns = now;
	cb(ctx, ev);
	return true;
}

int shim_client_drain(struct shim_client *c, __u64 now, shim_event_fn cb, void *ctx,
		      void *buf, const char **why)
{
	__u64 prod = __atomic_load_n(&c->hdr->producer_pos, __ATOMIC_ACQUIRE);
	__u64 cons = c->cons, start = cons;
	int n = 0;

	if (prod - cons > c->size) {
		*why = "producer position out of range";
		return -EPROTO;
	}
	while (cons != prod) {
		__u64 off = cons & (c->size - 1), rec_bytes;
		const struct shim_rec *rec = (const struct shim_rec *)(c->data + off);
		__u32 len;

		if (__atomic_load_n(&rec->pos, __ATOMIC_ACQUIRE) != cons)
			break;	/* reserved, not committed yet */
		len = __atomic_load_n(&rec->len, __ATOMIC_RELAXED);
		if (len == SHIM_REC_PAD && off) {
			/* The shim reserves a pad together with the record
			 * after it: one that reaches the producer is forged,
			 * and would publish a consumer_pos past it. */
			if (c->size - off >= prod - cons) {
				*why = "pad record past the producer position";
				return -EPROTO;
			}
			cons += c->size - off;
			continue;
		}
		rec_bytes = (sizeof(*rec) + (__u64)len + SHIM_REC_ALIGN - 1) &
			    ~(__u64)(SHIM_REC_ALIGN - 1);
		if (len < sizeof(struct capture_event) || len > SHIM_EVENT_MAX_BYTES ||
		    off + rec_bytes > c->size || rec_bytes > prod - cons) {
			*why = "record length out of range";
			return -EPROTO;
		}
		/* The shim may still write there: only our copy is looked at. */
		memcpy(buf, rec + 1, len);
		cons += rec_bytes;
		if (deliver(c, buf, len, now, cb, ctx))
			n++;
	}
	c->cons = cons;
	__atomic_store_n(&c->hdr->consumer_pos, cons, __ATOMIC_RELEASE);
	if (__atomic_load_n(&c->hdr->kick_pending, __ATOMIC_ACQUIRE))
		__atomic_store_n(&c->hdr->kick_pending, 0, __ATOMIC_RELEASE);
	shim_client_account(c);
	if (cons == prod || cons != start) {
		c->stall_since_ns = 0;
	} else if (!c->stall_since_ns) {
		c->stall_since_ns = now;
	} else if (now - c->stall_since_ns > STALL_NS) {
		/* A thread died or longjmp'd out mid-record: nothing behind it
		 * can be read. The shim reconnects and starts afresh. */
		*why = "ring stalled on a record never committed";
		return -EPROTO;
	}
	return n;
}
