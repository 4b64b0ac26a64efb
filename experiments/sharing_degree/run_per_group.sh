#!/usr/bin/env bash
# The sharing-degree study with the paper's budget (sharing.budget=per_group, the default): every group trains as its
# own supernet for the full 40 epochs, one child of each group per step. Against the shipped 10-seed ground truth.
# Full sharing (m = 1) is the variance study's uniform row (experiments/variance/run.sh, same seeds).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=multirun/sharing_per_group
python run.py -m seed=0,1,2,3,4,5 sharing=partial sharing.groups=2,4 sharing.partition=random,similarity \
  logger=csv threads=1 hydra.sweep.dir=$out/m2_m4
python -m benchmark.report $out multirun/variance10/uniform --out experiments/sharing_degree/report_per_group \
  --no-wandb
