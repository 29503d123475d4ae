// SPDX-License-Identifier: GPL-2.0
/* TLS plaintext capture: uprobes on SSL_write/SSL_read (and the _ex
 * variants) copy exactly the bytes each call moved into the ring buffer as
 * struct capture_event chunks; SSL_free and the exec/exit tracepoints tell
 * userspace when connections and processes come and go.
 *
 * Nothing here may slow the observed program: on any shortage (ring buffer
 * full, unreadable page, per-call cap) the bytes are dropped and counted. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "capture.h"
#include "tls_stream.h"
#include "capture_event.bpf.h"
#include "tls_secrets.bpf.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 targ_self_tgid = 0;	/* the daemon: never captured */
const volatile __u32 targ_max_chunks = CAPTURE_MAX_CHUNKS_DEFAULT;

#include "tls_call.bpf.h"

/* Internal to user/tls_capture.c, not part of the capture_event contract:
 * the tgids of processes whose dlopen just returned, so that a library
 * loaded late (Python imports _ssl on first use) is attached at once rather
 * than at the next periodic scan. A lost notice only delays that. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 10);
} loads SEC(".maps");

/* What an entry probe leaves for its return probe. */
struct call_args {
	__u64 ssl;
	__u64 buf;
	__u64 len_ptr;		/* size_t *written / *readbytes; 0 for plain calls */
	__u64 sp;		/* stack pointer at entry: pairs the return with it */
	__u64 ts_ns;
	__u8 dir;
	__u8 live;		/* a call under way (task storage outlives it) */
};

/* A wrapper calling its sibling (LibreSSL's SSL_write_ex calls SSL_write;
 * an LD_PRELOAD shim calls the real one) fires two entries and two
 * returns for one transfer. The inner call is deeper on the stack and
 * starts at once (same SSL*, buffer and direction); only the outer one is recorded and emitted. Telling it
 * by the stack rather than by a depth count means that a return the
 * kernel skipped leaves a stale entry that the next call overwrites,
 * instead of one that swallows every later call on the same buffer. */
#define NESTED_WITHIN_NS	(100 * 1000 * 1000)	/* even when preempted between */
/* Between the entry and the return probe the stack pointer moves by the
 * popped return address (x86) or not at all (arm64); allow some slack. */
#define RET_SP_SLACK		64

/* LRU: a thread that dies inside SSL_read leaves its entry behind, and a
 * full plain hash would then refuse every new call. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);			/* pid_tgid */
	__type(value, struct call_args);
} calls SEC(".maps");

/* The same, kept with the thread where the kernel allows task storage in
 * uprobes: no hash update and delete per call (make bench). Userspace
 * probes for it and loads the programs of one kind (the *_ts ones here). */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct call_args);
} task_calls SEC(".maps");

/* This thread's pending call, or NULL; ts: the task-storage kind. */
static __always_inline struct call_args *call_args_get(bool ts, __u64 id, bool create)
{
	if (ts)
		return bpf_task_storage_get(&task_calls, bpf_get_current_task_btf(), 0,
					    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
	return bpf_map_lookup_elem(&calls, &id);
}

static __always_inline bool is_self(__u64 pid_tgid)
{
	return targ_self_tgid && (__u32)(pid_tgid >> 32) == targ_self_tgid;
}

/* ---- SSL_write / SSL_read ------------------------------------------------ */

static __always_inline int call_enter(bool ts, struct pt_regs *ctx, __u64 ssl, __u64 buf,
				      __u64 len_ptr, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid(), now = bpf_ktime_get_ns();
	__u64 sp = PT_REGS_SP(ctx);
	struct call_args *old, args = {};

	if (is_self(id))
		return 0;
	old = call_args_get(ts, id, ts);
	if (old && old->live && old->ssl == ssl && old->buf == buf && old->dir == dir &&
	    sp < old->sp && now - old->ts_ns < NESTED_WITHIN_NS)
		return 0;
	/* Any other leftover is from a call whose return we never saw. */
	args.ssl = ssl;
	args.buf = buf;
	args.len_ptr = len_ptr;
	args.sp = sp;
	args.ts_ns = now;
	args.dir = dir;
	args.live = 1;
	if (ts) {
		if (old)	/* else the return counts it: no entry */
			*old = args;
	} else {
		bpf_map_update_elem(&calls, &id, &args, BPF_ANY);
	}
	return 0;
}

/* The four entry probes, of each kind. */
#define ENTRY_PROBES(sfx, ts)								\
SEC("uprobe")										\
int BPF_KPROBE(ssl_write_enter##sfx, void *ssl, const void *buf, int num)		\
{											\
	return call_enter(ts, ctx, (__u64)ssl, (__u64)buf, 0, CAPTURE_DIR_WRITE);	\
}											\
											\
SEC("uprobe")										\
int BPF_KPROBE(ssl_write_ex_enter##sfx, void *ssl, const void *buf, size_t num,	\
	       size_t *written)								\
{											\
	return call_enter(ts, ctx, (__u64)ssl, (__u64)buf, (__u64)written,		\
			  CAPTURE_DIR_WRITE);						\
}											\
											\
SEC("uprobe")										\
int BPF_KPROBE(ssl_read_enter##sfx, void *ssl, void *buf, int num)			\
{											\
	return call_enter(ts, ctx, (__u64)ssl, (__u64)buf, 0, CAPTURE_DIR_READ);	\
}											\
											\
SEC("uprobe")										\
int BPF_KPROBE(ssl_read_ex_enter##sfx, void *ssl, void *buf, size_t num,		\
	       size_t *readbytes)							\
{											\
	return call_enter(ts, ctx, (__u64)ssl, (__u64)buf, (__u64)readbytes,		\
			  CAPTURE_DIR_READ);						\
}

ENTRY_PROBES(, false)
ENTRY_PROBES(_ts, true)

/* One return probe for all four calls: the entry recorded which it was. */
static __always_inline int call_exit(bool ts, struct pt_regs *ctx, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call_args *a;
	__u64 len = 0, sp;
	int rc;

	if (is_self(id))
		return 0;
	a = call_args_get(ts, id, false);
	if (!a || !a->live) {
		count_drop(CAPTURE_DROP_NO_ENTRY, 0);
		return 0;
	}
	sp = PT_REGS_SP(ctx);
	if (sp < a->sp)
		return 0;	/* a nested call's return: the outer one emits */
	if (sp > a->sp + RET_SP_SLACK) {
		/* The recorded entry is a deeper call whose return was
		 * skipped; this call's own entry was not seen. */
		count_drop(CAPTURE_DROP_NO_ENTRY, 0);
		goto out;
	}
	/* All four return int: the upper half of the register is garbage
	 * (node returns -1 as 0x00000000ffffffff while handshaking). */
	rc = (int)ret;
	if (a->len_ptr) {
		/* SSL_{read,write}_ex: 1 on success, the count in *len_ptr. */
		if (rc == 1 && bpf_probe_read_user(&len, sizeof(len), (void *)a->len_ptr)) {
			count_drop(CAPTURE_DROP_READ_FAILED, 0);
			goto out;
		}
	} else if (rc > 0) {
		len = rc;
	}
	if (!len || len > 0xffffffffULL)
		goto out;

	tls_call_emit(id, a->ssl, a->dir, a->buf, len);
out:
	if (ts)
		a->live = 0;
	else
		bpf_map_delete_elem(&calls, &id);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_call_exit, long ret)
{
	return call_exit(false, ctx, ret);
}

SEC("uretprobe")
int BPF_KRETPROBE(ssl_call_exit_ts, long ret)
{
	return call_exit(true, ctx, ret);
}

/* The connection's end (tls_call_close() says when it is told). */
SEC("uprobe")
int BPF_KPROBE(ssl_free_enter, void *ssl)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (!is_self(id) && ssl)
		tls_call_close(id, (__u64)ssl);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(dlopen_exit, void *handle)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;

	if (!handle || is_self(id))
		return 0;
	bpf_ringbuf_output(&loads, &tgid, sizeof(tgid), 0);
	return 0;
}

/* ---- TLS 1.3 secrets (rustls with aws-lc) ---------------------------------- */

/* HKDF_expand(out, out_len, md, prk, prk_len, info, info_len): info_len is
 * the seventh argument, on the stack above the return address. Only an
 * HKDF-Expand-Label for an application traffic secret goes out: a
 * Hash.length secret from a Hash.length parent, label "tls13 c ap
 * traffic" or "tls13 s ap traffic", the transcript hash as context. */
#define LABEL_LEN	18	/* "tls13 c ap traffic" */
SEC("uprobe")
int BPF_KPROBE(hkdf_expand_enter, void *out, __u64 out_len, void *md, const void *prk,
	       __u64 prk_len)
{
#if !defined(__TARGET_ARCH_x86)
	return 0;	/* awslc_find.c attaches on x86-64 only */
#else
	static const char want[LABEL_LEN] = "tls13 c ap traffic";
	const void *info = (const void *)ctx->r9;	/* the sixth argument */
	__u64 id = bpf_get_current_pid_tgid(), info_len = 0;
	struct capture_event *ev;
	struct capture_key *k;
	__u32 tgid = id >> 32;
	int i;

	if (is_self(id) || (prk_len != 32 && prk_len != 48) || out_len != prk_len)
		return 0;
	if (bpf_probe_read_user(&info_len, sizeof(info_len), (void *)(PT_REGS_SP(ctx) + 8)) ||
	    info_len != 2 + 1 + LABEL_LEN + 1 + prk_len)
		return 0;
	ev = event_init(SCRATCH_PROBE, CAPTURE_SOURCE_CIPHER, CAPTURE_KEY, 0, id);
	if (!ev)
		return 0;
	k = (struct capture_key *)ev->data;
	/* Constant sizes: the verifier wants them bounded, and the compiler
	 * drops a mask on a value it knows is 32 or 48. */
	if (bpf_probe_read_user(k->info, info_len & 0x7f, info) ||
	    (prk_len == 48 ? bpf_probe_read_user(k->prk, 48, prk)
			   : bpf_probe_read_user(k->prk, 32, prk))) {
		count_drop(CAPTURE_DROP_READ_FAILED, sizeof(*k));
		return 0;
	}
	if (k->info[2] != LABEL_LEN)
		return 0;
	for (i = 0; i < LABEL_LEN; i++)
		if (k->info[3 + i] != want[i] && !(i == 6 && k->info[3 + i] == 's'))
			return 0;
	k->prk_len = prk_len;
	k->info_len = info_len;
	ev->data_len = sizeof(*k);
	/* Its later connections at least, if the scan missed the process. */
	tgid_mark(tgid, CAPTURE_TGID_SECRETS);
	if (bpf_ringbuf_output(&events, ev, sizeof(*ev) + sizeof(*k), 0))
		count_drop(CAPTURE_DROP_RINGBUF_FULL, sizeof(*k));
	return 0;
#endif
}

/* ---- process exec / exit ------------------------------------------------- */

/* The path comes from the caller: the tracepoint's __data_loc string or
 * the raw tracepoint's bprm->filename, both kernel memory. */
static __always_inline int emit_exec(const void *filename)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct capture_event *ev;
	long n;

	if (is_self(id))
		return 0;
	ev = event_init(SCRATCH_TP, CAPTURE_SOURCE_UPROBE, CAPTURE_EXEC, 0, id);
	if (!ev)
		return 0;
	n = bpf_probe_read_kernel_str(ev->data, CAPTURE_PATH_LEN, filename);
	/* data_len excludes the NUL; a failed read still reports the exec. */
	ev->data_len = n > 1 ? n - 1 : 0;
	if (ev->data_len > CAPTURE_PATH_LEN)
		ev->data_len = CAPTURE_PATH_LEN;
	event_send(ev, WAKE_ADAPTIVE);
	return 0;
}

/* One event per process, not per thread: sent by whichever thread exits
 * last (signal->live already counted down to 0), which is the leader in
 * the common case but not when the leader called pthread_exit early. */
static __always_inline int emit_exit(void)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct capture_event *ev;

	if (is_self(id))
		return 0;
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	ev = event_init(SCRATCH_TP, CAPTURE_SOURCE_UPROBE, CAPTURE_EXIT, 0, id);
	if (ev)
		event_send(ev, WAKE_ADAPTIVE);
	return 0;
}

/* Classic tracepoints: a stable format, but attaching needs tracefs
 * mounted. Userspace picks these when it is, the raw_tp twins below when
 * it is not (their arguments are the kernel's TP_PROTO, read via CO-RE). */
SEC("tracepoint/sched/sched_process_exec")
int tp_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	unsigned int loc = ctx->__data_loc_filename;

	return emit_exec((void *)ctx + (loc & 0xffff));
}

SEC("tracepoint/sched/sched_process_exit")
int tp_exit(void *ctx)
{
	return emit_exit();
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(raw_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return emit_exec(BPF_CORE_READ(bprm, filename));
}

SEC("raw_tp/sched_process_exit")
int raw_exit(void *ctx)
{
	return emit_exit();
}
