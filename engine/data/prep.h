/* prep.h - `alphadecay prep` (prep.c): a corpus to a tokenizer and token shards. The entry point of
 * the command layer's table (engine/cli/main.c); argv[0] is "prep", the return value the exit status
 * (0 ok, 1 failure, 2 bad usage). */
#ifndef PREP_H
#define PREP_H

int cmd_prep(int argc, char **argv);

#endif
