#!/usr/bin/env bash
# The sources follow .clang-format (`make format-check`, Debian's clang-format, which `make deps`
# installs): a file that differs fails here, named. The check can fail: a copy of a source with its
# indentation broken is reported.
set -u
. "$(dirname "$0")/lib.sh"; e2e_setup format fresh
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null 2>&1; then
    echo "skipped format_check: clang-format not installed (make deps installs it)"; exit 0
fi
make -s --no-print-directory format-check >"$T/out" 2>&1 && ok format_check \
    || fail format_check "$(grep -c differs "$T/out") files differ: $(head -3 "$T/out" | tr '\n' ' ')"
cp .clang-format "$T/"
sed 's/^    /  /' engine/base/strbuf.c >"$T/bad.c"
(cd "$T" && clang-format bad.c | cmp -s bad.c -) && fail format_check_catches "a re-indented file passed" \
    || ok format_check_catches
exit $FAILED
