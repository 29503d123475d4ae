/* The health and metrics endpoints (metrics_http.h) on libmicrohttpd in
 * "external select" mode with epoll: MHD_run() from the daemon's loop does
 * the accepting, parsing and sending, so no HTTP is parsed by hand and no
 * thread is started. A scrape is rendered into memory and handed to MHD,
 * which frees it once sent; a slow reader holds at most that buffer and one
 * of METRICS_HTTP_MAX_CONNS slots, until METRICS_HTTP_TIMEOUT_S. */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include "log.h"
#include "metrics_http.h"

struct metrics_http {
	struct MHD_Daemon *mhd;
	struct metrics_http_opts o;
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[256];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	p_debug("metrics http: %s", buf);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, const char *type,
			     char *body, size_t len, bool owned)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, body, owned ? MHD_RESPMEM_MUST_FREE
							     : MHD_RESPMEM_PERSISTENT);
	if (!r) {
		if (owned)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned int status, const char *s)
{
	return reply(c, status, "text/plain; charset=utf-8", (char *)s, strlen(s), false);
}

static enum MHD_Result serve_metrics(struct metrics_http *h, struct MHD_Connection *c)
{
	const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	bool om = accept && strstr(accept, "application/openmetrics-text");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int err;

	if (!f)
		return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	err = h->o.render(h->o.ctx, f, om);
	if (fclose(f) || err) {
		free(buf);
		return text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render metrics\n");
	}
	return reply(c, MHD_HTTP_OK,
		     om ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
			: "text/plain; version=0.0.4; charset=utf-8", buf, len, true);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req)
{
	struct metrics_http *h = cls;
	char why[200], msg[256];

	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "read-only: GET or HEAD\n");
	if (*upload_size) {	/* a GET with a body: not read */
		*upload_size = 0;
		return MHD_YES;
	}
	if (!strcmp(url, "/metrics"))
		return serve_metrics(h, c);
	if (!strcmp(url, "/healthz"))	/* answered by the loop itself: it runs */
		return text(c, MHD_HTTP_OK, "ok\n");
	if (!strcmp(url, "/readyz")) {
		why[0] = '\0';
		if (!h->o.ready || h->o.ready(h->o.ctx, why, sizeof(why)))
			return text(c, MHD_HTTP_OK, "ready\n");
		snprintf(msg, sizeof(msg), "not ready: %s\n", why);
		return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8",
			     strdup(msg), strlen(msg), true);
	}
	return text(c, MHD_HTTP_NOT_FOUND, "not found: /metrics, /healthz, /readyz\n");
}

/* "host:port" or "[v6]:port" -> a bound address. */
static int resolve(const char *listen, struct sockaddr_storage *ss, socklen_t *sl)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char host[256];
	const char *colon = strrchr(listen, ':');
	size_t hl;

	if (!colon || colon == listen || !colon[1])
		return -EINVAL;
	hl = (size_t)(colon - listen);
	if (listen[0] == '[' && colon[-1] == ']') {
		listen++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, listen, hl);
	host[hl] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &res) || !res)
		return -EINVAL;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sl = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int metrics_http_start(const struct metrics_http_opts *o, struct metrics_http **out)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct metrics_http *h;
	int err;

	*out = NULL;
	if (!o->render)
		return -EINVAL;
	if ((err = resolve(o->listen ? o->listen : METRICS_HTTP_DEFAULT_LISTEN, &ss, &sl)))
		return err;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->o = *o;
	h->mhd = MHD_start_daemon(
		MHD_USE_EPOLL | MHD_USE_ERROR_LOG | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
		0, NULL, NULL, on_request, h,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned int)METRICS_HTTP_MAX_CONNS,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)METRICS_HTTP_PER_IP_CONNS,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_HTTP_TIMEOUT_S,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
		MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)16,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_END);
	if (!h->mhd) {
		err = errno ? -errno : -EADDRINUSE;
		free(h);
		return err;
	}
	*out = h;
	return 0;
}

int metrics_http_poll(struct metrics_http *h)
{
	if (!h)
		return 0;
	return MHD_run(h->mhd) == MHD_YES ? 0 : -EIO;
}

int metrics_http_fd(struct metrics_http *h)
{
	const union MHD_DaemonInfo *i = h ? MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD) : NULL;

	return i ? i->epoll_fd : -1;
}

unsigned int metrics_http_port(struct metrics_http *h)
{
	const union MHD_DaemonInfo *i = h ? MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT) : NULL;

	return i ? i->port : 0;
}

void metrics_http_stop(struct metrics_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->mhd);
	free(h);
}
