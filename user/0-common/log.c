/* The one logger (log.h). */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include "log.h"

int log_verbosity = LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if ((int)level > log_verbosity)
		return;
	/* One line, whole: the telemetry, webhook and daemon threads all log,
	 * and budget_alert lines are parsed. */
	flockfile(stderr);
	fprintf(stderr, "llmobs: %s: ", level_names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}
