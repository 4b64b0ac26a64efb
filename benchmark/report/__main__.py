"""Cross-seed report: what the rankings of many runs say, in the papers' format.

`python -m benchmark.report PATH... [--out DIR] [--last-k K]` reads run folders (or sweep folders holding them) and
writes `report.md`, `summary.csv`, `per_epoch.csv`, PNG plots and a W&B run per study group. A Hydra callback runs it
at the end of every multirun (`report/` beside the jobs). The report is a pure function of the files runs leave
behind (`rankings.csv`, `snapshot.json`, `.hydra/`, `ground_truth.csv`).

What is counted is verified first: the run's `.hydra/config.yaml` is there, its `status.json` (if any) says
`completed`, and `rankings.csv` holds every epoch 0..E-1 that the config's `trainer.max_epochs` = E promised, each a
complete snapshot (every ranked child once, ranks exactly 1..n for snapshot.json's `num_children` = n, finite
accuracies). A folder given twice, however spelled, is read once; a second run of the same seed and variant is a
duplicate. Everything not counted - a damaged or unfinished run (with its status and message), a folder without a
config, an empty folder, a duplicate - is named with why under "Skipped" in report.md and in the log.

Runs of different search spaces (snapshot.json's description) or ranking different children are refused with one
error that names the folders of each; report them separately, or side by side with `--by-space` (below). So is a set
of paths with nothing countable: the CLI exits 2 with one line `error: ...` naming what it looked at and why each was
skipped, and the multirun callback logs that line and writes no report (a sweep never fails for its report).

Variants are the swept keys other than `seed` (e.g. `sharing=partial sampler=uniform`); seeds of a variant are its
instances. S-Tau is the mean pairwise Kendall tau of the instances' final rankings; GT-Tau, T1R, T3R and regret are
averaged over instances; "epoch tau" is the mean Kendall tau between consecutive epochs over the last k epochs, and
GT-Tau-Mean-k / Std-k are over the last k snapshots of each run, averaged over instances: step-level (the last
`dense_k` mini-batches, Deeper Insights' definition) when every judged run of the variant left dense snapshots
(`rankings_dense.csv`, checked like rankings.csv), epoch-level (the last `last_k` epochs) otherwise; the table says
which. With dense snapshots the report also says where the children trained last rank (`benchmark/dense.py`).

`--by-space --out DIR PATH...` compares search spaces (How Does Supernet Help, finding iii): the runs under the paths
are split by space (and children ranked) instead of refused, each space is reported as above into `DIR/<space>/`
(named by the runs' search_space choice, e.g. `chain_control`, with a short hash where two would share a name), and
`DIR/report.md` and `DIR/spaces.csv` hold one row per space - GT-Tau, S-Tau, T1R and the supernet-help figures with
their intervals, the ground truth's leave-one-out ceiling and its seeds, GT-Tau as a share of it, and the best
training-free proxy - then a paragraph generated from those figures saying which spaces the supernet ranks near its
ceiling. A space with several variants shows `--baseline` where it has it, else `default`, else the first. Every
proxies.csv under the paths (task=proxies writes one into its run folder) or given with `--proxies` is matched to
the space whose runs were made with the same search_space config and rank exactly the children it scores; one that
matches none is named and left out, as is a space's second one. Spaces without a ground truth get no GT figures.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from benchmark.report import ReportError, build_report
from benchmark.report.cross_space import build_by_space


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, checked (argparse exits 2 with its usage on a bad one)."""
    # prog: run as a package, argparse would otherwise name the command after this file, "__main__.py"
    parser = argparse.ArgumentParser(prog="python -m benchmark.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", help="run folders or folders holding them (e.g. a multirun sweep)")
    parser.add_argument("--out", help="report folder (default: <first path>/report; required with --by-space)")
    parser.add_argument("--by-space", action="store_true",
                        help="runs of several search spaces: one report per space in OUT/<space>/ and one row per "
                             "space in OUT/report.md and OUT/spaces.csv")
    parser.add_argument("--last-k", type=int, default=5, help="epochs for the within-run stability columns")
    parser.add_argument("--dense-k", type=int, default=64,
                        help="mini-batches for GT-Tau-Mean-k / Std-k where runs left dense snapshots")
    parser.add_argument("--no-wandb", action="store_true", help="do not write a W&B report run")
    parser.add_argument("--proxies", action="append", default=[],
                        help="a proxies.csv (task=proxies) to show as training-free baseline rows; with --by-space, "
                             "may be given several times, beside those found under the paths")
    parser.add_argument("--baseline", help="the variant the others are tested against (default: 'default', else "
                                           "the first); with --by-space, also the variant each space's row shows")
    args = parser.parse_args(argv)
    if args.by_space and not args.out:
        parser.error("--by-space needs --out (the runs of several sweeps have no one folder to write into)")
    if len(args.proxies) > 1 and not args.by_space:
        parser.error("--proxies: one file, except with --by-space")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.by_space:
            build_by_space(args.paths, args.out, args.last_k, not args.no_wandb, args.proxies, args.dense_k,
                           args.baseline)
        else:
            build_report(args.paths, args.out or Path(args.paths[0]) / "report", args.last_k, not args.no_wandb,
                         proxies=next(iter(args.proxies), None), dense_k=args.dense_k, baseline=args.baseline)
    except ReportError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2)  # a usage error, as argparse reports its own


if __name__ == "__main__":
    main()
