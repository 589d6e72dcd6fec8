/* cli.h - the commands the command layer implements itself: bench (bench.c) and esd (esd_cmd.c). The
 * other commands live with their concern and are declared in its header (prep.h, run.h, sweep.h,
 * analysis/report.h); engine/cli/main.c holds the table of all of them. Each parses its own argv
 * (argv[0] = the command), prints its own --help and returns the exit status (0 ok, 1 failure, 2 bad
 * usage). */
#ifndef CLI_H
#define CLI_H

int cmd_esd(int argc, char **argv);   /* esd_cmd.c */
int cmd_bench(int argc, char **argv); /* bench.c */

#endif
