/* yaml_err.c - FILE:LINE:COLUMN messages at libyaml marks (yaml_err.h). */
#include "yaml_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- bounds: aliases, their expansion, nesting ---- */

typedef struct {
    char *name;
    size_t size;
} Anchor;

/* Expanded size of a node: 1 + its children's, an alias counting as the node it names. */
typedef struct {
    const char *file;
    Err *e;
    Anchor an[YAML_MAX_ANCHORS];
    int n_an;
    size_t size[YAML_MAX_DEPTH + 1];
    char *anchor[YAML_MAX_DEPTH + 1];
    int depth;
    long aliases;
} Bounds;

static int at(Bounds *b, const yaml_event_t *ev, const char *fmt, long v) {
    char msg[256];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(msg, sizeof msg, fmt, v);
#pragma GCC diagnostic pop
    return err_set(b->e, "%s:%lu:%lu: %s", b->file, (unsigned long)ev->start_mark.line + 1,
                   (unsigned long)ev->start_mark.column + 1, msg);
}

static void drop_anchors(Bounds *b) {
    for (int i = 0; i < b->n_an; i++) free(b->an[i].name);
    b->n_an = 0;
}

/* A finished node of `size` (with its anchor, or NULL) joins its parent. */
static int add_node(Bounds *b, const yaml_event_t *ev, size_t size, const char *anchor) {
    if (anchor) {
        if (b->n_an == YAML_MAX_ANCHORS) return at(b, ev, "more than %ld YAML anchors", YAML_MAX_ANCHORS);
        b->an[b->n_an].name = strdup(anchor);
        b->an[b->n_an++].size = size;
    }
    if (b->depth > 0) {
        b->size[b->depth - 1] += size;
        if (b->size[b->depth - 1] > YAML_MAX_NODES)
            return at(b, ev, "YAML aliases expand to more than %ld nodes (an alias bomb?)", YAML_MAX_NODES);
    }
    return 0;
}

int yamlerr_check_bounds(const char *text, size_t len, const char *file, Err *e) {
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return err_set(e, "%s: cannot initialise the YAML parser", file);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    Bounds *b = xcalloc(1, sizeof *b);
    b->file = file;
    b->e = e;
    int rc = 0, done = 0;
    while (!rc && !done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) break; /* a syntax error: the loader reports it */
        switch (ev.type) {
            case YAML_STREAM_END_EVENT: done = 1; break;
            case YAML_DOCUMENT_START_EVENT:
                drop_anchors(b);
                b->depth = 0;
                break;
            case YAML_SCALAR_EVENT: rc = add_node(b, &ev, 1, (const char *)ev.data.scalar.anchor); break;
            case YAML_ALIAS_EVENT: {
                if (++b->aliases > YAML_MAX_ALIASES) {
                    rc = at(b, &ev, "more than %ld YAML aliases", YAML_MAX_ALIASES);
                    break;
                }
                size_t size = 1;
                for (int i = b->n_an - 1; i >= 0; i--)
                    if (!strcmp(b->an[i].name, (const char *)ev.data.alias.anchor)) {
                        size = b->an[i].size;
                        break;
                    }
                rc = add_node(b, &ev, size, NULL);
                break;
            }
            case YAML_SEQUENCE_START_EVENT:
            case YAML_MAPPING_START_EVENT: {
                if (b->depth == YAML_MAX_DEPTH) {
                    rc = at(b, &ev, "YAML nested deeper than %ld levels", YAML_MAX_DEPTH);
                    break;
                }
                const yaml_char_t *a =
                    ev.type == YAML_SEQUENCE_START_EVENT ? ev.data.sequence_start.anchor : ev.data.mapping_start.anchor;
                b->anchor[b->depth] = a ? strdup((const char *)a) : NULL;
                b->size[b->depth++] = 1;
                break;
            }
            case YAML_SEQUENCE_END_EVENT:
            case YAML_MAPPING_END_EVENT:
                if (b->depth > 0) {
                    b->depth--;
                    rc = add_node(b, &ev, b->size[b->depth], b->anchor[b->depth]);
                    free(b->anchor[b->depth]);
                    b->anchor[b->depth] = NULL;
                }
                break;
            default: break;
        }
        yaml_event_delete(&ev);
    }
    for (int i = 0; i < b->depth; i++) free(b->anchor[i]);
    drop_anchors(b);
    free(b);
    yaml_parser_delete(&p);
    return rc;
}

int yamlerr_load(const char *file, const char *text, size_t len, yaml_document_t *doc, Err *e) {
    if (yamlerr_check_bounds(text, len, file, e)) return -1;
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return err_set(e, "%s: cannot initialise the YAML parser", file);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int rc = yaml_parser_load(&p, doc) ? 0 : yamlerr_parser(e, file, &p);
    yaml_parser_delete(&p);
    return rc;
}
