/* /metrics (user/7-daemon/metrics_agg.c, metrics_http.c): label sets past
 * the cap fold into "other" with totals kept and the overflow counted;
 * label values from traffic are escaped; OpenMetrics differs only where it
 * must; the server answers GET, refuses the rest, with no thread. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <cmocka.h>
#include "metrics_agg.h"
#include "metrics_http.h"

static char *render(struct metrics_agg *m, bool om)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct metrics_drop d = { "bpf_ringbuf_full", 3, 300 };

	assert_non_null(f);
	assert_int_equal(metrics_agg_render(m, f, om, &d, 1), 0);
	fclose(f);
	return buf;
}

static double value_of(const char *text, const char *line_prefix)
{
	const char *p = strstr(text, line_prefix);

	if (!p)
		return -1;
	return strtod(p + strlen(line_prefix), NULL);
}

static void rec(struct exchange_record *r, const char *model, int status)
{
	memset(r, 0, sizeof(*r));
	strcpy(r->provider, "openai");
	snprintf(r->model, sizeof(r->model), "%s", model);
	strcpy(r->app, "gemini");
	strcpy(r->project, "research");
	strcpy(r->host, "api.openai.com");
	r->status = status;
	r->usage.input_tokens = 100;
	r->usage.output_tokens = 10;
	r->usage.cached_input_tokens = 40;
	r->cost_usd = 0.25;
}

static void test_cap_and_other(void **state)
{
	struct metrics_agg *m = metrics_agg_new(3);
	struct exchange_record r;
	char model[32], *text;

	assert_non_null(m);
	for (int i = 0; i < 10; i++) {
		snprintf(model, sizeof(model), "model-%d", i);
		rec(&r, model, 200);
		metrics_agg_observe(m, &r);
	}
	rec(&r, "model-0", 200);
	metrics_agg_observe(m, &r);	/* an existing series still counts */
	text = render(m, false);
	assert_int_equal(value_of(text, "llmobs_exchanges_total{provider=\"openai\",model=\"model-0\","
					"app=\"gemini\",namespace=\"\",project=\"research\"} "), 2);
	assert_null(strstr(text, "model=\"model-3\""));
	assert_int_equal(value_of(text, "llmobs_exchanges_total{provider=\"other\",model=\"other\","
					"app=\"other\",namespace=\"other\",project=\"other\"} "), 7);
	assert_int_equal(value_of(text, "llmobs_metrics_series_overflow_total{family=\"usage\"} "), 7);
	assert_true(value_of(text, "llmobs_cost_usd_total{provider=\"other\",model=\"other\","
				   "app=\"other\",namespace=\"other\",project=\"other\"} ") == 7 * 0.25);
	assert_int_equal(value_of(text, "llmobs_capture_drops_total{cause=\"bpf_ringbuf_full\"} "), 3);
	assert_int_equal(value_of(text, "type=\"cached_input\"} "), 80);
	free(text);
	metrics_agg_free(m);
}

static void test_escaping_errors_ratelimit(void **state)
{
	struct metrics_agg *m = metrics_agg_new(0);
	struct exchange_record r;
	char *text;

	rec(&r, "evil\"model\\\nx\x01", 429);
	strcpy(r.ratelimit, "{\"x-ratelimit-remaining-requests\":\"0\","
			    "\"x-ratelimit-remaining-tokens\":\"1500\",\"retry-after\":\"2\"}");
	metrics_agg_observe(m, &r);
	strcpy(r.ratelimit, "{not json");
	metrics_agg_observe(m, &r);
	text = render(m, false);
	assert_non_null(strstr(text, "model=\"evil\\\"model\\\\\\nx?\""));
	assert_null(strchr(strstr(text, "evil"), '\x01'));
	assert_int_equal(value_of(text, "status=\"429\"} "), 2);
	assert_int_equal(value_of(text, "llmobs_ratelimit_remaining{provider=\"openai\","
					"host=\"api.openai.com\",limit=\"tokens\"} "), 1500);
	assert_int_equal(value_of(text, "limit=\"requests\"} "), 0);
	assert_null(strstr(text, "# EOF"));
	free(text);
	text = render(m, true);
	assert_non_null(strstr(text, "# TYPE llmobs_exchanges counter\n"));
	assert_non_null(strstr(text, "# TYPE llmobs_ratelimit_remaining gauge\n"));
	assert_non_null(strstr(text, "\nllmobs_exchanges_total{"));
	assert_int_equal(strcmp(text + strlen(text) - 6, "# EOF\n"), 0);
	free(text);
	metrics_agg_free(m);
}

static int render_cb(void *ctx, FILE *out, bool om)
{
	fprintf(out, "x_total %d\n", om ? 2 : 1);
	return 0;
}

static bool ready_cb(void *ctx, char *why, size_t size)
{
	snprintf(why, size, "db closed");
	return *(bool *)ctx;
}

/* One request on a fresh connection, served by polling. */
static void ask(struct metrics_http *h, const char *req, char *resp, size_t size)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(metrics_http_port(h)) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t got = 0;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	for (int i = 0; i < 200 && got < size - 1; i++) {
		ssize_t n;

		assert_int_equal(metrics_http_poll(h), 0);
		n = recv(fd, resp + got, size - 1 - got, MSG_DONTWAIT);
		if (n == 0)
			break;
		if (n > 0)
			got += (size_t)n;
		else
			usleep(5000);
	}
	resp[got] = '\0';
	close(fd);
}

static void test_http(void **state)
{
	bool ready = false;
	struct metrics_http_opts o = { .listen = "127.0.0.1:0", .render = render_cb,
				       .ready = ready_cb, .ctx = &ready };
	struct metrics_http *h;
	char resp[2048];

	assert_int_equal(metrics_http_start(&o, &h), 0);
	assert_true(metrics_http_port(h) > 0);
	assert_true(metrics_http_fd(h) >= 0);
	ask(h, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", resp, sizeof(resp));
	assert_non_null(strstr(resp, "200 OK"));
	assert_non_null(strstr(resp, "text/plain; version=0.0.4"));
	assert_non_null(strstr(resp, "x_total 1"));
	ask(h, "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: application/openmetrics-text\r\n"
	       "Connection: close\r\n\r\n", resp, sizeof(resp));
	assert_non_null(strstr(resp, "application/openmetrics-text"));
	assert_non_null(strstr(resp, "x_total 2"));
	ask(h, "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", resp, sizeof(resp));
	assert_non_null(strstr(resp, "503"));
	assert_non_null(strstr(resp, "not ready: db closed"));
	ready = true;
	ask(h, "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", resp, sizeof(resp));
	assert_non_null(strstr(resp, "200 OK"));
	ask(h, "DELETE /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", resp, sizeof(resp));
	assert_non_null(strstr(resp, "405"));
	ask(h, "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", resp, sizeof(resp));
	assert_non_null(strstr(resp, "404"));
	/* not HTTP: turned away (400 or closed), and the next request served */
	ask(h, "garbage\r\n\r\n", resp, sizeof(resp));
	assert_true(resp[0] == '\0' || strstr(resp, "400"));
	ask(h, "GET /healthz HTTP/1.0\r\n\r\n", resp, sizeof(resp));
	assert_non_null(strstr(resp, "200 OK"));
	assert_non_null(strstr(resp, "\r\n\r\nok\n"));
	metrics_http_stop(h);
	o.listen = "nonsense";
	assert_int_equal(metrics_http_start(&o, &h), -EINVAL);
	o.listen = "[::1]:0";
	if (metrics_http_start(&o, &h) == 0)	/* a host without IPv6 may refuse */
		metrics_http_stop(h);
}

/* Sensitive-data counts: per kind seen, by the usage labels; none for
 * kinds never seen. */
static void test_sensitive(void **state)
{
	struct metrics_agg *m = metrics_agg_new(10);
	struct exchange_record r;
	char *text;

	assert_non_null(m);
	rec(&r, "gpt-4o", 200);
	r.sensitive[RS_EMAIL] = 2;
	r.sensitive[RS_CARD] = 1;
	metrics_agg_observe(m, &r);
	r.sensitive[RS_CARD] = 0;
	metrics_agg_observe(m, &r);
	text = render(m, false);
	assert_int_equal(value_of(text, "llmobs_sensitive_total{provider=\"openai\",model=\"gpt-4o\","
					"app=\"gemini\",namespace=\"\",project=\"research\",kind=\"email\"} "), 4);
	assert_int_equal(value_of(text, "llmobs_sensitive_total{provider=\"openai\",model=\"gpt-4o\","
					"app=\"gemini\",namespace=\"\",project=\"research\",kind=\"card\"} "), 1);
	assert_null(strstr(text, "kind=\"iban\""));
	free(text);
	metrics_agg_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sensitive),
		cmocka_unit_test(test_cap_and_other),
		cmocka_unit_test(test_escaping_errors_ratelimit),
		cmocka_unit_test(test_http),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
