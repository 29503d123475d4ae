/* Byte positions -> token positions, lazily (cache_tokens.h). Segment
 * starts in tokens are filled left to right up to the segment asked for;
 * a segment's own count comes from the memo when its content was counted
 * before. Inside a segment, bpe_count_prefix() encodes only up to the
 * piece that holds the byte. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cache_tokens.h"
#include "estimate.h"

/* OpenAI's chat format (its cookbook's num_tokens_from_messages): 3 tokens
 * open every message; the same 3 as estimate.c counts. */
#define MSG_HEADER_TOKENS	3
/* An image, as estimate.c counts one for OpenAI: 85 + 4 tiles x 170. */
#define IMAGE_TOKENS		765

static bool bpe_model(const char *provider, const char *model, enum bpe_encoding *enc)
{
	bool exact = false;

	if (!provider || (strcmp(provider, "openai") && strcmp(provider, "azure_openai")) ||
	    !model || !*model)
		return false;
	*enc = estimate_encoding(model, &exact);
	return exact && bpe_available(*enc);
}

const char *cache_tokens_method(const char *provider, const char *model)
{
	enum bpe_encoding enc;

	return bpe_model(provider, model, &enc) ? bpe_encoding_name(enc) : "apportioned";
}

int cache_tokens_begin(struct cache_tokens *t, const struct cache_request *req,
		       const uint64_t *cfp, uint64_t total_bytes, int64_t input,
		       const char *provider, const char *model)
{
	t->req = req;
	t->cfp = cfp;
	t->total_bytes = total_bytes;
	t->input = input;
	t->known = 0;
	t->bpe = bpe_model(provider, model, &t->enc);
	if (!t->bpe)
		return 0;
	if (t->cap < req->n_segs + 1) {
		int64_t *s = realloc(t->tok_start, (req->n_segs + 1) * sizeof(*s));

		if (!s) {
			t->bpe = false;
			return -ENOMEM;
		}
		t->tok_start = s;
		t->cap = req->n_segs + 1;
	}
	if (!t->memo && !(t->memo = calloc(CACHE_TOKENS_MEMO, sizeof(*t->memo)))) {
		t->bpe = false;
		return -ENOMEM;
	}
	return 0;
}

/* Whether segment i opens a message (and so has the format's header). */
static bool opens_message(const struct cache_request *r, size_t i)
{
	const struct cache_segment *s = &r->segs[i];

	if (s->group == CG_TOOLS || s->group == CG_SCHEMA)
		return false;
	return i == 0 || r->segs[i - 1].group != s->group || r->segs[i - 1].msg != s->msg;
}

/* Tokens of segment i's whole text. */
static int64_t seg_tokens(struct cache_tokens *t, size_t i)
{
	const struct cache_segment *s = &t->req->segs[i];
	uint64_t key = t->cfp ? (t->cfp[i] ^ (0x9e3779b97f4a7c15ULL * (t->enc + 1))) | 1 : 0;
	size_t slot = key % CACHE_TOKENS_MEMO;
	long n;

	if (s->image)
		return IMAGE_TOKENS;
	if (key && t->memo[slot].key == key)
		return t->memo[slot].tokens;
	n = bpe_count(t->enc, t->req->text + s->text_off, s->text_len);
	t->encoded_bytes += s->text_len;
	if (n < 0)
		n = 0;
	if (key) {
		t->memo[slot].key = key;
		t->memo[slot].tokens = n;
	}
	return n;
}

static int64_t apportion(const struct cache_tokens *t, uint64_t cum)
{
	if (!t->total_bytes || t->input <= 0)
		return 0;
	if (cum >= t->total_bytes)
		return t->input;
	return (int64_t)((__int128)cum * t->input / (__int128)t->total_bytes);
}

int64_t cache_tokens_at(struct cache_tokens *t, uint32_t seg, uint32_t off, uint64_t cum)
{
	const struct cache_request *r = t->req;
	const struct cache_segment *s;
	int64_t n;

	if (!t->bpe || seg >= r->n_segs)
		return apportion(t, cum);
	if (t->input <= 0)
		return 0;
	if (cum >= t->total_bytes)
		return t->input;
	while (t->known <= seg) {
		size_t i = t->known;
		int64_t before = i ? t->tok_start[i - 1] + seg_tokens(t, i - 1) : 0;

		t->tok_start[i] = before + (opens_message(r, i) ? MSG_HEADER_TOKENS : 0);
		t->known++;
	}
	s = &r->segs[seg];
	n = t->tok_start[seg];
	if (off >= s->text_len)
		n += seg_tokens(t, seg);
	else if (s->image)
		n += (int64_t)off * IMAGE_TOKENS / (s->text_len ? s->text_len : 1);
	else if (off) {
		long k = bpe_count_prefix(t->enc, r->text + s->text_off, s->text_len, off);

		t->encoded_bytes += off;
		n += k > 0 ? k : 0;
	}
	return n < t->input ? n : t->input;
}

void cache_tokens_free(struct cache_tokens *t)
{
	free(t->tok_start);
	free(t->memo);
	memset(t, 0, sizeof(*t));
}
