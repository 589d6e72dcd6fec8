/* esd_cmd.c - placeholder until the subcommand lands. */
#include <stdio.h>
#include "cli.h"
int cmd_esd(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "alphadecay esd: not implemented yet\n");
    return 1;
}
