#include "stats.h"

uint64_t stats[STAT__MAX];

const char *const stats_names[STAT__MAX] = {
#define X(id, name) [STAT_##id] = name,
	STATS_LIST(X)
#undef X
};
