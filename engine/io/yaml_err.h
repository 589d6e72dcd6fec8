/* yaml_err.h - the one way a YAML problem is reported: "FILE:LINE:COLUMN: message", line and column
 * 1-based as editors count (libyaml's marks are 0-based). Used by the config, sweep grid and analysis
 * spec readers. Both return -1, like err_set. */
#ifndef YAML_ERR_H
#define YAML_ERR_H

#include <yaml.h>

#include "common.h"

/* The message at a node's start; without a node (n NULL) "FILE: message". */
int yamlerr_node(Err *e, const char *file, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A parser failure: "FILE:LINE:COLUMN: YAML syntax error: PROBLEM CONTEXT". */
int yamlerr_parser(Err *e, const char *file, const yaml_parser_t *p);

#endif
