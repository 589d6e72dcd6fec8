#!/usr/bin/env bash
# The documentation stays self-contained and in step with the code:
#   docs_no_outside_refs   no file outside docs/ names the specification documents that live outside the
#                          repository (the pattern is assembled below so this file does not match itself)
#   docs_links             every relative Markdown link to a .md file, every docs/NAME.md path mentioned
#                          anywhere, every #anchor of such a link and every quoted section after a docs
#                          path (docs/method.md, "Power-law fits") exists
#   docs_config_keys       every experiment key (the resolved config.yaml a one-update `train` writes,
#                          and the key table of engine/io/config.c) appears in docs/schemas.md
#   docs_spec_keys         every key a table/figure spec accepts (the key lists of analysis/spec.c)
#                          appears in the "Table and figure specs" section of docs/schemas.md
#   docs_commands          every command of the table in engine/cli/main.c appears in README.md as `alphadecay NAME`
# Each check is a function over explicit inputs; the self-tests at the end feed each one a fixture with
# a planted flaw and require that it fails.
set -u
cd "$(dirname "$0")/.."
T=${AD_TMP:-$(mktemp -d /tmp/addocs.XXXXXX)}/docs; mkdir -p "$T"
BIN=${AD_BIN:-bin/alphadecay}
FAILED=0
ok()   { echo "ok $1"; }
fail() { echo "FAIL $1: $2"; FAILED=1; }

# Files of the repository (tracked ones when this is a git checkout), without the generated result trees.
list_files() {
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then git ls-files
    else find . -path ./build -prune -o -path ./build-san -prune -o -path ./bin -prune -o -type f -print | sed 's|^\./||'; fi
}
list_files | grep -vE '^(results|paper/generated)/' > "$T/files"

# GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens.
slug() { tr 'A-Z' 'a-z' | sed 's/[^a-z0-9 _-]//g; s/ /-/g'; }
headings() { sed -n 's/^#\{1,6\} \{1,\}//p' "$1" | sed 's/ *$//'; }

# ---- (a) $1: file list; prints offending lines ----
SPEC_RE="METHOD""\.md|DESIGN""\.md|\.\./""shared"
check_outside_refs() {
    grep -v '^docs/' "$1" | (cd "${2:-.}" && xargs -d '\n' grep -InE "$SPEC_RE" 2>/dev/null)
}

# ---- (b) $1: file list, $2: root; prints broken references ----
anchor_ok() { # file anchor
    [ -z "$2" ] && return 0
    headings "$1" | slug | grep -qxF "$2"
}
section_ok() { # file "heading text"
    headings "$1" | grep -qxF "$2"
}
check_links() {
    local root=$2 f dir target path anchor sec
    # Markdown links to .md files, relative to the file that holds them
    grep '\.md$' "$1" | (cd "$root" && xargs -d '\n' grep -oHE '\]\([^)#[:space:]]*\.md(#[^)[:space:]]*)?\)' 2>/dev/null) |
    while IFS= read -r m; do
        f=${m%%:*}; target=${m#*:](}; target=${target%)}
        case $target in http*://*) continue ;; esac
        dir=$(dirname "$f"); path=${target%%#*}; anchor=; [ "$path" != "$target" ] && anchor=${target#*#}
        if [ ! -f "$root/$dir/$path" ]; then echo "$f: link $target: no file $dir/$path"
        elif ! anchor_ok "$root/$dir/$path" "$anchor"; then echo "$f: link $target: no heading #$anchor"; fi
    done
    # docs/NAME.md mentioned anywhere (relative to the repository root), with an optional #anchor or a
    # quoted section right after it
    (cd "$root" && xargs -d '\n' grep -oHE '(^|[^./A-Za-z_])docs/[A-Za-z0-9_-]+\.md(#[A-Za-z0-9_-]+|,? \\?"[^"\\]+\\?")?' < "$1" 2>/dev/null) |
    while IFS= read -r m; do
        f=${m%%:*}; target=${m#*:}; target=${target#"${target%%docs/*}"}
        path=$(printf '%s' "$target" | grep -oE '^docs/[A-Za-z0-9_-]+\.md')
        if [ ! -f "$root/$path" ]; then echo "$f: mentions $path: no such file"; continue; fi
        case $target in
        *#*) anchor=${target#*#}; anchor_ok "$root/$path" "$anchor" || echo "$f: $target: no heading #$anchor" ;;
        *\"*) sec=$(printf '%s' "$target" | sed -E 's/^[^"]*"//; s/\\?"$//')
              section_ok "$root/$path" "$sec" || echo "$f: $target: $path has no section \"$sec\"" ;;
        esac
    done
}

# ---- (c) $1: key list (section.key per line), $2: the schema page; prints undocumented keys ----
check_keys() {
    while read -r k; do grep -qF "\`$k\`" "$2" || echo "$k"; done < "$1"
}

# The keys: the resolved config.yaml of a one-update run (what the binary really accepts) and the key
# table of config.c (a second reading, in case a key is not written out).
keys_from_binary() {
    local d=$T/run
    mkdir -p "$d"
    awk 'BEGIN { for (i = 0; i < 200; i++) print "{\"text\": \"the cat sees the dog " i " times\"}" }' > "$d/c.jsonl"
    "$BIN" prep --input "$d/c.jsonl" --out "$d/data" --vocab-size 260 --val-fraction 0.1 --quiet >"$d/prep.log" 2>&1 || return 1
    cat > "$d/x.yaml" <<YAML
model: {vocab_size: 260}
data: {train: $d/data/train.bin, seq_len: 8}
train: {steps: 1, warmup_steps: 0, batch_size: 1, threads: 1}
eval: {every: 0}
YAML
    "$BIN" train "$d/x.yaml" --out "$d/out" >"$d/train.log" 2>&1 || return 1
    awk '/^[a-z_]+:$/ { sec = substr($1, 1, length($1) - 1); next }
         /^  [a-z_0-9]+:/ { k = $1; sub(/:$/, "", k); print sec "." k }' "$d/out/config.yaml"
}
keys_from_table() { # rows written out ({"section", "key", K_TYPE, ...}) and rows by type (INT_KEY(section, key, ...))
    sed -nE 's/^[[:space:]]*\{"([a-z_]+)", "([a-z_0-9]+)", K_[A-Z0-9]+,.*/\1.\2/p
             s/^[[:space:]]*[A-Z0-9_]+_KEY(_GT)?\(([a-z_]+), ([a-z_0-9]+)[,)].*/\2.\3/p' engine/io/config.c
}

# ---- spec keys: $1 spec.c, $2 schemas page; prints undocumented keys ----
spec_keys() {
    sed -n '/^static const char \*const [A-Z_]*KEYS\[\] = {/,/};/p' "$1" | grep -oE '"[a-z_0-9]+"' | tr -d '"' | sort -u
}
check_spec_keys() {
    sed -n '/^## Table and figure specs/,$p' "$2" > "$T/spec_section"
    spec_keys "$1" | while read -r k; do grep -qw -- "$k" "$T/spec_section" || echo "$k"; done
}

# ---- (d) $1: main.c (its table: {"NAME", cmd_..., "help"}), $2: README; prints commands the README does not show ----
command_names() { sed -nE 's/^[[:space:]]*\{"([a-z-]+)", cmd_[a-z_]+,.*/\1/p' "$1"; }
check_commands() {
    command_names "$1" | while read -r c; do
        grep -qE "alphadecay $c([^a-z_-]|$)" "$2" || echo "$c"
    done
}

# ================================================================ the checks
out=$(check_outside_refs "$T/files")
[ -z "$out" ] && ok docs_no_outside_refs || fail docs_no_outside_refs "$(echo "$out" | head -5 | tr '\n' ';')"

grep -vxF tests/e2e_docs.sh "$T/files" > "$T/files_links"   # this file's fixtures are broken on purpose
out=$(check_links "$T/files_links" .)
n_docs=$(grep -c '^docs/.*\.md$' "$T/files")
if [ "$n_docs" -lt 5 ]; then fail docs_links "expected docs/README.md, method.md, formats.md, schemas.md, performance.md ($n_docs found)"
elif [ -n "$out" ]; then fail docs_links "$(echo "$out" | head -5 | tr '\n' ';')"
else ok docs_links; fi

keys_from_table > "$T/keys_table"
if keys_from_binary > "$T/keys_bin"; then :; else fail docs_config_keys_binary "a one-update train did not write config.yaml: $(tail -1 "$T/run/train.log" 2>/dev/null)"; fi
sort -u "$T/keys_table" "$T/keys_bin" > "$T/keys"
n_keys=$(wc -l < "$T/keys")
if [ "$(wc -l < "$T/keys_table")" -lt 40 ] || [ "$(wc -l < "$T/keys_bin")" -lt 40 ]; then
    fail docs_config_keys "too few keys found (table $(wc -l < "$T/keys_table"), config.yaml $(wc -l < "$T/keys_bin")): has the key table's format changed?"
else
    out=$(check_keys "$T/keys" docs/schemas.md)
    [ -z "$out" ] && ok "docs_config_keys ($n_keys keys)" || fail docs_config_keys "not in docs/schemas.md: $(echo $out)"
fi

n_spec=$(spec_keys analysis/spec.c | wc -l)
out=$(check_spec_keys analysis/spec.c docs/schemas.md)
if [ "$n_spec" -lt 20 ]; then fail docs_spec_keys "only $n_spec spec keys found in analysis/spec.c: has the key lists' format changed?"
elif [ -n "$out" ]; then fail docs_spec_keys "not in docs/schemas.md: $(echo $out)"
else ok "docs_spec_keys ($n_spec keys)"; fi

out=$(check_commands engine/cli/main.c README.md)
n_cmd=$(command_names engine/cli/main.c | wc -l)
if [ "$n_cmd" -lt 5 ]; then fail docs_commands "only $n_cmd commands found in the table of engine/cli/main.c"
elif [ -n "$out" ]; then fail docs_commands "README.md never shows: $(echo $out)"
else ok "docs_commands ($n_cmd commands)"; fi

# ================================================================ each check can fail
F=$T/fixture; mkdir -p "$F/docs" "$F/src"
printf '# Title\n\n## Power-law fits\n\ntext\n' > "$F/docs/method.md"
printf 'see docs/method.md, "Power-law fits" and [m](docs/method.md#power-law-fits)\n' > "$F/good.md"
echo "good.md" > "$F/list_good"

echo "src/a.c" > "$F/list_a"; printf '/* see %s section 3 */\n' "METHOD"".md" > "$F/src/a.c"
[ -n "$(check_outside_refs "$F/list_a" "$F")" ] && ok docs_selftest_outside_refs || fail docs_selftest_outside_refs "a planted reference was not found"

[ -z "$(check_links "$F/list_good" "$F")" ] || fail docs_selftest_links "a correct fixture was reported: $(check_links "$F/list_good" "$F")"
printf 'see docs/nothere.md\n' > "$F/b1.md"
printf 'see [m](docs/method.md#no-such-heading)\n' > "$F/b2.md"
printf '/* docs/method.md, "No such section" */\n' > "$F/src/b3.c"
printf 'see [r](../MISSING.md)\n' > "$F/docs/b4.md"
bad=0
for b in b1.md b2.md src/b3.c docs/b4.md; do
    echo "$b" > "$F/list_b"
    [ -n "$(check_links "$F/list_b" "$F")" ] || { bad=1; fail docs_selftest_links "the flaw in $b was not found"; }
done
[ $bad -eq 0 ] && ok docs_selftest_links

printf 'train.lr\ntrain.not_documented\n' > "$F/keys"; printf '| `train.lr` | 1e-3 |\n' > "$F/schemas.md"
[ "$(check_keys "$F/keys" "$F/schemas.md")" = train.not_documented ] && ok docs_selftest_keys || fail docs_selftest_keys "an undocumented key was not reported"

printf 'static const char *const TOP_KEYS[] = {"table", "figure",\n    "frobnicity", NULL};\n' > "$F/spec.c"
printf '## Table and figure specs\n\n| `table` | `figure` |\n' > "$F/schemas_spec.md"
[ "$(check_spec_keys "$F/spec.c" "$F/schemas_spec.md")" = frobnicity ] && ok docs_selftest_spec_keys || fail docs_selftest_spec_keys "an undocumented spec key was not reported"

printf '    {"train", cmd_train, "train"},\n    {"frobnicate", cmd_frobnicate, "frob"},\n' > "$F/main.c"
printf 'run `alphadecay train X`; alphadecay frobnicator is another word\n' > "$F/README.md"
[ "$(check_commands "$F/main.c" "$F/README.md")" = frobnicate ] && ok docs_selftest_commands || fail docs_selftest_commands "a missing command was not reported"

exit $FAILED
