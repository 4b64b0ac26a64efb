#!/usr/bin/env bash
# The sharing-degree study under a fixed budget (sharing.budget=fixed: one child per step in all, 40 epochs whatever
# the policy): partial sharing with random and similarity partitions, no sharing, prefix sharing; 6 seeds, against the
# shipped 10-seed ground truth. Full sharing (m = 1) is the variance study's uniform sweep (experiments/variance/run.sh,
# same seeds). About 50 minutes on one core.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=multirun/sharing6
seeds=seed=0,1,2,3,4,5
python run.py -m $seeds sharing=partial sharing.groups=2,4,16 sharing.partition=random,similarity sharing.budget=fixed \
  logger=csv threads=1 hydra.sweep.dir=$out/partial
python run.py -m $seeds sharing=partial sharing.groups=8,32 sharing.partition=random,similarity sharing.budget=fixed \
  logger=csv threads=1 hydra.sweep.dir=$out/partial_more
python run.py -m $seeds sharing=none logger=csv threads=1 hydra.sweep.dir=$out/none
python run.py -m $seeds sharing=prefix sharing.k=0,1,2,3 logger=csv threads=1 hydra.sweep.dir=$out/prefix
python -m benchmark.report $out multirun/variance10/uniform --out experiments/sharing_degree/report --no-wandb
# Similarity against random partitions at each m (paired by seed): the job folders of that sharing.groups
for m in 2 4 8 16 32; do
  dirs=$(grep -lx -- "- sharing.groups=$m" $out/partial*/*/.hydra/overrides.yaml | xargs -n1 dirname | xargs -n1 dirname)
  python -m benchmark.report $dirs --out experiments/sharing_degree/report_partitions_fixed/m$m --no-wandb \
    --baseline sharing.partition=random
done
