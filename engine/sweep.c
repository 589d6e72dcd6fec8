/* sweep.c - placeholder until the subcommand lands. */
#include <stdio.h>
#include "cli.h"
int cmd_sweep(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "alphadecay sweep: not implemented yet\n");
    return 1;
}
