#!/usr/bin/env bash
# The sampler study: every sampler over 3 seeds on the default space (ground truth from `python run.py task=ground_truth`).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=multirun/samplers
python run.py task=ground_truth logger=none
python run.py -m seed=0,1,2 sampler=uniform logger=csv hydra.sweep.dir=$out/uniform
python run.py -m seed=0,1,2 sampler=round_robin sampler.order=fixed,shuffle_once,shuffle_every logger=csv hydra.sweep.dir=$out/round_robin
python run.py -m seed=0,1,2 sampler=gradual logger=csv hydra.sweep.dir=$out/gradual
python run.py -m seed=0,1,2 experiment=magic logger=csv hydra.sweep.dir=$out/magic
python run.py -m seed=0,1,2 sampler=uniform module.align.weight=1.0 logger=csv hydra.sweep.dir=$out/uniform_align
python run.py -m seed=0,1,2 sampler=fair logger=csv hydra.sweep.dir=$out/fair
python -m benchmark.report $out --out $out/report --no-wandb
