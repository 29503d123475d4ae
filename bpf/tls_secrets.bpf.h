/* The processes whose sockets the plain capture looks at, and why
 * (CAPTURE_TGID_* bits): it connected to a watched local port
 * (plain_capture.bpf.c), or its TLS is seen by its secrets (rustls with
 * aws-lc, user/1-capture/awslc_find.c: its key schedule is probed in
 * tls_capture.bpf.c, its TCP sockets' bytes copied as ciphertext). One
 * map for both, so that the syscall tracepoints, which run for every read
 * and write on the host, still make a single lookup: both objects declare
 * it, userspace makes the plain capture reuse the TLS capture's
 * (bpf_map__reuse_fd). Userspace marks a process running such a binary as
 * soon as it sees it, before it connects anywhere; LRU, so a full map
 * forgets the oldest process. */
#ifndef LLMOBS_TLS_SECRETS_BPF_H
#define LLMOBS_TLS_SECRETS_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u8);
} tgids SEC(".maps");

/* Adds reason bit to tgid's. */
static __always_inline void tgid_mark(__u32 tgid, __u8 bit)
{
	__u8 *v = bpf_map_lookup_elem(&tgids, &tgid);

	if (v)
		*v |= bit;
	else
		bpf_map_update_elem(&tgids, &tgid, &bit, BPF_ANY);
}

#endif
