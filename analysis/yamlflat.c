/* yamlflat.c - a YAML file of nested mappings -> dotted keys (kv.h). Used for run config.yaml files:
 * whatever the writer's exact layout, every leaf is reachable as "section.key". */
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "kv.h"
#include "yaml_err.h"

static int flatten(yaml_document_t *doc, yaml_node_t *node, const char *prefix, KVList *out, const char *path, Err *e) {
    char key[512];
    switch (node->type) {
        case YAML_SCALAR_NODE: kv_set(out, prefix, (const char *)node->data.scalar.value); return 0;
        case YAML_SEQUENCE_NODE: {
            /* a sequence of scalars is one value "[a, b]"; anything else is indexed */
            int all_scalar = 1;
            for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++)
                if (yaml_document_get_node(doc, *it)->type != YAML_SCALAR_NODE) all_scalar = 0;
            if (all_scalar) {
                size_t cap = 64, n = 0;
                char *b = xcalloc(cap, 1);
                b[n++] = '[';
                int first = 1;
                for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++) {
                    const char *v = (const char *)yaml_document_get_node(doc, *it)->data.scalar.value;
                    size_t need = n + strlen(v) + 4;
                    if (need > cap) {
                        while (need > cap) cap *= 2;
                        char *nb = xcalloc(cap, 1);
                        memcpy(nb, b, n);
                        free(b);
                        b = nb;
                    }
                    if (!first) {
                        b[n++] = ',';
                        b[n++] = ' ';
                    }
                    memcpy(b + n, v, strlen(v));
                    n += strlen(v);
                    first = 0;
                }
                b[n++] = ']';
                b[n] = 0;
                kv_set(out, prefix, b);
                free(b);
                return 0;
            }
            int i = 0;
            for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top;
                 it++, i++) {
                snprintf(key, sizeof key, "%s%s%d", prefix, *prefix ? "." : "", i);
                if (flatten(doc, yaml_document_get_node(doc, *it), key, out, path, e)) return -1;
            }
            return 0;
        }
        case YAML_MAPPING_NODE:
            for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
                yaml_node_t *k = yaml_document_get_node(doc, p->key);
                if (k->type != YAML_SCALAR_NODE) return yamlerr_node(e, path, k, "mapping keys must be plain scalars");
                snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", (const char *)k->data.scalar.value);
                if (flatten(doc, yaml_document_get_node(doc, p->value), key, out, path, e)) return -1;
            }
            return 0;
        default: return 0;
    }
}

static int load_text(const char *path, const char *text, size_t len, void *doc, Err *e) {
    return yamlerr_load(path, text, len, (yaml_document_t *)doc, e);
}

int kv_yaml_load(const char *path, yaml_document_t *doc, Err *e) { return parse_file(path, load_text, doc, e); }

int kv_yaml_flatten(const char *path, KVList *out, Err *e) {
    kv_init(out);
    yaml_document_t doc;
    if (kv_yaml_load(path, &doc, e)) return -1;
    int rc;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) rc = err_set(e, "%s: empty YAML document", path);
    else if (root->type != YAML_MAPPING_NODE) rc = yamlerr_node(e, path, root, "expected a mapping at the top");
    else rc = flatten(&doc, root, "", out, path, e);
    yaml_document_delete(&doc);
    if (rc) kv_free(out);
    return rc;
}
