/* report.c - placeholder until analysis lands. */
#include <stdio.h>
#include "cli.h"
int cmd_report(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "alphadecay report: not implemented yet\n");
    return 1;
}
