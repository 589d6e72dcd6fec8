/* yaml_err.h - the one way a YAML problem is reported: "FILE:LINE:COLUMN: message", line and column
 * 1-based as editors count (libyaml's marks are 0-based). Used by the config, sweep grid and analysis
 * spec readers. Both return -1, like err_set. And the bounds every YAML text is checked against
 * before it is loaded. */
#ifndef YAML_ERR_H
#define YAML_ERR_H

#include <yaml.h>

#include "common.h"

/* The message at a node's start; without a node (n NULL) "FILE: message". */
int yamlerr_node(Err *e, const char *file, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A parser failure: "FILE:LINE:COLUMN: YAML syntax error: PROBLEM CONTEXT". */
int yamlerr_parser(Err *e, const char *file, const yaml_parser_t *p);

/* Every reader (config, --set values, sweep grids, analysis specs and run config.yaml files) calls this
 * on the text before yaml_parser_load: an alias bomb ("billion laughs": a few hundred bytes whose
 * aliases expand to 10^9 nodes) or a deep nesting (libyaml slows down quadratically with depth) fails
 * at once with "FILE:LINE:COLUMN: ..." at the offending event. The bounds are far above anything a
 * config, grid or spec holds. Syntax errors are left to the loader. */
#define YAML_MAX_DEPTH 64L
#define YAML_MAX_ALIASES 1000L
#define YAML_MAX_ANCHORS 1000L
#define YAML_MAX_NODES 1000000L /* nodes of a document with every alias expanded */
int yamlerr_check_bounds(const char *text, size_t len, const char *file, Err *e);
/* The one document of text (named file in messages) into *doc (the caller deletes it): the bounds
 * above, then libyaml's loader; -1 with "FILE:LINE:COLUMN: ..." on a failure. */
int yamlerr_load(const char *file, const char *text, size_t len, yaml_document_t *doc, Err *e);

#endif
