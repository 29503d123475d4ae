// SPDX-License-Identifier: GPL-2.0
/* Go crypto/tls plaintext capture: uprobes at the entry of
 * crypto/tls.(*Conn).Write and .Read and at each of their RET
 * instructions (found by disassembly in userspace), and at the entry of
 * .Close; the bytes go out as the same struct capture_event stream as the
 * SSL_* probes (tls_call.bpf.h), keyed by the *tls.Conn pointer.
 *
 * What Write sends is emitted at its entry, what Read received at its
 * RET. net/http writes a request from one goroutine (writeLoop) and reads
 * the answer in another (readLoop), on other threads: a writer descheduled
 * between its write(2) and Write's RET let the reader's RET, answer and
 * all, reach the ring first, and the HTTP/1.1 parser, which has no stream
 * ids, met a response with no request (issue 11's go-h1 no_response). At
 * the entry the bytes have not left yet, so no answer to them can come
 * before them. Write's RETs are still probed: they end the call, so that a
 * second entry of the same call (below) is told from a new one. A Write
 * that fails part-way has then been emitted whole; its connection is
 * broken for good (Go keeps the error), so nothing follows it there.
 *
 * Why not uretprobes: they replace the return address on the goroutine's
 * stack, and the Go runtime copies stacks (growth) and walks them
 * (GC, tracebacks): a foreign return address crashes the program.
 *
 * Arguments come in registers (Go's ABIInternal, Go >= 1.17, which
 * userspace checks): on amd64 the receiver in RAX, the slice's pointer and
 * length in RBX and RCX, the int result in RAX at the RET; the running
 * goroutine's g in R14. A goroutine may move between threads while it
 * blocks in Read, so the entry is paired with its RET by (tgid, g), never
 * by thread. No Go struct offsets are read except g.stack, which is at
 * offset 0 of runtime.g by the toolchain's own ABI (every function
 * prologue compares SP with g.stackguard0 at 16(R14), right after it).
 *
 * Nothing here may slow or alter the program: on any shortage the bytes
 * are dropped and counted. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "capture.h"
#include "tls_stream.h"
#include "go_tls.h"
#include "capture_event.bpf.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 targ_max_chunks = CAPTURE_MAX_CHUNKS_DEFAULT;

#include "tls_call.bpf.h"

#if defined(__TARGET_ARCH_x86)
#define GO_ARG1(x)	((x)->ax)
#define GO_ARG2(x)	((x)->bx)
#define GO_ARG3(x)	((x)->cx)
#define GO_RET1(x)	((x)->ax)
#define GO_G(x)		((x)->r14)
#elif defined(__TARGET_ARCH_arm64)
#define GO_ARG1(x)	(((struct user_pt_regs *)(x))->regs[0])
#define GO_ARG2(x)	(((struct user_pt_regs *)(x))->regs[1])
#define GO_ARG3(x)	(((struct user_pt_regs *)(x))->regs[2])
#define GO_RET1(x)	(((struct user_pt_regs *)(x))->regs[0])
#define GO_G(x)		(((struct user_pt_regs *)(x))->regs[28])
#else
#error "Go register ABI not described for this architecture"
#endif

struct go_call_key {
	__u64 g;
	__u32 tgid;
	__u32 pad;
};

struct go_call {
	__u64 conn;		/* *tls.Conn: heap, never moves */
	__u64 buf;		/* b's data pointer at entry */
	__u64 len;		/* len(b) */
	__u64 sp;		/* SP at entry; at the RET it differs only if
				 * the stack was copied meanwhile */
	__u64 ts_ns;		/* of the entry */
	__u8 dir;
};

/* A second entry of one Write (below) follows the first at once; a call
 * whose RET was missed (a panic unwinding through it) leaves an entry that
 * is older than this, and never hides a new call for longer. */
#define GO_REENTRY_NS	(100 * 1000 * 1000)

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, GO_TLS_MAX_CALLS);
	__type(key, struct go_call_key);
	__type(value, struct go_call);
} go_calls SEC(".maps");

/* runtime.g begins with stack{lo, hi}. */
struct go_stack {
	__u64 lo;
	__u64 hi;
};

static __always_inline int go_enter(struct pt_regs *ctx, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct go_call_key key = { .g = GO_G(ctx), .tgid = id >> 32 };
	struct go_call call = {
		.conn = GO_ARG1(ctx),
		.buf = GO_ARG2(ctx),
		.len = GO_ARG3(ctx),
		.sp = PT_REGS_SP(ctx),
		.ts_ns = bpf_ktime_get_ns(),
		.dir = dir,
	};
	struct go_call *old;

	if (!key.g || !call.conn)
		return 0;
	/* A stack growth check at entry re-runs the prologue after
	 * morestack: the same call enters twice, with the same receiver and
	 * length (a buffer on the stack has moved). A Read's second entry
	 * only overwrites the first; a Write's was emitted already. */
	old = bpf_map_lookup_elem(&go_calls, &key);
	if (dir == CAPTURE_DIR_WRITE && old && old->dir == dir && old->conn == call.conn &&
	    old->len == call.len && call.ts_ns - old->ts_ns < GO_REENTRY_NS)
		return 0;
	bpf_map_update_elem(&go_calls, &key, &call, BPF_ANY);
	if (dir == CAPTURE_DIR_WRITE && call.len && call.len <= 0xffffffffULL)
		tls_call_emit(id, call.conn, dir, call.buf, call.len);
	return 0;
}

SEC("uprobe")
int go_tls_write_enter(struct pt_regs *ctx)
{
	return go_enter(ctx, CAPTURE_DIR_WRITE);
}

SEC("uprobe")
int go_tls_read_enter(struct pt_regs *ctx)
{
	return go_enter(ctx, CAPTURE_DIR_READ);
}

/* At every RET of Write (the call ends: its bytes went at the entry) and
 * of Read (what it received goes now). */
SEC("uprobe")
int go_tls_ret(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct go_call_key key = { .g = GO_G(ctx), .tgid = id >> 32 };
	struct go_call *a = bpf_map_lookup_elem(&go_calls, &key);
	__s64 n = (__s64)GO_RET1(ctx);
	__u64 buf, sp;

	if (!a) {
		count_drop(CAPTURE_DROP_NO_ENTRY, 0);
		return 0;
	}
	if (a->dir == CAPTURE_DIR_WRITE || n <= 0 || (__u64)n > a->len || n > 0xffffffffLL)
		goto out;
	buf = a->buf;
	sp = PT_REGS_SP(ctx);
	if (sp != a->sp) {
		/* The goroutine's stack was copied (grown or shrunk) during
		 * the call, every frame shifted by the same delta as SP and
		 * the stacks' tops too (runtime.copystack). A buffer in a
		 * caller's frame lay between the entry SP and the old top;
		 * it moved, one on the heap did not. g.stack is the new one. */
		struct go_stack st;
		__u64 delta = sp - a->sp;

		if (bpf_probe_read_user(&st, sizeof(st), (void *)key.g)) {
			count_drop(CAPTURE_DROP_READ_FAILED, n);
			goto out;
		}
		if (buf >= a->sp && buf < st.hi - delta)
			buf += delta;
	}
	tls_call_emit(id, a->conn, a->dir, buf, n);
out:
	bpf_map_delete_elem(&go_calls, &key);
	return 0;
}

SEC("uprobe")
int go_tls_close_enter(struct pt_regs *ctx)
{
	__u64 conn = GO_ARG1(ctx);

	if (conn)
		tls_call_close(bpf_get_current_pid_tgid(), conn);
	return 0;
}
