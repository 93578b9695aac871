#!/bin/bash
# Submits a study as a job array of N tasks and a merge job that runs when all of them succeeded.
# Usage: STUDY_DIR=/shared/path examples/slurm/submit.sh N
set -euo pipefail
: "${STUDY_DIR:?set STUDY_DIR to a directory on a filesystem all nodes share}"
N=${1:?usage: submit.sh NUMBER_OF_TASKS}
HERE=$(cd "$(dirname "$0")" && pwd)
ARRAY=$(SHARDS=$N sbatch --parsable --array=1-"$N" --export=ALL "$HERE/study.sbatch")
sbatch --dependency=afterok:"$ARRAY" --job-name=epchip-merge --export=ALL \
    --wrap "${EPCHIP:-epchip} study merge $STUDY_DIR"
echo "array job $ARRAY ($N tasks), merge after it: results in $STUDY_DIR"
