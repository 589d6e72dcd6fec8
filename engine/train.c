/* train.c - placeholder until the subcommand lands. */
#include <stdio.h>
#include "cli.h"
int cmd_train(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "alphadecay train: not implemented yet\n");
    return 1;
}
