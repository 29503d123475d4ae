/* A client connection at the SSL* address of a server-side one that is gone
 * must be captured in full, however late the daemon decides that the old
 * one was a server side (it then stops the probes from copying that
 * connection; see include/tls_stream.h). Used by tests/e2e/run.sh with the
 * running daemon's pid:
 *   1. the daemon is stopped (SIGSTOP), so it decides late;
 *   2. server side A reads a request, then A is freed;
 *   3. client B gets A's address (OpenSSL's allocations go through a
 *      last-freed-first allocator here, as glibc's often are) and writes
 *      an OpenAI chat request;
 *   4. the daemon goes on (SIGCONT) and is given time to decide about A;
 *   5. B reads the response, which must be copied: check.py wants B's
 *      exchange complete, with its usage.
 * Prints "reused" when B got A's address, "not reused" otherwise. */
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include "ssl_pair.h"

#define MAX_TRIES	64

static const char other_req[] = "POST /not-an-llm HTTP/1.1\r\nHost: a.invalid\r\n"
				"Content-Length: 2\r\n\r\n{}";
static const char llm_req[] = "POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n"
			      "Content-Type: application/json\r\nContent-Length: 67\r\n\r\n"
			      "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
static const char llm_resp[] =
	"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 165\r\n\r\n"
	"{\"id\":\"chatcmpl-reuse\",\"object\":\"chat.completion\",\"model\":\"gpt-4o-mini-2024-07-18\","
	"\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":7,\"total_tokens\":18}}";

/* OpenSSL's memory: a freed block is handed out again for the next request
 * of the same size, the last freed first. */
struct block {
	struct block *next;	/* while free */
	size_t size;
	max_align_t data[];
};

static struct block *freed;

static void *lifo_malloc(size_t size, const char *file, int line)
{
	struct block **p, *b;

	(void)file;
	(void)line;
	for (p = &freed; *p; p = &(*p)->next) {
		if ((*p)->size == size) {
			b = *p;
			*p = b->next;
			return b->data;
		}
	}
	b = malloc(sizeof(*b) + size);
	if (!b)
		return NULL;
	b->size = size;
	return b->data;
}

static void lifo_free(void *ptr, const char *file, int line)
{
	struct block *b;

	(void)file;
	(void)line;
	if (!ptr)
		return;
	b = (struct block *)((char *)ptr - offsetof(struct block, data));
	b->next = freed;
	freed = b;
}

static void *lifo_realloc(void *ptr, size_t size, const char *file, int line)
{
	struct block *b;
	void *n;

	if (!ptr)
		return lifo_malloc(size, file, line);
	b = (struct block *)((char *)ptr - offsetof(struct block, data));
	n = lifo_malloc(size, file, line);
	if (n) {
		memcpy(n, ptr, b->size < size ? b->size : size);
		lifo_free(ptr, file, line);
	}
	return n;
}

static void handshake(SSL *c, SSL *s)
{
	for (int i = 0; i < 10; i++) {
		int rc = SSL_do_handshake(c), rs = SSL_do_handshake(s);

		if (rc == 1 && rs == 1)
			return;
	}
	die("handshake");
}

static void xfer(SSL *from, SSL *to, const char *msg)
{
	char buf[1024];
	int n = (int)strlen(msg), got = 0, r;

	if (SSL_write(from, msg, n) != n)
		die("SSL_write");
	while (got < n && (r = SSL_read(to, buf, sizeof(buf))) > 0)
		got += r;
	if (got != n)
		die("SSL_read");
}

int main(int argc, char **argv)
{
	SSL *a_client, *a, *b = NULL, *b_server = NULL, *spare[MAX_TRIES][2];
	pid_t daemon = argc > 1 ? atoi(argv[1]) : 0;
	int nspare = 0;
	void *old;

	if (daemon <= 0 || kill(daemon, 0)) {
		fprintf(stderr, "usage: ssl_reuse DAEMON_PID\n");
		return 2;
	}
	if (!CRYPTO_set_mem_functions(lifo_malloc, lifo_realloc, lifo_free))
		die("CRYPTO_set_mem_functions");
	pair(&a_client, &a);
	handshake(a_client, a);
	kill(daemon, SIGSTOP);
	xfer(a_client, a, other_req);	/* a reads a request: a server side */
	old = a;
	SSL_free(a_client);
	SSL_free(a);		/* last: its block is the first handed out again */
	while (nspare < MAX_TRIES) {
		pair(&b, &b_server);
		if ((void *)b == old)
			break;
		spare[nspare][0] = b;
		spare[nspare++][1] = b_server;
		b = NULL;
	}
	if (b) {
		handshake(b, b_server);
		SSL_write(b, llm_req, (int)strlen(llm_req));	/* b's first call */
	}
	kill(daemon, SIGCONT);
	usleep(700 * 1000);	/* the daemon decides about a meanwhile */
	if (b) {
		char buf[1024];

		SSL_read(b_server, buf, sizeof(buf));
		xfer(b_server, b, llm_resp);
		SSL_free(b);
		SSL_free(b_server);
	}
	for (int i = 0; i < nspare; i++) {
		SSL_free(spare[i][0]);
		SSL_free(spare[i][1]);
	}
	printf("%s\n", b ? "reused" : "not reused");
	return 0;
}
