/* run.h - the run concern's commands, the entry points of the command layer's table
 * (engine/cli/main.c): train (train.c), eval (eval.c), eval-tasks (eval_tasks.c), sample (sample.c).
 * Each parses its own argv (argv[0] = the command), prints its own --help and returns the exit status
 * (0 ok, 1 failure, 2 bad usage; train also 130 when stopped by a signal). */
#ifndef RUN_H
#define RUN_H

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_eval_tasks(int argc, char **argv);
int cmd_sample(int argc, char **argv);

#endif
