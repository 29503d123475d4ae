/* Match rules of @pydantic/genai-prices -> a compiled tree -> does a model
 * (or provider) name match. The source's rules are JavaScript; its regexes use
 * lookaheads and (?:...), so they run on PCRE2 (the Debian library), whose
 * syntax is a superset for every construct the data uses. The tree is bounded
 * (depth, fan-out, string length): it comes from a file a user may hand us. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "log.h"
#include "price_match.h"

#define MATCH_MAX_DEPTH		8
#define MATCH_MAX_CHILDREN	256
#define MATCH_MAX_STR		512
/* A regex from a user's file could backtrack for ever on a long name. */
#define MATCH_MAX_STEPS		100000

enum match_op { M_OR, M_AND, M_EQUALS, M_STARTS, M_ENDS, M_CONTAINS, M_REGEX };

struct price_match {
	enum match_op op;
	char *s;			/* leaf string */
	size_t s_len;
	pcre2_code *re;
	pcre2_match_data *md;		/* reused: callers are single-threaded */
	struct price_match **kids;	/* or / and */
	size_t n_kids;
};

static const char *const op_names[] = {
	[M_OR] = "or", [M_AND] = "and", [M_EQUALS] = "equals",
	[M_STARTS] = "starts_with", [M_ENDS] = "ends_with",
	[M_CONTAINS] = "contains", [M_REGEX] = "regex",
};

void price_match_free(struct price_match *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->n_kids; i++)
		price_match_free(m->kids[i]);
	free(m->kids);
	free(m->s);
	if (m->md)
		pcre2_match_data_free(m->md);
	if (m->re)
		pcre2_code_free(m->re);
	free(m);
}

static int parse(const cJSON *j, const char *what, int depth, struct price_match **out);

static int parse_list(const cJSON *arr, const char *what, int depth, struct price_match *m)
{
	const cJSON *it;
	int n = cJSON_GetArraySize(arr), err;

	if (!cJSON_IsArray(arr) || n < 1 || n > MATCH_MAX_CHILDREN) {
		p_err("prices: %s: \"%s\" needs a list of 1 to %d rules", what,
		      op_names[m->op], MATCH_MAX_CHILDREN);
		return -EINVAL;
	}
	m->kids = calloc(n, sizeof(*m->kids));
	if (!m->kids)
		return -ENOMEM;
	cJSON_ArrayForEach(it, arr) {
		/* Counted first: a child that failed half-built is freed too. */
		err = parse(it, what, depth + 1, &m->kids[m->n_kids++]);
		if (err)
			return err;
	}
	return 0;
}

static int compile_regex(struct price_match *m, const char *what)
{
	PCRE2_UCHAR msg[128];
	PCRE2_SIZE off;
	int code;

	m->re = pcre2_compile((PCRE2_SPTR)m->s, m->s_len, PCRE2_UTF,
			      &code, &off, NULL);
	if (m->re) {
		/* Every call's URL meets the providers' patterns: compiled to
		 * machine code where PCRE2 can (10x faster), else interpreted. */
		(void)pcre2_jit_compile(m->re, PCRE2_JIT_COMPLETE);
		m->md = pcre2_match_data_create_from_pattern(m->re, NULL);
		return m->md ? 0 : -ENOMEM;
	}
	pcre2_get_error_message(code, msg, sizeof(msg));
	p_err("prices: %s: bad regex \"%.80s\" at %zu: %s", what, m->s, (size_t)off,
	      (const char *)msg);
	return -EINVAL;
}

static int parse(const cJSON *j, const char *what, int depth, struct price_match **out)
{
	struct price_match *m;
	const cJSON *v;
	int op, err;

	*out = NULL;
	if (depth > MATCH_MAX_DEPTH || !cJSON_IsObject(j) || cJSON_GetArraySize(j) != 1) {
		p_err("prices: %s: a match rule is an object with one key, nested at most %d deep",
		      what, MATCH_MAX_DEPTH);
		return -EINVAL;
	}
	v = j->child;
	for (op = 0; op <= M_REGEX; op++)
		if (strcmp(v->string, op_names[op]) == 0)
			break;
	if (op > M_REGEX) {
		p_err("prices: %s: unknown match rule \"%.40s\"", what, v->string);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->op = op;
	*out = m;
	if (op == M_OR || op == M_AND)
		return parse_list(v, what, depth, m);
	if (!cJSON_IsString(v) || strlen(v->valuestring) > MATCH_MAX_STR) {
		p_err("prices: %s: \"%s\" needs a string of at most %d bytes", what,
		      op_names[op], MATCH_MAX_STR);
		return -EINVAL;
	}
	m->s = strdup(v->valuestring);
	if (!m->s)
		return -ENOMEM;
	m->s_len = strlen(m->s);
	if (op == M_REGEX && (err = compile_regex(m, what)))
		return err;
	return 0;
}

int price_match_parse(const cJSON *j, const char *what, struct price_match **out)
{
	int err = parse(j, what, 0, out);

	if (err) {
		price_match_free(*out);
		*out = NULL;
	}
	return err;
}

static bool contains_ci(const char *hay, size_t n, const char *needle, size_t k)
{
	size_t i;

	for (i = 0; i + k <= n; i++)
		if (strncasecmp(hay + i, needle, k) == 0)
			return true;
	return false;
}

bool price_match_test(const struct price_match *m, const char *name)
{
	static pcre2_match_context *limits;	/* one for the process, never freed */
	size_t n = strlen(name), i;
	int rc;

	switch (m->op) {
	case M_OR:
		for (i = 0; i < m->n_kids; i++)
			if (price_match_test(m->kids[i], name))
				return true;
		return false;
	case M_AND:
		for (i = 0; i < m->n_kids; i++)
			if (!price_match_test(m->kids[i], name))
				return false;
		return true;
	case M_EQUALS:
		return strcasecmp(name, m->s) == 0;
	case M_STARTS:
		return n >= m->s_len && strncasecmp(name, m->s, m->s_len) == 0;
	case M_ENDS:
		return n >= m->s_len && strncasecmp(name + n - m->s_len, m->s, m->s_len) == 0;
	case M_CONTAINS:
		return contains_ci(name, n, m->s, m->s_len);
	case M_REGEX:
		if (!limits && (limits = pcre2_match_context_create(NULL)))
			pcre2_set_match_limit(limits, MATCH_MAX_STEPS);
		/* A name that is not UTF-8 is no model of the table; a regex
		 * past its step limit matches nothing. */
		rc = pcre2_match(m->re, (PCRE2_SPTR)name, n, 0, 0, m->md, limits);
		return rc >= 0;
	}
	return false;
}
