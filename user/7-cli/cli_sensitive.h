/* The text report's section on secrets and personal data sent
 * (cli_sensitive.c). */
#ifndef LLMOBS_CLI_SENSITIVE_H
#define LLMOBS_CLI_SENSITIVE_H

#include <stdint.h>

struct sqlite3;

/* Kinds and counts per app and project since since_ns; nothing for a
 * database without the column or without findings. Returns 0 or -EIO. */
int cli_report_sensitive(struct sqlite3 *db, int64_t since_ns);

#endif
