/* The capture events of processes seen by their TLS secrets (rustls with
 * aws-lc, awslc_find.c) -> the capture events of their plaintext: key
 * events (CAPTURE_KEY) and socket ciphertext (CAPTURE_SOURCE_CIPHER) in,
 * application data out, as if a read/write probe had copied it. Runs in
 * the worker, where the events are; the secrets stay in its memory. */
#ifndef LLMOBS_TLS13_CONNS_H
#define LLMOBS_TLS13_CONNS_H

#include <linux/types.h>
#include <stddef.h>
#include "capture.h"

struct tls13_conns;

/* A plaintext event (kind CAPTURE_DATA, source CAPTURE_SOURCE_CIPHER), or
 * the close of a connection; valid during the call only. */
typedef void (*tls13_conns_emit_fn)(void *ctx, const struct capture_event *ev);

struct tls13_conns *tls13_conns_new(void);
void tls13_conns_free(struct tls13_conns *t);

/* Takes an event of the ring. Returns 1 when it was this module's (a key,
 * ciphertext or its close): the caller passes it on no further. 0 for
 * every other event (an exit also frees the process's state here). */
int tls13_conns_event(struct tls13_conns *t, const struct capture_event *ev,
		      tls13_conns_emit_fn emit, void *ctx);

#endif
