/* Events from the capture paths (BPF uprobes, LD_PRELOAD shim) to llmobsd.
 * Shared by BPF and userspace: types and constants only, no includes
 * (BPF gets __u64 from vmlinux.h, userspace from <linux/types.h>). */
#ifndef LLMOBS_CAPTURE_H
#define LLMOBS_CAPTURE_H

/* A TLS call larger than one chunk is sent as several events; a chunk is the
 * most one event carries, the per-call cap bounds the chunks of one call. */
#define CAPTURE_CHUNK_BYTES		(16 * 1024)
#define CAPTURE_MAX_CHUNKS_DEFAULT	64	/* 1 MiB per TLS call */
#define CAPTURE_MAX_CHUNKS_LIMIT	256	/* 4 MiB: what the BPF loop is verified for */
#define CAPTURE_COMM_LEN		16
#define CAPTURE_PATH_LEN		256

enum capture_kind {
	CAPTURE_DATA = 1,	/* plaintext written or read on a connection */
	CAPTURE_CLOSE = 2,	/* SSL_free / SSL_shutdown: connection gone */
	CAPTURE_EXEC = 3,	/* data[] holds the new executable's path */
	CAPTURE_EXIT = 4,	/* process (tgid) exited */
	CAPTURE_KEY = 5,	/* data[] is a struct capture_key: never stored */
};

enum capture_dir {
	CAPTURE_DIR_WRITE = 0,	/* SSL_write*: what the process sent */
	CAPTURE_DIR_READ = 1,	/* SSL_read*: what the process received */
};

enum capture_source {
	CAPTURE_SOURCE_UPROBE = 0,
	CAPTURE_SOURCE_PRELOAD = 1,
	CAPTURE_SOURCE_SYSCALL = 2,	/* plain HTTP to local model servers */
	CAPTURE_SOURCE_CIPHER = 3,	/* TLS records at the socket, decrypted by
					 * the daemon with the process's secrets */
};

/* Why bytes or events were lost; counted per cause. */
enum capture_drop {
	CAPTURE_DROP_RINGBUF_FULL = 0,	/* ring buffer had no room */
	CAPTURE_DROP_READ_FAILED = 1,	/* bpf_probe_read_user failed */
	CAPTURE_DROP_OVER_CAP = 2,	/* bytes past the per-call cap */
	CAPTURE_DROP_NO_ENTRY = 3,	/* return probe without its entry */
	CAPTURE_DROP__MAX,
};

struct capture_drop_count {
	__u64 events;
	__u64 bytes;
};

struct capture_event {
	__u64 ts_ns;		/* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u64 conn;		/* SSL*: unique within tgid while open */
	__u64 cgroup_id;
	__u64 stream_pos;	/* position of data[0] in this direction's byte stream */
	__u32 tgid;
	__u32 tid;
	__u32 uid;
	__u32 call_len;		/* bytes the TLS call moved in all */
	__u32 offset;		/* of data[0] within the call: 0 starts a call */
	__u32 data_len;		/* bytes in data[] */
	__u8 kind;		/* enum capture_kind */
	__u8 dir;		/* enum capture_dir */
	__u8 source;		/* enum capture_source */
	__u8 flags;
	char comm[CAPTURE_COMM_LEN];
	__u8 data[];
};

/* Why a process's sockets are looked at (the plain capture's tgids map,
 * shared with the TLS capture): bits, as both reasons can hold. */
#define CAPTURE_TGID_PLAIN	1	/* it connected to a watched local port */
#define CAPTURE_TGID_SECRETS	2	/* its TLS is seen by its secrets */

/* The arguments of one HKDF-Expand at a TLS 1.3 key schedule (aws-lc's
 * HKDF_expand under rustls) whose label names an application traffic
 * secret: the parent secret and the HkdfLabel. Secret material: the
 * daemon derives the traffic secret in memory and keeps nothing else. */
#define CAPTURE_KEY_PRK_MAX	48
#define CAPTURE_KEY_INFO_MAX	80
struct capture_key {
	__u8 prk_len;
	__u8 info_len;
	__u8 prk[CAPTURE_KEY_PRK_MAX];
	__u8 info[CAPTURE_KEY_INFO_MAX];
};

#endif /* LLMOBS_CAPTURE_H */
