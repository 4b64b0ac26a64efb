#!/usr/bin/env bash
# The sharing-degree study: partial sharing with random and similarity partitions, prefix sharing, no sharing.
# Full sharing (m = 1) is experiments/samplers' `uniform` variant (same config and seeds).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=multirun/sharing
python run.py task=ground_truth logger=none
python run.py -m seed=0,1,2 sharing=partial sharing.groups=2,4,16 sharing.partition=random,similarity sharing.budget=fixed logger=csv \
  hydra.sweep.dir=$out/partial
python run.py -m seed=0,1,2 sharing=partial sharing.groups=8,32 sharing.partition=random,similarity sharing.budget=fixed logger=csv \
  hydra.sweep.dir=$out/partial_more
python run.py -m seed=0,1,2 sharing=none logger=csv hydra.sweep.dir=$out/none
python run.py -m seed=0,1,2 sharing=prefix sharing.k=0,1,2 logger=csv hydra.sweep.dir=$out/prefix
python run.py -m seed=0,1,2 sharing=prefix sharing.k=3 logger=csv hydra.sweep.dir=$out/prefix3
python -m benchmark.report $out --out $out/report --no-wandb
# Approximating the paper's setting before sharing.budget=per_group existed: one sampler over all groups for epochs x m.
python run.py -m seed=0,1,2 sharing=partial sharing.groups=2 sharing.partition=random,similarity sharing.budget=fixed \
  trainer.max_epochs=80 logger=csv hydra.sweep.dir=multirun/sharing_per_group_budget/m2
python run.py -m seed=0,1,2 sharing=partial sharing.groups=4 sharing.partition=random,similarity sharing.budget=fixed \
  trainer.max_epochs=160 logger=csv hydra.sweep.dir=multirun/sharing_per_group_budget/m4
python -m benchmark.report multirun/sharing_per_group_budget --out multirun/sharing_per_group_budget/report --no-wandb
