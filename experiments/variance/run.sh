#!/usr/bin/env bash
# The variance study against the shipped 10-seed ground truth: 6 seeds of uniform sampling (this benchmark's default)
# and 6 of a fixed round-robin order (the paper's "different seeds" setting), then the report with intervals and the
# paired test between the two.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=multirun/variance10
python run.py -m seed=0,1,2,3,4,5 logger=csv threads=1 hydra.sweep.dir=$out/uniform
python run.py -m seed=0,1,2,3,4,5 sampler=round_robin logger=csv threads=1 hydra.sweep.dir=$out/round_robin
python -m benchmark.report $out/uniform $out/round_robin --out experiments/variance/report --no-wandb \
  --baseline sampler=round_robin
