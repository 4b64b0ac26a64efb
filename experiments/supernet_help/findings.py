"""The within-run comparisons of findings (iv) and (v) that a report's variant-against-variant tests do not make:

- (iv) pruning vs selecting, per seed of the unpruned search: of the supernet's bottom 10 %, the share truly in the
  bottom 10 % (`prune10pct_bottom`) against, of its top 10 %, the share truly in the top 10 % (`top10pct_found`);
- (v) the pruned space, per seed of the pruning search: the best kept child's true rank (all kept evaluated) against
  random search with as many evaluations, and a random kept child against a random child of the whole space.

Each with the exact sign-flip paired test over seeds (benchmark/statistics.py).

    python -m experiments.supernet_help.findings SEARCH_SWEEP PRUNE_SWEEP
"""
from __future__ import annotations

import argparse
import json

from benchmark import metrics, statistics
from benchmark.report import load_inputs
from benchmark.records import PRUNING_SUMMARY


def _line(what: str, a: dict[int, float], b: dict[int, float]) -> str:
    test = statistics.paired_test(a, b)
    mean = lambda d: sum(d.values()) / len(d)  # noqa: E731
    return (f"{what}: {mean(a):.2f} vs {mean(b):.2f}, difference {test['diff']:+.2f}, p = {test['p']:.3f} "
            f"({test['pairs']} seeds; floor {test['p_floor']:.3f})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("search", help="the unpruned search runs (a sweep folder)")
    parser.add_argument("prune", help="the task=prune_search runs (a sweep folder)")
    args = parser.parse_args(argv)
    helps = {r.seed: metrics.supernet_help(r.final, r.truth) for r in load_inputs([args.search]).runs if r.truth}
    print(_line("(iv) bottom 10 % truly bottom 10 % vs top 10 % truly top 10 %",
                {s: h["prune10pct_bottom"] for s, h in helps.items()},
                {s: h["top10pct_found"] for s, h in helps.items()}))
    finals = {r.seed: json.loads((r.path / PRUNING_SUMMARY).read_text())["final"]
              for r in load_inputs([args.prune]).runs}
    print(_line("(v) best kept child's true rank vs random search with as many evaluations",
                {s: f["best_kept_true_rank"] for s, f in finals.items()},
                {s: f["random_search_same_evaluations"]["true_rank"] for s, f in finals.items()}))
    print(_line("(v) random kept child's expected true rank vs random child of the space",
                {s: f["random_child_of_kept"]["true_rank"] for s, f in finals.items()},
                {s: f["random_child_of_space"]["true_rank"] for s, f in finals.items()}))


if __name__ == "__main__":
    main()
