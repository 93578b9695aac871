#!/usr/bin/env bash
# A study on a real single-node Slurm: brings up munged, slurmctld and slurmd on this machine, runs
# examples/slurm/study.sbatch as a 4-task job array (with one task cancelled and resubmitted), merges
# with an afterok job, and requires the merged results to equal a single-process `epchip study` of
# the same grid. Stops the daemons it started. Run from the repository root; needs root (CI is root).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

log() { echo "slurm-interop: $*"; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    log "installing slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

cargo build --release --quiet --bin epchip
BIN=$ROOT/target/release/epchip
WORK=$(mktemp -d /tmp/epchip-slurm.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for f in "$WORK/slurmd.pid" "$WORK/slurmctld.pid"; do
        [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
    done
    [ -f "$WORK/munged.pid" ] && kill "$(cat "$WORK/munged.pid")" 2>/dev/null || true
    sleep 1
    rm -rf "$WORK"
}
trap cleanup EXIT

# munge: its own key, socket and state in the work directory.
mkdir -p "$WORK/munge"
dd if=/dev/urandom of="$WORK/munge/munge.key" bs=1024 count=1 status=none
chmod 700 "$WORK/munge"; chmod 400 "$WORK/munge/munge.key"
MUNGE_SOCKET=$WORK/munge/munge.socket
munged --force --key-file="$WORK/munge/munge.key" --socket="$MUNGE_SOCKET" \
    --pid-file="$WORK/munged.pid" --log-file="$WORK/munge/munged.log" --seed-file="$WORK/munge/seed"

HOST=$(hostname -s)
CPUS=$(nproc)
mkdir -p "$WORK/state" "$WORK/spool"
cat > "$WORK/slurm.conf" <<CONF
ClusterName=epchip-ci
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/slurmctld.log
SlurmdLogFile=$WORK/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=2000 State=UNKNOWN
PartitionName=ci Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$WORK/slurm.conf
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"

for _ in $(seq 1 60); do
    state=$(sinfo -h -o '%t' 2>/dev/null || true)
    [ "$state" = "idle" ] && break
    sleep 1
done
[ "$(sinfo -h -o '%t')" = "idle" ] || { log "node did not become idle"; cat "$WORK"/slurm*.log; exit 1; }
log "single-node Slurm is up ($(sinfo -h -o '%P %D %t %c'))"

wait_for_queue() {
    for _ in $(seq 1 150); do
        [ -z "$(squeue -h -o '%i')" ] && return 0
        sleep 1
    done
    log "jobs still queued after 150 s"; squeue; return 1
}

# The grid: 2 tau distributions x 2 mismatch levels x 2 seeds on the synthetic task.
GRID=(--profile loihi2 --dataset synthetic --layers 16,32,4 --tau constant,lognormal:cv=0.5
      --mismatch 0,0.2 --seeds 2 --epochs 2)
export STUDY_DIR=$WORK/study EPCHIP=$BIN SHARDS=4 PROFILE=loihi2 DATASET=synthetic LAYERS=16,32,4 \
    TAUS=constant,lognormal:cv=0.5 MISMATCH=0,0.2 SEEDS=2 EPOCHS=2
SBATCH=(--cpus-per-task=1 --mem-per-cpu=400M --export=ALL --output="$WORK/task-%A_%a.out")

# Submit the array held, cancel task 2 before it can run, release the rest.
JOB=$(sbatch --parsable --hold --array=1-4 "${SBATCH[@]}" examples/slurm/study.sbatch)
scancel "${JOB}_2"
scontrol release "$JOB"
wait_for_queue

# Task 2 is missing: merge refuses and names its runs (shard 2/4 holds grid runs 1 and 5).
set +e
MERGE_OUT=$("$BIN" study merge "$STUDY_DIR" 2>&1); MERGE_RC=$?
set -e
[ "$MERGE_RC" = 4 ] || { log "merge of an incomplete study exited $MERGE_RC"; echo "$MERGE_OUT"; exit 1; }
echo "$MERGE_OUT" | grep -q "c0-s2" && echo "$MERGE_OUT" | grep -q "c2-s2" || { echo "$MERGE_OUT"; exit 1; }
[ ! -f "$STUDY_DIR/results.csv" ] || { log "merge wrote results despite missing runs"; exit 1; }
log "merge refused the incomplete study: $(echo "$MERGE_OUT" | head -1)"

# Resubmit only task 2; the merge runs after it succeeded (afterok).
JOB2=$(sbatch --parsable --array=2 "${SBATCH[@]}" examples/slurm/study.sbatch)
sbatch --parsable --dependency=afterok:"$JOB2" --cpus-per-task=1 --mem-per-cpu=400M \
    --output="$WORK/merge.out" --wrap "$BIN study merge $STUDY_DIR" >/dev/null
wait_for_queue
[ -f "$STUDY_DIR/results.csv" ] || { log "the merge job wrote no results"; cat "$WORK"/*.out; exit 1; }

# The same grid in one process.
"$BIN" study "${GRID[@]}" --jobs 2 --quiet --out "$WORK/single" >/dev/null
for f in results.csv summary.csv comparisons.csv; do
    cmp "$STUDY_DIR/$f" "$WORK/single/$f" || { log "$f differs"; diff "$STUDY_DIR/$f" "$WORK/single/$f"; exit 1; }
done
log "Slurm job array (4 shards, one cancelled and resubmitted, afterok merge) == single process: OK"
