/* TLS 1.3 records of one direction of a connection, as the socket moved
 * them, plus the candidate traffic secrets of their process -> the
 * application data in clear (RFC 8446 section 5). For stacks whose key
 * schedule is probed but whose read/write calls are not (rustls with
 * aws-lc: awslc_find.c). Secrets live in these structures only: never
 * logged, never stored. */
#ifndef LLMOBS_TLS13_DECRYPT_H
#define LLMOBS_TLS13_DECRYPT_H

#include <stddef.h>
#include <stdint.h>

#define TLS13_SECRET_MAX	48	/* SHA-384 */
#define TLS13_RECORD_MAX	(5 + (1 << 14) + 256)	/* header + ciphertext limit */
#define TLS13_PENDING_MAX	8	/* records kept before the first that decrypts */

enum tls13_side { TLS13_CLIENT = 0, TLS13_SERVER = 1 };

/* One application traffic secret, as derived at the key schedule. */
struct tls13_secret {
	uint8_t bytes[TLS13_SECRET_MAX];
	uint8_t len;			/* 32 (SHA-256) or 48 (SHA-384) */
	uint8_t side;			/* enum tls13_side: whose sending key */
};

/* From the arguments of one HKDF-Expand call (the parent secret and the
 * HkdfLabel info): 1 with out filled when the label is "c ap traffic" or
 * "s ap traffic", 0 for any other label, -EINVAL for an info that is no
 * HkdfLabel or lengths that fit no TLS 1.3 hash. */
int tls13_secret_from_expand(const uint8_t *prk, size_t prk_len, const uint8_t *info,
			     size_t info_len, struct tls13_secret *out);

struct tls13_stats {
	uint64_t records;		/* application-data records decrypted */
	uint64_t plain_bytes;		/* application data handed out */
	uint64_t skipped;		/* records before the first that decrypts (handshake) */
	uint64_t malformed;		/* headers no TLS 1.3 record has */
	uint64_t failed;		/* records that did not decrypt once in sync */
	uint64_t key_updates;
};

struct tls13_dir;

/* Application data in clear, in order, for the direction's consumer. */
typedef void (*tls13_plain_fn)(void *ctx, const uint8_t *data, size_t len);

struct tls13_dir *tls13_dir_new(void);
void tls13_dir_free(struct tls13_dir *d);

/* Bytes of the direction's stream as they came, any cut. Each complete
 * record is decrypted with the key in use, or, before one is found, tried
 * with each candidate secret at sequence 0 (and kept, TLS13_PENDING_MAX at
 * most, for tls13_dir_retry). Returns 0, or -EPROTO once the stream is
 * beyond repair (a malformed header, a record failing in sync): the
 * direction then ignores all further input. */
int tls13_dir_feed(struct tls13_dir *d, const uint8_t *buf, size_t len,
		   const struct tls13_secret *cands, int ncands, tls13_plain_fn out, void *ctx);

/* New candidate secrets: the records kept are tried again. */
int tls13_dir_retry(struct tls13_dir *d, const struct tls13_secret *cands, int ncands,
		    tls13_plain_fn out, void *ctx);

/* 1 once a key decrypted a record, 0 before, -1 after a failure. */
int tls13_dir_state(const struct tls13_dir *d);
const struct tls13_stats *tls13_dir_stats(const struct tls13_dir *d);

#endif
