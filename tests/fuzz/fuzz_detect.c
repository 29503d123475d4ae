/* Secrets and personal data detectors (user/5-analysis/detect*.c).
 * Input: the text, as is, in an exact-size heap copy so ASan sees a read
 * one byte past it. Properties: every match is at least as long as the
 * shortest thing a matcher accepts ("a@b.io": 6 bytes), so matches never
 * outnumber len / 6; the counts add up to the matches (no saturation at
 * these sizes); the same bytes give the same counts (no hidden state);
 * and a text seen as two bodies in turn counts what each part holds; the
 * prose skip (prose_skip.h) changes no count. */
#include "fuzz.h"
#include "detect.h"
#include "prose_skip.h"

#define MIN_MATCH_BYTES	6

static size_t sum(const uint16_t c[RS__MAX])
{
	size_t s = 0;

	for (int k = 0; k < RS__MAX; k++)
		s += c[k];
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t a[RS__MAX] = { 0 }, b[RS__MAX] = { 0 }, parts[RS__MAX] = { 0 }, p1[RS__MAX] = { 0 },
		 p2[RS__MAX] = { 0 };
	size_t n, m, cut;
	char *t, *head, *tail;

	if (size > 1 << 20)
		return 0;
	t = fuzz_dup(data, size);
	n = detect_scan(t, size, a);
	FUZZ_CHECK(n <= size / MIN_MATCH_BYTES, "%zu matches in %zu bytes", n, size);
	FUZZ_CHECK(sum(a) == n, "counts %zu, matches %zu", sum(a), n);
	prose_skip_off = true;
	m = detect_scan(t, size, b);
	prose_skip_off = false;
	FUZZ_CHECK(m == n && !memcmp(a, b, sizeof(a)), "byte-by-byte scan differs");
	/* Scanned as two bodies: each part on its own, counts added. */
	cut = size ? data[0] % (size + 1) : 0;
	head = fuzz_dup(data, cut);
	tail = fuzz_dup(data + cut, size - cut);
	detect_scan(head, cut, parts);
	detect_scan(tail, size - cut, parts);
	detect_scan(head, cut, p1);
	detect_scan(tail, size - cut, p2);
	for (int k = 0; k < RS__MAX; k++)
		FUZZ_CHECK(parts[k] == p1[k] + p2[k], "kind %d: %u != %u + %u", k, parts[k], p1[k], p2[k]);
	free(head);
	free(tail);
	free(t);
	return 0;
}
