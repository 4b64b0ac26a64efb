#!/usr/bin/env bash
# How Does Supernet Help, finding (iii) - the supernet's usefulness depends on the space - on two more MNIST-1D
# spaces beside experiments/supernet_help/run.sh's chain and chain_control: the transformer space (default recipe)
# and Deeper Insights' cell space (its recipe from experiments/deeper_insights/run_mnist1d.sh), both with a shipped
# 10-seed ground truth; 6 seeds each, uniform sampling, BatchNorm re-calibrated, ranked on the validation split;
# plus each space's training-free proxies.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=multirun/supernet_help
seeds=seed=0,1,2,3,4,5
common="logger=csv threads=1"
DI=(search_space=deeper_insights module.optimizer.lr=0.025 module.optimizer.weight_decay=1e-3
    ground_truth.optimizer.lr=0.025 ground_truth.optimizer.weight_decay=1e-3 ground_truth.epochs=15)
python run.py -m $seeds search_space=transformer $common hydra.sweep.dir=$out/transformer/search
python run.py task=proxies search_space=transformer $common hydra.run.dir=$out/transformer/proxies
python run.py -m $seeds "${DI[@]}" $common hydra.sweep.dir=$out/deeper_insights/search
python run.py task=proxies "${DI[@]}" $common hydra.run.dir=$out/deeper_insights/proxies
for space in chain chain_control; do
  python run.py task=proxies search_space=$space $common hydra.run.dir=$out/$space/proxies
done
python -m benchmark.report --by-space multirun/variance10/uniform multirun/control/variance \
  $out/transformer $out/deeper_insights $out/chain/proxies $out/chain_control/proxies \
  --out experiments/supernet_help/report_spaces --no-wandb
