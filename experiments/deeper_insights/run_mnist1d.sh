#!/usr/bin/env bash
# Deeper Insights' baseline protocol on the authors' space, on MNIST-1D (CPU): fixed round robin, one child per step,
# SGD lr 0.025 cosine to 0.001, momentum 0.9, weight decay 1e-3 (their recipe), ranked on the test split with the
# supernet's shared BatchNorm statistics after every epoch and after each of the last 64 steps; 4 seeds, two at a time
# (one core each). The ground truth trains every child alone with the same optimiser settings for 15 epochs, 10 seeds:
# its table ships with the benchmark (benchmark/tables/20b536fe7f69c4c4/), so the search finds it; set
# RETRAIN_GROUND_TRUTH=1 to recompute it first (640 trainings, two shards side by side: about 1.5 h on two idle cores).
# Usage: [RETRAIN_GROUND_TRUTH=1] bash run_mnist1d.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-multirun/deeper_insights_mnist1d}
COMMON=(search_space=deeper_insights module.optimizer.lr=0.025 module.optimizer.weight_decay=1e-3
        ground_truth.optimizer.lr=0.025 ground_truth.optimizer.weight_decay=1e-3 ground_truth.epochs=15)
if [[ "${RETRAIN_GROUND_TRUTH:-0}" == 1 ]]; then
  shards=()
  for K in 0 1; do  # the shard that ends last merges both into the cache, which then wins over the shipped table
    python run.py task=ground_truth "${COMMON[@]}" ground_truth.seeds=10 ground_truth.shard=$K ground_truth.num_shards=2 \
      threads=1 logger=none hydra.run.dir="$OUT/ground_truth/shard$K" &
    shards+=($!)
  done
  for pid in "${shards[@]}"; do wait "$pid"; done  # a failed shard stops the script
fi
python run.py -m seed=0,1,2,3 "${COMMON[@]}" sampler=round_robin trainer.max_epochs=40 callbacks.ranking.split=test \
  callbacks.ranking.bn=shared callbacks.ranking.dense_steps=64 logger=csv threads=1 \
  hydra/launcher=joblib hydra.launcher.n_jobs=2 hydra.sweep.dir="$OUT/search"
