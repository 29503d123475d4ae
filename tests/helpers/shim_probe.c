/* What an application sees of SSL_* calls, printed one line per call, so
 * that a run under LD_PRELOAD=libllmobs.so can be compared byte for byte
 * with a run without it: return values, SSL_get_error, errno (set to a
 * marker before each call, so a shim that touched it would show), bytes.
 * A client and a server SSL over a memory BIO pair: no network. With a
 * port argument, also the plain socket calls the shim interposes when
 * LLMOBS_PLAIN_PORTS names that port, on a loopback TCP connection.
 * Used by tests/e2e/shim.sh. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include "ssl_pair.h"

#define MARK 4242

/* Prints "what ret=R err=E errno=N" with errno as the call left it. */
static void show(const char *what, SSL *ssl, long ret, int err_no)
{
	printf("%-26s ret=%ld ssl_err=%d errno=%s\n", what, ret,
	       ret > 0 ? 0 : SSL_get_error(ssl, (int)ret),
	       err_no == MARK ? "kept" : strerror(err_no));
}

static void session(const char *who)
{
	char buf[4096], name[64];
	size_t n = 0;
	SSL *c, *s;
	int r;

	pair(&c, &s);
	/* First of the process (or of a fork child): where a shim connects
	 * to its daemon, with syscalls that set errno. */
	{
		SSL *lone = SSL_new(SSL_get_SSL_CTX(c));	/* no BIO: fails at once */

		errno = MARK;
		r = SSL_write(lone, "x", 1);
		snprintf(name, sizeof(name), "%s first call", who);
		show(name, lone, r, errno);
		SSL_free(lone);
	}
	/* Handshake driven by reads that fail with WANT_READ first. */
	for (int i = 0; i < 6; i++) {
		errno = MARK;
		r = SSL_read(c, buf, sizeof(buf));
		snprintf(name, sizeof(name), "%s client read %d", who, i);
		show(name, c, r, errno);
		errno = MARK;
		r = SSL_read(s, buf, sizeof(buf));
		snprintf(name, sizeof(name), "%s server read %d", who, i);
		show(name, s, r, errno);
	}
	errno = MARK;
	r = SSL_write(c, "GET /probe HTTP/1.1\r\nHost: probe.invalid\r\n\r\n", 44);
	show("client write", c, r, errno);
	errno = MARK;
	r = SSL_read_ex(s, buf, sizeof(buf), &n);
	show("server read_ex", s, r, errno);
	printf("  %zu bytes: %.*s|\n", n, (int)(n > 20 ? 20 : n), buf);
	errno = MARK;
	r = SSL_write_ex(s, "HTTP/1.1 204 No Content\r\n\r\n", 27, &n);
	show("server write_ex", s, r, errno);
	printf("  %zu bytes written\n", n);
	errno = MARK;
	r = SSL_read(c, buf, 10);	/* a short read, the rest after */
	show("client read 10", c, r, errno);
	errno = MARK;
	r = SSL_read(c, buf, sizeof(buf));
	show("client read rest", c, r, errno);
	errno = MARK;
	r = SSL_read(c, buf, sizeof(buf));
	show("client read empty", c, r, errno);
	errno = MARK;
	r = SSL_write(c, buf, 0);
	show("client write 0", c, r, errno);
	errno = MARK;
	r = SSL_shutdown(c);
	show("client shutdown", c, r, errno);
	errno = MARK;
	r = SSL_read(s, buf, sizeof(buf));
	show("server read after close", s, r, errno);
	errno = MARK;
	r = SSL_shutdown(s);
	show("server shutdown", s, r, errno);
	errno = MARK;
	SSL_free(c);
	SSL_free(s);
	show("free", NULL, 1, errno);
	fflush(stdout);
}

static void show_io(const char *what, long ret, int err_no)
{
	printf("%-26s ret=%ld errno=%s\n", what, ret, err_no == MARK ? "kept" : strerror(err_no));
}

/* A client socket connected to 127.0.0.1:port (watched by a shim told so)
 * and the server end of it (never watched). */
static void plain_session(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	static const char req[] = "GET /probe HTTP/1.1\r\nHost: probe\r\n\r\n";
	static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	char buf[256];
	int l, c, s, one = 1;
	long r;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1))
		die("plain listen");
	c = socket(AF_INET, SOCK_STREAM, 0);
	errno = MARK;
	r = connect(c, (struct sockaddr *)&a, sizeof(a));
	show_io("plain connect", r, errno);
	s = accept(l, NULL, NULL);
	if (c < 0 || s < 0)
		die("plain accept");
	errno = MARK;
	r = write(c, req, 10);
	show_io("plain write", r, errno);
	errno = MARK;
	r = send(c, req + 10, 10, 0);
	show_io("plain send", r, errno);
	errno = MARK;
	r = sendto(c, req + 20, sizeof(req) - 21, 0, NULL, 0);
	show_io("plain sendto", r, errno);
	errno = MARK;
	r = read(s, buf, sizeof(buf));
	show_io("plain server read", r, errno);
	printf("  %.*s|\n", (int)(r > 0 ? r : 0), buf);
	errno = MARK;
	r = write(s, resp, sizeof(resp) - 1);
	show_io("plain server write", r, errno);
	errno = MARK;
	r = recv(c, buf, 8, MSG_PEEK);
	show_io("plain recv peek", r, errno);
	errno = MARK;
	r = recv(c, NULL, 2, MSG_TRUNC);	/* TCP: 2 bytes discarded, no buffer */
	show_io("plain recv trunc", r, errno);
	errno = MARK;
	r = recv(c, buf, 8, 0);
	show_io("plain recv", r, errno);
	errno = MARK;
	r = recvfrom(c, buf, 8, 0, NULL, NULL);
	show_io("plain recvfrom", r, errno);
	errno = MARK;
	r = read(c, buf, sizeof(buf));
	show_io("plain read rest", r, errno);
	printf("  %.*s|\n", (int)(r > 0 ? r : 0), buf);
	fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
	errno = MARK;
	r = read(c, buf, sizeof(buf));
	show_io("plain read nothing", r, errno);
	errno = MARK;
	r = close(c);
	show_io("plain close", r, errno);
	errno = MARK;
	r = read(c, buf, sizeof(buf));
	show_io("plain read closed", r, errno);
	errno = MARK;
	r = close(c);
	show_io("plain close again", r, errno);
	errno = MARK;
	r = write(-1, buf, 1);
	show_io("plain write bad fd", r, errno);
	close(s);
	close(l);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int status;
	pid_t pid;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1)
		plain_session(atoi(argv[1]));
	session("parent");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		session("child");
		exit(0);
	}
	waitpid(pid, &status, 0);
	printf("child exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	session("parent again");
	return 0;
}
