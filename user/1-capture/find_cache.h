/* What bssl_find and awslc_find concluded about a binary, kept across
 * daemon starts in one file of the attacher's state directory (beside the
 * database): their fingerprinting costs 50-300 ms per agent binary, and
 * the same agent version is met again at every start and at every other
 * install path. A binary is named by its ELF build-id when it has one,
 * otherwise by its size and a hash of its headers and of a few fixed
 * slices of its code (never the whole file). A found entry is used only
 * if the bytes at each offset are still those the finder saw. */
#ifndef LLMOBS_FIND_CACHE_H
#define LLMOBS_FIND_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FIND_CACHE_NAME		"find-cache.bin"	/* beside the DB, 0600 */
#define FIND_CACHE_MAX_ENTRIES	256
#define FIND_CACHE_MAX_OFFS	2
#define FIND_CACHE_OUT_BYTES	64
#define FIND_CACHE_HEAD_BYTES	16

/* A finder as the cache runs it: out is its result struct (out_bytes, at
 * most FIND_CACHE_OUT_BYTES, plain data); offsets() lists the file
 * offsets a probe goes to, whose first bytes are checked on a hit. Bump
 * version whenever the finder's answers may change. */
struct find_cache_finder {
	const char *name;
	uint32_t id, version;
	size_t out_bytes;
	int (*find)(const char *path, void *out, char *reason, size_t reason_cap);
	unsigned int (*offsets)(const void *out, uint64_t off[FIND_CACHE_MAX_OFFS]);
};

struct find_cache;

/* Loads path (absent = empty; corrupt = empty, said once and counted in
 * STAT_FIND_CACHE_CORRUPT); max_entries 0 = FIND_CACHE_MAX_ENTRIES.
 * Returns 0 or -ENOMEM. */
int find_cache_open(const char *path, unsigned int max_entries, struct find_cache **out);
void find_cache_close(struct find_cache *fc);

/* f's answer for the binary at path: from the cache when it holds one for
 * this binary, finder and version whose offsets still check, otherwise
 * from f->find, then remembered (results that depend on the binary only:
 * found, -ENOENT, -ENOEXEC, -ESRCH, -EILSEQ). fc may be NULL (no cache).
 * *hit says which. Returns what f->find returns. */
int find_cache_run(struct find_cache *fc, const char *path, const struct find_cache_finder *f,
		   void *out, char *reason, size_t reason_cap, bool *hit);

/* The binary's name in the cache (SHA-256). Returns 0, -ENOEXEC when it is
 * not 64-bit ELF, or -errno. */
int find_cache_key(int fd, uint8_t key[32]);

#endif
