/* Model-name match rules of @pydantic/genai-prices ("MatchLogic"): a tree of
 * {"or": [...]}, {"and": [...]}, {"equals"|"starts_with"|"ends_with"|
 * "contains": "s"} (case-insensitive) and {"regex": "re"} (case-sensitive,
 * JavaScript syntax, run by PCRE2), applied as the source applies them. */
#ifndef LLMOBS_PRICE_MATCH_H
#define LLMOBS_PRICE_MATCH_H

#include <stdbool.h>
#include <cjson/cJSON.h>

struct price_match;

/* Compiles j (what names errors: the model or provider). Returns 0 or
 * -EINVAL (logged) for a malformed rule or regex, -ENOMEM. */
int price_match_parse(const cJSON *j, const char *what, struct price_match **out);
void price_match_free(struct price_match *m);
/* name as given; the caller lowercases it as the source does, if it must.
 * Not reentrant (a regex keeps its match data): one thread per table. */
bool price_match_test(const struct price_match *m, const char *name);

#endif
