/* eval.c - placeholder until the subcommand lands. */
#include <stdio.h>
#include "cli.h"
int cmd_eval(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "alphadecay eval: not implemented yet\n");
    return 1;
}
