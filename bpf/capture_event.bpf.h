/* What every capture program shares: the events ring buffer, the per-CPU
 * event scratch, the drop counters and the filling of a struct
 * capture_event. Each object has its own copies of the maps; userspace
 * makes the plain-HTTP capture reuse the TLS capture's ring and counters
 * (bpf_map__reuse_fd), so one ring keeps a process's events in order and
 * one set of drops is reported. */
#ifndef LLMOBS_CAPTURE_EVENT_BPF_H
#define LLMOBS_CAPTURE_EVENT_BPF_H

#define EVENT_MAX_BYTES	(sizeof(struct capture_event) + CAPTURE_CHUNK_BYTES)

/* Userspace sets the size (tls_capture_opts.ringbuf_bytes) before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

/* Event scratch, too big for the stack. Slot 0 for the probes, slot 1 for
 * the tracepoints, so a tracepoint program running while a probe program
 * is preempted on the same CPU cannot clobber its half-built event. */
#define SCRATCH_PROBE	0
#define SCRATCH_TP	1
struct scratch {
	__u8 raw[EVENT_MAX_BYTES];	/* struct capture_event + one chunk */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CAPTURE_DROP__MAX);
	__type(key, __u32);
	__type(value, struct capture_drop_count);
} drops SEC(".maps");

/* One event of bytes into slot key of a per-CPU count map. */
static __always_inline void count_in(void *map, __u32 key, __u64 bytes)
{
	struct capture_drop_count *d = bpf_map_lookup_elem(map, &key);

	if (!d)
		return;
	__sync_fetch_and_add(&d->events, 1);
	__sync_fetch_and_add(&d->bytes, bytes);
}

static __always_inline void count_drop(__u32 cause, __u64 bytes)
{
	count_in(&drops, cause, bytes);
}

/* An event of the current thread in scratch slot slot, with no data yet. */
static __always_inline struct capture_event *
event_init(__u32 slot, __u8 source, __u8 kind, __u64 conn, __u64 pid_tgid)
{
	struct scratch *s = bpf_map_lookup_elem(&scratch, &slot);
	struct capture_event *ev;

	if (!s)
		return NULL;
	ev = (struct capture_event *)s->raw;
	ev->ts_ns = bpf_ktime_get_ns();
	ev->conn = conn;
	ev->cgroup_id = bpf_get_current_cgroup_id();
	ev->stream_pos = 0;
	ev->tgid = pid_tgid >> 32;
	ev->tid = (__u32)pid_tgid;
	ev->uid = (__u32)bpf_get_current_uid_gid();
	ev->call_len = 0;
	ev->offset = 0;
	ev->data_len = 0;
	ev->kind = kind;
	ev->dir = 0;
	ev->source = source;
	ev->flags = 0;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	return ev;
}

#endif /* LLMOBS_CAPTURE_EVENT_BPF_H */
