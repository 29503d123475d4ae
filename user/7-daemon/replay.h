/* Replays a capture file (capture_file.h) through a connection table at
 * full speed, without BPF or privilege: `llmobsd --replay FILE`, the
 * daemon's throughput and memory benchmark (tools/bench/). */
#ifndef LLMOBS_REPLAY_H
#define LLMOBS_REPLAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "capture_file.h"
#include "conn.h"

struct replay_result {
	uint64_t events;
	uint64_t data_bytes;	/* capture bytes carried by the events */
	uint64_t exchanges;	/* LLM exchanges recorded */
	uint64_t non_llm;	/* other HTTP exchanges */
	double wall_s;
	double cpu_s;		/* this thread's CPU time */
	size_t conns_open;	/* at the end, before the table is freed */
	/* /proc/self/status at the end, kB, the file's pages dropped first:
	 * rss is the pipeline's with the connections still open (for files
	 * that leave them open, its peak); hwm, the peak, also counts the
	 * file's pages read meanwhile. */
	long rss_kb, hwm_kb, anon_kb;
	long anon_start_kb;	/* before the first event */
};

/* Feeds every event of m to t, loops times over. Timestamps are used as
 * recorded: a file meant for several loops closes its connections.
 * Returns 0, or -EBADMSG when the file ends in a cut or bad record (the
 * events before it were replayed and are in out). */
int replay_run(const struct capture_file_map *m, unsigned int loops, struct conn_table *t,
	       struct replay_result *out);
/* Prints out as the one line the benchmark reads. */
void replay_print(FILE *f, const struct replay_result *r);

#endif
