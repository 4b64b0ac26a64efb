#!/usr/bin/env bash
# The sampler study (issue: samplers) and the interference study share these runs: the probe does not change
# rankings (tests/test_interference.py), so the first four sweeps also measure interference every 100 steps.
# 6 seeds each (the same seeds in every sweep, so variants are compared pair by pair), 1 thread per run, against the
# shipped 10-seed ground truth; the report tests every variant against uniform sampling.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=multirun/samplers6
seeds=seed=0,1,2,3,4,5
common="logger=csv threads=1"
probe="callbacks=with_interference callbacks.interference.every_n_steps=100"
python run.py -m $seeds sampler=uniform $probe $common hydra.sweep.dir=$out/uniform
python run.py -m $seeds sampler=gradual $probe $common hydra.sweep.dir=$out/gradual
python run.py -m $seeds sampler=uniform module.align.weight=1.0 $probe $common hydra.sweep.dir=$out/uniform_align
python run.py -m $seeds experiment=magic $probe $common hydra.sweep.dir=$out/magic
python run.py -m $seeds sampler=round_robin sampler.order=fixed,shuffle_once,shuffle_every $common \
  hydra.sweep.dir=$out/round_robin
python run.py -m $seeds sampler=fair $common hydra.sweep.dir=$out/fair
# fair trains 4 children per step: at the uniform sampler's budget of child updates it gets a quarter of the epochs
python run.py -m $seeds sampler=fair trainer.max_epochs=10 $common hydra.sweep.dir=$out/fair_equal_budget
python -m benchmark.report $out --out experiments/samplers/report --no-wandb --baseline sampler=uniform
python -m benchmark.report $out/uniform $out/gradual $out/uniform_align $out/magic \
  --out experiments/interference/report --no-wandb --baseline sampler=uniform
