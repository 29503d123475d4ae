/* Prints every event of the BPF TLS capture, one line each, and the drop
 * counters at exit: the manual and e2e check of bpf/tls_capture.bpf.c.
 *
 *   capture_dump [--seconds N] [--max-chunks N] [--ringbuf BYTES]
 *                [--streams DIR] [-v]
 *
 * --streams DIR writes each direction of each connection to
 * DIR/<tgid>-<conn>-<w|r>.bin at its stream_pos, so a capture can be
 * compared byte for byte with what the client sent or received.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include "tls_capture.h"

static volatile sig_atomic_t exiting;

static void on_signal(int sig __attribute__((unused)))
{
	exiting = 1;
}

struct totals {
	unsigned long long events[5];
	unsigned long long data_bytes;
	const char *streams_dir;
};

static void save_stream(const char *dir, const struct capture_event *ev)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%u-%llx-%c.bin", dir, ev->tgid,
		 (unsigned long long)ev->conn, ev->dir == CAPTURE_DIR_WRITE ? 'w' : 'r');
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (pwrite(fd, ev->data, ev->data_len, ev->stream_pos) != (ssize_t)ev->data_len)
		fprintf(stderr, "short write to %s\n", path);
	close(fd);
}

static const char *kind_name(unsigned int kind)
{
	static const char *const names[] = { "?", "DATA", "CLOSE", "EXEC", "EXIT" };

	return kind < 5 ? names[kind] : "?";
}

static void escape(char *out, size_t cap, const unsigned char *p, size_t n)
{
	size_t o = 0, i;

	for (i = 0; i < n && o + 5 < cap; i++) {
		unsigned char ch = p[i];

		if (ch == '\r')
			o += sprintf(out + o, "\\r");
		else if (ch == '\n')
			o += sprintf(out + o, "\\n");
		else if (ch == '\\')
			o += sprintf(out + o, "\\\\");
		else if (ch < 0x20 || ch >= 0x7f)
			o += sprintf(out + o, "\\x%02x", ch);
		else
			out[o++] = ch;
	}
	out[o] = '\0';
}

static int on_event(void *ctx, const struct capture_event *ev, size_t size)
{
	struct totals *t = ctx;
	char text[60 * 4 + 1];
	size_t n = ev->data_len;

	if (n > size - sizeof(*ev)) {
		printf("MALFORMED size=%zu data_len=%u\n", size, ev->data_len);
		return 0;
	}
	t->events[ev->kind < 5 ? ev->kind : 0]++;
	if (ev->kind == CAPTURE_DATA) {
		t->data_bytes += n;
		if (t->streams_dir)
			save_stream(t->streams_dir, ev);
	}
	escape(text, sizeof(text), ev->data, n < 60 ? n : 60);
	printf("%-5s %-5s tgid=%u tid=%u comm=%.16s conn=0x%llx call_len=%u offset=%u "
	       "data_len=%u stream_pos=%llu \"%s\"\n",
	       kind_name(ev->kind),
	       ev->kind != CAPTURE_DATA ? "-" : ev->dir == CAPTURE_DIR_WRITE ? "WRITE" : "READ",
	       ev->tgid, ev->tid, ev->comm, (unsigned long long)ev->conn, ev->call_len,
	       ev->offset, ev->data_len, (unsigned long long)ev->stream_pos, text);
	return 0;
}

static double ms_between(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1e3 + (b->tv_nsec - a->tv_nsec) / 1e6;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "max-chunks", required_argument, NULL, 'c' },
		{ "ringbuf", required_argument, NULL, 'r' },
		{ "streams", required_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{},
	};
	static const char *const drop_names[CAPTURE_DROP__MAX] = {
		"ringbuf_full", "read_failed", "over_cap", "no_entry",
	};
	struct tls_capture_opts opts = { .self_pid = getpid() };
	struct capture_drop_count drops[CAPTURE_DROP__MAX];
	struct tls_capture *cap = NULL;
	struct totals t = {};
	struct timespec t0, start, now;
	double seconds = 0;
	int opt, err, i;

	while ((opt = getopt_long(argc, argv, "s:c:r:S:v", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			seconds = atof(optarg);
			break;
		case 'c':
			opts.max_chunks = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			opts.ringbuf_bytes = strtoull(optarg, NULL, 0);
			break;
		case 'S':
			t.streams_dir = optarg;
			break;
		case 'v':
			log_verbosity = LOG_DEBUG;
			break;
		default:
			fprintf(stderr, "usage: %s [--seconds N] [--max-chunks N] "
				"[--ringbuf BYTES] [--streams DIR] [-v]\n", argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = tls_capture_open(&opts, on_event, &t, &cap);
	if (err) {
		fprintf(stderr, "tls_capture_open: %s\n", strerror(-err));
		return 1;
	}
	/* What the periodic scan costs once everything is known. */
	clock_gettime(CLOCK_MONOTONIC, &start);
	tls_capture_rescan(cap, 0);
	clock_gettime(CLOCK_MONOTONIC, &now);
	fprintf(stderr, "READY: %d TLS libraries attached; open %.1f ms, warm full rescan %.2f ms\n",
		tls_capture_attached(cap), ms_between(&t0, &start), ms_between(&start, &now));
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!exiting) {
		err = tls_capture_poll(cap, 100);
		if (err == -EINTR)
			break;
		if (err < 0) {
			fprintf(stderr, "tls_capture_poll: %s\n", strerror(-err));
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (seconds > 0 && (now.tv_sec - start.tv_sec) +
				   (now.tv_nsec - start.tv_nsec) / 1e9 >= seconds)
			break;
	}
	/* Whatever is still queued belongs to the run. */
	tls_capture_poll(cap, 0);
	err = tls_capture_drops(cap, drops);
	printf("TOTAL events: data=%llu close=%llu exec=%llu exit=%llu data_bytes=%llu libs=%d\n",
	       t.events[CAPTURE_DATA], t.events[CAPTURE_CLOSE], t.events[CAPTURE_EXEC],
	       t.events[CAPTURE_EXIT], t.data_bytes, tls_capture_attached(cap));
	for (i = 0; !err && i < CAPTURE_DROP__MAX; i++)
		printf("DROP %-12s events=%llu bytes=%llu\n", drop_names[i],
		       (unsigned long long)drops[i].events,
		       (unsigned long long)drops[i].bytes);
	clock_gettime(CLOCK_MONOTONIC, &start);
	tls_capture_close(cap);
	clock_gettime(CLOCK_MONOTONIC, &now);
	fprintf(stderr, "closed in %.1f ms\n", ms_between(&start, &now));
	return 0;
}
