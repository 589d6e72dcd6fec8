/* report.h - `alphadecay report`, the command over the analysis library (engine/cli/main.c's table
 * reaches it here). Its pieces have their own headers: index_csv (report_index.h), figure_make
 * (figure.h), tables (table.h), the prose's numbers and claims (facts.h). */
#ifndef REPORT_H
#define REPORT_H

/* `alphadecay report index | table | plot | all | compare | curves ...` (report.c): argv[0] is "report",
 * the return value the exit status (0, 1, 2 bad usage). */
int cmd_report(int argc, char **argv);

/* `report compare` and `report curves` (report_adhoc.c), with argv as cmd_report got it. */
int report_adhoc(int argc, char **argv);

#endif
