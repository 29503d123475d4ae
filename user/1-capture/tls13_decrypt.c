/* TLS 1.3 ciphertext of one direction + candidate traffic secrets ->
 * application data in clear, with OpenSSL's EVP (HKDF-Expand-Label,
 * AES-GCM, ChaCha20-Poly1305), per RFC 8446:
 *  - records are cut out of the byte stream by their 5-byte headers;
 *  - before a key is known, each encrypted record is tried at sequence 0
 *    with every candidate secret and every suite of its hash length; the
 *    records encrypted under handshake keys fail and are skipped, the
 *    first application record succeeds, which proves the secret belongs
 *    to this connection (pairing by trial decryption, no guessing);
 *  - from then on the sequence number counts records, and a KeyUpdate
 *    moves to the next secret ("traffic upd");
 *  - records that came before their secret (the secret event raced the
 *    socket data) are kept, boundedly, and tried again on new secrets.
 * A record that fails once in sync ends the direction: nothing is
 * guessed past a loss. Secrets and keys are wiped when freed. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include "tls13_decrypt.h"

#define TAG_LEN		16
#define IV_LEN		12
#define CT_REC_APPDATA	23
#define CT_HANDSHAKE	22
#define CT_ALERT	21
#define CT_CCS		20
#define HS_KEY_UPDATE	24

struct suite {
	const char *cipher;		/* EVP name */
	uint8_t key_len, hash_len;
};

static const struct suite suites[] = {
	{ "AES-128-GCM", 16, 32 },		/* TLS_AES_128_GCM_SHA256 */
	{ "ChaCha20-Poly1305", 32, 32 },	/* TLS_CHACHA20_POLY1305_SHA256 */
	{ "AES-256-GCM", 32, 48 },		/* TLS_AES_256_GCM_SHA384 */
};

struct key {
	const struct suite *suite;
	uint8_t secret[TLS13_SECRET_MAX];
	uint8_t iv[IV_LEN];
	uint64_t seq;
	EVP_CIPHER_CTX *ctx;		/* keyed; the nonce is set per record */
};

struct pending {
	uint8_t *rec;
	size_t len;
};

struct tls13_dir {
	int state;			/* 0 searching, 1 in sync, -1 dead */
	struct key key;
	size_t have;			/* bytes of the record being assembled */
	uint8_t rec[TLS13_RECORD_MAX];
	uint8_t plain[TLS13_RECORD_MAX];
	struct pending pending[TLS13_PENDING_MAX];
	int npending;
	struct tls13_stats st;
};

static const EVP_MD *md_for(size_t hash_len)
{
	return hash_len == 48 ? EVP_sha384() : hash_len == 32 ? EVP_sha256() : NULL;
}

static int hkdf_expand(size_t hash_len, const uint8_t *prk, const uint8_t *info, size_t info_len,
		       uint8_t *out, size_t out_len)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY, ok = 0;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						 hash_len == 48 ? "SHA384" : "SHA256", 0),
		OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)prk, hash_len),
		OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len),
		OSSL_PARAM_construct_end(),
	};

	if (kctx)
		ok = EVP_KDF_derive(kctx, out, out_len, params) > 0;
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return ok ? 0 : -EIO;
}

/* HKDF-Expand-Label(secret, label, "", out_len). */
static int expand_label(size_t hash_len, const uint8_t *secret, const char *label, uint8_t *out,
			size_t out_len)
{
	uint8_t info[2 + 1 + 6 + 32 + 1];
	size_t n = strlen(label);

	info[0] = out_len >> 8;
	info[1] = out_len & 0xff;
	info[2] = 6 + n;
	memcpy(info + 3, "tls13 ", 6);
	memcpy(info + 9, label, n);
	info[9 + n] = 0;
	return hkdf_expand(hash_len, secret, info, 10 + n, out, out_len);
}

int tls13_secret_from_expand(const uint8_t *prk, size_t prk_len, const uint8_t *info,
			     size_t info_len, struct tls13_secret *out)
{
	static const char c_ap[] = "tls13 c ap traffic", s_ap[] = "tls13 s ap traffic";
	size_t out_len, label_len, ctx_len;

	if (info_len < 4)
		return -EINVAL;
	out_len = (size_t)info[0] << 8 | info[1];
	label_len = info[2];
	if (3 + label_len + 1 > info_len)
		return -EINVAL;
	ctx_len = info[3 + label_len];
	if (3 + label_len + 1 + ctx_len != info_len)
		return -EINVAL;
	if (label_len != sizeof(c_ap) - 1 ||
	    (memcmp(info + 3, c_ap, label_len) && memcmp(info + 3, s_ap, label_len)))
		return 0;
	/* An application secret is Hash.length long, from a secret as long,
	 * with the transcript hash as context. */
	if (out_len != prk_len || ctx_len != prk_len || !md_for(prk_len))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->len = prk_len;
	out->side = info[3 + 6] == 'c' ? TLS13_CLIENT : TLS13_SERVER;
	return hkdf_expand(prk_len, prk, info, info_len, out->bytes, out_len) ? -EIO : 1;
}

static void key_wipe(struct key *k)
{
	EVP_CIPHER_CTX_free(k->ctx);
	OPENSSL_cleanse(k, sizeof(*k));
}

static int key_set(struct key *k, const struct suite *s, const uint8_t *secret)
{
	uint8_t keyb[32];
	EVP_CIPHER *cipher = NULL;
	int err = -EIO;

	key_wipe(k);
	k->suite = s;
	memcpy(k->secret, secret, s->hash_len);
	if (expand_label(s->hash_len, secret, "key", keyb, s->key_len) ||
	    expand_label(s->hash_len, secret, "iv", k->iv, IV_LEN))
		goto out;
	cipher = EVP_CIPHER_fetch(NULL, s->cipher, NULL);
	k->ctx = cipher ? EVP_CIPHER_CTX_new() : NULL;
	if (k->ctx && EVP_DecryptInit_ex(k->ctx, cipher, NULL, keyb, NULL) > 0)
		err = 0;
out:
	EVP_CIPHER_free(cipher);
	OPENSSL_cleanse(keyb, sizeof(keyb));
	return err;
}

/* Opens rec (header and ciphertext) with k at its sequence number: the
 * inner plaintext's length in plain, or -1. */
static int key_open(struct key *k, const uint8_t *rec, size_t len, uint8_t *plain)
{
	uint8_t nonce[IV_LEN];
	size_t ct_len = len - 5 - TAG_LEN;
	int n = 0, m = 0;

	if (len < 5 + TAG_LEN + 1 || !k->ctx)
		return -1;
	memcpy(nonce, k->iv, IV_LEN);
	for (int i = 0; i < 8; i++)
		nonce[IV_LEN - 1 - i] ^= (uint8_t)(k->seq >> (8 * i));
	if (EVP_DecryptInit_ex(k->ctx, NULL, NULL, NULL, nonce) <= 0 ||
	    EVP_DecryptUpdate(k->ctx, NULL, &n, rec, 5) <= 0 ||
	    EVP_DecryptUpdate(k->ctx, plain, &n, rec + 5, (int)ct_len) <= 0 ||
	    EVP_CIPHER_CTX_ctrl(k->ctx, EVP_CTRL_AEAD_SET_TAG, TAG_LEN,
				(void *)(rec + 5 + ct_len)) <= 0 ||
	    EVP_DecryptFinal_ex(k->ctx, plain + n, &m) <= 0)
		return -1;
	return n + m;
}

/* The inner plaintext of a record that decrypted: data out, KeyUpdate
 * taken. Returns 0, or -1 for an inner plaintext no peer sends. */
static int inner(struct tls13_dir *d, size_t n, tls13_plain_fn out, void *ctx)
{
	uint8_t type;
	size_t i;

	while (n && !d->plain[n - 1])	/* padding */
		n--;
	if (!n)
		return -1;
	type = d->plain[--n];
	d->st.records++;
	if (type == CT_REC_APPDATA) {
		d->st.plain_bytes += n;
		if (n)
			out(ctx, d->plain, n);
		return 0;
	}
	if (type != CT_HANDSHAKE)
		return type == CT_ALERT ? 0 : -1;
	for (i = 0; i + 4 <= n;) {	/* NewSessionTicket, KeyUpdate */
		size_t mlen = (size_t)d->plain[i + 1] << 16 | d->plain[i + 2] << 8 | d->plain[i + 3];

		if (d->plain[i] == HS_KEY_UPDATE) {
			uint8_t next[TLS13_SECRET_MAX];
			const struct suite *s = d->key.suite;

			if (expand_label(s->hash_len, d->key.secret, "traffic upd", next, s->hash_len) ||
			    key_set(&d->key, s, next))
				return -1;
			OPENSSL_cleanse(next, sizeof(next));
			d->st.key_updates++;
		}
		if (mlen > n - i - 4)
			break;	/* a message over several records: nothing we use */
		i += 4 + mlen;
	}
	return 0;
}

static void pending_clear(struct tls13_dir *d, bool skipped)
{
	for (int i = 0; i < d->npending; i++) {
		OPENSSL_cleanse(d->pending[i].rec, d->pending[i].len);
		free(d->pending[i].rec);
	}
	if (skipped)
		d->st.skipped += d->npending;
	d->npending = 0;
}

/* One encrypted record in sync: decrypted or the direction ends. */
static int in_sync(struct tls13_dir *d, const uint8_t *rec, size_t len, tls13_plain_fn out,
		   void *ctx)
{
	int n = key_open(&d->key, rec, len, d->plain);

	if (n >= 0)
		d->key.seq++;	/* before inner(): a KeyUpdate starts again at 0 */
	if (n < 0 || inner(d, n, out, ctx)) {
		d->st.failed++;
		d->state = -1;
		key_wipe(&d->key);
		return -EPROTO;
	}
	return 0;
}

/* Tries rec at sequence 0 with each candidate: 1 when one opened it (the
 * direction is then in sync, its data handed out). */
static int try_sync(struct tls13_dir *d, const uint8_t *rec, size_t len,
		    const struct tls13_secret *cands, int ncands, tls13_plain_fn out, void *ctx)
{
	for (int c = 0; c < ncands; c++)
		for (size_t s = 0; s < sizeof(suites) / sizeof(suites[0]); s++) {
			int n;

			if (suites[s].hash_len != cands[c].len ||
			    key_set(&d->key, &suites[s], cands[c].bytes))
				continue;
			n = key_open(&d->key, rec, len, d->plain);
			if (n < 0)
				continue;
			d->state = 1;
			d->key.seq = 1;
			if (inner(d, n, out, ctx)) {
				d->st.failed++;
				d->state = -1;
				key_wipe(&d->key);
				return -EPROTO;
			}
			return 1;
		}
	key_wipe(&d->key);
	return 0;
}

static int record(struct tls13_dir *d, const uint8_t *rec, size_t len,
		  const struct tls13_secret *cands, int ncands, tls13_plain_fn out, void *ctx)
{
	struct pending *p;
	int r;

	if (rec[0] != CT_REC_APPDATA) {	/* ClientHello, ServerHello, CCS, plain alerts */
		d->st.skipped++;
		return 0;
	}
	if (d->state == 1)
		return in_sync(d, rec, len, out, ctx);
	r = try_sync(d, rec, len, cands, ncands, out, ctx);
	if (r) {
		pending_clear(d, true);	/* what came before: handshake records */
		return r < 0 ? r : 0;
	}
	if (d->npending == TLS13_PENDING_MAX) {
		OPENSSL_cleanse(d->pending[0].rec, d->pending[0].len);
		free(d->pending[0].rec);
		memmove(d->pending, d->pending + 1, sizeof(d->pending[0]) * --d->npending);
		d->st.skipped++;
	}
	p = &d->pending[d->npending];
	p->rec = malloc(len);
	if (!p->rec)
		return -ENOMEM;
	memcpy(p->rec, rec, len);
	p->len = len;
	d->npending++;
	return 0;
}

int tls13_dir_feed(struct tls13_dir *d, const uint8_t *buf, size_t len,
		   const struct tls13_secret *cands, int ncands, tls13_plain_fn out, void *ctx)
{
	while (len && d->state >= 0) {
		size_t want = d->have < 5 ? 5 : 5 + ((size_t)d->rec[3] << 8 | d->rec[4]);
		size_t take = want - d->have < len ? want - d->have : len;
		unsigned int ver;
		int err;

		memcpy(d->rec + d->have, buf, take);
		d->have += take;
		buf += take;
		len -= take;
		if (d->have < want)
			continue;
		if (want == 5) {	/* a header: judged before its body is taken */
			ver = d->rec[1] << 8 | d->rec[2];
			if (d->rec[0] < CT_CCS || d->rec[0] > CT_REC_APPDATA ||
			    (ver != 0x0303 && ver != 0x0301) ||
			    5 + ((size_t)d->rec[3] << 8 | d->rec[4]) > TLS13_RECORD_MAX) {
				d->st.malformed++;
				d->state = -1;
				key_wipe(&d->key);
				pending_clear(d, false);
				return -EPROTO;
			}
			if (d->rec[3] || d->rec[4])
				continue;
		}
		d->have = 0;
		err = record(d, d->rec, want, cands, ncands, out, ctx);
		if (err)
			return err;
	}
	return d->state < 0 ? -EPROTO : 0;
}

int tls13_dir_retry(struct tls13_dir *d, const struct tls13_secret *cands, int ncands,
		    tls13_plain_fn out, void *ctx)
{
	int i, r = 0, err = 0;

	if (d->state != 0)
		return d->state < 0 ? -EPROTO : 0;
	for (i = 0; i < d->npending && !r; i++)
		r = try_sync(d, d->pending[i].rec, d->pending[i].len, cands, ncands, out, ctx);
	if (r <= 0)
		return r;
	d->st.skipped += i - 1;
	for (; i < d->npending && !err; i++)
		err = in_sync(d, d->pending[i].rec, d->pending[i].len, out, ctx);
	pending_clear(d, false);
	return err;
}

struct tls13_dir *tls13_dir_new(void)
{
	return calloc(1, sizeof(struct tls13_dir));
}

void tls13_dir_free(struct tls13_dir *d)
{
	if (!d)
		return;
	key_wipe(&d->key);
	pending_clear(d, false);
	OPENSSL_cleanse(d, sizeof(*d));
	free(d);
}

int tls13_dir_state(const struct tls13_dir *d)
{
	return d->state;
}

const struct tls13_stats *tls13_dir_stats(const struct tls13_dir *d)
{
	return &d->st;
}
