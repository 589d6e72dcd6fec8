#!/usr/bin/env bash
# The layers of docs/architecture.md ("## Layers", read through scripts/layers_dot.sh --table: the table
# is the one statement of them) hold in the code:
#   layers_includes   a file of a layer includes headers of its own layer and of the layers its row lists,
#                     nothing else; every engine/ directory and analysis/ has a row
#   layers_analysis_inc  -Ianalysis (the Makefile) reaches only the command layer (engine/cli/) and tests
#   layers_no_circles no two files call into each other, directly or round a circle (nm of the objects
#                     of the build; skipped when they are not built)
#   layers_picture    docs/layers.dot is what scripts/layers_dot.sh draws from the table
# Each check is a function over explicit inputs; the self-tests at the end feed each one a fixture with
# a planted flaw and require that it is found.
set -u
cd "$(dirname "$0")/.."
T=${AD_TMP:-$(mktemp -d /tmp/adlayers.XXXXXX)}/layers; mkdir -p "$T"
FAILED=0
ok()   { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; FAILED=1; }

# ---- $1: root, $2: the table (NAME DIR ALLOWED lines); prints every include that breaks it ----
check_includes() {
    local root=$1 table=$2 name dir use f h o c
    declare -A DIR_OF=() ALLOWED=() OWNER=()
    while read -r name dir use; do DIR_OF[$name]=$dir; ALLOWED[$name]=" ${use//,/ } "; done < "$table"
    for name in "${!DIR_OF[@]}"; do
        for h in "$root/${DIR_OF[$name]}"*.h; do [ -f "$h" ] && OWNER[$(basename "$h")]=$name; done
    done
    for dir in "$root"/engine/*/ "$root"/analysis/; do
        [ -d "$dir" ] || continue
        c=""
        for name in "${!DIR_OF[@]}"; do [ "$root/${DIR_OF[$name]}" = "$dir" ] && c=$name; done
        [ -z "$c" ] && { echo "${dir#"$root"/} has no row in the layer table"; continue; }
        for f in "$dir"*.c "$dir"*.h "$dir"*.cc; do
            [ -f "$f" ] || continue
            while read -r h; do
                o=${OWNER[$h]:-}
                [ -z "$o" ] || [ "$o" = "$c" ] && continue   # a system header, or its own layer
                case ${ALLOWED[$c]} in *" $o "*) ;; *) echo "${f#"$root"/} includes $h (layer $o), not allowed for layer $c" ;; esac
            done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
        done
    done
}

# ---- $1: a Makefile; prints every line that gives -Ianalysis to more than the command layer and tests ----
check_analysis_inc() {
    grep -n -- '-Ianalysis' "$1" | grep -vE '^[0-9]+:\$\(BUILD\)/engine/cli/%\.o: CFLAGS \+= -Ianalysis$' | grep -v -- '-Itests'
}

# ---- stdin: `nm -A` of the objects; prints each circle of calls between files (as "a -> b -> a") ----
check_circles() {
    awk '{ f = $1; sub(/:.*/, "", f); sub(/\.o$/, "", f); n = split(substr($0, index($0, ":") + 1), p, " ")
           if (n == 2 && p[1] == "U") { nu++; uf[nu] = f; us[nu] = p[2] }
           else if (n == 3 && p[2] ~ /^[TDBRCV]$/ && !(p[3] in def)) def[p[3]] = f
           files[f] = 1 }
         END {
           for (i = 1; i <= nu; i++) if ((us[i] in def) && def[us[i]] != uf[i]) reach[uf[i], def[us[i]]] = 1
           for (k in files) for (a in files) if ((a, k) in reach) for (b in files) if ((k, b) in reach) reach[a, b] = 1
           for (a in files) for (b in files) if (a < b && ((a, b) in reach) && ((b, a) in reach)) print a " -> " b " -> " a
         }' | sort
}

# ================================================================ the checks
bash scripts/layers_dot.sh --table docs/architecture.md > "$T/table"
if [ "$(wc -l < "$T/table")" -lt 10 ]; then fail layers_table "only $(wc -l < "$T/table") layers read from docs/architecture.md"
else
    out=$(check_includes . "$T/table")
    [ -z "$out" ] && ok "layers_includes ($(wc -l < "$T/table") layers)" || fail layers_includes "$(echo "$out" | head -5 | tr '\n' ';')"
fi

out=$(check_analysis_inc Makefile)
[ -z "$out" ] && ok layers_analysis_inc || fail layers_analysis_inc "$(echo "$out" | tr '\n' ';')"

OBJ=${AD_TESTBIN:+$(dirname "$AD_TESTBIN")}
if [ -n "$OBJ" ] && ls "$OBJ"/engine/*/*.o >/dev/null 2>&1 && command -v nm >/dev/null; then
    (cd "$OBJ" && nm -A engine/*/*.o analysis/*.o 2>/dev/null) > "$T/nm"
    out=$(check_circles < "$T/nm")
    n_obj=$(ls "$OBJ"/engine/*/*.o "$OBJ"/analysis/*.o | wc -l)
    [ -z "$out" ] && ok "layers_no_circles ($n_obj objects)" || fail layers_no_circles "$(echo "$out" | head -5 | tr '\n' ';')"
else
    echo "skipped layers_no_circles: no built objects (run through make test)"
fi

bash scripts/layers_dot.sh docs/architecture.md > "$T/layers.dot"
cmp -s "$T/layers.dot" docs/layers.dot && ok layers_picture \
    || fail layers_picture "docs/layers.dot is not what scripts/layers_dot.sh draws: redraw it (see that script)"

# ================================================================ each check can fail
F=$T/fixture; rm -rf "$F"; mkdir -p "$F/engine/base" "$F/engine/run" "$F/engine/top" "$F/analysis"
printf 'base engine/base/ -\nrun engine/run/ base\nanalysis analysis/ base\ntop engine/top/ base,run,analysis\n' > "$F/table"
printf '#include "b.h"\n' > "$F/engine/base/b.h"
printf '#include "b.h"\n#include <stdio.h>\n' > "$F/engine/run/r.c"; : > "$F/engine/run/r.h"
printf '#include "b.h"\n' > "$F/analysis/a.h"
printf '#include "r.h"\n#include "a.h"\n' > "$F/engine/top/main.c"
[ -z "$(check_includes "$F" "$F/table")" ] || fail layers_selftest_includes "a correct fixture was reported: $(check_includes "$F" "$F/table")"
printf '#include "a.h"\n' > "$F/engine/run/bad.c"
printf '#include "r.h"\n' > "$F/analysis/bad.c"
mkdir -p "$F/engine/new"
out=$(check_includes "$F" "$F/table")
echo "$out" | grep -q "engine/run/bad.c includes a.h" && echo "$out" | grep -q "analysis/bad.c includes r.h" &&
    echo "$out" | grep -q "engine/new/ has no row" && ok layers_selftest_includes || fail layers_selftest_includes "planted flaws not all found: $out"

printf 'INC := -Iengine/base -Ianalysis\n$(BUILD)/engine/cli/%%.o: CFLAGS += -Ianalysis\n\t$(CC) -Itests -Ianalysis x.c\n' > "$F/Makefile"
[ "$(check_analysis_inc "$F/Makefile" | wc -l)" = 1 ] && ok layers_selftest_analysis_inc || fail layers_selftest_analysis_inc "$(check_analysis_inc "$F/Makefile")"

printf 'a.o:0000 T fa\na.o:         U fb\nb.o:0000 T fb\nb.o:         U fc\nc.o:0000 T fc\nc.o:         U fd\nd.o:0000 T fd\nd.o:         U printf\n' > "$F/nm_ok"
printf 'c.o:         U fa\n' | cat "$F/nm_ok" - > "$F/nm_circle"
if [ -z "$(check_circles < "$F/nm_ok")" ] && [ "$(check_circles < "$F/nm_circle" | head -1)" = "a -> b -> a" ]; then ok layers_selftest_circles
else fail layers_selftest_circles "chain: [$(check_circles < "$F/nm_ok")] circle: [$(check_circles < "$F/nm_circle" | tr '\n' ';')]"; fi

exit $FAILED
