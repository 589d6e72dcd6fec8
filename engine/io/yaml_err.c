/* yaml_err.c - FILE:LINE:COLUMN messages at libyaml marks (yaml_err.h). */
#include "yaml_err.h"

#include <stdarg.h>
#include <stdio.h>

int yamlerr_node(Err *e, const char *file, const yaml_node_t *n, const char *fmt, ...) {
    char msg[800];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!n) return err_set(e, "%s: %s", file, msg);
    return err_set(e, "%s:%lu:%lu: %s", file, (unsigned long)n->start_mark.line + 1,
                   (unsigned long)n->start_mark.column + 1, msg);
}

int yamlerr_parser(Err *e, const char *file, const yaml_parser_t *p) {
    return err_set(e, "%s:%lu:%lu: YAML syntax error: %s%s%s", file, (unsigned long)p->problem_mark.line + 1,
                   (unsigned long)p->problem_mark.column + 1, p->problem ? p->problem : "malformed YAML",
                   p->context ? " " : "", p->context ? p->context : "");
}
