// SPDX-License-Identifier: GPL-2.0
/* Plain-HTTP capture for local model servers (Ollama, vLLM, LM Studio,
 * llama.cpp): the bytes of read/write/recvfrom/sendto on TCP sockets whose
 * peer is a configured port on a loopback address, as struct capture_event
 * chunks (source CAPTURE_SOURCE_SYSCALL), so userspace parses them like
 * TLS plaintext. close() on such a socket ends its connection.
 *
 * Raw syscall tracepoints need no tracefs and no kprobes; the socket
 * behind an fd is found through task->files->fdt->fd[fd]->private_data,
 * read with CO-RE. That walk costs ~150 ns, too much for every read and
 * write on the host: it runs only for processes that connected to a
 * watched port (seen here at connect, or by userspace's scan of the
 * connections open at start). Syscall numbers come from userspace (they
 * differ by architecture). On any shortage the bytes are dropped and
 * counted. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "capture.h"
#include "capture_event.bpf.h"
#include "tls_secrets.bpf.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 targ_self_tgid = 0;	/* the daemon: never captured */
const volatile __u32 targ_max_chunks = CAPTURE_MAX_CHUNKS_DEFAULT;
const volatile long nr_read = -1;
const volatile long nr_write = -1;
const volatile long nr_recvfrom = -1;
const volatile long nr_sendto = -1;
const volatile long nr_close = -1;
const volatile long nr_writev = -1;
const volatile long nr_readv = -1;

#define MODE_FMT	0170000		/* S_IFMT */
#define MODE_SOCK	0140000		/* S_IFSOCK */
#define FAMILY_INET	2
#define FAMILY_INET6	10

/* Peer ports of interest (host order), filled before attach. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u16);
	__type(value, __u8);
} ports SEC(".maps");

/* Processes that connected to a watched port, or whose TLS is seen by its
 * secrets: the only ones whose fds are looked at (tgids, in
 * tls_secrets.bpf.h). */

/* What sys_enter leaves for sys_exit of the same thread. */
struct call_args {
	__u64 sk;
	__u64 buf;		/* the buffer, or the iovec array (vec) */
	__u32 iovcnt;
	__u8 dir;
	__u8 source;		/* CAPTURE_SOURCE_SYSCALL or _CIPHER */
	__u8 vec;		/* readv / writev */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);			/* pid_tgid */
	__type(value, struct call_args);
} calls SEC(".maps");

struct stream_key {
	__u64 sk;
	__u32 tgid;
	__u32 dir;
};

/* Bytes moved so far per (tgid, socket, dir), so userspace sees every
 * lost byte; dropped at close, so a reused socket starts again at 0. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct stream_key);
	__type(value, __u64);
} stream_pos SEC(".maps");

static __always_inline bool loopback6(const struct in6_addr *a)
{
	__u32 w0 = a->in6_u.u6_addr32[0], w1 = a->in6_u.u6_addr32[1];
	__u32 w2 = a->in6_u.u6_addr32[2], w3 = a->in6_u.u6_addr32[3];

	if (w0 || w1)
		return false;
	if (!w2 && w3 == bpf_htonl(1))
		return true;			/* ::1 */
	/* ::ffff:127.x.y.z, a v4 peer on a dual-stack socket */
	return w2 == bpf_htonl(0xffff) && (bpf_ntohl(w3) >> 24) == 127;
}

/* sk's peer is a configured port on a loopback address. */
static __always_inline bool watched_peer(const struct sock *sk)
{
	struct in6_addr a6;
	__u16 family, dport;
	__u32 daddr;

	dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (!bpf_map_lookup_elem(&ports, &dport))
		return false;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family == FAMILY_INET) {
		daddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		return (bpf_ntohl(daddr) >> 24) == 127;
	}
	if (family == FAMILY_INET6) {
		a6 = BPF_CORE_READ(sk, __sk_common.skc_v6_daddr);
		return loopback6(&a6);
	}
	return false;
}

/* The struct sock behind fd when it is a TCP/IP stream socket; 0 otherwise. */
static __always_inline struct sock *stream_sock(int fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *f = NULL;
	struct socket *sock;
	struct sock *sk;
	__u16 family;

	if (fd < 0 || !fdt || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return 0;
	if ((BPF_CORE_READ(f, f_inode, i_mode) & MODE_FMT) != MODE_SOCK)
		return 0;
	sock = BPF_CORE_READ(f, private_data);
	if (!sock || BPF_CORE_READ(sock, type) != SOCK_STREAM)
		return 0;
	sk = BPF_CORE_READ(sock, sk);
	if (!sk)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	return family == FAMILY_INET || family == FAMILY_INET6 ? sk : 0;
}

/* connect() moves a client socket to SYN_SENT in the caller's context:
 * the moment to learn which processes talk to a watched port. */
SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(plain_sock_state, const struct sock *sk, int oldstate, int newstate)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32;

	if (newstate != TCP_SYN_SENT || !sk || !watched_peer(sk))
		return 0;
	if (targ_self_tgid && tgid == targ_self_tgid)
		return 0;
	tgid_mark(tgid, CAPTURE_TGID_PLAIN);
	return 0;
}

static __always_inline void event_send(struct capture_event *ev)
{
	__u32 n = ev->data_len;

	if (n > CAPTURE_CHUNK_BYTES)	/* never true; bounds for the verifier */
		n = CAPTURE_CHUNK_BYTES;
	if (bpf_ringbuf_output(&events, ev, sizeof(*ev) + n, 0))
		count_drop(CAPTURE_DROP_RINGBUF_FULL, n);
}

SEC("raw_tp/sys_enter")
int BPF_PROG(plain_sys_enter, struct pt_regs *regs, long id)
{
	__u64 pid_tgid, sk;
	struct stream_key key = {};
	struct call_args args = {};
	struct capture_event *ev;
	bool close = id == nr_close, plain, cipher;
	__u8 *why;
	struct sock *s;
	__u32 tgid;
	int fd;

	if (id == nr_write || id == nr_sendto || id == nr_writev)
		args.dir = CAPTURE_DIR_WRITE;
	else if (id == nr_read || id == nr_recvfrom || id == nr_readv)
		args.dir = CAPTURE_DIR_READ;
	else if (!close)
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	tgid = pid_tgid >> 32;
	why = bpf_map_lookup_elem(&tgids, &tgid);
	if (!why)
		return 0;
	plain = *why & CAPTURE_TGID_PLAIN;
	cipher = *why & CAPTURE_TGID_SECRETS;
	fd = (int)PT_REGS_PARM1_CORE_SYSCALL(regs);
	s = stream_sock(fd);
	if (!s)
		return 0;
	/* A watched local port is plain HTTP, whoever talks to it; any
	 * other TCP peer of a process seen by its secrets, ciphertext. */
	if (plain && watched_peer(s))
		args.source = CAPTURE_SOURCE_SYSCALL;
	else if (cipher && !watched_peer(s))
		args.source = CAPTURE_SOURCE_CIPHER;
	else
		return 0;
	sk = (__u64)s;
	if (close) {
		key.sk = sk;
		key.tgid = pid_tgid >> 32;
		key.dir = CAPTURE_DIR_WRITE;
		bpf_map_delete_elem(&stream_pos, &key);
		key.dir = CAPTURE_DIR_READ;
		bpf_map_delete_elem(&stream_pos, &key);
		ev = event_init(SCRATCH_PROBE, args.source, CAPTURE_CLOSE, sk, pid_tgid);
		if (ev)
			event_send(ev);
		return 0;
	}
	args.sk = sk;
	args.buf = PT_REGS_PARM2_CORE_SYSCALL(regs);
	args.vec = id == nr_writev || id == nr_readv;
	args.iovcnt = args.vec ? (__u32)PT_REGS_PARM3_CORE_SYSCALL(regs) : 0;
	bpf_map_update_elem(&calls, &pid_tgid, &args, BPF_ANY);
	return 0;
}

struct chunk_ctx {
	__u64 buf;
	__u64 pos;		/* stream position of the call's first byte */
	__u64 len;		/* bytes to copy (the call's, clamped to the cap) */
	/* readv/writev: the iovec array walked, the piece being copied */
	__u64 iov;
	__u32 iovcnt, idx;
	__u64 cur, cur_left, done;
};

static long copy_chunk(__u32 i, struct chunk_ctx *c)
{
	__u32 slot = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch, &slot);
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
	if (bpf_probe_read_user(ev->data, n, (const void *)(c->buf + off))) {
		count_drop(CAPTURE_DROP_READ_FAILED, n);
		return 0;
	}
	ev->data_len = n;
	event_send(ev);
	return 0;
}

#define IOV_MAX_WALK	64	/* iovecs looked at per call; the rest counted lost */

/* The readv/writev walk's state lives in a map, not on the stack: values
 * loaded from a map are unknown to the verifier, so its look at the loop
 * body converges at once instead of following each chunk's offset. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct chunk_ctx);
} iov_walk SEC(".maps");

/* One step of a readv/writev copy: take the next iovec, or copy one chunk
 * of the current one (at most a chunk, never across two iovecs). */
static long copy_iov_step(__u32 i, void *unused)
{
	__u32 slot = 0;
	struct chunk_ctx *c = bpf_map_lookup_elem(&iov_walk, &slot);
	struct scratch *s;
	struct capture_event *ev;
	struct iovec v;
	__u64 n;

	if (!c || c->done >= c->len)
		return 1;
	if (!c->cur_left) {
		if (c->idx >= c->iovcnt || c->idx >= IOV_MAX_WALK)
			return 1;
		if (bpf_probe_read_user(&v, sizeof(v), (const void *)(c->iov + c->idx * sizeof(v))))
			return 1;
		c->idx++;
		c->cur = (__u64)v.iov_base;
		c->cur_left = v.iov_len < c->len - c->done ? v.iov_len : c->len - c->done;
		return 0;
	}
	s = bpf_map_lookup_elem(&scratch, &slot);
	if (!s)
		return 1;
	ev = (struct capture_event *)s->raw;
	n = c->cur_left;
	if (n > CAPTURE_CHUNK_BYTES)
		n = CAPTURE_CHUNK_BYTES;
	ev->offset = c->done;
	ev->stream_pos = c->pos + c->done;
	if (bpf_probe_read_user(ev->data, n, (const void *)c->cur)) {
		count_drop(CAPTURE_DROP_READ_FAILED, n);
	} else {
		ev->data_len = n;
		event_send(ev);
	}
	c->cur += n;
	c->cur_left -= n;
	c->done += n;
	return 0;
}

/* Which syscall is returning: the register the kernel keeps it in, read
 * with CO-RE, so the other syscalls' exits cost one read, not a lookup. */
static __always_inline bool exit_watched(struct pt_regs *regs)
{
	long id;

#if defined(__TARGET_ARCH_x86)
	id = BPF_CORE_READ(regs, orig_ax);
#elif defined(__TARGET_ARCH_arm64)
	id = BPF_CORE_READ(regs, syscallno);
#else
	return true;	/* no such register known: the lookup decides */
#endif
	return id == nr_read || id == nr_write || id == nr_recvfrom || id == nr_sendto ||
	       id == nr_writev || id == nr_readv;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(plain_sys_exit, struct pt_regs *regs, long ret)
{
	__u64 pid_tgid, zero = 0, *pos;
	struct stream_key key = {};
	struct call_args *a, args;
	struct capture_event *ev;
	struct chunk_ctx c = {}, *w;
	__u32 chunks, cap, nr, zero32 = 0;

	if (!exit_watched(regs))
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	a = bpf_map_lookup_elem(&calls, &pid_tgid);
	if (!a)
		return 0;
	args = *a;
	bpf_map_delete_elem(&calls, &pid_tgid);
	if (ret <= 0 || ret > 0xffffffffL)
		return 0;

	key.sk = args.sk;
	key.tgid = pid_tgid >> 32;
	key.dir = args.dir;
	pos = bpf_map_lookup_elem(&stream_pos, &key);
	if (!pos) {
		bpf_map_update_elem(&stream_pos, &key, &zero, BPF_NOEXIST);
		pos = bpf_map_lookup_elem(&stream_pos, &key);
		if (!pos)
			return 0;
	}
	/* Advance by the whole call, copied or not, so every loss shows. */
	c.pos = __sync_fetch_and_add(pos, ret);
	c.buf = args.buf;
	ev = event_init(SCRATCH_PROBE, args.source, CAPTURE_DATA, args.sk, pid_tgid);
	if (!ev)
		return 0;
	ev->call_len = ret;
	ev->dir = args.dir;
	chunks = targ_max_chunks;
	if (chunks > CAPTURE_MAX_CHUNKS_LIMIT)
		chunks = CAPTURE_MAX_CHUNKS_LIMIT;
	cap = chunks * CAPTURE_CHUNK_BYTES;
	c.len = ret;
	if (c.len > cap) {
		count_drop(CAPTURE_DROP_OVER_CAP, c.len - cap);
		c.len = cap;
	}
	nr = (c.len + CAPTURE_CHUNK_BYTES - 1) / CAPTURE_CHUNK_BYTES;
	if (!args.vec) {
		bpf_loop(nr, copy_chunk, &c, 0);
		return 0;
	}
	/* Each iovec costs a step, and at most one short chunk at its end. */
	w = bpf_map_lookup_elem(&iov_walk, &zero32);
	if (!w)
		return 0;
	*w = c;
	w->iov = args.buf;
	w->iovcnt = args.iovcnt;
	bpf_loop(2 * nr + 2 * IOV_MAX_WALK, copy_iov_step, NULL, 0);
	if (w->done < w->len)
		count_drop(CAPTURE_DROP_READ_FAILED, w->len - w->done);
	return 0;
}
