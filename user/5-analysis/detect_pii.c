/* Matchers for personal data in prompt text (detect.h): e-mail addresses,
 * phone numbers, payment card numbers, IBANs. In: the text and a word
 * start; out: the length matched, never a copy.
 *
 * Numbers are where false positives live (ids, timestamps, token arrays,
 * version strings), so each kind must pass more than a shape: cards a
 * known issuer prefix, a card-like grouping and the Luhn check; IBANs
 * their country's length and the mod-97 check; phone numbers either the
 * E.164 '+' or a North American layout with its separators. A bare run of
 * ten digits (an epoch second) is never a phone number. */
#include <string.h>
#include "detect.h"

/* ---- e-mail ---- */

static int local_byte(unsigned char c)
{
	return detect_is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

/* The last label must be a top-level domain people have addresses in: any
 * two letters (country codes) but file extensions ("icon@2x.js"), or one
 * of the common generic ones. Without the list, Python decorators and
 * npm names in prose ("via @agent.tool", "the @app.route") pass for
 * addresses; an address at a rare generic TLD is the price. */
static int tld_ok(const char *t, size_t i, size_t n)
{
	static const char *const generic[] = {
		"com", "org", "net", "edu", "gov", "mil", "int", "info", "biz", "name",
		"pro", "mobi", "aero", "coop", "museum", "jobs", "travel", "xyz", "online",
		"site", "tech", "cloud", "email", "app", "dev", "page", "shop", "store",
		"blog", "company", "agency", "digital", "media", "news", "solutions",
		"services", "systems", "team", "work", "world", "life", "live", "space",
		"website", "group", "global", "studio", "design", "network", "academy",
		"local", "test", "example", "invalid",
	};
	static const char *const ext2[] = { "js", "ts", "md", "py", "rs", "go", "sh", "rb", "pl" };
	char low[25];
	size_t k;

	if (n < 2 || n >= sizeof(low))
		return 0;
	for (k = 0; k < n; k++)
		low[k] = (char)(t[i + k] | 0x20);	/* letters only here */
	low[n] = '\0';
	if (n == 2) {
		for (k = 0; k < sizeof(ext2) / sizeof(ext2[0]); k++)
			if (!strcmp(low, ext2[k]))
				return 0;
		return 1;
	}
	for (k = 0; k < sizeof(generic) / sizeof(generic[0]); k++)
		if (!strcmp(low, generic[k]))
			return 1;
	return 0;
}

size_t detect_email(const char *t, size_t i, size_t len)
{
	size_t j = i, label, labels = 0, tld_at = 0, tld_len = 0;
	int alpha;

	if (!detect_is_alnum((unsigned char)t[i]))
		return 0;
	while (j < len && j - i < 64 && local_byte((unsigned char)t[j]))
		j++;
	if (j >= len || t[j] != '@' || t[j - 1] == '.')
		return 0;
	j++;
	for (;;) {
		/* one label: alphanumerics and inner hyphens, up to 63 */
		for (label = 0, alpha = 1; j + label < len && label < 64; label++) {
			unsigned char c = (unsigned char)t[j + label];

			if (!detect_is_alnum(c) && c != '-')
				break;
			if (!detect_is_upper(c) && !detect_is_lower(c))
				alpha = 0;
		}
		if (label == 0 || label > 63 || t[j] == '-' || t[j + label - 1] == '-')
			return 0;
		labels++;
		tld_at = j;
		tld_len = alpha ? label : 0;
		j += label;
		if (j + 1 < len && t[j] == '.' && detect_is_alnum((unsigned char)t[j + 1]))
			j++;
		else
			break;
	}
	if (labels < 2 || !detect_ends(t, j, len) || !tld_ok(t, tld_at, tld_len))
		return 0;
	return j - i;
}

/* ---- phone numbers ---- */

static int digit_at(const char *t, size_t i, size_t len)
{
	return i < len && detect_is_digit((unsigned char)t[i]);
}

/* E.164 with the usual separators: "+44 20 7946 0958", "+1 (415) 555-0100". */
static size_t phone_e164(const char *t, size_t i, size_t len)
{
	size_t j = i + 1, digits = 0, end = 0, seps = 0;

	if (!digit_at(t, j, len) || t[j] == '0')
		return 0;
	while (j < len) {
		unsigned char c = (unsigned char)t[j];

		if (detect_is_digit(c)) {
			digits++;
			seps = 0;
			end = j + 1;
		} else if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')') {
			if (++seps > 2)
				break;
		} else {
			break;
		}
		if (digits > 15)
			return 0;
		j++;
	}
	if (digits < 8 || !detect_ends(t, end, len))
		return 0;
	return end - i;
}

/* dd d at t[i]: three digits, the first 2-9 (area codes and exchanges). */
static int nanp3(const char *t, size_t i, size_t len)
{
	return digit_at(t, i, len) && t[i] >= '2' && digit_at(t, i + 1, len) &&
	       digit_at(t, i + 2, len);
}

/* North American: "(415) 555-0100", "(415)555-0100", "415-555-0100",
 * "415.555.0100". Not "4155550100": that is as likely an id or a time. */
static size_t phone_nanp(const char *t, size_t i, size_t len)
{
	size_t j = i;
	char sep;

	if (t[j] == '(') {
		if (!nanp3(t, j + 1, len) || j + 4 >= len || t[j + 4] != ')')
			return 0;
		j += 5;
		if (j < len && t[j] == ' ')
			j++;
		sep = '-';
	} else {
		if (!nanp3(t, j, len) || j + 3 >= len || (t[j + 3] != '-' && t[j + 3] != '.'))
			return 0;
		/* the middle of a longer dotted or dashed number: 10.415.555.0100 */
		if (i >= 2 && (t[i - 1] == '.' || t[i - 1] == '-') && detect_is_digit((unsigned char)t[i - 2]))
			return 0;
		sep = t[j + 3];
		j += 4;
	}
	if (!nanp3(t, j, len) || j + 3 >= len || t[j + 3] != sep)
		return 0;
	j += 4;
	for (int k = 0; k < 4; k++)
		if (!digit_at(t, j + k, len))
			return 0;
	j += 4;
	if (!detect_ends(t, j, len) ||
	    (j + 1 < len && (t[j] == '-' || t[j] == '.') && digit_at(t, j + 1, len)))
		return 0;
	return j - i;
}

size_t detect_phone(const char *t, size_t i, size_t len)
{
	return t[i] == '+' ? phone_e164(t, i, len) : phone_nanp(t, i, len);
}

/* ---- payment cards ---- */

static int luhn_ok(const char *d, size_t n)
{
	int sum = 0, dbl = 0;

	while (n--) {
		int v = d[n] - '0';

		if (dbl && (v *= 2) > 9)
			v -= 9;
		sum += v;
		dbl = !dbl;
	}
	return sum % 10 == 0;
}

/* Issuer prefixes (IIN ranges) of the networks in use. */
static int issuer_ok(const char *d, size_t n)
{
	int two = (d[0] - '0') * 10 + (d[1] - '0');
	int four = two * 100 + (d[2] - '0') * 10 + (d[3] - '0');

	switch (d[0]) {
	case '4':					/* Visa */
		return n == 13 || n == 16 || n == 19;
	case '5':					/* Mastercard, Maestro */
		return (two >= 51 && two <= 55) ? n == 16 : (two == 50 || two >= 56);
	case '2':					/* Mastercard 2-series */
		return four >= 2221 && four <= 2720 && n == 16;
	case '3':
		if (two == 34 || two == 37)		/* American Express */
			return n == 15;
		if (two == 35)				/* JCB */
			return four >= 3528 && four <= 3589 && n >= 16;
		return (two == 30 || two == 36 || two == 38 || two == 39) && n >= 14;	/* Diners */
	case '6':					/* Discover, UnionPay, Maestro */
		return n >= 16;
	}
	return 0;
}

/* Groups as printed on cards: 4-4-4-4(-3), Amex 4-6-5, Diners 4-6-4. */
static int grouping_ok(const unsigned char *g, int ng)
{
	int k;

	if (ng == 1)
		return 1;
	if (ng == 3 && g[0] == 4 && g[1] == 6 && (g[2] == 5 || g[2] == 4))
		return 1;
	for (k = 0; k < ng - 1; k++)
		if (g[k] != 4)
			return 0;
	return g[ng - 1] >= 1 && g[ng - 1] <= 4;
}

size_t detect_card(const char *t, size_t i, size_t len)
{
	char d[20];
	unsigned char g[20];
	size_t j = i, n = 0;
	int ng = 0;
	char sep = 0;

	if (!detect_is_digit((unsigned char)t[i]))
		return 0;
	/* not the tail of a longer spaced or dashed number, nor decimals */
	if (i >= 2 && (t[i - 1] == ' ' || t[i - 1] == '-' || t[i - 1] == '.') &&
	    detect_is_digit((unsigned char)t[i - 2]))
		return 0;
	g[0] = 0;
	while (j < len) {
		unsigned char c = (unsigned char)t[j];

		if (detect_is_digit(c)) {
			if (n == 19)
				return 0;
			d[n++] = (char)c;
			g[ng]++;
		} else if ((c == ' ' || c == '-') && (!sep || c == sep) && digit_at(t, j + 1, len)) {
			sep = (char)c;
			g[++ng] = 0;
		} else {
			break;
		}
		j++;
	}
	if (n < 13 || !detect_ends(t, j, len) ||
	    (j + 1 < len && t[j] == '.' && digit_at(t, j + 1, len)))
		return 0;
	if (!grouping_ok(g, ng + 1) || !issuer_ok(d, n) || !luhn_ok(d, n))
		return 0;
	return j - i;
}

/* ---- IBAN ---- */

/* Countries with their IBAN length (ISO 13616 registry). */
static int iban_length(char a, char b)
{
	static const struct { char cc[3]; unsigned char len; } tbl[] = {
		{"AD",24},{"AE",23},{"AL",28},{"AT",20},{"AZ",28},{"BA",20},{"BE",16},
		{"BG",22},{"BH",22},{"BR",29},{"CH",21},{"CR",22},{"CY",28},{"CZ",24},
		{"DE",22},{"DK",18},{"DO",28},{"EE",20},{"EG",29},{"ES",24},{"FI",18},
		{"FO",18},{"FR",27},{"GB",22},{"GE",22},{"GI",23},{"GL",18},{"GR",27},
		{"GT",28},{"HR",21},{"HU",28},{"IE",22},{"IL",23},{"IS",26},{"IT",27},
		{"JO",30},{"KW",30},{"KZ",20},{"LB",28},{"LI",21},{"LT",20},{"LU",20},
		{"LV",21},{"MC",27},{"MD",24},{"ME",22},{"MK",19},{"MR",27},{"MT",31},
		{"MU",30},{"NL",18},{"NO",15},{"PK",24},{"PL",28},{"PS",29},{"PT",25},
		{"QA",29},{"RO",24},{"RS",22},{"SA",24},{"SE",24},{"SI",19},{"SK",24},
		{"SM",27},{"TN",24},{"TR",26},{"UA",29},{"VG",24},{"XK",20},
	};

	for (size_t k = 0; k < sizeof(tbl) / sizeof(tbl[0]); k++)
		if (tbl[k].cc[0] == a && tbl[k].cc[1] == b)
			return tbl[k].len;
	return 0;
}

static unsigned mod97_add(unsigned m, char c)
{
	if (detect_is_digit((unsigned char)c))
		return (m * 10 + (unsigned)(c - '0')) % 97;
	return (m * 100 + (unsigned)(c - 'A' + 10)) % 97;
}

size_t detect_iban(const char *t, size_t i, size_t len)
{
	char s[34];
	size_t j = i, n = 0, k;
	unsigned m = 0;
	int want;

	if (i + 4 > len || !detect_is_upper((unsigned char)t[i]) ||
	    !detect_is_upper((unsigned char)t[i + 1]) || !digit_at(t, i + 2, len) ||
	    !digit_at(t, i + 3, len))
		return 0;
	want = iban_length(t[i], t[i + 1]);
	if (!want)
		return 0;
	/* printed in groups of four, or not at all */
	while (j < len && n < (size_t)want) {
		unsigned char c = (unsigned char)t[j];

		if (detect_is_digit(c) || detect_is_upper(c)) {
			s[n++] = (char)c;
		} else if (c == ' ' && n % 4 == 0 && j + 1 < len &&
			   detect_is_alnum((unsigned char)t[j + 1])) {
			;
		} else {
			break;
		}
		j++;
	}
	if (n != (size_t)want || !detect_ends(t, j, len))
		return 0;
	for (k = 4; k < n; k++)
		m = mod97_add(m, s[k]);
	for (k = 0; k < 4; k++)
		m = mod97_add(m, s[k]);
	return m == 1 ? j - i : 0;
}
