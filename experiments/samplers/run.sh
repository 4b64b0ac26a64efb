#!/usr/bin/env bash
# The sampler study (issue: samplers) and the interference study share these runs: the probe does not change
# rankings (tests/test_interference.py), so every run also measures interference every 100 steps.
# Ground truth comes from `python run.py task=ground_truth` (cached; ~10 min on 2 cores the first time).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=multirun/samplers
probe="callbacks=with_interference callbacks.interference.every_n_steps=100 logger=csv"
python run.py task=ground_truth logger=none
python run.py -m seed=0,1,2 sampler=uniform $probe hydra.sweep.dir=$out/uniform
python run.py -m seed=0,1,2 sampler=gradual $probe hydra.sweep.dir=$out/gradual
python run.py -m seed=0,1,2 sampler=uniform module.align.weight=1.0 $probe hydra.sweep.dir=$out/uniform_align
python run.py -m seed=0,1,2 experiment=magic $probe hydra.sweep.dir=$out/magic
python run.py -m seed=0,1,2 sampler=round_robin sampler.order=fixed,shuffle_once,shuffle_every logger=csv \
  hydra.sweep.dir=$out/round_robin
python run.py -m seed=0,1,2 sampler=fair logger=csv hydra.sweep.dir=$out/fair
# fair trains 4 children per step: at the uniform sampler's budget of child updates it gets a quarter of the epochs
python run.py -m seed=0,1,2 sampler=fair trainer.max_epochs=10 logger=csv hydra.sweep.dir=$out/fair_equal_budget
python -m benchmark.report $out --out $out/report --no-wandb
