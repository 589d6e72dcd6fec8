#!/usr/bin/env bash
# layers_dot.sh [--table] [ARCHITECTURE.md]: the layer table of docs/architecture.md ("## Layers") as
#   --table   one line per layer: NAME DIRECTORY ALLOWED,ALLOWED,... ("-" for none); read by
#             tests/e2e_layers.sh, so the table is the one statement of the layers
#   (default) a graphviz dot graph, each layer pointing at the layers it may use, transitive edges
#             left out (a layer that may use X and Y, where Y may use X, is drawn to Y only).
# Redraw the committed picture: bash scripts/layers_dot.sh > docs/layers.dot && dot -Tpng docs/layers.dot -o docs/layers.png
set -u
mode=dot
[ "${1:-}" = --table ] && { mode=table; shift; }
doc=${1:-$(dirname "$0")/../docs/architecture.md}
table() {
    awk -F'|' '/^## /{ on = ($0 == "## Layers") } on && /^\| [a-z]/ && $2 !~ /^ layer / {
        name = $2; dir = $3; use = $4; gsub(/[ `]/, "", name); gsub(/[ `]/, "", dir); gsub(/ /, "", use)
        if (use == "") use = "-"; print name, dir, use }' "$1"
}
if [ $mode = table ]; then table "$doc"; exit; fi
table "$doc" | awk '
    { n++; name[n] = $1; k = split($3, u, ","); for (i = 1; i <= k; i++) if (u[i] != "-") may[$1, u[i]] = 1 }
    END {
        print "digraph layers {"
        print "  rankdir=BT; node [shape=box, fontname=\"Helvetica\", fontsize=11]; edge [color=\"#555555\"];"
        for (i = 1; i <= n; i++) {
            a = name[i]; printf "  %s;\n", a
            for (j = 1; j <= n; j++) {
                b = name[j]; if (!((a, b) in may)) continue
                implied = 0  # a may use c, and c may use b: the edge a -> b adds nothing to the picture
                for (m = 1; m <= n; m++) { c = name[m]; if (c != b && ((a, c) in may) && ((c, b) in may)) implied = 1 }
                if (!implied) printf "  %s -> %s;\n", a, b
            }
        }
        print "}"
    }'
