"""Ranking-quality metrics: pure functions of accuracy tables, unit-tested against scipy and hand-worked examples.

Conventions. Scores are accuracies (higher is better), given as dicts child -> score; metrics between two tables use the
children they have in common. Kendall's tau is tau-b (scipy's default: ties in either ranking count as neither
concordant nor discordant, and the normaliser corrects for them), so a constant ranking has tau = nan, never a
fake number. GT-Tau is positive when the supernet agrees with the ground truth. Ranks are 1-based, 1 = best.

Ties. In a table being judged (a supernet's snapshot), ties keep the order the table lists its children in: snapshots
list them by their `rank` column (accuracy, then validation loss, then child index), so the pick the metrics judge is
the child ranked 1 in rankings.csv. In the ground truth, tied children share the best rank (competition ranking,
1 + the number of children strictly better), so picking any of several equally good children scores the same.
"""
from __future__ import annotations

import itertools
from typing import Hashable, Mapping, Sequence

import numpy as np
from scipy import stats

Scores = Mapping[Hashable, float]


def _aligned(a: Scores, b: Scores) -> tuple[np.ndarray, np.ndarray]:
    common = sorted(a.keys() & b.keys(), key=str)
    if len(common) < 2:
        raise ValueError(f"need at least two children in common, got {len(common)}")
    return np.array([a[c] for c in common], float), np.array([b[c] for c in common], float)


def kendall_tau(a: Scores, b: Scores) -> float:
    """Kendall's tau-b between two score tables (GT-Tau when `b` is the ground truth)."""
    return float(stats.kendalltau(*_aligned(a, b)).statistic)


def spearman_rho(a: Scores, b: Scores) -> float:
    return float(stats.spearmanr(*_aligned(a, b)).statistic)


def ranking(scores: Scores) -> list[Hashable]:
    """Children best first; ties keep the table's order (a stable sort)."""
    return sorted(scores, key=lambda c: -scores[c])


def ranks(scores: Scores) -> dict[Hashable, int]:
    """1-based position of every child in `ranking(scores)`: a permutation, 1 = best."""
    return {c: i for i, c in enumerate(ranking(scores), start=1)}


def true_ranks(truth: Scores) -> dict[Hashable, int]:
    """Competition ranks of a ground truth: 1 + the number of children with a strictly higher score."""
    descending = np.sort(-np.asarray(list(truth.values()), float))
    return {c: 1 + int(np.searchsorted(descending, -v, side="left")) for c, v in truth.items()}


def s_tau(tables: Sequence[Scores]) -> dict[str, float]:
    """Stability of N instances: mean (and min, max) of Kendall's tau over all pairs, 2/(N(N-1)) sum_{i<j} tau."""
    if len(tables) < 2:
        raise ValueError(f"S-Tau needs at least two rankings, got {len(tables)}")
    taus = [kendall_tau(a, b) for a, b in itertools.combinations(tables, 2)]
    return {"mean": float(np.mean(taus)), "min": float(np.min(taus)), "max": float(np.max(taus)), "pairs": len(taus)}


def top_n_rank(scores: Scores, truth: Scores, n: int) -> int:
    """TnR: the best ground-truth rank among the `n` children the supernet ranks highest (1 = found a true best)."""
    true_rank = true_ranks(truth)
    top = [c for c in ranking(scores) if c in true_rank][:n]
    return min(true_rank[c] for c in top)


def top_k_overlap(a: Scores, b: Scores, k: int) -> float:
    """|top-k(a) & top-k(b)| / k over the children both tables hold (k capped at their number); precision@k when `b`
    is the ground truth."""
    common = a.keys() & b.keys()
    k = min(k, len(common))
    top_a = [c for c in ranking(a) if c in common][:k]
    top_b = [c for c in ranking(b) if c in common][:k]
    return len(set(top_a) & set(top_b)) / k


def regret(scores: Scores, truth: Scores) -> float:
    """Ground-truth score of the true best child minus that of the supernet's pick (0 = picked the best)."""
    pick = next(c for c in ranking(scores) if c in truth)
    return float(max(truth.values()) - truth[pick])


def last_k_stats(values: Sequence[float], k: int) -> dict[str, float]:
    """Mean and std of the last `k` measurements (GT-Tau-Mean-k / GT-Tau-Std-k); std is the population std."""
    if not (isinstance(k, int) and k >= 1):
        raise ValueError(f"last k must be an integer >= 1, got {k!r}")
    tail = np.asarray(values[-k:], float)
    return {"mean": float(tail.mean()), "std": float(tail.std()), "k": len(tail)}


def ranking_quality(scores: Scores, truth: Scores, top: int = 10) -> dict[str, float]:
    """The per-snapshot metrics logged against a ground truth."""
    return {"gt_tau": kendall_tau(scores, truth), "spearman": spearman_rho(scores, truth),
            "t1r": float(top_n_rank(scores, truth, 1)), "t3r": float(top_n_rank(scores, truth, 3)),
            f"p_at_{top}": top_k_overlap(scores, truth, top), "regret": regret(scores, truth)}
