#!/usr/bin/env bash
# Runs every C unit test (build/tests/test_*) and every end-to-end script (tests/e2e_*.sh), counts the
# "ok / FAIL / skipped" lines they print and ends with one "N passed, N failed, N skipped" line.
# AD_BIN (the alphadecay binary) and AD_TESTBIN (the unit-test directory) come from the Makefile.
set -u
cd "$(dirname "$0")/.."
export AD_BIN AD_TESTBIN
export AD_TMP=$(mktemp -d /tmp/adtest.XXXXXX)
trap 'rm -rf "$AD_TMP"' EXIT
passed=0; failed=0; skipped=0
run_one() {
    local name=$1; shift
    local out="$AD_TMP/$name.out" start=$SECONDS rc
    "$@" >"$out" 2>&1; rc=$?
    local p f s
    p=$(grep -c '^ok ' "$out"); f=$(grep -c '^FAIL ' "$out"); s=$(grep -c '^skipped ' "$out")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1; echo "FAIL $name: exited with status $rc without a FAIL line"; tail -5 "$out" | sed 's/^/    /'
    fi
    grep -E '^(FAIL|skipped) ' "$out" | sed "s/^/[$name] /"
    printf '%-28s %3d ok %3d failed %3d skipped  %3ds\n' "$name" "$p" "$f" "$s" $((SECONDS - start))
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
}
for t in "$AD_TESTBIN"/test_* "$AD_TESTBIN"/portable/test_*; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    case $t in */portable/*) name="$(basename "$t") (portable)" ;; *) name=$(basename "$t") ;; esac
    run_one "$name" "$t"
done
for t in tests/e2e_*.sh; do
    [ -f "$t" ] || continue
    run_one "$(basename "$t" .sh)" bash "$t"
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
