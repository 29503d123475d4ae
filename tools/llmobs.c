/* llmobs: reads what llmobsd stored (see user/7-cli/cli.c). */
#include "cli.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
