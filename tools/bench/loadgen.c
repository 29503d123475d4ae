/* Bounded TLS load for the loss benchmark (tools/bench/loss.sh): a local
 * TLS server (a forked child, one thread per connection) answering OpenAI
 * chat completions with usage, and client threads on keep-alive
 * connections sending prompts at a fixed total rate, each request paced
 * from the start so that a slow answer is not made up for by a burst.
 *
 *   loadgen [--port N] [--rate R] [--seconds S] [--conns C]
 *           [--prompt-bytes N]
 *
 * --rate 0 sends as fast as the connections go (saturation). Prints one
 * line: "loadgen: sent N ok N errors N seconds S rate R p50_ms X p99_ms X
 * max_ms X" (latency: request written to response read). Run it in a
 * private network namespace (loss.sh uses unshare -n): it listens on
 * 127.0.0.1. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define MAX_CONNS	64
#define MAX_SAMPLES	(1 << 20)

static const char resp_body[] =
	"{\"id\":\"chatcmpl-loadgen\",\"object\":\"chat.completion\",\"created\":1751364000,"
	"\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"message\":"
	"{\"role\":\"assistant\",\"content\":\"Three bullet points, as asked.\"},"
	"\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":16000,"
	"\"completion_tokens\":12,\"total_tokens\":16012}}";

static void die(const char *what)
{
	fprintf(stderr, "loadgen: %s failed: %s\n", what, strerror(errno));
	ERR_print_errors_fp(stderr);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- server ---- */

static SSL_CTX *server_ctx(void)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	X509 *cert = X509_new();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	X509_NAME *name;

	if (!pkey || !cert || !ctx)
		die("server key");
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(cert), 0);
	X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
	X509_set_pubkey(cert, pkey);
	name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)"api.openai.com", -1, -1, 0);
	X509_set_issuer_name(cert, name);
	if (!X509_sign(cert, pkey, EVP_sha256()) || SSL_CTX_use_certificate(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, pkey) != 1)
		die("server certificate");
	return ctx;
}

/* Reads one request (head, then Content-Length bytes); 0 at a clean end. */
static int read_request(SSL *ssl, char *buf, size_t cap)
{
	size_t have = 0, body = 0, head = 0;
	const char *end, *cl;

	for (;;) {
		int n = SSL_read(ssl, buf + have, (int)(cap - 1 - have));

		if (n <= 0)
			return have ? -1 : 0;
		have += n;
		buf[have] = '\0';
		if (!head && (end = strstr(buf, "\r\n\r\n"))) {
			head = end + 4 - buf;
			cl = strcasestr(buf, "\r\ncontent-length:");
			body = cl ? strtoul(cl + 17, NULL, 10) : 0;
		}
		if (head && have - head >= body)
			return 1;
		if (have > cap / 2) {	/* keep the head, drop body bytes read */
			if (!head)
				return -1;
			body -= have - head;
			have = head;
		}
	}
}

static void *serve_conn(void *arg)
{
	SSL *ssl = arg;
	char *buf = malloc(256 * 1024), resp[1024];
	int n = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
			 "content-length: %zu\r\nconnection: keep-alive\r\n\r\n%s",
			 sizeof(resp_body) - 1, resp_body);

	if (buf && SSL_accept(ssl) == 1)
		while (read_request(ssl, buf, 256 * 1024) > 0)
			if (SSL_write(ssl, resp, n) != n)
				break;
	SSL_free(ssl);	/* closes the fd: BIO_NOCLOSE is not set */
	free(buf);
	return NULL;
}

static void server(int lfd)
{
	SSL_CTX *ctx = server_ctx();

	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		pthread_t t;
		SSL *ssl;

		if (fd < 0)
			continue;
		ssl = SSL_new(ctx);
		SSL_set_fd(ssl, fd);
		BIO_set_close(SSL_get_rbio(ssl), BIO_CLOSE);
		if (pthread_create(&t, NULL, serve_conn, ssl))
			SSL_free(ssl);
		else
			pthread_detach(t);
	}
}

/* ---- clients ---- */

struct client {
	pthread_t thread;
	int port;
	double start, end, interval;	/* interval 0: as fast as possible */
	int index, nconns;
	char *req;
	size_t head_len, req_len;
	long sent, ok, errors;
	float *lat_ms;
	long nlat;
};

static int client_connect(int port, SSL_CTX *ctx, SSL **out)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	SSL *ssl;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		goto fail;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, "api.openai.com");
	if (SSL_connect(ssl) != 1) {
		SSL_free(ssl);
		goto fail;
	}
	*out = ssl;
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Reads one response with its Content-Length body. */
static int read_response(SSL *ssl)
{
	char buf[4096];
	size_t have = 0, head = 0, body = 0;
	const char *end, *cl;

	for (;;) {
		int n = SSL_read(ssl, buf + have, (int)(sizeof(buf) - 1 - have));

		if (n <= 0)
			return -1;
		have += n;
		buf[have] = '\0';
		if (!head && (end = strstr(buf, "\r\n\r\n"))) {
			head = end + 4 - buf;
			cl = strcasestr(buf, "\r\ncontent-length:");
			body = cl ? strtoul(cl + 17, NULL, 10) : 0;
		}
		if (head && have - head >= body)
			return 0;
		if (have == sizeof(buf) - 1)
			return -1;
	}
}

static void *client_run(void *arg)
{
	struct client *c = arg;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = NULL;
	int fd = -1;

	/* Connections start spread over one interval, not all at once. */
	for (long i = 0;; i++) {
		double due = c->start + (i + (double)c->index / c->nconns) * c->interval, t0;

		if (c->interval) {
			double wait = due - now_s();

			if (wait > 0) {
				struct timespec ts = { (time_t)wait, (long)((wait - (long)wait) * 1e9) };

				nanosleep(&ts, NULL);
			}
		}
		if (now_s() >= c->end)
			break;
		if (fd < 0 && (fd = client_connect(c->port, ctx, &ssl)) < 0) {
			c->errors++;
			usleep(10000);
			continue;
		}
		t0 = now_s();
		c->sent++;
		/* Head and body in two calls, as SDKs write them. */
		if (SSL_write(ssl, c->req, (int)c->head_len) != (int)c->head_len ||
		    SSL_write(ssl, c->req + c->head_len, (int)(c->req_len - c->head_len)) !=
		    (int)(c->req_len - c->head_len) || read_response(ssl)) {
			c->errors++;
			SSL_free(ssl);
			close(fd);
			fd = -1;
			continue;
		}
		c->ok++;
		if (c->nlat < MAX_SAMPLES / MAX_CONNS)
			c->lat_ms[c->nlat++] = (float)((now_s() - t0) * 1e3);
	}
	if (fd >= 0) {
		SSL_shutdown(ssl);
		SSL_free(ssl);
		close(fd);
	}
	SSL_CTX_free(ctx);
	return NULL;
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "rate", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 's' },
		{ "conns", required_argument, NULL, 'c' },
		{ "prompt-bytes", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	struct sockaddr_in a = { .sin_family = AF_INET };
	double rate = 200, seconds = 10, start, took;
	long conns = 4, prompt = 65536, sent = 0, ok = 0, errors = 0, nlat = 0;
	int port = 8443, lfd, opt, one = 1;
	static struct client cs[MAX_CONNS];
	char *body, *req;
	float *lat;
	size_t head_len, body_len;
	pid_t srv;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p': port = atoi(optarg); break;
		case 'r': rate = atof(optarg); break;
		case 's': seconds = atof(optarg); break;
		case 'c': conns = atol(optarg); break;
		case 'b': prompt = atol(optarg); break;
		default:
			fprintf(stderr, "usage: loadgen [--port N] [--rate R] [--seconds S] "
					"[--conns C] [--prompt-bytes N]\n");
			return 2;
		}
	}
	if (conns < 1 || conns > MAX_CONNS || prompt < 64 || prompt > (1 << 20) || rate < 0 ||
	    seconds <= 0) {
		fprintf(stderr, "loadgen: --conns 1..%d, --prompt-bytes 64..1048576\n", MAX_CONNS);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 128))
		die("listen");
	srv = fork();
	if (srv < 0)
		die("fork");
	if (srv == 0) {
		server(lfd);
		_exit(0);
	}
	close(lfd);

	/* An OpenAI chat request whose body is prompt bytes. */
	body = malloc(prompt + 1);
	req = malloc(prompt + 1024);
	lat = calloc(MAX_SAMPLES, sizeof(*lat));
	if (!body || !req || !lat)
		die("malloc");
	body_len = (size_t)snprintf(body, prompt + 1, "{\"model\":\"gpt-4o-mini\",\"messages\":"
				    "[{\"role\":\"user\",\"content\":\"");
	for (; body_len < (size_t)prompt - 4; body_len++)
		body[body_len] = "lorem ipsum dolor sit amet "[body_len % 27];
	memcpy(body + body_len, "\"}]}", 4);
	body_len += 4;
	head_len = (size_t)snprintf(req, 1024, "POST /v1/chat/completions HTTP/1.1\r\n"
				    "Host: api.openai.com\r\nContent-Type: application/json\r\n"
				    "Authorization: Bearer sk-loadgen\r\nContent-Length: %zu\r\n\r\n",
				    body_len);
	memcpy(req + head_len, body, body_len);

	start = now_s() + 0.2;
	for (long i = 0; i < conns; i++) {
		cs[i] = (struct client){
			.port = port, .start = start, .end = start + seconds,
			.interval = rate > 0 ? conns / rate : 0, .index = (int)i,
			.nconns = (int)conns, .req = req, .head_len = head_len,
			.req_len = head_len + body_len, .lat_ms = lat + i * (MAX_SAMPLES / MAX_CONNS),
		};
		if (pthread_create(&cs[i].thread, NULL, client_run, &cs[i]))
			die("pthread_create");
	}
	for (long i = 0; i < conns; i++) {
		pthread_join(cs[i].thread, NULL);
		sent += cs[i].sent;
		ok += cs[i].ok;
		errors += cs[i].errors;
		memmove(lat + nlat, cs[i].lat_ms, cs[i].nlat * sizeof(*lat));
		nlat += cs[i].nlat;
	}
	took = now_s() - start;
	kill(srv, SIGKILL);
	waitpid(srv, NULL, 0);
	qsort(lat, nlat, sizeof(*lat), cmp_float);
	printf("loadgen: sent %ld ok %ld errors %ld seconds %.1f rate %.1f p50_ms %.2f "
	       "p99_ms %.2f max_ms %.2f\n", sent, ok, errors, took, ok / took,
	       nlat ? lat[nlat / 2] : 0.0, nlat ? lat[nlat * 99 / 100] : 0.0,
	       nlat ? lat[nlat - 1] : 0.0);
	return 0;
}
