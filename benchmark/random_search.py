"""Random search as a baseline, in closed form: the expected best of n children drawn without replacement.

A pruning search is judged against random search with the same number of evaluations; drawing a sample and averaging
would add noise of its own, while the exact expectation is cheap. With the pool's children sorted best first,
a_1 >= ... >= a_N, the best of a random n-subset is the i-th with probability C(N - i, n - 1) / C(N, n).
"""
from __future__ import annotations

import math
from typing import Hashable, Mapping

from benchmark import metrics


def _best_of(values: list[float], n: int) -> float:
    """E[value of the best of n draws without replacement] from `values` sorted best first (ties need no care: tied
    children carry the same value)."""
    size = len(values)
    if not 1 <= n <= size:
        raise ValueError(f"random search draws 1 to {size} children from this pool, not {n}")
    total = math.comb(size, n)
    return sum(v * math.comb(size - i, n - 1) / total for i, v in enumerate(values, start=1) if size - i >= n - 1)


def expected_best(truth: Mapping[Hashable, float], pool: list[Hashable], n: int) -> dict[str, float]:
    """Random search drawing n children of `pool` and keeping the truly best: its expected ground-truth accuracy,
    regret against the best child of all of `truth`, and true rank (competition rank among all of `truth`)."""
    ranks = metrics.true_ranks(truth)
    ordered = sorted(pool, key=lambda c: -truth[c])
    acc = _best_of([truth[c] for c in ordered], n)
    # The best drawn child has the best (lowest) rank too: ranks ordered the same way give its expected rank.
    rank = _best_of([-ranks[c] for c in ordered], n)
    return {"acc": acc, "regret": max(truth.values()) - acc, "true_rank": -rank}
