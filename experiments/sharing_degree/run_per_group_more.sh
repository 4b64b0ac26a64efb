#!/usr/bin/env bash
# The sharing-degree study with the paper's per-group budget, continued past m = 4 (run_per_group.sh): m = 8, 16 and 32
# groups, random and similarity partitions, 6 seeds, against the shipped 10-seed ground truth. Each step trains one
# child of every group, so a run costs about m times the training of full sharing.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=multirun/sharing_per_group
for m in 8 16; do
  python run.py -m seed=0,1,2,3,4,5 sharing=partial sharing.groups=$m sharing.partition=random,similarity \
    logger=csv threads=1 hydra.sweep.dir=$out/m$m
done
# m = 32: one sweep per partition, so that the two can run side by side on two cores (about 15 minutes each)
python run.py -m seed=0,1,2,3,4,5 sharing=partial sharing.groups=32 sharing.partition=random logger=csv threads=1 \
  hydra.sweep.dir=$out/m32_random &
python run.py -m seed=0,1,2,3,4,5 sharing=partial sharing.groups=32 sharing.partition=similarity logger=csv threads=1 \
  hydra.sweep.dir=$out/m32_similarity
wait
python -m benchmark.report $out multirun/variance10/uniform --out experiments/sharing_degree/report_per_group \
  --no-wandb
