/* The LD_PRELOAD shim protocol, daemon side (user/1-capture/shim_client.c): the hello
 * a shim sends and the ring it shares, whose every byte the shim controls
 * (include/shim_ring.h). The events drained go on into the connection
 * table, as in the daemon.
 *
 * Input: [flags][start_pos: 4 bytes][producer advance: 4 bytes] then the
 * ring's bytes from start_pos on (wrapping), then any number of
 * [offset: 2 bytes][len][bytes] writes the shim makes between drains.
 * flags bit 0 spoils the hello (magic, version or ring size, by bits 1-2);
 * bit 3 leaves the memfd unsealed; bit 4 makes the ring 128 KiB.
 *
 * Checks: a bad hello or file is refused with -EPROTO, never mapped; each
 * event delivered is DATA or CLOSE, carries the daemon's pid, uid and
 * source rather than the shim's, and its data lies within the chunk bound;
 * a drain fails only with -EPROTO and a reason; the consumer position
 * never passes the producer's. */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "conn.h"
#include "fuzz.h"
#include "log.h"
#include "shim_client.h"

#define FAKE_PID	0x3ffffff0u	/* above pid_max: /proc has nothing */
#define FAKE_UID	4242

#define MAP_BYTES	(SHIM_HDR_BYTES + 2 * SHIM_RING_MIN_BYTES)

static struct conn_table *table;
/* One sealed and one unsealed memfd, made once: a memfd and its pages per
 * input would spend most of the time in the kernel. */
static int memfds[2];
static __u8 *maps[2];
static __u8 event_buf[SHIM_EVENT_MAX_BYTES] __attribute__((aligned(8)));

static void on_record(void *ctx, struct exchange_record *r)
{
	FUZZ_CHECK(r->pid == FAKE_PID, "record of pid %u", r->pid);
}

static int make_memfd(size_t bytes, bool seal)
{
	int fd = memfd_create("fuzz-shim", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || ftruncate(fd, (off_t)bytes) < 0)
		abort();
	if (seal && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0)
		abort();
	return fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct conn_table_opts o = { .max_conns = 4, .max_body_bytes = 64 * 1024 };

	log_verbosity = -1;
	table = conn_table_new(&o, on_record, NULL);
	for (int i = 0; i < 2; i++) {
		memfds[i] = make_memfd(MAP_BYTES, i == 0);
		maps[i] = mmap(NULL, MAP_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, memfds[i], 0);
		if (maps[i] == MAP_FAILED)
			abort();
	}
	return 0;
}

static void on_event(void *ctx, const struct capture_event *ev)
{
	unsigned *n = ctx;

	FUZZ_CHECK(ev->kind == CAPTURE_DATA || ev->kind == CAPTURE_CLOSE, "kind %u", ev->kind);
	FUZZ_CHECK(ev->tgid == FAKE_PID && ev->uid == FAKE_UID, "pid %u uid %u: the shim's",
		   ev->tgid, ev->uid);
	FUZZ_CHECK(ev->source == CAPTURE_SOURCE_PRELOAD, "source %u", ev->source);
	FUZZ_CHECK(ev->data_len <= CAPTURE_CHUNK_BYTES, "data_len %u", ev->data_len);
	FUZZ_CHECK(ev->kind != CAPTURE_DATA || (ev->data_len > 0 && ev->dir <= 1 &&
		   (__u64)ev->offset + ev->data_len <= ev->call_len), "bad DATA delivered");
	conn_table_event(table, ev);
	(*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t flags = fuzz_u8(&in);
	__u32 start = (__u32)fuzz_u16(&in) | (__u32)fuzz_u16(&in) << 16;
	__u32 advance = (__u32)fuzz_u16(&in) | (__u32)fuzz_u16(&in) << 16;
	struct shim_hello h = {
		.magic = SHIM_MAGIC, .version = SHIM_VERSION,
		.ring_bytes = flags & 16 ? 2 * SHIM_RING_MIN_BYTES : SHIM_RING_MIN_BYTES,
		.start_pos = start,
	};
	/* what is really there, whatever a spoilt hello will say */
	size_t ring_size = h.ring_bytes, bytes = SHIM_HDR_BYTES + ring_size, ring_len;
	struct shim_client c;
	struct shim_ring_hdr *hdr;
	__u8 *ring;
	const uint8_t *p;
	__u64 now = 1000000000ULL;
	unsigned delivered = 0;
	int fd, r;

	if (flags & 1) {
		switch (flags >> 1 & 3) {
		case 0: h.magic ^= 1; break;
		case 1: h.version++; break;
		case 2: h.ring_bytes += 4096; break;	/* not a power of two */
		default: h.ring_bytes = SHIM_RING_MAX_BYTES * 2; break;
		}
	}
	fd = memfds[!!(flags & 8)];
	hdr = (struct shim_ring_hdr *)maps[!!(flags & 8)];
	memset(hdr, 0, bytes);
	ring = (__u8 *)hdr + SHIM_HDR_BYTES;
	hdr->producer_pos = (__u64)start + advance;
	p = fuzz_take(&in, ring_size, &ring_len);
	for (size_t i = 0; i < ring_len; i++)
		ring[(start + i) & (ring_size - 1)] = p[i];

	memset(&c, 0, sizeof(c));
	c.fd = -1;
	c.pid = FAKE_PID;
	c.uid = FAKE_UID;
	r = shim_client_attach(&c, &h, fd, 1u << 30);
	if (flags & 9) {
		FUZZ_CHECK(r == -EPROTO && !c.active, "bad hello or file accepted: %d", r);
	} else if (r == 0) {
		/* drain; between drains the shim writes what the input says */
		for (int round = 0; round < 8; round++) {
			const char *why = NULL;
			__u64 prod = hdr->producer_pos;

			r = shim_client_drain(&c, now, on_event, &delivered, event_buf, &why);
			if (r < 0) {
				FUZZ_CHECK(r == -EPROTO && why, "drain %d without a reason", r);
				break;
			}
			FUZZ_CHECK(c.cons - h.start_pos <= prod - h.start_pos,
				   "consumer %llu past producer %llu",
				   (unsigned long long)c.cons, (unsigned long long)prod);
			if (!in.len) {
				now += 6000000000ULL;	/* past the stall bound */
				continue;
			}
			{
				__u16 off = fuzz_u16(&in);
				size_t n;
				const uint8_t *w = fuzz_take(&in, fuzz_u8(&in), &n);

				for (size_t i = 0; i < n; i++)
					((__u8 *)hdr)[(off + i) % bytes] = w[i];
			}
			now += 10000000;
		}
		shim_client_account(&c);
		shim_client_detach(&c);
		/* as shim_server.c does when a client goes: its connections end */
		{
			struct capture_event ev = { .tgid = FAKE_PID, .kind = CAPTURE_EXIT };

			conn_table_event(table, &ev);
		}
	} else {
		FUZZ_CHECK(r == -EPROTO, "valid hello refused: %d", r);
	}
	return 0;
}
