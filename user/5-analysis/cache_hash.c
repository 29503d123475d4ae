/* HMAC-SHA256, computed the way RFC 2104 defines it but with the inner
 * SHA-256 state kept running: H((K^opad) || H((K^ipad) || m)). Reading a
 * point copies the inner state and finishes the copy, two compression
 * calls, instead of hashing the whole prefix again. The secret file is
 * created before anything is hashed, 0600, and refused when wider. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cache_hash.h"
#include "log.h"

#define SHA256_BLOCK 64

int cache_hash_key_init(struct cache_hash_key *k, const uint8_t *secret, size_t len)
{
	uint8_t kb[SHA256_BLOCK] = { 0 }, pad[SHA256_BLOCK];
	int err = -ENOMEM;

	memset(k, 0, sizeof(*k));
	if (len > SHA256_BLOCK)
		return -EINVAL;
	memcpy(kb, secret, len);
	k->inner0 = EVP_MD_CTX_new();
	k->outer0 = EVP_MD_CTX_new();
	if (!k->inner0 || !k->outer0)
		goto fail;
	for (int i = 0; i < SHA256_BLOCK; i++)
		pad[i] = kb[i] ^ 0x36;
	if (!EVP_DigestInit_ex(k->inner0, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(k->inner0, pad, sizeof(pad)))
		goto fail;
	for (int i = 0; i < SHA256_BLOCK; i++)
		pad[i] = kb[i] ^ 0x5c;
	if (!EVP_DigestInit_ex(k->outer0, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(k->outer0, pad, sizeof(pad)))
		goto fail;
	memset(kb, 0, sizeof(kb));
	memset(pad, 0, sizeof(pad));
	return 0;
fail:
	memset(kb, 0, sizeof(kb));
	memset(pad, 0, sizeof(pad));
	cache_hash_key_free(k);
	return err;
}

int cache_hash_key_random(struct cache_hash_key *k)
{
	uint8_t s[CACHE_HASH_SECRET_BYTES];
	int err;

	if (getrandom(s, sizeof(s), 0) != (ssize_t)sizeof(s))
		return -EIO;
	err = cache_hash_key_init(k, s, sizeof(s));
	memset(s, 0, sizeof(s));
	return err;
}

int cache_hash_key_load(const char *path, struct cache_hash_key *k)
{
	uint8_t s[CACHE_HASH_SECRET_BYTES];
	struct stat st;
	int fd, err;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return -errno;
		if (getrandom(s, sizeof(s), 0) != (ssize_t)sizeof(s) ||
		    write(fd, s, sizeof(s)) != (ssize_t)sizeof(s) || fsync(fd)) {
			err = -EIO;
			close(fd);
			unlink(path);
			return err;
		}
		close(fd);
		err = cache_hash_key_init(k, s, sizeof(s));
		memset(s, 0, sizeof(s));
		return err;
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		p_err("cache key %s: must be a regular file of mode 0600", path);
		close(fd);
		return -EINVAL;
	}
	n = read(fd, s, sizeof(s));
	close(fd);
	if (n != (ssize_t)sizeof(s)) {
		p_err("cache key %s: expected %d bytes", path, CACHE_HASH_SECRET_BYTES);
		return -EINVAL;
	}
	err = cache_hash_key_init(k, s, sizeof(s));
	memset(s, 0, sizeof(s));
	return err;
}

void cache_hash_key_free(struct cache_hash_key *k)
{
	EVP_MD_CTX_free(k->inner0);
	EVP_MD_CTX_free(k->outer0);
	k->inner0 = k->outer0 = NULL;
}

static uint64_t be64(const uint8_t *d)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | d[i];
	return v;
}

/* Finishes inner (a copy of a running inner state) and the outer hash. */
static uint64_t finish(const struct cache_hash_key *k, EVP_MD_CTX *inner, EVP_MD_CTX *outer)
{
	uint8_t d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!EVP_DigestFinal_ex(inner, d, &n) ||
	    !EVP_MD_CTX_copy_ex(outer, k->outer0) ||
	    !EVP_DigestUpdate(outer, d, n) ||
	    !EVP_DigestFinal_ex(outer, d, &n))
		return 0;
	return be64(d);
}

uint64_t cache_hash_once(const struct cache_hash_key *k, const void *data, size_t len)
{
	EVP_MD_CTX *a = EVP_MD_CTX_new(), *b = EVP_MD_CTX_new();
	uint64_t h = 0;

	if (a && b && EVP_MD_CTX_copy_ex(a, k->inner0) && EVP_DigestUpdate(a, data, len))
		h = finish(k, a, b);
	EVP_MD_CTX_free(a);
	EVP_MD_CTX_free(b);
	return h;
}

int cache_chain_begin(struct cache_chain *c, const struct cache_hash_key *k)
{
	c->k = k;
	c->bytes = 0;
	c->run = EVP_MD_CTX_new();
	c->tmp = EVP_MD_CTX_new();
	c->fin = EVP_MD_CTX_new();
	if (!c->run || !c->tmp || !c->fin || !EVP_MD_CTX_copy_ex(c->run, k->inner0)) {
		cache_chain_end(c);
		return -ENOMEM;
	}
	return 0;
}

void cache_chain_update(struct cache_chain *c, const void *data, size_t len)
{
	if (len && c->run)
		EVP_DigestUpdate(c->run, data, len);
	c->bytes += len;
}

uint64_t cache_chain_point(struct cache_chain *c)
{
	if (!c->run)
		return 0;
	return EVP_MD_CTX_copy_ex(c->fin, c->run) ? finish(c->k, c->fin, c->tmp) : 0;
}

void cache_chain_end(struct cache_chain *c)
{
	EVP_MD_CTX_free(c->run);
	EVP_MD_CTX_free(c->tmp);
	EVP_MD_CTX_free(c->fin);
	c->run = c->tmp = c->fin = NULL;
}
