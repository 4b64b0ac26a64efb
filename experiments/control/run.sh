#!/usr/bin/env bash
# The capacity control: a space whose 64 children all have 3,642 parameters and the same FLOPs.
# Ground truth (10 seeds; shipped in benchmark/tables/, so this step only recomputes it), the training-free proxies,
# the variance study over 6 seeds, and its report.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=multirun/control
python run.py task=ground_truth search_space=chain_control ground_truth.seeds=10 logger=none threads=1 \
  hydra.run.dir=$out/ground_truth
python run.py task=proxies search_space=chain_control logger=none hydra.run.dir=$out/proxies
python run.py -m seed=0,1,2,3,4,5 search_space=chain_control logger=csv hydra.sweep.dir=$out/variance
python -m benchmark.report $out/variance --out experiments/control/report --proxies $out/proxies/proxies.csv --no-wandb
# Partial sharing on the control, per-group budget (each group its own supernet for the full schedule), m = 2 and 4.
python run.py -m seed=0,1,2,3,4,5 search_space=chain_control sharing=partial sharing.groups=2,4 \
  sharing.partition=random,similarity logger=csv hydra.sweep.dir=$out/sharing
python -m benchmark.report $out/variance $out/sharing --out experiments/control/report_sharing --no-wandb
