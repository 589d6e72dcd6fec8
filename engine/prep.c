/* prep.c - placeholder until the subcommand lands. */
#include <stdio.h>
#include "cli.h"
int cmd_prep(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "alphadecay prep: not implemented yet\n");
    return 1;
}
