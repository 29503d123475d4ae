/* /metrics, /healthz and /readyz over HTTP (libmicrohttpd). In: GET
 * requests on --listen; out: what the render and ready callbacks say.
 * No thread: the server is an epoll set that the daemon's own loop serves
 * with metrics_http_poll(), so it runs wherever that loop runs (the
 * unprivileged, sandboxed worker of issue 12) and needs no privilege once
 * its socket is bound. Read-only: any method but GET and HEAD is refused;
 * connections are capped and time out. */
#ifndef LLMOBS_METRICS_HTTP_H
#define LLMOBS_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define METRICS_HTTP_DEFAULT_LISTEN	"127.0.0.1:9464"
#define METRICS_HTTP_MAX_CONNS		16
#define METRICS_HTTP_PER_IP_CONNS	8
#define METRICS_HTTP_TIMEOUT_S		5

struct metrics_http_opts {
	const char *listen;	/* "HOST:PORT", "[V6]:PORT"; port 0: any free port */
	/* Writes the exposition into out; returns 0 or -errno. */
	int (*render)(void *ctx, FILE *out, bool openmetrics);
	/* true when ready; else why, into why (size bytes). */
	bool (*ready)(void *ctx, char *why, size_t size);
	void *ctx;
};

struct metrics_http;

/* Binds and listens. Returns 0 or -errno (-EINVAL: a bad address). */
int metrics_http_start(const struct metrics_http_opts *o, struct metrics_http **out);
/* Serves whatever is pending, never waiting. Returns 0 or -EIO. */
int metrics_http_poll(struct metrics_http *h);
/* The epoll fd to wait on, for a caller that wants to sleep on it. */
int metrics_http_fd(struct metrics_http *h);
/* The bound port (useful after port 0). */
unsigned int metrics_http_port(struct metrics_http *h);
void metrics_http_stop(struct metrics_http *h);

#endif
