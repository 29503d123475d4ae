/* Capture files: the events llmobsd received, as they reached the
 * connection table, so that a run can be replayed without BPF or traffic
 * (`llmobsd --record FILE`, `--replay FILE`; tools/bench/gen_events.c
 * writes synthetic ones).
 *
 * Layout, host byte order: a header (magic "LLMOBSEV", version, the size of
 * struct capture_event when written), then records: a __u32 byte count, a
 * __u32 zero, that many bytes of one event (struct capture_event and its
 * data), zero padding to 8 bytes so that every event is aligned in a
 * mapping. A file is only ever appended to; a record cut by a crash ends
 * it (the reader stops there and says so).
 *
 * A capture file holds the plaintext of TLS calls, credentials included:
 * it is created 0600 and never written unless asked for. */
#ifndef LLMOBS_CAPTURE_FILE_H
#define LLMOBS_CAPTURE_FILE_H

#include <linux/types.h>
#include <stddef.h>
#include "capture.h"

#define CAPTURE_FILE_MAGIC	"LLMOBSEV"
#define CAPTURE_FILE_VERSION	1

struct capture_file_header {
	char magic[8];
	__u32 version;
	__u32 event_header_bytes;	/* sizeof(struct capture_event) */
	__u64 reserved;
};

struct capture_file_writer;

/* Opens path for appending (created 0600 with a header; an existing file
 * must carry ours). Returns 0 or -errno (-EPROTO: not a capture file of
 * this version). */
int capture_file_create(const char *path, struct capture_file_writer **out);
/* Appends ev and its data_len bytes of data. Returns 0 or -errno. */
int capture_file_write(struct capture_file_writer *w, const struct capture_event *ev);
int capture_file_flush(struct capture_file_writer *w);
/* Flushes and closes. Returns 0 or the first error met. */
int capture_file_close(struct capture_file_writer *w);

/* A whole file mapped read-only, walked with capture_file_next(). */
struct capture_file_map {
	const __u8 *data;
	size_t size;
	size_t first;		/* offset of the first record */
};

/* Returns 0 or -errno (-EPROTO: not a capture file of this version). */
int capture_file_open(const char *path, struct capture_file_map *m);
/* The event at *off (start at m->first) and its size; advances *off.
 * Returns 1 with an event, 0 at the end, -EBADMSG at a record that is
 * cut short or malformed (the file ends there). */
int capture_file_next(const struct capture_file_map *m, size_t *off,
		      const struct capture_event **ev, size_t *size);
/* Drops the mapping's pages from our RSS (they come back from the page
 * cache if read again): a replay's memory figures are then the pipeline's. */
void capture_file_drop_pages(const struct capture_file_map *m);
void capture_file_unmap(struct capture_file_map *m);

#endif
