/* Keyed hashes for the prompt-cache analytics: HMAC-SHA256 with a
 * per-install secret, truncated to 64 bits. In: prompt bytes; out: hashes
 * that say "same prefix" without saying what it was, even to someone who
 * guesses likely prompts, because the key never leaves its 0600 file.
 * A chain hashes a stream once and can be read at any point (the HMAC of
 * everything so far), so prefix hashes at every boundary cost one pass. */
#ifndef LLMOBS_CACHE_HASH_H
#define LLMOBS_CACHE_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#define CACHE_HASH_SECRET_BYTES	32

struct cache_hash_key {
	EVP_MD_CTX *inner0;	/* SHA-256 after key ^ ipad */
	EVP_MD_CTX *outer0;	/* SHA-256 after key ^ opad */
};

/* The secret in path: read it, or create it (0600, O_EXCL, getrandom) when
 * it does not exist. Returns 0 or -errno (-EINVAL: wrong size or mode
 * wider than 0600). */
int cache_hash_key_load(const char *path, struct cache_hash_key *k);
/* A key from bytes (tests; an in-memory key when there is no DB). */
int cache_hash_key_init(struct cache_hash_key *k, const uint8_t *secret, size_t len);
/* A fresh random key kept in memory only. */
int cache_hash_key_random(struct cache_hash_key *k);
void cache_hash_key_free(struct cache_hash_key *k);

/* HMAC-SHA256(key, data) truncated to its first 8 bytes (big-endian). */
uint64_t cache_hash_once(const struct cache_hash_key *k, const void *data, size_t len);

struct cache_chain {
	const struct cache_hash_key *k;
	EVP_MD_CTX *run, *tmp, *fin;
	uint64_t bytes;		/* absorbed so far */
};

int cache_chain_begin(struct cache_chain *c, const struct cache_hash_key *k);
void cache_chain_update(struct cache_chain *c, const void *data, size_t len);
/* HMAC of everything absorbed so far, truncated; the chain goes on. */
uint64_t cache_chain_point(struct cache_chain *c);
void cache_chain_end(struct cache_chain *c);

#endif
