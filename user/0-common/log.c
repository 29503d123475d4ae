/* The one logger (log.h). */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include "log.h"

int log_verbosity = LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[4096];
	va_list ap;
	int n, m;

	if ((int)level > log_verbosity)
		return;
	/* One line, whole: the telemetry, webhook and daemon threads all log,
	 * and budget_alert lines are parsed. The attacher and its worker share
	 * stderr too, so a line is one write where it fits: the lock below
	 * only orders threads. */
	n = snprintf(line, sizeof(line), "llmobs: %s: ", level_names[level]);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	flockfile(stderr);
	if (m >= 0 && (size_t)n + (size_t)m + 1 < sizeof(line)) {
		line[n + m] = '\n';
		fwrite(line, 1, (size_t)n + (size_t)m + 1, stderr);
	} else {	/* a verifier log: in pieces */
		fprintf(stderr, "llmobs: %s: ", level_names[level]);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	funlockfile(stderr);
}
