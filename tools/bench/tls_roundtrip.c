/* TLS round-trip micro-benchmark: a client and a server SSL joined by a
 * memory BIO pair in one thread, so the loop costs only what the TLS
 * library (and whatever observes its calls) does. One iteration: the client
 * writes a request, the server reads it, writes a response, the client
 * reads it. Run it bare, under LD_PRELOAD=libllmobs.so or with uprobes
 * attached, and compare the ns per iteration (tools/bench/run.sh).
 *
 *   tls_roundtrip [--bytes N] [--resp-bytes N] [--sse-events N]
 *                 [--event-bytes N] [--iterations N | --min-ms T]
 *                 [--repeat N] [--opaque] [--model-seqpacket]
 *
 * --bytes is the request (a prompt: up to 1 MiB, written by one SSL_write,
 * read in 16 KiB records), --resp-bytes the response (default the same).
 * --sse-events N makes the response a chunked SSE stream instead: a head,
 * then N events of --event-bytes (default 100), each one SSL_write by the
 * server and one SSL_read by the client, as a token stream is read.
 * --min-ms calibrates the iterations on the warm-up so that each repeat
 * takes about T ms: a uprobe trap costs ~28 us on a VM, so one iteration
 * count cannot suit every variant.
 *
 * Prints one line per repeat: "ns_per_iter <wall ns> cpu_ns_per_iter <ns>
 * calls_per_iter <SSL_read/SSL_write calls, both ends> probed <n>", then
 * "median <wall ns> cpu <ns>". probed counts the SSL_read/SSL_write entry
 * points of libssl that held a breakpoint (a uprobe's int3) before or
 * after the repeat: a probe attached by someone else on a shared host
 * (another llmobsd, one being killed, whose probes no longer show in
 * bpftool) would otherwise pass for the observer under test. The CPU time is this thread's own
 * (CLOCK_THREAD_CPUTIME_ID): on a shared host, other load stretches wall
 * time but not the CPU the loop itself uses, which is what an observer
 * adds to the application.
 * By default the payloads are HTTP/1.1 messages (a keep-alive exchange per
 * iteration), so an observer parses them as it would real traffic;
 * --opaque sends bytes no HTTP parser recognises. --model-seqpacket adds
 * what a shim handing each call to its daemon over a non-blocking
 * SOCK_SEQPACKET socket would cost (one send per SSL call, a thread
 * draining the other end): the design the shim's ring was measured
 * against. */
#include <dlfcn.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

static void die(const char *what)
{
	fprintf(stderr, "tls_roundtrip: %s failed\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

/* A throwaway self-signed P-256 certificate, made in memory. */
static void make_cert(EVP_PKEY **pkey, X509 **cert)
{
	X509_NAME *name;

	*pkey = EVP_EC_gen("P-256");
	*cert = X509_new();
	if (!*pkey || !*cert)
		die("key generation");
	ASN1_INTEGER_set(X509_get_serialNumber(*cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(*cert), 0);
	X509_gmtime_adj(X509_getm_notAfter(*cert), 3600);
	X509_set_pubkey(*cert, *pkey);
	name = X509_get_subject_name(*cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)"bench.invalid", -1, -1, 0);
	X509_set_issuer_name(*cert, name);
	if (!X509_sign(*cert, *pkey, EVP_sha256()))
		die("X509_sign");
}

static void handshake(SSL *c, SSL *s)
{
	int cdone = 0, sdone = 0;

	for (int i = 0; i < 100 && !(cdone && sdone); i++) {
		if (!cdone) {
			int r = SSL_do_handshake(c);

			if (r == 1)
				cdone = 1;
			else if (SSL_get_error(c, r) != SSL_ERROR_WANT_READ)
				die("client handshake");
		}
		if (!sdone) {
			int r = SSL_do_handshake(s);

			if (r == 1)
				sdone = 1;
			else if (SSL_get_error(s, r) != SSL_ERROR_WANT_READ)
				die("server handshake");
		}
	}
	if (!cdone || !sdone)
		die("handshake");
}

/* HTTP/1.1 message of exactly n bytes: head, then a body of 'x's. */
static void make_message(char *buf, size_t n, int response, int opaque)
{
	char head[256];
	int h;

	if (opaque) {
		for (size_t i = 0; i < n; i++)
			buf[i] = (char)(0x80 | (i & 0x7f));
		return;
	}
	for (int body = (int)n;; body--) {
		h = response ? snprintf(head, sizeof(head),
					"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
					"Content-Length: %d\r\n\r\n", body)
			     : snprintf(head, sizeof(head),
					"POST /bench HTTP/1.1\r\nHost: bench.invalid\r\n"
					"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n",
					body);
		if ((size_t)h + body == n)
			break;
		if (body == 0) {
			fprintf(stderr, "tls_roundtrip: --bytes too small for an HTTP message\n");
			exit(2);
		}
	}
	memcpy(buf, head, h);
	memset(buf + h, 'x', n - h);
}

/* --model-seqpacket: the socket a per-call design would send on. */
static int model_fd = -1;
static char model_msg[80 + 16384];	/* a capture_event header + the bytes */
static long ssl_calls;

static void model_send(const void *buf, size_t n)
{
	if (model_fd < 0)
		return;
	/* One message per 16 KiB, as the shim's chunks. */
	for (size_t off = 0; off < n; off += 16384) {
		size_t k = n - off < 16384 ? n - off : 16384;

		memcpy(model_msg + 80, (const char *)buf + off, k);
		/* Full socket: dropped, as the shim would. */
		send(model_fd, model_msg, 80 + k, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
}

static void *model_drain(void *arg)
{
	static char buf[sizeof(model_msg)];
	int fd = *(int *)arg;

	while (recv(fd, buf, sizeof(buf), 0) > 0)
		;
	return NULL;
}

static void model_start(void)
{
	static int sv[2];
	pthread_t t;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0 ||
	    pthread_create(&t, NULL, model_drain, &sv[1]))
		die("socketpair / drain thread");
	model_fd = sv[0];
}

static void write_all(SSL *ssl, const char *buf, size_t n)
{
	ssl_calls++;
	if (SSL_write(ssl, buf, (int)n) != (int)n)
		die("SSL_write");
	model_send(buf, n);
}

static void read_all(SSL *ssl, char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		int r = SSL_read(ssl, buf + got, (int)(n - got));

		ssl_calls++;
		if (r <= 0)
			die("SSL_read");
		model_send(buf + got, r);
		got += r;
	}
}

static double now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* --sse-events: the stream's head, events and end as HTTP/1.1 chunks. */
struct sse {
	char head[160], end[8];
	char *event;		/* one chunk; every event is alike */
	size_t head_len, event_len, end_len;
	long n;
};

static void make_sse(struct sse *e, long n, size_t event_bytes)
{
	size_t data = event_bytes > 16 ? event_bytes - 16 : 1;
	int h;

	e->n = n;
	e->head_len = (size_t)snprintf(e->head, sizeof(e->head),
				       "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
				       "Transfer-Encoding: chunked\r\n\r\n");
	e->end_len = (size_t)snprintf(e->end, sizeof(e->end), "0\r\n\r\n");
	e->event = malloc(data + 64);
	if (!e->event)
		die("malloc");
	/* "data: " + filler + "\n\n", framed as one chunk */
	h = snprintf(e->event, 64, "%zx\r\ndata: ", data + 8);
	memset(e->event + h, 'x', data);
	memcpy(e->event + h + data, "\n\n\r\n", 4);
	e->event_len = (size_t)h + data + 4;
}

/* One iteration: the request there, the response (or stream) back. */
static void exchange(SSL *c, SSL *s, const char *req, size_t req_len, const char *resp,
		     size_t resp_len, const struct sse *e, char *in)
{
	write_all(c, req, req_len);
	read_all(s, in, req_len);
	if (!e) {
		write_all(s, resp, resp_len);
		read_all(c, in, resp_len);
		return;
	}
	write_all(s, e->head, e->head_len);
	read_all(c, in, e->head_len);
	for (long i = 0; i < e->n; i++) {
		write_all(s, e->event, e->event_len);
		read_all(c, in, e->event_len);
	}
	write_all(s, e->end, e->end_len);
	read_all(c, in, e->end_len);
}

/* How many of libssl's own SSL_write, SSL_read (and _ex) entries hold an
 * int3: x86 uprobes put one on the first instruction. */
static int probed(void)
{
	static const char *const syms[] = { "SSL_write", "SSL_read", "SSL_write_ex",
					    "SSL_read_ex" };
	static void *lib;
	int n = 0;

	if (!lib)
		lib = dlopen("libssl.so.3", RTLD_NOW | RTLD_NOLOAD);
	for (size_t i = 0; lib && i < sizeof(syms) / sizeof(syms[0]); i++) {
		const unsigned char *p = dlsym(lib, syms[i]);

		n += p && *p == 0xcc;
	}
	return n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "bytes", required_argument, NULL, 'b' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "opaque", no_argument, NULL, 'o' },
		{ "model-seqpacket", no_argument, NULL, 's' },
		{ "resp-bytes", required_argument, NULL, 'R' },
		{ "sse-events", required_argument, NULL, 'E' },
		{ "event-bytes", required_argument, NULL, 'B' },
		{ "min-ms", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	size_t bytes = 1024, resp_bytes = 0, event_bytes = 100, bio_bytes;
	long iterations = 200000, repeat = 5, sse_events = 0, min_ms = 0, calls = 0;
	int opaque = 0, seqpacket = 0, opt;
	struct sse sse = {};
	SSL_CTX *sctx, *cctx;
	SSL *c, *s;
	BIO *cb, *sb;
	EVP_PKEY *pkey;
	X509 *cert;
	char *req, *resp, *in;
	double *res, *cpu;

	while ((opt = getopt_long(argc, argv, "b:n:r:os", longopts, NULL)) != -1) {
		switch (opt) {
		case 'b': bytes = strtoul(optarg, NULL, 10); break;
		case 'n': iterations = strtol(optarg, NULL, 10); break;
		case 'r': repeat = strtol(optarg, NULL, 10); break;
		case 'o': opaque = 1; break;
		case 's': seqpacket = 1; break;
		case 'R': resp_bytes = strtoul(optarg, NULL, 10); break;
		case 'E': sse_events = strtol(optarg, NULL, 10); break;
		case 'B': event_bytes = strtoul(optarg, NULL, 10); break;
		case 'm': min_ms = strtol(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: tls_roundtrip [--bytes N] [--resp-bytes N] "
					"[--sse-events N] [--event-bytes N] [--iterations N | "
					"--min-ms T] [--repeat N] [--opaque] [--model-seqpacket]\n");
			return 2;
		}
	}
	if (!resp_bytes)
		resp_bytes = bytes;
	if (bytes < 1 || bytes > (1 << 20) || resp_bytes > (1 << 20) || iterations < 1 ||
	    repeat < 1 || repeat > 1000 || sse_events < 0 || event_bytes < 1 ||
	    event_bytes > 16000 || min_ms < 0) {
		fprintf(stderr, "tls_roundtrip: --bytes and --resp-bytes 1..1048576, "
				"--event-bytes 1..16000, --iterations and --repeat > 0\n");
		return 2;
	}
	if (sse_events)
		make_sse(&sse, sse_events, event_bytes);
	req = malloc(bytes);
	resp = malloc(resp_bytes);
	in = malloc((bytes > resp_bytes ? bytes : resp_bytes) + 16384);
	res = calloc(repeat, sizeof(*res));
	cpu = calloc(repeat, sizeof(*cpu));
	if (!req || !resp || !in || !res || !cpu)
		die("malloc");
	make_message(req, bytes, 0, opaque);
	make_message(resp, resp_bytes, 1, opaque);

	make_cert(&pkey, &cert);
	sctx = SSL_CTX_new(TLS_server_method());
	cctx = SSL_CTX_new(TLS_client_method());
	if (!sctx || !cctx || SSL_CTX_use_certificate(sctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey(sctx, pkey) != 1)
		die("SSL_CTX setup");
	SSL_CTX_set_min_proto_version(sctx, TLS1_3_VERSION);
	c = SSL_new(cctx);
	s = SSL_new(sctx);
	/* A whole message fits in the pair (records add ~22 bytes per 16 KiB),
	 * so one SSL_write never waits for the reader. */
	bio_bytes = (bytes > resp_bytes ? bytes : resp_bytes) * 2 + 65536;
	if (!c || !s || !BIO_new_bio_pair(&cb, bio_bytes, &sb, bio_bytes))
		die("SSL_new / BIO pair");
	SSL_set_bio(c, cb, cb);
	SSL_set_bio(s, sb, sb);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	handshake(c, s);
	if (seqpacket)
		model_start();

	if (min_ms) {
		/* Warm-up until a tenth of the target has passed, then size
		 * the repeats from its pace. */
		double t0 = now_ns(CLOCK_MONOTONIC), el;
		long done = 0;

		do {
			exchange(c, s, req, bytes, resp, resp_bytes, sse_events ? &sse : NULL, in);
			done++;
		} while ((el = now_ns(CLOCK_MONOTONIC) - t0) < min_ms * 1e5);
		iterations = (long)(min_ms * 1e6 / (el / done));
		if (iterations < 1)
			iterations = 1;
	}
	for (long r = min_ms ? 0 : -1; r < repeat; r++) {	/* r == -1: warm-up */
		long n = r < 0 ? iterations / 10 + 1 : iterations;
		double t0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
		int p0 = probed(), p1;

		ssl_calls = 0;
		for (long i = 0; i < n; i++)
			exchange(c, s, req, bytes, resp, resp_bytes, sse_events ? &sse : NULL, in);
		calls = ssl_calls / n;
		if (r >= 0) {
			res[r] = (now_ns(CLOCK_MONOTONIC) - t0) / n;
			cpu[r] = (now_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / n;
			p1 = probed();
			printf("ns_per_iter %.1f cpu_ns_per_iter %.1f calls_per_iter %ld probed %d\n",
			       res[r], cpu[r], calls, p0 > p1 ? p0 : p1);
			fflush(stdout);
		}
	}
	qsort(res, repeat, sizeof(*res), cmp_double);
	qsort(cpu, repeat, sizeof(*cpu), cmp_double);
	printf("median %.1f cpu %.1f\n", res[repeat / 2], cpu[repeat / 2]);

	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
	X509_free(cert);
	EVP_PKEY_free(pkey);
	free(req);
	free(resp);
	free(in);
	free(res);
	free(cpu);
	free(sse.event);
	return 0;
}
