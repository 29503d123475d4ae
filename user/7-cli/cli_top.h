/* `llmobs top` (cli_top.c): a live view of the last minute, from the
 * database; full screen on a terminal, plain lines otherwise. */
#ifndef LLMOBS_CLI_TOP_H
#define LLMOBS_CLI_TOP_H

/* argv[0] is "top". Returns the exit code (0, 1, EXIT_USAGE). */
int cli_top(int argc, char **argv);

#endif
