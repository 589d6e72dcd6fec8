#!/usr/bin/env bash
# Every command of the table in engine/cli/main.c (and the verbs of sweep and report) speaks the same way
# (engine/base/args.h):
#   cli_help_CMD       CMD --help: exit 0, the usage on stdout ("usage: alphadecay CMD ..."), nothing on stderr
#   cli_unknown_CMD    CMD --no-such-option: exit 2 and exactly one stderr line,
#                      "alphadecay CMD: unknown option --no-such-option (see alphadecay CMD --help)"
#   cli_novalue_CMD    an option given without its value: exit 2, one line "... OPTION needs a value (see ...)"
#   cli_badvalue_CMD   a value of the wrong type or range: exit 2, one line naming the option and the value
#                      (or, for commands whose options are all strings, a missing value / an unknown option)
#   cli_noargs_CMD     no arguments (commands that need some): exit 2, one line
# The table of commands comes from main.c, so a new command without a row below fails cli_all_covered.
# The check itself is tested on planted outputs at the end.
set -u
. "$(dirname "$0")/lib.sh"; e2e_setup cli fresh

# check_usage NAME RC ERRFILE CMD PATTERN: prints why RC and ERRFILE are not a usage error of CMD (exit 2,
# one line "alphadecay CMD: ... (see alphadecay CMD --help)" matching PATTERN); nothing when they are
check_usage() {
    local n; n=$(wc -l < "$3")
    if [ "$2" -ne 2 ]; then echo "exit $2, expected 2: $(head -c 200 "$3")"
    elif [ "$n" -ne 1 ]; then echo "$n lines on stderr, expected 1: $(head -3 "$3" | tr '\n' '|')"
    elif ! grep -qE "^alphadecay $4: .*$5.* \(see alphadecay $4 --help\)$" "$3"; then echo "not the uniform line: $(cat "$3")"
    fi
}
usage_case() { # NAME CMD PATTERN ARGS...
    local name=$1 cmd=$2 pat=$3; shift 3
    "$BIN" "$@" >"$T/out" 2>"$T/err"; local rc=$? why
    why=$(check_usage "$name" $rc "$T/err" "$cmd" "$pat")
    [ -z "$why" ] && ok "$name" || fail "$name" "alphadecay $*: $why"
}
help_case() { # CMD ARGS...
    local cmd=$1; shift
    "$BIN" "$@" --help >"$T/out" 2>"$T/err"; local rc=$?
    if [ $rc -eq 0 ] && [ ! -s "$T/err" ] && head -1 "$T/out" | grep -q "^usage: alphadecay ${cmd%% *}"; then ok "cli_help_${cmd// /_}"
    else fail "cli_help_${cmd// /_}" "exit $rc, stdout '$(head -1 "$T/out")', stderr '$(head -1 "$T/err")'"; fi
}

# CMD | argv words before the options | an option that takes a value | a bad value for it | needs args
CASES=(
    "train|train x.yaml|--out|--stop-after 0|1"
    "eval|eval|--data|--seq-len 0|1"
    "eval-tasks|eval-tasks|--tokenizer|--batch x|1"
    "prep|prep|--out|--vocab-size 12|1"
    "sample|sample|--prompt|--tokens -1|1"
    "esd|esd x.safetensors|--format|--threads -2|1"
    "sweep run|sweep run x.yaml|--results|-j 0|0"
    "sweep status|sweep status x.yaml|--results|--threads x|0"
    "sweep list|sweep list x.yaml|--results|--max-parallel 0|0"
    "report index|report index r|--out|--bogus-too|0"
    "report table|report table s.yaml|--out-dir|--root|0"
    "report plot|report plot s.yaml|--out-dir|--root|0"
    "report all|report all|--results|--specs|0"
    "report compare|report compare r|--by|--metric|0"
    "report curves|report curves r|--by|--out|0"
    "bench|bench|--out|--steps x|0"
    "bench --scaling-model|bench --scaling-model|--out|--latency-us -1|0"
)
covered=" "
for c in "${CASES[@]}"; do
    IFS='|' read -r cmd words opt badval needs <<<"$c"
    id=${cmd// /_}; id=${id//--/}
    covered="$covered${cmd%% *} "
    help_case "$cmd" $words
    usage_case "cli_unknown_$id" "$cmd" "unknown option --no-such-option" $words --no-such-option
    usage_case "cli_novalue_$id" "$cmd" "$opt needs a value" $words "$opt"
    # the bad value: a typed option's value (named in the message), or a string option left without one
    set -- $badval
    if [ $# -eq 2 ]; then usage_case "cli_badvalue_$id" "$cmd" "$1.*'$2'" $words $badval
    elif [ "$1" = --bogus-too ]; then usage_case "cli_badvalue_$id" "$cmd" "unknown option --bogus-too" $words $badval
    else usage_case "cli_badvalue_$id" "$cmd" "$1 needs a value" $words $badval; fi
    if [ "$needs" = 1 ]; then
        "$BIN" $cmd >"$T/out" 2>"$T/err"; rc=$?
        why=$(check_usage x $rc "$T/err" "$cmd" "")
        [ -z "$why" ] && ok "cli_noargs_$id" || fail "cli_noargs_$id" "$why"
    fi
done
# the verbs themselves
usage_case cli_noargs_sweep sweep "expected an action" sweep
usage_case cli_noargs_report report "expected a verb" report
usage_case cli_unknown_verb_report report "unknown verb 'frob'" report frob
usage_case cli_unknown_action_sweep sweep "unknown action 'frob'" sweep frob x.yaml

missing=""
for c in $(sed -nE 's/^[[:space:]]*\{"([a-z-]+)", cmd_[a-z_]+,.*/\1/p' engine/cli/main.c); do
    case $covered in *" $c "*) ;; *) missing="$missing $c" ;; esac
done
[ -z "$missing" ] && ok cli_all_covered || fail cli_all_covered "commands of main.c without a case here:$missing"

# ---- the check can fail ----
printf 'alphadecay eval: unknown option --x (see alphadecay eval --help)\n' > "$T/good"
printf 'alphadecay eval: unknown option --x\nusage: ...\n' > "$T/two"
printf 'alphadecay eval: unknown option --x\n' > "$T/nosee"
if [ -z "$(check_usage s 2 "$T/good" eval "unknown option")" ] && [ -n "$(check_usage s 2 "$T/two" eval "unknown option")" ] &&
   [ -n "$(check_usage s 2 "$T/nosee" eval "unknown option")" ] && [ -n "$(check_usage s 1 "$T/good" eval "unknown option")" ]; then
    ok cli_selftest
else fail cli_selftest "a planted two-line, suffix-less or exit-1 error was accepted"; fi
exit $FAILED
