#!/usr/bin/env bash
# e2e_report_holm.sh - the Holm family counts each distinct test once: WD=0's runs are the same in
# every eta column, so against a best_of baseline (and AlphaDecay's best-eta copy of a column) the
# best column repeats a test already in the table; it shares that test's adjusted p and the family
# has 4 members, not 6. Comparisons of WD=0 against Uniform at different etas stay separate tests.
set -u
. "$(dirname "$0")/lib.sh"; e2e_setup report_holm fresh

# run NAME METHOD WD SEED PPL
run() {
    local d="$T/res/h/$1"; mkdir -p "$d"
    printf 'train:\n  seed: %s\ndecay:\n  method: %s\n  weight_decay: %s\n' "$4" "$2" "$3" >"$d/config.yaml"
    printf '{"status": "completed", "final_val_loss": 4, "final_val_ppl": %s, "steps": 40, "tokens": 100}\n' "$5" >"$d/summary.json"
}
# Uniform is best at eta 2, AlphaDecay too: both best-eta cells copy the eta 2 column
for s in 0 1 2; do
    run none_s$s none 0 $s $((300 + 7 * s * s + s))
    run u1_s$s uniform 1 $s $((200 + 3 * s))
    run u2_s$s uniform 2 $s $((180 + s * s))
    run a1_s$s alphadecay 1 $s $((195 + 2 * s * s))
    run a2_s$s alphadecay 2 $s $((172 + 3 * s - s * s))
done
cat >"$T/h.yaml" <<'YAML'
table: h
results: res/h
metric: val_ppl
better: lower
compare: {vs: Uniform}
rows:
  - {label: "WD=0", where: {decay.method: none}, any: [decay.weight_decay]}
  - {label: Uniform, where: {decay.method: uniform}}
  - {label: AlphaDecay, where: {decay.method: alphadecay}}
columns:
  - {label: eta1, where: {decay.weight_decay: [1, 0]}}
  - {label: eta2, where: {decay.weight_decay: [2, 0]}}
  - {label: best, best_of: [eta1, eta2]}
YAML
"$BIN" report table "$T/h.yaml" --root "$T" --out-dir "$T/out" --quiet 2>"$T/err"; rc=$?
csv="$T/out/h.csv"
# Holm over the four distinct tests, recomputed here from the raw p-values the table prints (over all
# six, the old family, every adjusted p would be larger: this comparison fails for it)
want=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    $c["row"] != "Uniform" && $c["column"] != "best" { n++; r[n] = $c["row"] " " $c["column"]; p[n] = $c["p_t"] + 0 }
    END { for (i = 1; i <= n; i++) o[i] = i
          for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (p[o[j]] < p[o[i]]) { t = o[i]; o[i] = o[j]; o[j] = t }
          m = 0; for (k = 1; k <= n; k++) { v = (n - k + 1) * p[o[k]]; if (v > 1) v = 1; if (v > m) m = v; a[o[k]] = m }
          for (i = 1; i <= n; i++) printf "%s %.6g\n", r[i], a[i] }' "$csv" | sort)
got=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    $c["row"] != "Uniform" && $c["column"] != "best" { printf "%s %s %.6g\n", $c["row"], $c["column"], $c["p_holm"] }' "$csv" | sort)
best=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } $c["row"] != "Uniform" { h[$c["row"] " " $c["column"]] = $c["p_holm"] }
    END { print (h["WD=0 best"] == h["WD=0 eta2"] && h["AlphaDecay best"] == h["AlphaDecay eta2"]) ? "same" : "differ" }' "$csv")
if [ $rc -eq 0 ] && [ -n "$want" ] && [ "$want" = "$got" ] && [ "$best" = same ] &&
   grep -q "Holm-Bonferroni over the table's 4 comparisons (distinct tests: 2 more repeat one of them on the same runs and share its p);" "$T/out/h.md"
then ok holm_counts_a_repeated_test_once
else fail holm_counts_a_repeated_test_once "rc $rc; want [$want] got [$got] best $best: $(cat "$T/err"; grep -o 'Holm-Bonferroni[^;]*' "$T/out/h.md" 2>&1)"; fi
exit $FAILED
