/* TLS round-trip micro-benchmark: a client and a server SSL joined by a
 * memory BIO pair in one thread, so the loop costs only what the TLS
 * library (and whatever observes its calls) does. One iteration: the client
 * writes a request, the server reads it, writes a response, the client
 * reads it. Run it bare, under LD_PRELOAD=libllmobs.so or with uprobes
 * attached, and compare the ns per iteration (tools/bench/run.sh).
 *
 *   tls_roundtrip [--bytes N] [--iterations N] [--repeat N] [--opaque]
 *                 [--model-seqpacket]
 *
 * Prints one line per repeat: "ns_per_iter <wall ns> cpu_ns_per_iter <ns>",
 * then "median <wall ns> cpu <ns>". The CPU time is this thread's own
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

static void model_send(const void *buf, size_t n)
{
	if (model_fd < 0)
		return;
	memcpy(model_msg + 80, buf, n);
	/* Full socket: dropped, as the shim would. */
	send(model_fd, model_msg, 80 + n, MSG_DONTWAIT | MSG_NOSIGNAL);
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
	if (SSL_write(ssl, buf, (int)n) != (int)n)
		die("SSL_write");
	model_send(buf, n);
}

static void read_all(SSL *ssl, char *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		int r = SSL_read(ssl, buf + got, (int)(n - got));

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
		{ NULL, 0, NULL, 0 },
	};
	size_t bytes = 1024;
	long iterations = 200000, repeat = 5;
	int opaque = 0, seqpacket = 0, opt;
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
		default:
			fprintf(stderr, "usage: tls_roundtrip [--bytes N] [--iterations N] "
					"[--repeat N] [--opaque] [--model-seqpacket]\n");
			return 2;
		}
	}
	if (bytes < 1 || bytes > 16384 || iterations < 1 || repeat < 1 || repeat > 1000) {
		fprintf(stderr, "tls_roundtrip: --bytes 1..16384, --iterations and --repeat > 0\n");
		return 2;
	}
	req = malloc(bytes);
	resp = malloc(bytes);
	in = malloc(bytes);
	res = calloc(repeat, sizeof(*res));
	cpu = calloc(repeat, sizeof(*cpu));
	if (!req || !resp || !in || !res || !cpu)
		die("malloc");
	make_message(req, bytes, 0, opaque);
	make_message(resp, bytes, 1, opaque);

	make_cert(&pkey, &cert);
	sctx = SSL_CTX_new(TLS_server_method());
	cctx = SSL_CTX_new(TLS_client_method());
	if (!sctx || !cctx || SSL_CTX_use_certificate(sctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey(sctx, pkey) != 1)
		die("SSL_CTX setup");
	SSL_CTX_set_min_proto_version(sctx, TLS1_3_VERSION);
	c = SSL_new(cctx);
	s = SSL_new(sctx);
	if (!c || !s || !BIO_new_bio_pair(&cb, 0, &sb, 0))
		die("SSL_new / BIO pair");
	SSL_set_bio(c, cb, cb);
	SSL_set_bio(s, sb, sb);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	handshake(c, s);
	if (seqpacket)
		model_start();

	for (long r = -1; r < repeat; r++) {	/* r == -1: warm-up */
		long n = r < 0 ? iterations / 10 + 1 : iterations;
		double t0 = now_ns(CLOCK_MONOTONIC), c0 = now_ns(CLOCK_THREAD_CPUTIME_ID);

		for (long i = 0; i < n; i++) {
			write_all(c, req, bytes);
			read_all(s, in, bytes);
			write_all(s, resp, bytes);
			read_all(c, in, bytes);
		}
		if (r >= 0) {
			res[r] = (now_ns(CLOCK_MONOTONIC) - t0) / n;
			cpu[r] = (now_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / n;
			printf("ns_per_iter %.1f cpu_ns_per_iter %.1f\n", res[r], cpu[r]);
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
	return 0;
}
