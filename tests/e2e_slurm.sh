#!/usr/bin/env bash
# e2e_slurm.sh - the sweep's Slurm backend against a real single-node cluster started here by hand:
# munged (as the munge user), slurmctld and slurmd with a slurm.conf in a temp dir (SLURM_CONF;
# proctrack/linuxproc, task/none, no accounting; node line from `slurmd -C`). A 3-run sweep with a
# fake train goes through sbatch (array throttled with %2, one log per task), is followed with squeue,
# and a second submission submits nothing. A sweep with slurm: {ntasks: 2} then trains one real run as
# a 2-rank MPI job step (srun --mpi=pmix) and matches a 1-rank run. Installs nothing (scripts/deps.sh does, OPTIONAL_PKGS);
# when Slurm is missing or will not start it prints "skipped", never "ok". Stops only the daemons it
# started, by their PIDs.
set -u
BIN=${AD_BIN:-bin/alphadecay}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
skip() { echo "skipped slurm_backend: $1"; exit 0; }
for c in slurmctld slurmd munged sbatch squeue sinfo; do command -v $c >/dev/null 2>&1 || skip "$c not installed (apt-get install slurm-wlm munge)"; done
[ "$(id -u)" = 0 ] || skip "needs root to start slurmd"
id munge >/dev/null 2>&1 || skip "no munge user"

T=$(mktemp -d /tmp/e2e_slurm.XXXXXX)   # not under AD_TMP: munged insists on safe directory permissions
chmod 755 "$T"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  [ -f "$T/munge/munged.pid" ] && kill "$(cat "$T/munge/munged.pid")" 2>/dev/null
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT
fail=0

# --- munge: key and socket in the temp dir, daemon as the munge user
mkdir -p "$T/munge"
dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 2>/dev/null
chown -R munge: "$T/munge"; chmod 700 "$T/munge"; chmod 400 "$T/munge/munge.key"
runuser -u munge -- munged --force --key-file="$T/munge/munge.key" --socket="$T/munge/sock" \
  --pid-file="$T/munge/munged.pid" --log-file="$T/munge/munged.log" --seed-file="$T/munge/seed" 2>"$T/munged.err" ||
  skip "munged did not start: $(head -1 "$T/munged.err")"
for _ in $(seq 3000); do [ -S "$T/munge/sock" ] && break; sleep 0.1; done # an event; 5-minute guard
[ -S "$T/munge/sock" ] || skip "munged socket did not appear"

# --- slurm.conf
host=$(hostname -s)
node=$(slurmd -C 2>/dev/null | grep '^NodeName=' | head -1 | sed "s/^NodeName=[^ ]*/NodeName=$host/")
[ -n "$node" ] || skip "slurmd -C printed no node line"
port=$((20000 + RANDOM % 20000))
mkdir -p "$T/state" "$T/spool"
cat >"$T/slurm.conf" <<CONF
ClusterName=adtest
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$T/munge/sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/slurmctld.log
SlurmdLogFile=$T/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MaxArraySize=1001
$node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$T/slurm.conf"
slurmctld -D -i >"$T/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D >"$T/slurmd.out" 2>&1 &
PIDS+=($!)
up=""
for _ in $(seq 600); do # until the cluster is up (an event; 5-minute guard)
  st=$(sinfo -h -o %T 2>/dev/null | head -1)
  case $st in idle*|mixed*|allocated*) up=1; break;; esac
  sleep 0.5
done
[ -n "$up" ] || skip "the test cluster did not come up (sinfo: '${st:-}'; $(tail -1 "$T/slurmctld.log" 2>/dev/null))"

# --- a 3-run sweep with a fake train through sbatch
cat >"$T/fake_train.sh" <<'FAKE'
#!/bin/bash
cfg=$1; shift; out=""
while [ $# -gt 0 ]; do case $1 in --out) out=$2; shift 2;; *) shift;; esac; done
mkdir -p "$out"; sleep 0.3
echo '{"step": 3, "loss": 2.5}' >>"$out/metrics.jsonl"
echo '{"status": "completed", "final_val_ppl": 12.5, "steps": 3}' >"$out/summary.json.tmp"
mv "$out/summary.json.tmp" "$out/summary.json"
echo "done $(basename "$out")" >>"$(dirname "$out")/../../fake.log"
FAKE
chmod +x "$T/fake_train.sh"
printf 'data: {train: t.bin, seq_len: 32}\ntrain: {batch_size: 4, steps: 3, warmup_steps: 1}\n' >"$T/exp.yaml"
printf 'name: sl\nbase: %s\ngrid:\n  decay.method: [none, uniform, alphadecay]\n' "$T/exp.yaml" >"$T/sl.yaml"
export AD_TRAIN_CMD="$T/fake_train.sh" AD_SLURM_POLL=0.5
cd "$T"
timeout 900 "$BIN" sweep run "$T/sl.yaml" --backend slurm --max-parallel 2 --time 5 --results "$T/res" >"$T/out1" 2>&1; rc=$?
ndone=$(grep -l '"completed"' "$T"/res/sl/*/summary.json 2>/dev/null | wc -l)
if [ $rc -eq 0 ] && [ "$ndone" -eq 3 ] && grep -q -- '--array=0-2%2' "$T"/res/sl/slurm/submit-1.sbatch &&
   [ "$(ls "$T"/res/sl/slurm/*_*.log 2>/dev/null | wc -l)" -eq 3 ] && grep -q "3 completed" "$T/out1"; then
  echo "ok slurm_backend_array_completes"
else
  echo "FAIL slurm_backend_array_completes: rc $rc, $ndone completed"; sed 's/^/    /' "$T/out1"; tail -3 "$T/slurmctld.log" | sed 's/^/    /'; fail=1
fi
timeout 900 "$BIN" sweep run "$T/sl.yaml" --backend slurm --results "$T/res" >"$T/out2" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q "0 to submit" "$T/out2" && [ ! -f "$T/res/sl/slurm/submit-2.sbatch" ] &&
   [ "$(grep -c '^done' "$T/fake.log")" -eq 3 ]; then echo "ok slurm_resubmit_skips_completed"
else echo "FAIL slurm_resubmit_skips_completed: rc $rc"; sed 's/^/    /' "$T/out2"; fail=1; fi
"$BIN" sweep status "$T/sl.yaml" --results "$T/res" | grep -q "total 3: 3 completed" && echo "ok slurm_status" ||
  { echo "FAIL slurm_status: not all completed"; fail=1; }

# --- a 2-task MPI run: slurm.ntasks 2 makes the array task a 2-task allocation and sweep exec runs
# train in it as one job step (srun --mpi=pmix); it must complete on 2 ranks and match a 1-rank run.
if command -v mpirun >/dev/null 2>&1; then
  unset AD_TRAIN_CMD
  awk 'BEGIN { srand(3); for (d = 0; d < 300; d++) { s = ""; for (k = 0; k < 16; k++) s = s "w" int(rand()*30) " the " int(rand()*9) " "; print "{\"text\": \"" s ".\"}" } }' >"$T/c.jsonl"
  "$BIN" prep --input "$T/c.jsonl" --out "$T/data" --vocab-size 280 --val-fraction 0.1 --seed 1 >"$T/prep.log" 2>&1
  cat >"$T/mpi_exp.yaml" <<YAML
model: {hidden_size: 32, intermediate_size: 64, num_attention_heads: 2, num_hidden_layers: 1, vocab_size: 280}
data: {train: $T/data/train.bin, val: $T/data/val.bin, seq_len: 16}
train: {lr: 0.005, batch_size: 8, micro_batch_size: 2, steps: 6, warmup_steps: 2, threads: 1}
decay: {method: alphadecay, weight_decay: 1.0e-3, update_every: 3, eigs_thresh: 8}
eval: {every: 3, tokens: 256}
checkpoint: {every: 3}
YAML
  printf 'name: mp\nbase: %s\nslurm: {ntasks: 2, cpus_per_task: 1}\n' "$T/mpi_exp.yaml" >"$T/mp.yaml"
  timeout 900 "$BIN" sweep run "$T/mp.yaml" --backend slurm --time 5 --results "$T/res" >"$T/out3" 2>&1; rc=$?
  "$BIN" train "$T/mpi_exp.yaml" --out "$T/one" >"$T/one.log" 2>&1
  run=$(ls -d "$T"/res/mp/*/ 2>/dev/null | head -1)
  dl=$(paste <(grep -o '"loss": [0-9.]*' "$T/one/metrics.jsonl" | awk '{print $2}') <(grep -o '"loss": [0-9.]*' "${run}metrics.jsonl" 2>/dev/null | awk '{print $2}') |
       awk '{ d = $1 - $2; if (d < 0) d = -d; if ($2 == "" ) d = 1; if (d / $1 > m) m = d / $1 } END { printf "%.3g", m + 0 }')
  if [ $rc -eq 0 ] && grep -qs '"completed"' "${run}summary.json" && grep -q -- '--ntasks=2' "$T"/res/mp/slurm/submit-1.sbatch &&
     grep -q '"ranks": 2' "${run}metrics.jsonl" && awk -v d="$dl" 'BEGIN { exit !(d <= 1e-6) }'; then
    echo "ok slurm_mpi_two_tasks (loss rel diff to 1 rank $dl)"
  else
    echo "FAIL slurm_mpi_two_tasks: rc $rc, loss diff $dl"; sed 's/^/    /' "$T/out3" | tail -5; cat "$T"/res/mp/slurm/*.log 2>/dev/null | tail -15 | sed 's/^/    /'
    tail -5 "${run}train.log" 2>/dev/null | sed 's/^/    /'; fail=1
  fi
else
  echo "skipped slurm_mpi_two_tasks: mpirun not installed"
fi
exit $fail
