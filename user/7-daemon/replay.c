/* Capture file replay: see replay.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "bpe.h"
#include "replay.h"
#include "stats.h"

static double clock_s(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* VmRSS, VmHWM, RssAnon of this process, in kB (-1 when unknown). */
static void read_rss(long *rss, long *hwm, long *anon)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");

	*rss = *hwm = *anon = -1;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "VmRSS:", 6))
			sscanf(line + 6, "%ld", rss);
		else if (!strncmp(line, "VmHWM:", 6))
			sscanf(line + 6, "%ld", hwm);
		else if (!strncmp(line, "RssAnon:", 8))
			sscanf(line + 8, "%ld", anon);
	}
	fclose(f);
}

int replay_run(const struct capture_file_map *m, unsigned int loops, struct conn_table *t,
	       struct replay_result *out)
{
	uint64_t exch0 = stats[STAT_EXCHANGES], non0 = stats[STAT_NON_LLM_EXCHANGES];
	const struct capture_event *ev;
	double wall0, cpu0;
	long ignored;
	size_t off, size;
	int r = 0;

	memset(out, 0, sizeof(*out));
	/* The daemon loads the BPE ranks at its first estimate (~35 ms, a few
	 * MB): here before the clock starts, so that a short replay measures
	 * the steady state and the memory figures hold them, as a daemon's
	 * would after its first minutes. */
	bpe_available(BPE_O200K_BASE);
	bpe_available(BPE_CL100K_BASE);
	read_rss(&ignored, &ignored, &out->anon_start_kb);
	wall0 = clock_s(CLOCK_MONOTONIC);
	cpu0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
	for (unsigned int i = 0; i < loops; i++) {
		off = m->first;
		while ((r = capture_file_next(m, &off, &ev, &size)) > 0) {
			conn_table_event(t, ev);
			out->events++;
			out->data_bytes += ev->data_len;
		}
		if (r < 0)
			break;
	}
	out->cpu_s = clock_s(CLOCK_THREAD_CPUTIME_ID) - cpu0;
	out->wall_s = clock_s(CLOCK_MONOTONIC) - wall0;
	out->exchanges = stats[STAT_EXCHANGES] - exch0;
	out->non_llm = stats[STAT_NON_LLM_EXCHANGES] - non0;
	out->conns_open = conn_table_count(t);
	capture_file_drop_pages(m);
	read_rss(&out->rss_kb, &out->hwm_kb, &out->anon_kb);
	return r < 0 ? r : 0;
}

void replay_print(FILE *f, const struct replay_result *r)
{
	double cpu = r->cpu_s > 0 ? r->cpu_s : 1e-9;

	fprintf(f, "replay: events %llu bytes %llu exchanges %llu non_llm %llu "
		"wall_s %.3f cpu_s %.3f exchanges_per_cpu_s %.0f mb_per_cpu_s %.1f "
		"conns_open %zu conns_evicted %llu rss_kb %ld hwm_kb %ld anon_kb %ld "
		"anon_start_kb %ld\n",
		(unsigned long long)r->events, (unsigned long long)r->data_bytes,
		(unsigned long long)r->exchanges, (unsigned long long)r->non_llm,
		r->wall_s, r->cpu_s, (r->exchanges + r->non_llm) / cpu,
		r->data_bytes / 1e6 / cpu, r->conns_open,
		(unsigned long long)stats[STAT_CONNS_EVICTED], r->rss_kb, r->hwm_kb,
		r->anon_kb, r->anon_start_kb);
}
