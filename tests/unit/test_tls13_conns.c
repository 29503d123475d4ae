/* tls13_conns: a process's key events and its socket's ciphertext events
 * in, plaintext events out, with the records of tests/unit/tls13_vectors.h
 * (made by Python's cryptography). The data must come out whole, in order,
 * at contiguous positions, with the ciphertext event's identity, whether
 * the key comes before or after the records; a gap or a mid-stream start
 * gives nothing but a count; keys and ciphertext are never passed on. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "stats.h"
#include "tls13_conns.h"
#include "tls13_vectors.h"

struct sink {
	uint8_t buf[4096];
	size_t len;
	uint64_t next_pos;
	int closes, bad;
};

static void emit(void *ctx, const struct capture_event *ev)
{
	struct sink *s = ctx;

	if (ev->kind == CAPTURE_CLOSE) {
		s->closes++;
		return;
	}
	if (ev->kind != CAPTURE_DATA || ev->source != CAPTURE_SOURCE_CIPHER || ev->tgid != 7 ||
	    ev->conn != 0xabc || ev->stream_pos != s->next_pos || ev->offset ||
	    ev->call_len != ev->data_len || s->len + ev->data_len > sizeof(s->buf)) {
		s->bad++;
		return;
	}
	memcpy(s->buf + s->len, ev->data, ev->data_len);
	s->len += ev->data_len;
	s->next_pos += ev->data_len;
}

static union {
	struct capture_event ev;
	uint8_t raw[sizeof(struct capture_event) + 4096];
} evb;

static const struct capture_event *key_event(void)
{
	struct capture_key *k = (struct capture_key *)evb.ev.data;

	memset(&evb, 0, sizeof(evb));
	evb.ev.kind = CAPTURE_KEY;
	evb.ev.source = CAPTURE_SOURCE_CIPHER;
	evb.ev.tgid = 7;
	evb.ev.data_len = sizeof(*k);
	k->prk_len = 32;
	k->info_len = sizeof(aes128_info);
	memcpy(k->prk, aes128_parent, 32);
	memcpy(k->info, aes128_info, sizeof(aes128_info));
	return &evb.ev;
}

static const struct capture_event *data_event(uint64_t pos, size_t len)
{
	memset(&evb, 0, sizeof(evb));
	evb.ev.kind = CAPTURE_DATA;
	evb.ev.source = CAPTURE_SOURCE_CIPHER;
	evb.ev.dir = CAPTURE_DIR_WRITE;
	evb.ev.tgid = 7;
	evb.ev.tid = 8;
	evb.ev.conn = 0xabc;
	evb.ev.stream_pos = pos;
	evb.ev.call_len = len;
	evb.ev.data_len = len;
	memcpy(evb.ev.data, aes128_stream + pos, len);
	return &evb.ev;
}

/* The stream in events of `cut` bytes; the key after `key_after` bytes. */
static void run(size_t cut, size_t key_after)
{
	struct tls13_conns *t = tls13_conns_new();
	struct sink s = { .len = 0 };
	bool keyed = false;

	assert_non_null(t);
	for (size_t at = 0; at < sizeof(aes128_stream); at += cut) {
		size_t n = sizeof(aes128_stream) - at < cut ? sizeof(aes128_stream) - at : cut;

		if (!keyed && at >= key_after) {
			assert_int_equal(tls13_conns_event(t, key_event(), emit, &s), 1);
			keyed = true;
		}
		assert_int_equal(tls13_conns_event(t, data_event(at, n), emit, &s), 1);
	}
	if (!keyed)
		assert_int_equal(tls13_conns_event(t, key_event(), emit, &s), 1);
	assert_int_equal(s.bad, 0);
	assert_int_equal(s.len, sizeof(aes128_plain));
	assert_memory_equal(s.buf, aes128_plain, sizeof(aes128_plain));
	evb.ev.kind = CAPTURE_CLOSE;
	evb.ev.data_len = 0;
	assert_int_equal(tls13_conns_event(t, &evb.ev, emit, &s), 1);
	assert_int_equal(s.closes, 1);
	tls13_conns_free(t);
}

static void test_key_first(void **state)
{
	(void)state;
	run(7, 0);
	run(4096, 0);
}

static void test_key_late(void **state)
{
	(void)state;
	run(7, 1u << 30);	/* after all of it */
	run(50, 100);		/* in the middle of the handshake records */
}

static void test_losses(void **state)
{
	struct tls13_conns *t = tls13_conns_new();
	struct sink s = { .len = 0 };
	uint64_t gaps = stats[STAT_TLS13_CIPHER_GAPS];

	(void)state;
	assert_int_equal(tls13_conns_event(t, key_event(), emit, &s), 1);
	/* Joined mid-stream: no framing, nothing out. */
	assert_int_equal(tls13_conns_event(t, data_event(40, 30), emit, &s), 1);
	assert_int_equal(stats[STAT_TLS13_CIPHER_GAPS], gaps + 1);
	/* From 0, then a gap: what came before is out, nothing after. */
	evb.ev.conn = 0;
	assert_int_equal(tls13_conns_event(t, data_event(0, 20), emit, &s), 1);
	assert_int_equal(tls13_conns_event(t, data_event(40, sizeof(aes128_stream) - 40), emit, &s), 1);
	assert_int_equal(stats[STAT_TLS13_CIPHER_GAPS], gaps + 2);
	assert_int_equal(s.len, 0);
	/* Events of other sources and kinds are not its business; an exit
	 * frees the process and goes on. */
	evb.ev.source = CAPTURE_SOURCE_UPROBE;
	evb.ev.kind = CAPTURE_DATA;
	assert_int_equal(tls13_conns_event(t, &evb.ev, emit, &s), 0);
	evb.ev.kind = CAPTURE_EXIT;
	assert_int_equal(tls13_conns_event(t, &evb.ev, emit, &s), 0);
	/* A key event of the wrong size is counted. */
	key_event();
	evb.ev.data_len = 3;
	assert_int_equal(tls13_conns_event(t, &evb.ev, emit, &s), 1);
	assert_true(stats[STAT_TLS13_KEYS_MALFORMED] >= 1);
	tls13_conns_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_first),
		cmocka_unit_test(test_key_late),
		cmocka_unit_test(test_losses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
