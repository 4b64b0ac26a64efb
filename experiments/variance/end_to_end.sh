#!/usr/bin/env bash
# Wall time of the default variance study from an empty cache: the ground truth (64 children x 3 seeds x 20 epochs),
# 4 supernet seeds (40 epochs each, ranked after every epoch) and the cross-seed report.
# Usage: bash experiments/variance/end_to_end.sh [output folder] [Hydra overrides for both steps, e.g. trainer=gpu]
set -euo pipefail
out=${1:-outputs/end_to_end}
shift $(($# > 0 ? 1 : 0))
cache="$out/cache"
mkdir -p "$out"
start=$(date +%s)
python run.py task=ground_truth logger=none paths.cache_dir="$cache" hydra.run.dir="$out/ground_truth" "$@" > "$out/ground_truth.log" 2>&1
truth=$(date +%s)
python run.py -m seed=0,1,2,3 logger=csv paths.cache_dir="$cache" hydra.sweep.dir="$out/sweep" "$@" > "$out/sweep.log" 2>&1
end=$(date +%s)
echo "ground truth $((truth - start)) s; 4 seeds + report $((end - truth)) s; total $((end - start)) s"
echo "report: $out/sweep/report/report.md"
