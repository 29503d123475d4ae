/* Prefix points of one request: segments (cache_segment.h) -> keyed hashes
 * at every segment end and every CACHE_CHUNK_BYTES of text, in two
 * flavours. "norm" hashes the prompt with each breaker span (cache_breaker.h)
 * replaced by its kind and tools in canonical order (a set, keys sorted):
 * two requests that differ only in breakers have equal norm hashes. "raw"
 * adds the spans' bytes and the tools' real order: what the provider sees.
 * Also out: the spans (position, kind, a hash of their value) and the
 * tools' hashes, which cache_analyze.c compares with the template's last
 * request to name the breakers. Nothing here is stored as is. */
#ifndef LLMOBS_CACHE_PREFIX_H
#define LLMOBS_CACHE_PREFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cache_hash.h"
#include "cache_lexed.h"
#include "cache_segment.h"

/* Text between prefix points inside a long segment. Each point costs an
 * HMAC finalisation (a copy of the running state, three SHA-256 blocks and
 * the EVP calls around them, ~0.5 us): at 256 bytes that was most of the
 * analysis of a 10 KiB prompt. 1 KiB (~256 tokens) bounds how far inside a
 * changed segment a partial match is placed; segment ends, where prompts
 * mostly change, are exact. */
#define CACHE_CHUNK_BYTES	1024
#define CACHE_PREFIX_MAX_POINTS	16384
#define CACHE_PREFIX_MAX_SPANS	65536

struct cache_point {
	uint64_t norm, raw;
	uint64_t cum;		/* rendered prompt bytes before this point */
	uint32_t seg;		/* segment it ends in */
	uint32_t seg_off;	/* text offset within that segment */
	uint32_t block;		/* block number (Anthropic lookback): segments
				 * ended before this point */
	bool block_end;		/* at a segment end */
};

struct cache_vspan {
	uint32_t seg, off, len;	/* offset in the segment's text */
	uint8_t kind, shape;	/* enum cache_breaker_kind, enum cache_shape */
	uint64_t vh;		/* hash of the value: equality only, memory only */
	int64_t ivalue;		/* integers: in memory only (counter) */
	uint64_t cum;		/* rendered bytes before it */
};

/* Where a request of the same template left off: its chains' states after
 * its last segment, with the points, spans and tools up to there. A request
 * that begins with all of that one's segments (an agent loop appending
 * turns, a repeat) resumes there instead of lexing and hashing them again.
 * The arrays and states belong to the caller (cache_analyze.c's template). */
struct cache_resume {
	uint64_t scope_fp;
	const uint64_t *seg_fp;		/* per segment: group, name and text */
	size_t nseg;
	const struct cache_point *pt;
	size_t npt;
	const struct cache_vspan *sp;
	size_t nsp;
	const uint64_t *tool_canon, *tool_raw;
	size_t ntools;
	uint32_t tools_first_seg, blocks;
	uint64_t sys_hash, cum, vol_point;
	bool vol_dirty;
	const EVP_MD_CTX *norm, *vol;
	/* per segment: masked fingerprint (cache_lexed.h), NULL if unknown.
	 * norm_only: req begins with these masked streams, not these bytes
	 * (norm resume: only norm points and the norm state are taken) */
	const uint64_t *seg_nfp;
	bool norm_only;
};

struct cache_prefix {
	struct cache_point *pt;
	size_t npt, cappt;
	struct cache_vspan *sp;
	size_t nsp, capsp;
	uint64_t *tool_canon, *tool_raw;	/* per tool, request order */
	size_t ntools, captools;
	uint32_t tools_first_seg;
	uint64_t total_bytes;	/* rendered prompt bytes */
	uint64_t sys_hash;	/* first system segment, masked, first 256 bytes */
	bool truncated;
	struct cache_span *scratch;	/* lexer output */
	size_t capscratch;
	/* for a later request to resume from (struct cache_resume) */
	uint64_t scope_fp;
	uint64_t *seg_fp;
	size_t capfp, nfp;
	/* per segment: its group and content without its name (text, and
	 * the canonical text of a tool), to find reordered blocks */
	uint64_t *seg_cfp;
	size_t capcfp;
	EVP_MD_CTX *end_norm, *end_vol;
	uint64_t end_vol_point;
	bool end_vol_dirty, end_ok;
	uint32_t end_blocks;
	size_t resumed_segs;	/* segments taken from the resume point */
	size_t norm_resumed_segs;	/* segments whose norm points were taken */
	/* every text segment's spans and each segment's masked fingerprint
	 * (lx.nfp[0..n_segs) when nfp_ok: for a later norm resume) */
	struct cache_lexed lx;
	bool lexed, nfp_ok;
};

/* Fingerprints req's segments into p->seg_fp (and the scope into
 * p->scope_fp), which is how a resume point is recognised, and their
 * contents alone into p->seg_cfp (reordered blocks); build does it
 * itself when not done before. Returns 0 or -ENOMEM. */
int cache_prefix_fingerprints(struct cache_prefix *p, const struct cache_request *req,
			      const char *scope, size_t scope_len);

/* req begins with all of from's segments, byte for byte: build will
 * resume after them. */
bool cache_prefix_resumes(const struct cache_prefix *p, const struct cache_request *req,
			  const struct cache_resume *from);

/* Lexes all of req's segments into p->lx, for their masked fingerprints
 * (how a norm resume point is found) before build, which then uses these
 * spans. A segment equal to the same one of known (may be NULL: an
 * earlier request, its spans and masked fingerprints) is not lexed again
 * but takes known's. Call after cache_prefix_fingerprints. Returns 0 or
 * -ENOMEM. */
int cache_prefix_lex(struct cache_prefix *p, const struct cache_request *req,
		     const struct cache_resume *known);

/* Builds p (zero-filled before first use; buffers reused) for req under
 * key; scope (provider, model, account) seeds both chains so that only
 * calls that can share a cache share hashes. from (may be NULL): resume
 * after its segments when req begins with them (from->norm_only: with
 * their masked streams, after cache_prefix_lex). Returns 0 or -ENOMEM. */
int cache_prefix_build(struct cache_prefix *p, const struct cache_request *req,
		       const struct cache_hash_key *k, const char *scope, size_t scope_len,
		       const struct cache_resume *from);
void cache_prefix_free(struct cache_prefix *p);

#endif
