/* The processes whose TLS is seen by its secrets (rustls with aws-lc:
 * user/1-capture/awslc_find.c): their key schedule is probed
 * (tls_capture.bpf.c) and their TCP sockets' bytes copied as ciphertext
 * (plain_capture.bpf.c). Both objects declare this map; userspace makes
 * the plain capture reuse the TLS capture's (bpf_map__reuse_fd). Filled
 * by userspace for every process it sees mapping such a binary, before it
 * connects anywhere; LRU, so a full map forgets the oldest process. */
#ifndef LLMOBS_TLS_SECRETS_BPF_H
#define LLMOBS_TLS_SECRETS_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u8);
} secret_tgids SEC(".maps");

#endif
