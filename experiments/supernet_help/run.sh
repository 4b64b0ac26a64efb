#!/usr/bin/env bash
# How Does Supernet Help (Zhang, Zhang, Yang 2020) on MNIST-1D: findings (i)-(v) and the BatchNorm protocol, on the
# default chain space (capacity ranks it) and the capacity control (every child 3,642 parameters), 6 seeds each,
# 1 thread per run, against the shipped 10-seed ground truths. The unpruned, re-calibrated search runs are the variance
# and control studies' (same seeds, same 40 epochs): run experiments/variance/run.sh and experiments/control/run.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=multirun/supernet_help
seeds=seed=0,1,2,3,4,5
common="logger=csv threads=1"
prune="task=prune_search task.every=10 task.rounds=3 task.drop=0.5"   # 64 -> 32 -> 16 -> 8 children
for space in chain chain_control; do
  python run.py -m $seeds search_space=$space $prune $common hydra.sweep.dir=$out/$space/prune
  python run.py -m $seeds search_space=$space callbacks.ranking.bn=shared $common hydra.sweep.dir=$out/$space/bn_shared
done
python -m benchmark.report multirun/variance10/uniform $out/chain/prune $out/chain/bn_shared \
  --out experiments/supernet_help/report_chain --no-wandb --baseline task=search
python -m benchmark.report multirun/control/variance $out/chain_control/prune $out/chain_control/bn_shared \
  --out experiments/supernet_help/report_control --no-wandb --baseline task=search
