/* Byte-level BPE (tiktoken's algorithm) for o200k_base and cl100k_base:
 * the text is cut into pieces by the encodings' patterns (bpe_split.c),
 * then each piece is looked up whole, else merged pair by pair, lowest
 * rank first, as tiktoken's byte_pair_merge does. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "bpe.h"
#include "bpe_split.h"
#include "log.h"

/* The rank files, embedded by bpe_ranks.S; empty when not fetched. */
extern const unsigned char llmobs_bpe_o200k[], llmobs_bpe_o200k_end[];
extern const unsigned char llmobs_bpe_cl100k[], llmobs_bpe_cl100k_end[];

#define BPE_MAGIC	"LLMOBPE1"
#define NO_RANK		UINT32_MAX

struct bpe_table {
	bool tried, ok;
	const unsigned char *blob;
	uint32_t n;		/* ranks 0..n-1 */
	uint32_t *off;		/* token bytes of rank r at blob + off[r] */
	uint32_t *slots;	/* open addressing: rank + 1, 0 empty */
	uint32_t mask;
};

static struct bpe_table tables[BPE__MAX];

const char *bpe_encoding_name(enum bpe_encoding enc)
{
	return enc == BPE_CL100K_BASE ? "cl100k_base" : "o200k_base";
}

static uint32_t hash_bytes(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;	/* FNV-1a */

	while (n--)
		h = (h ^ *p++) * 16777619u;
	return h;
}

static uint32_t rank_of(const struct bpe_table *t, const unsigned char *p, size_t n)
{
	uint32_t i = hash_bytes(p, n) & t->mask, r;

	while ((r = t->slots[i]) != 0) {
		const unsigned char *tok = t->blob + t->off[r - 1];

		if (tok[-1] == n && memcmp(tok, p, n) == 0)
			return r - 1;
		i = (i + 1) & t->mask;
	}
	return NO_RANK;
}

/* Validates the embedded file and indexes it. Every single byte must be a
 * token: merging falls back to bytes. */
static int table_load(struct bpe_table *t, const unsigned char *blob, size_t size,
		      enum bpe_encoding enc)
{
	size_t pos = 12, cap;
	uint32_t r, n;

	if (size == 0)
		return -ENOENT;
	if (size < 12 || memcmp(blob, BPE_MAGIC, 8) != 0)
		goto bad;
	memcpy(&n, blob + 8, 4);	/* little-endian, as written */
	if (n < 256 || n > (1u << 24))
		goto bad;
	for (cap = 1; cap < (size_t)n * 2; cap <<= 1)
		;
	t->off = malloc(n * sizeof(*t->off));
	t->slots = calloc(cap, sizeof(*t->slots));
	if (!t->off || !t->slots) {
		free(t->off);
		free(t->slots);
		t->off = t->slots = NULL;
		return -ENOMEM;
	}
	t->blob = blob;
	t->n = n;
	t->mask = (uint32_t)cap - 1;
	for (r = 0; r < n; r++) {
		size_t len;
		uint32_t i;

		if (pos >= size || (len = blob[pos]) == 0 || pos + 1 + len > size)
			goto bad;
		t->off[r] = (uint32_t)(pos + 1);
		if (rank_of(t, blob + pos + 1, len) != NO_RANK)
			goto bad;	/* duplicate token */
		i = hash_bytes(blob + pos + 1, len) & t->mask;
		while (t->slots[i])
			i = (i + 1) & t->mask;
		t->slots[i] = r + 1;
		pos += 1 + len;
	}
	if (pos != size)
		goto bad;
	for (r = 0; r < 256; r++) {
		unsigned char b = (unsigned char)r;

		if (rank_of(t, &b, 1) == NO_RANK)
			goto bad;
	}
	return 0;
bad:
	p_err("bpe: the built-in %s ranks are malformed; token estimation is off",
	      bpe_encoding_name(enc));
	free(t->off);
	free(t->slots);
	t->off = t->slots = NULL;
	return -EINVAL;
}

static struct bpe_table *table_get(enum bpe_encoding enc)
{
	struct bpe_table *t;
	int err;

	if ((unsigned)enc >= BPE__MAX)
		return NULL;
	t = &tables[enc];
	if (!t->tried) {
		t->tried = true;
		err = enc == BPE_O200K_BASE ?
		      table_load(t, llmobs_bpe_o200k, llmobs_bpe_o200k_end - llmobs_bpe_o200k, enc) :
		      table_load(t, llmobs_bpe_cl100k, llmobs_bpe_cl100k_end - llmobs_bpe_cl100k, enc);
		t->ok = err == 0;
		if (err == -ENOENT)
			p_warn("bpe: %s ranks are not built in (the npm registry was "
			       "unreachable at build time): usage cannot be estimated",
			       bpe_encoding_name(enc));
		else if (err == -ENOMEM)
			t->tried = false;	/* may work later */
	}
	return t->ok ? t : NULL;
}

bool bpe_available(enum bpe_encoding enc)
{
	return table_get(enc) != NULL;
}

/* ---- merging ---- */

struct sink {
	uint32_t *ids;
	size_t max;
	long count;
	/* bpe_count_prefix(): only tokens that end at or before stop count;
	 * pos is where the next token starts */
	size_t pos, stop;
};

static void emit(struct sink *k, uint32_t id, size_t len)
{
	k->pos += len;
	if (k->pos > k->stop)
		return;
	if (k->ids && (size_t)k->count < k->max)
		k->ids[k->count] = id;
	k->count++;
}

/* tiktoken's byte_pair_merge joins, again and again, the adjacent pair of
 * parts whose joined bytes have the lowest rank (the leftmost on ties),
 * until no pair is a token. Scanning for that pair makes it quadratic, so a
 * long piece would cost seconds: here the pairs wait in a heap ordered by
 * (rank, start), which picks the same pair each time, and a pair whose
 * parts changed since it was pushed is recognised by their versions. */
struct pair {
	uint32_t rank, left, right, vl, vr;
};

static struct {
	uint32_t next[BPE_MAX_PIECE_BYTES + 1], prev[BPE_MAX_PIECE_BYTES + 1];
	uint32_t ver[BPE_MAX_PIECE_BYTES + 1];
	struct pair heap[3 * BPE_MAX_PIECE_BYTES];
	size_t n;
} mg;

static bool pair_less(const struct pair *a, const struct pair *b)
{
	return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void heap_push(struct pair p)
{
	size_t i = mg.n++;

	while (i && pair_less(&p, &mg.heap[(i - 1) / 2])) {
		mg.heap[i] = mg.heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	mg.heap[i] = p;
}

static struct pair heap_pop(void)
{
	struct pair top = mg.heap[0], last = mg.heap[--mg.n];
	size_t i = 0, c;

	while ((c = 2 * i + 1) < mg.n) {
		if (c + 1 < mg.n && pair_less(&mg.heap[c + 1], &mg.heap[c]))
			c++;
		if (!pair_less(&mg.heap[c], &last))
			break;
		mg.heap[i] = mg.heap[c];
		i = c;
	}
	mg.heap[i] = last;
	return top;
}

/* Parts are named by their start offset; next[] of the last part is n. */
static void push_pair(const struct bpe_table *t, const unsigned char *p, size_t n,
		      uint32_t left)
{
	uint32_t right = mg.next[left], end;
	struct pair q;

	if (right >= n)
		return;
	end = mg.next[right];
	q.rank = rank_of(t, p + left, end - left);
	if (q.rank == NO_RANK)
		return;
	q.left = left;
	q.right = right;
	q.vl = mg.ver[left];
	q.vr = mg.ver[right];
	heap_push(q);
}

static void merge_piece(const struct bpe_table *t, const unsigned char *p, size_t n,
			struct sink *k)
{
	uint32_t i;

	mg.n = 0;
	for (i = 0; i < n; i++) {
		mg.next[i] = i + 1;
		mg.prev[i] = i ? i - 1 : UINT32_MAX;
		mg.ver[i] = 0;
	}
	for (i = 0; i + 1 < n; i++)
		push_pair(t, p, n, i);
	while (mg.n) {
		struct pair q = heap_pop();

		if (mg.ver[q.left] != q.vl || mg.ver[q.right] != q.vr ||
		    mg.next[q.left] != q.right)
			continue;	/* stale: a part has changed */
		/* Join right into left; both change. */
		mg.next[q.left] = mg.next[q.right];
		if (mg.next[q.right] < n)
			mg.prev[mg.next[q.right]] = q.left;
		mg.ver[q.left]++;
		mg.ver[q.right]++;
		if (mg.prev[q.left] != UINT32_MAX)
			push_pair(t, p, n, mg.prev[q.left]);
		push_pair(t, p, n, q.left);
	}
	for (i = 0; i < n; i = mg.next[i])
		emit(k, rank_of(t, p + i, mg.next[i] - i), mg.next[i] - i);
}

static void encode_piece(const struct bpe_table *t, const unsigned char *p, size_t n,
			 struct sink *k)
{
	uint32_t id;

	while (n > BPE_MAX_PIECE_BYTES) {
		size_t cut = BPE_MAX_PIECE_BYTES;

		while (cut > 1 && (p[cut] & 0xc0) == 0x80)
			cut--;		/* keep characters whole */
		encode_piece(t, p, cut, k);
		p += cut;
		n -= cut;
	}
	if ((id = rank_of(t, p, n)) != NO_RANK)
		emit(k, id, n);
	else
		merge_piece(t, p, n, k);
}

static long encode(enum bpe_encoding enc, const char *text, size_t len, struct sink *k)
{
	const struct bpe_table *t = table_get(enc);
	size_t i = 0, e;

	if (!t)
		return -ENOENT;
	while (i < len && i < k->stop) {
		e = bpe_piece_end(enc, text, len, i);
		encode_piece(t, (const unsigned char *)text + i, e - i, k);
		i = e;
	}
	return k->count;
}

long bpe_encode(enum bpe_encoding enc, const char *text, size_t len,
		uint32_t *ids, size_t max)
{
	struct sink k = { ids, max, 0, 0, SIZE_MAX };

	return encode(enc, text ? text : "", text ? len : 0, &k);
}

long bpe_token_len(enum bpe_encoding enc, uint32_t id)
{
	const struct bpe_table *t = table_get(enc);

	if (!t)
		return -ENOENT;
	return id < t->n ? t->blob[t->off[id] - 1] : -EINVAL;
}

long bpe_count_prefix(enum bpe_encoding enc, const char *text, size_t len, size_t stop)
{
	struct sink k = { NULL, 0, 0, 0, stop };

	return encode(enc, text ? text : "", text ? len : 0, &k);
}

long bpe_count(enum bpe_encoding enc, const char *text, size_t len)
{
	return bpe_encode(enc, text, len, NULL, 0);
}

/* ---- streams ---- */

int bpe_stream_feed(struct bpe_stream *s, enum bpe_encoding enc,
		    const char *text, size_t len)
{
	const struct bpe_table *t = table_get(enc);
	struct sink k = { NULL, 0, 0, 0, SIZE_MAX };
	size_t n, i = 0, e, held[2][2], nheld = 0;
	char *buf;

	if (!t)
		return -ENOENT;
	if (!text || !len)
		return 0;
	n = s->_carry_len + len;
	buf = malloc(n);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, s->_carry, s->_carry_len);
	memcpy(buf + s->_carry_len, text, len);
	/* The last two pieces are held back: more text could lengthen the
	 * last (a word goes on) or move the end of a run of spaces. */
	for (i = 0; i < n; i = e) {
		e = bpe_piece_end(enc, buf, n, i);
		if (nheld == 2) {
			encode_piece(t, (const unsigned char *)buf + held[0][0],
				     held[0][1] - held[0][0], &k);
			memcpy(held[0], held[1], sizeof(held[0]));
			nheld = 1;
		}
		held[nheld][0] = i;
		held[nheld++][1] = e;
	}
	i = nheld ? held[0][0] : n;
	if (n - i > sizeof(s->_carry)) {
		/* Too long to hold: counted as if the text ended here. */
		for (size_t h = 0; h < nheld; h++)
			encode_piece(t, (const unsigned char *)buf + held[h][0],
				     held[h][1] - held[h][0], &k);
		i = n;
		s->overflowed = true;
	}
	s->tokens += k.count;
	memcpy(s->_carry, buf + i, n - i);
	s->_carry_len = (uint16_t)(n - i);
	free(buf);
	return 0;
}

long bpe_stream_finish(struct bpe_stream *s, enum bpe_encoding enc)
{
	long n = bpe_count(enc, s->_carry, s->_carry_len);

	if (n < 0)
		return n;
	s->tokens += n;
	s->_carry_len = 0;
	return (long)s->tokens;
}
