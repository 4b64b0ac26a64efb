#!/usr/bin/env bash
# The GPU figures in README "Performance": the GPU tests, the speed benchmark on the GPU, the default run on the GPU,
# the trainer=ddp path (NCCL, spawned processes) on the GPUs there are, and the default variance study end to end.
# Each step is timed and logged on its own and a failing step does not stop the others.
# Usage: bash experiments/gpu/check.sh [output folder]   (MNIST-1D is taken from .cache/ when it is there)
set -uo pipefail
out=${1:-outputs/gpu}
mkdir -p "$out/end_to_end/cache"
cp .cache/mnist1d_seed42.npz "$out/end_to_end/cache/" 2>/dev/null || true
export PYTHONUNBUFFERED=1 WANDB_MODE=offline
gpus=$(nvidia-smi --list-gpus | wc -l)
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python -c "import torch, pytorch_lightning as pl; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'lightning', pl.__version__)"
} | tee "$out/device.txt"

step() {  # step NAME TIMEOUT_S COMMAND...: run, log to $out/NAME.log, print its status and wall time
  local name=$1 limit=$2 start rc
  shift 2
  start=$(date +%s%N)
  timeout "$limit" "$@" > "$out/$name.log" 2>&1
  rc=$?
  printf '%-10s rc=%-3s %6d ms\n' "$name" "$rc" $((($(date +%s%N) - start) / 1000000)) | tee -a "$out/steps.txt"
}

step tests 120 python -m pytest -q -p no:cacheprovider tests/test_gpu.py
step perf 200 python -m experiments.perf --device cuda --spaces --json "$out/perf.json"
step run 90 python run.py trainer=gpu logger=csv hydra.run.dir="$out/run"
step ddp 90 python run.py trainer=ddp trainer.devices="$gpus" trainer.max_epochs=2 logger=csv hydra.run.dir="$out/ddp"
step end2end 240 bash experiments/variance/end_to_end.sh "$out/end_to_end" trainer=gpu
tail -n 3 "$out/tests.log"
tail -n 25 "$out/perf.log"
tail -n 2 "$out/end_to_end/sweep.log" 2>/dev/null
cat "$out/steps.txt"
