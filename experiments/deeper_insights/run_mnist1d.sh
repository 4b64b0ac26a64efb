#!/usr/bin/env bash
# Deeper Insights' baseline protocol on the authors' space, on MNIST-1D (CPU): fixed round robin, one child per step,
# SGD lr 0.025 cosine to 0.001, momentum 0.9, weight decay 1e-3 (their recipe), ranked on the test split with the
# supernet's shared BatchNorm statistics after every epoch and after each of the last 64 steps; 4 seeds. The ground
# truth trains every child alone with the same optimiser settings for 15 epochs, 2 seeds (CPU time).
# Usage: bash run_mnist1d.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-multirun/deeper_insights_mnist1d}
COMMON=(search_space=deeper_insights module.optimizer.lr=0.025 module.optimizer.weight_decay=1e-3
        ground_truth.optimizer.lr=0.025 ground_truth.optimizer.weight_decay=1e-3 ground_truth.epochs=15)
python run.py task=ground_truth "${COMMON[@]}" ground_truth.seeds=2 logger=none hydra.run.dir="$OUT/ground_truth"
python run.py -m seed=0,1,2,3 "${COMMON[@]}" sampler=round_robin trainer.max_epochs=40 callbacks.ranking.split=test \
  callbacks.ranking.bn=shared callbacks.ranking.dense_steps=64 logger=csv hydra.sweep.dir="$OUT/search"
