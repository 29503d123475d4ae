/* Budget alerts against a local webhook receiver (a thread of this test
 * serving HTTP/1.1 on 127.0.0.1): every threshold (50, 80, 100 %) is
 * POSTed exactly once per period, in order, and again in the next period;
 * spend already in the database at start is not alerted again; a spend
 * rate anomaly against the same hour of the days before is told once; a failing
 * receiver (500) is retried, then counted as failed; and a dead one (it
 * accepts, never answers) costs observing nothing: 100,000 exchanges that
 * cross every threshold of 30 budgets take milliseconds, the queue drops
 * what it cannot hold, and freeing gives up after the drain time,
 * aborting the POST in progress. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "budget_alert.h"
#include "store.h"

/* ---- the receiver ---- */

struct receiver {
	int fd, port;
	int mode;		/* 0: answer 200, 1: answer 500, 2: accept and stay silent */
	pthread_t thread;
	pthread_mutex_t lock;
	char bodies[16][800];
	int n;			/* requests seen */
	int held[64], nheld;	/* mode 2: connections kept open */
};

static void *serve(void *ctx)
{
	struct receiver *rv = ctx;

	for (;;) {
		char buf[4096], *body;
		size_t got = 0;
		ssize_t k;
		int c = accept(rv->fd, NULL, NULL);

		if (c < 0)
			return NULL;
		if (rv->mode == 2) {	/* read nothing, answer nothing */
			pthread_mutex_lock(&rv->lock);
			if (rv->nheld < 64)
				rv->held[rv->nheld++] = c;
			rv->n++;
			pthread_mutex_unlock(&rv->lock);
			continue;
		}
		while (got < sizeof(buf) - 1 && (k = read(c, buf + got, sizeof(buf) - 1 - got)) > 0) {
			char *cl, *end;

			got += (size_t)k;
			buf[got] = '\0';
			end = strstr(buf, "\r\n\r\n");
			cl = strcasestr(buf, "Content-Length:");
			if (end && cl && got >= (size_t)(end + 4 - buf) + strtoul(cl + 15, NULL, 10))
				break;
		}
		body = strstr(buf, "\r\n\r\n");
		pthread_mutex_lock(&rv->lock);
		if (body && rv->n < 16)
			snprintf(rv->bodies[rv->n], sizeof(rv->bodies[0]), "%s", body + 4);
		rv->n++;
		pthread_mutex_unlock(&rv->lock);
		dprintf(c, rv->mode ? "HTTP/1.1 500 No\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
			: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
		close(c);
	}
}

static void receiver_start(struct receiver *rv, int mode)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	memset(rv, 0, sizeof(*rv));
	rv->mode = mode;
	pthread_mutex_init(&rv->lock, NULL);
	rv->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(rv->fd >= 0);
	assert_int_equal(bind(rv->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(rv->fd, 64), 0);
	assert_int_equal(getsockname(rv->fd, (struct sockaddr *)&a, &len), 0);
	rv->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&rv->thread, NULL, serve, rv), 0);
}

static void receiver_stop(struct receiver *rv)
{
	shutdown(rv->fd, SHUT_RDWR);
	close(rv->fd);
	pthread_join(rv->thread, NULL);
	for (int i = 0; i < rv->nheld; i++)
		close(rv->held[i]);
}

static int seen(struct receiver *rv)
{
	int n;

	pthread_mutex_lock(&rv->lock);
	n = rv->n;
	pthread_mutex_unlock(&rv->lock);
	return n;
}

/* Waits up to ms for at least n requests. */
static void wait_for(struct receiver *rv, int n, int ms)
{
	for (int t = 0; t < ms && seen(rv) < n; t += 10)
		usleep(10000);
}

static int64_t now_ns(int clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void exchange(struct exchange_record *r, int64_t ts_ns, double usd, const char *model)
{
	memset(r, 0, sizeof(*r));
	r->ts_start_ns = r->ts_end_ns = ts_ns;
	r->cost_usd = usd;
	r->priced = true;
	snprintf(r->model, sizeof(r->model), "%s", model);
	snprintf(r->comm, sizeof(r->comm), "agent");
}

static struct budget_set *one_budget(const char *model, double usd)
{
	struct budget_set *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->n = 1;
	s->b[0].scope = BUDGET_MODEL;
	snprintf(s->b[0].match, sizeof(s->b[0].match), "%s", model);
	snprintf(s->b[0].name, sizeof(s->b[0].name), "m");
	s->b[0].period = BUDGET_DAY;
	s->b[0].limit_usd = usd;
	return s;
}

static void test_once_per_threshold(void **state)
{
	struct budget_set *set = one_budget("gpt-4o*", 10);
	struct budget_alerts *a;
	struct budget_alert_counts c;
	struct exchange_record r;
	struct receiver rv;
	char url[64];
	int64_t now = now_ns(CLOCK_REALTIME), day0, day1;

	receiver_start(&rv, 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", rv.port);
	assert_int_equal(budget_alerts_new(set, url, &a), 0);
	assert_int_equal(budget_alerts_run(a), 0);
	budget_period_bounds(BUDGET_DAY, now / 1000000000, &day0, &day1);
	for (int i = 0; i < 15; i++) {	/* $1 each: crosses 5, 8, 10 */
		exchange(&r, day0 * 1000000000LL + 1000000000LL * i, 1.0, "gpt-4o-mini");
		budget_alerts_observe(a, &r);
		exchange(&r, day0 * 1000000000LL, 100.0, "claude-x");	/* another scope */
		budget_alerts_observe(a, &r);
	}
	wait_for(&rv, 3, 5000);
	usleep(300000);			/* nothing more comes */
	assert_int_equal(seen(&rv), 3);
	assert_non_null(strstr(rv.bodies[0], "\"threshold_pct\":50,\"spent_usd\":5.000000"));
	assert_non_null(strstr(rv.bodies[1], "\"threshold_pct\":80,\"spent_usd\":8.000000"));
	assert_non_null(strstr(rv.bodies[2], "\"threshold_pct\":100,\"spent_usd\":10.000000"));
	assert_non_null(strstr(rv.bodies[0], "\"type\":\"llmobs.budget_alert\",\"name\":\"m\","
				"\"scope\":\"model\",\"match\":\"gpt-4o*\",\"period\":\"day\""));
	/* the next day is a new period */
	exchange(&r, day1 * 1000000000LL + 5, 6.0, "gpt-4o");
	budget_alerts_observe(a, &r);
	wait_for(&rv, 4, 5000);
	assert_int_equal(seen(&rv), 4);
	assert_non_null(strstr(rv.bodies[3], "\"threshold_pct\":50,\"spent_usd\":6.000000"));
	budget_alerts_counts(a, &c);
	assert_int_equal(c.fired, 4);
	assert_int_equal(c.sent, 4);
	assert_int_equal(c.failed + c.dropped, 0);
	{	/* /metrics gauges */
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);

		budget_alerts_render(f, false, a);
		fclose(f);
		if (!strstr(text, "llmobs_budget_limit_usd{budget=\"m\",scope=\"model\",period=\"day\"} 10\n") ||
			 !strstr(text, "# TYPE llmobs_budget_spent_usd gauge\n"))
			fail_msg("gauges:\n%s", text);
		free(text);
	}
	budget_alerts_free(a);
	receiver_stop(&rv);
	free(set);
}

/* Spend stored before a restart: thresholds it reached are not told again. */
static void test_restart(void **state)
{
	char dir[] = "/tmp/test_budget_alert.XXXXXX", db[64], cmd[80];
	struct budget_set *set = one_budget("*", 10);
	struct budget_alerts *a;
	struct budget_alert_counts c;
	struct exchange_record r;
	struct store *s;
	int64_t now = now_ns(CLOCK_REALTIME);

	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/llmobs.db", dir);
	assert_int_equal(store_open(db, false, &s), 0);
	exchange(&r, now - 1000, 8.5, "gpt-4o");
	r.latency_ms = r.ttft_ms = RECORD_NULL_MS;
	r.uid = -1;
	assert_int_equal(store_add(s, &r), 0);
	assert_int_equal(budget_alerts_new(set, NULL, &a), 0);
	assert_int_equal(budget_alerts_load(a, store_db(s), now / 1000000000), 0);
	exchange(&r, now, 1.0, "gpt-4o");	/* 9.5: nothing new */
	budget_alerts_observe(a, &r);
	budget_alerts_counts(a, &c);
	assert_int_equal(c.fired, 0);
	budget_alerts_observe(a, &r);		/* 10.5: 100 % */
	budget_alerts_counts(a, &c);
	assert_int_equal(c.fired, 1);
	budget_alerts_free(a);
	store_close(s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(set);
}

/* $1 in this clock hour on each of the three days before (from the
 * database), then $5 now: an anomaly, told once in the hour. */
static void test_anomaly(void **state)
{
	char dir[] = "/tmp/test_budget_anomaly.XXXXXX", db[64], cmd[80];
	struct budget_set *set = one_budget("*", 1000);
	struct budget_alerts *a;
	struct budget_alert_counts c;
	struct exchange_record r;
	struct store *s;
	int64_t now = now_ns(CLOCK_REALTIME);

	assert_non_null(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/llmobs.db", dir);
	assert_int_equal(store_open(db, false, &s), 0);
	for (int d = 1; d <= 3; d++) {
		exchange(&r, now - d * 86400LL * 1000000000LL, 1.0, "gpt-4o");
		r.latency_ms = r.ttft_ms = RECORD_NULL_MS;
		r.uid = -1;
		assert_int_equal(store_add(s, &r), 0);
	}
	assert_int_equal(budget_alerts_new(set, NULL, &a), 0);
	assert_int_equal(budget_alerts_load(a, store_db(s), now / 1000000000), 0);
	exchange(&r, now, 3.0, "gpt-4o");	/* 3x the usual: not yet */
	budget_alerts_observe(a, &r);
	budget_alerts_counts(a, &c);
	assert_int_equal(c.anomalies, 0);
	exchange(&r, now, 2.0, "gpt-4o");	/* $5: 5x */
	budget_alerts_observe(a, &r);
	budget_alerts_observe(a, &r);		/* still the same hour: told once */
	budget_alerts_counts(a, &c);
	assert_int_equal(c.anomalies, 1);
	assert_int_equal(c.fired, 0);		/* $7 of $1000: no threshold */
	budget_alerts_free(a);
	store_close(s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	free(set);
}

static void test_failing_receiver(void **state)
{
	struct budget_set *set = one_budget("*", 10);
	struct budget_alerts *a;
	struct budget_alert_counts c;
	struct exchange_record r;
	struct receiver rv;
	char url[64];

	receiver_start(&rv, 1);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", rv.port);
	assert_int_equal(budget_alerts_new(set, url, &a), 0);
	assert_int_equal(budget_alerts_run(a), 0);
	exchange(&r, now_ns(CLOCK_REALTIME), 6.0, "m");
	budget_alerts_observe(a, &r);
	wait_for(&rv, BUDGET_ALERT_TRIES, 6000);	/* tries 1 s and 2 s apart */
	usleep(200000);
	assert_int_equal(seen(&rv), BUDGET_ALERT_TRIES);
	budget_alerts_counts(a, &c);
	assert_int_equal(c.failed, 1);
	assert_int_equal(c.sent, 0);
	budget_alerts_free(a);
	receiver_stop(&rv);
	free(set);
}

static void test_dead_receiver_never_blocks(void **state)
{
	struct budget_set *set = calloc(1, sizeof(*set));
	struct budget_alerts *a;
	struct budget_alert_counts c;
	struct exchange_record r;
	struct receiver rv;
	char url[64];
	int64_t t0, worst = 0, t, now = now_ns(CLOCK_REALTIME);

	assert_non_null(set);
	set->n = 30;
	for (int i = 0; i < 30; i++) {
		snprintf(set->b[i].name, sizeof(set->b[i].name), "b%d", i);
		set->b[i].period = BUDGET_DAY;
		set->b[i].limit_usd = 1 + i;
	}
	receiver_start(&rv, 2);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", rv.port);
	assert_int_equal(budget_alerts_new(set, url, &a), 0);
	assert_int_equal(budget_alerts_run(a), 0);
	exchange(&r, now, 0.001, "m");
	t0 = now_ns(CLOCK_MONOTONIC);
	for (int i = 0; i < 100000; i++) {	/* $100 in all: every threshold of every budget */
		t = now_ns(CLOCK_MONOTONIC);
		budget_alerts_observe(a, &r);
		t = now_ns(CLOCK_MONOTONIC) - t;
		if (t > worst)
			worst = t;
	}
	t0 = now_ns(CLOCK_MONOTONIC) - t0;
	fprintf(stderr, "dead webhook: 100000 observations in %.1f ms, slowest %.1f us\n",
		t0 / 1e6, worst / 1e3);
	assert_true(t0 < 2000000000LL);		/* the whole loop: no POST in it */
	assert_true(worst < 50000000LL);	/* none waited on the receiver */
	wait_for(&rv, 1, 3000);
	budget_alerts_counts(a, &c);
	assert_int_equal(c.fired, 90);
	assert_true(c.dropped >= 90 - BUDGET_ALERT_QUEUE - 1);	/* the queue is bounded */
	t0 = now_ns(CLOCK_MONOTONIC);
	budget_alerts_free(a);			/* aborts the hung POST */
	t0 = now_ns(CLOCK_MONOTONIC) - t0;
	assert_true(t0 < (BUDGET_ALERT_DRAIN_MS + 1500) * 1000000LL);	/* drain, then abort */
	receiver_stop(&rv);
	free(set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_once_per_threshold),
		cmocka_unit_test(test_restart),
		cmocka_unit_test(test_anomaly),
		cmocka_unit_test(test_failing_receiver),
		cmocka_unit_test(test_dead_receiver_never_blocks),
	};

	return cmocka_run_group_tests_name("budget_alert", tests, NULL, NULL);
}
