#!/usr/bin/env bash
# The sharing-degree study with the paper's per-group budget, continued past m = 4 (run_per_group.sh): m = 8 ... 64
# groups, random and similarity partitions, 6 seeds, against the shipped 10-seed ground truth. Each step trains one
# child of every group, so a run costs about m times the training of full sharing. Then prefix sharing with the
# authors' budget for it: ten times the epochs (their prefix runs: 2,000 epochs against 200, ranked every 100th;
# experiments/final/partial_sharing/prefix/k*.yml), here 400 epochs ranked every 20th.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=multirun/sharing_per_group
seeds=seed=0,1,2,3,4,5
for m in 8 16; do
  python run.py -m $seeds sharing=partial sharing.groups=$m sharing.partition=random,similarity \
    logger=csv threads=1 hydra.sweep.dir=$out/m$m
done
# m = 32: one sweep per partition, so that the two can run side by side on two cores (about 15 minutes each)
python run.py -m $seeds sharing=partial sharing.groups=32 sharing.partition=random logger=csv threads=1 \
  hydra.sweep.dir=$out/m32_random &
python run.py -m $seeds sharing=partial sharing.groups=32 sharing.partition=similarity logger=csv threads=1 \
  hydra.sweep.dir=$out/m32_similarity
wait
# m = 64: every group a single child, so the two partitions are the same runs; about 5 minutes a run on one core
python run.py -m $seeds sharing=partial sharing.groups=64 sharing.partition=similarity logger=csv threads=1 \
  hydra.sweep.dir=$out/m64
# prefix k = 0..3 at ten times the epochs, two sweeps side by side (about 45 minutes each on a busy core)
python run.py -m $seeds sharing=prefix sharing.k=0,1 trainer.max_epochs=400 callbacks.ranking.every_n_epochs=20 \
  logger=csv threads=1 hydra.sweep.dir=$out/prefix_k01 &
python run.py -m $seeds sharing=prefix sharing.k=2,3 trainer.max_epochs=400 callbacks.ranking.every_n_epochs=20 \
  logger=csv threads=1 hydra.sweep.dir=$out/prefix_k23
wait
# the same ten-fold budget with full sharing: what the extra epochs alone do
python run.py -m $seeds sharing=full trainer.max_epochs=400 callbacks.ranking.every_n_epochs=20 logger=csv threads=1 \
  hydra.sweep.dir=$out/full_400
# the 40-epoch study (full sharing from the variance study), then the ten-fold budget on its own (own baseline)
python -m benchmark.report $out/m2_m4 $out/m8 $out/m16 $out/m32_random $out/m32_similarity $out/m64 \
  multirun/variance10/uniform --out experiments/sharing_degree/report_per_group --no-wandb
python -m benchmark.report $out/prefix_k01 $out/prefix_k23 $out/full_400 \
  --out experiments/sharing_degree/report_prefix_400 --no-wandb --baseline sharing=full
python -m benchmark.report $out/full_400 multirun/variance10/uniform --out experiments/sharing_degree/report_full_400 \
  --no-wandb
