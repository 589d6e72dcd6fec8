#!/usr/bin/env bash
# The layout's dependency rule: a file in engine/<concern>/ may include headers of its own concern and
# of the concerns listed for it below, nothing else (analysis/ may use any engine header). cli.h, the
# list of subcommand entry points, is the one header every concern with a command may include. A new
# include that breaks the layering fails here with the file and the header named.
set -u
cd "$(dirname "$0")/.."
declare -A ALLOWED=(
    [base]=""
    [spectra]="base"
    [model]="base"
    [data]="base"
    [optim]="base model io spectra"
    [io]="base model spectra data"
    [dist]="base"
    [decay]="base model spectra io dist"
    [run]="base model optim data spectra decay io dist"
    [sweep]="base io spectra model"
    [cli]="base model optim data spectra decay io run sweep dist"
)
declare -A OWNER=()
for h in engine/*/*.h; do d=${h#engine/}; OWNER[$(basename "$h")]=${d%%/*}; done
bad=0
for dir in engine/*/; do
    c=$(basename "$dir")
    [ -n "${ALLOWED[$c]+x}" ] || { echo "FAIL layers: engine/$c/ has no entry in tests/e2e_layers.sh"; bad=1; continue; }
    for f in "$dir"*.[ch]; do
        while read -r h; do
            o=${OWNER[$h]:-}
            [ -z "$o" ] && continue   # a system or analysis header
            [ "$o" = "$c" ] && continue
            [ "$h" = cli.h ] && continue  # the table of commands: prototypes only, each command implements one
            case " ${ALLOWED[$c]} " in *" $o "*) ;; *) echo "FAIL layers: $f includes $h (engine/$o/), not allowed for engine/$c/"; bad=1 ;; esac
        done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
    done
done
[ $bad -eq 0 ] && echo "ok layers: every engine include follows the concern order"
