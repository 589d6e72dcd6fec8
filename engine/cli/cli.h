/* cli.h - one entry point per subcommand; each parses its own argv (argv[0] = the subcommand),
 * prints its own --help, returns the process exit status (0 ok, 1 failure, 2 bad usage). */
#ifndef CLI_H
#define CLI_H

int cmd_train(int argc, char **argv);  /* train.c */
int cmd_eval(int argc, char **argv);   /* eval.c */
int cmd_eval_tasks(int argc, char **argv); /* eval_tasks.c */
int cmd_prep(int argc, char **argv);   /* prep.c */
int cmd_sample(int argc, char **argv); /* sample.c */
int cmd_esd(int argc, char **argv);    /* esd_cmd.c */
int cmd_sweep(int argc, char **argv);  /* sweep.c */
int cmd_report(int argc, char **argv); /* analysis/report.c: index, table, plot */
int cmd_bench(int argc, char **argv);  /* bench.c */

#endif
