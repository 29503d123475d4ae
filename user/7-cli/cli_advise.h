/* `llmobs advise` (cli_advise.c): every saving in one list, largest
 * first, with evidence, dollars a month and confidence. */
#ifndef LLMOBS_CLI_ADVISE_H
#define LLMOBS_CLI_ADVISE_H

/* argv[0] is "advise". Returns the exit code (0, 1, EXIT_USAGE). */
int cli_advise(int argc, char **argv);

#endif
