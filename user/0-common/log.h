/* One logger for the daemon and tools: stderr, levelled, printf-checked.
 * Never given request/response bodies or header values. */
#ifndef LLMOBS_LOG_H
#define LLMOBS_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

extern int log_verbosity;	/* messages above it are dropped; default LOG_INFO */

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define p_err(...)	log_msg(LOG_ERROR, __VA_ARGS__)
#define p_warn(...)	log_msg(LOG_WARN, __VA_ARGS__)
#define p_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define p_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
