#!/usr/bin/env bash
# The capacity control: a space whose 64 children all have 3,642 parameters and the same FLOPs.
# Ground truth (10 seeds; shipped in benchmark/tables/, so this step only recomputes it), the training-free proxies,
# the variance study over 10 seeds, and its report.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=multirun/control
python run.py task=ground_truth search_space=chain_control ground_truth.seeds=10 logger=none threads=1 \
  hydra.run.dir=$out/ground_truth
python run.py task=proxies search_space=chain_control logger=none hydra.run.dir=$out/proxies
python run.py -m seed=0,1,2,3,4,5 search_space=chain_control logger=csv hydra.sweep.dir=$out/variance
python run.py -m seed=6,7,8,9 search_space=chain_control logger=csv threads=1 hydra.sweep.dir=$out/variance_more
python -m benchmark.report $out/variance $out/variance_more --out experiments/control/report \
  --proxies $out/proxies/proxies.csv --no-wandb
# Partial sharing on the control, per-group budget (each group its own supernet for the full schedule), m = 2 and 4.
python run.py -m seed=0,1,2,3,4,5 search_space=chain_control sharing=partial sharing.groups=2,4 \
  sharing.partition=random,similarity logger=csv hydra.sweep.dir=$out/sharing
python run.py -m seed=6,7,8,9 search_space=chain_control sharing=partial sharing.groups=2,4 \
  sharing.partition=random,similarity logger=csv threads=1 hydra.sweep.dir=$out/sharing_more
python -m benchmark.report $out/variance $out/variance_more $out/sharing $out/sharing_more \
  --out experiments/control/report_sharing --no-wandb
# Similarity against random partitions at each m, paired by seed
for m in 2 4; do
  dirs=$(grep -lx -- "- sharing.groups=$m" $out/sharing*/*/.hydra/overrides.yaml | xargs -n1 dirname | xargs -n1 dirname)
  python -m benchmark.report $dirs --out experiments/control/report_partitions/m$m --no-wandb \
    --baseline sharing.partition=random
done
