"""Ranking-quality metrics: pure functions of accuracy tables, unit-tested against scipy and hand-worked examples.

Conventions. Scores are accuracies (higher is better), given as dicts child -> score; metrics between two tables use the
children they have in common. Kendall's tau is tau-b (scipy's default: ties in either ranking count as neither
concordant nor discordant, and the normaliser corrects for them), so a constant ranking has tau = nan, never a
fake number. GT-Tau is positive when the supernet agrees with the ground truth. Ranks are 1-based, 1 = best.

Ties. In a table being judged (a supernet's snapshot), ties keep the order the table lists its children in: snapshots
list them by their `rank` column (accuracy, then validation loss, then child index), so the pick the metrics judge is
the child ranked 1 in rankings.csv. In the ground truth, tied children share the best rank (competition ranking,
1 + the number of children strictly better), so picking any of several equally good children scores the same.

Supernet help (`supernet_help`): what a ranking is good for in a search, after Zhang, Zhang & Yang 2020, "How Does
Supernet Help in Neural Architecture Search?" (arXiv 2010.08219), whose findings they test: (ii) the supernet finds
relatively good (top-10 %) children but struggles with the top 1 %; (iv) it is more confident pruning the worst than
selecting the best. They judge the children both tables hold, n of them. A top (or bottom) p % holds `top_count(n, p)`
children: p % of n rounded down, at least one. The supernet's top p % is the first of those in its ranking, its bottom
p % the last; the true top p % is every child whose true rank is within it (ties at the edge all count, as above), the
true bottom p % every child that at least n - top_count(n, p) children beat (in it however ties are broken).
"""
from __future__ import annotations

import itertools
import math
from typing import Hashable, Mapping, NamedTuple, Sequence

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


def same_children(tables: Sequence[Scores]) -> bool:
    """Whether the tables rank the same children: S-Tau and overlaps compare such rankings, and the seeds of a pruning
    search end with different kept children (at the last epochs there is no S-Tau to give)."""
    return len({frozenset(t) for t in tables}) <= 1


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


#: The top fractions (finding ii: found the top 10 %, not the top 1 %) and the pruned fractions (finding iv), in %.
TOP_PERCENTS = (1, 5, 10)
PRUNE_PERCENTS = (10, 25, 50)
#: supernet_help's keys, in its order.
HELP_KEYS = (*(f"top{p}pct_{what}" for what in ("hit", "found") for p in TOP_PERCENTS),
             *(f"top{p}pct_in_top{TOP_PERCENTS[-1]}pct" for p in TOP_PERCENTS[:-1]), "pick_percentile",
             *(f"prune{p}pct_bottom_half" for p in PRUNE_PERCENTS),
             *(f"prune{p}pct_bottom" for p in PRUNE_PERCENTS if p != 50))


def top_count(n: int, percent: float) -> int:
    """Children in the top (or bottom) `percent` % of n: rounded down, so that a fraction never holds more than its
    share (and a pick percentile <= p means the pick is in the true top p %), but at least one."""
    if not 0 < percent <= 100:
        raise ValueError(f"a percentage of the children must be in (0, 100], got {percent!r}")
    return max(1, math.floor(n * percent / 100))


class Judged(NamedTuple):
    """A ranking judged against a ground truth, computed once for all of supernet_help's figures."""
    order: list[Hashable]  # the supernet's ranking of the children both tables hold, best first
    true_rank: dict[Hashable, int]  # their ground-truth competition ranks among themselves


def judge(scores: Scores, truth: Scores) -> Judged:
    """The children both tables hold, ranked by each: ground-truth ranks among those children only, so that fractions
    and percentiles are of the children the supernet was asked to rank."""
    common = scores.keys() & truth.keys()
    if len(common) < 2:
        raise ValueError(f"need at least two children in common, got {len(common)}")
    return Judged([c for c in ranking(scores) if c in common], true_ranks({c: truth[c] for c in common}))


def top_found(judged: Judged, percent: float, within: float | None = None) -> float:
    """Of the true top `percent` %, the share in the supernet's top `within` % (default: the same `percent`), out of
    as many as fit in both (so a perfect ranking scores 1 whatever the ties); > 0 means the search finds one."""
    n = len(judged.order)
    best = {c for c, r in judged.true_rank.items() if r <= top_count(n, percent)}
    picked = judged.order[:top_count(n, percent if within is None else within)]
    return len(best.intersection(picked)) / min(len(best), len(picked))


def pick_percentile(judged: Judged) -> float:
    """Where the supernet's pick lies in the ground truth: 100 * its true rank / n (the pick is in the true top x %;
    100 / n = a true best, 100 = the worst)."""
    return 100 * judged.true_rank[judged.order[0]] / len(judged.order)


def prune_precision(judged: Judged, percent: float, worst: float | None = None) -> float:
    """Of the supernet's bottom `percent` % (what pruning by it removes), the share truly in the bottom `worst` %
    (default: the same `percent`; 50 = the bottom half): 1 = it prunes only children that deserve it."""
    n = len(judged.order)
    pruned = judged.order[n - top_count(n, percent):]
    beaten_by = n - top_count(n, percent if worst is None else worst)
    return sum(judged.true_rank[c] > beaten_by for c in pruned) / len(pruned)


def supernet_help(scores: Scores, truth: Scores) -> dict[str, float]:
    """The supernet-help figures of one ranking (HELP_KEYS): whether its top p % holds a true top-p % child (hit), the
    share of them it holds (found), the share of the true top 1 % and 5 % in its top 10 %, its pick's true percentile,
    and the share of its bottom p % truly in the bottom half and in the bottom p % (pruning precision)."""
    judged = judge(scores, truth)
    found = {p: top_found(judged, p) for p in TOP_PERCENTS}
    values = [*(float(f > 0) for f in found.values()), *found.values(),
              *(top_found(judged, p, TOP_PERCENTS[-1]) for p in TOP_PERCENTS[:-1]), pick_percentile(judged),
              *(prune_precision(judged, p, 50) for p in PRUNE_PERCENTS),
              *(prune_precision(judged, p) for p in PRUNE_PERCENTS if p != 50)]
    return dict(zip(HELP_KEYS, values, strict=True))


def ranking_quality(scores: Scores, truth: Scores, top: int = 10) -> dict[str, float]:
    """The per-snapshot metrics logged against a ground truth."""
    return {"gt_tau": kendall_tau(scores, truth), "spearman": spearman_rho(scores, truth),
            "t1r": float(top_n_rank(scores, truth, 1)), "t3r": float(top_n_rank(scores, truth, 3)),
            f"p_at_{top}": top_k_overlap(scores, truth, top), "regret": regret(scores, truth),
            **supernet_help(scores, truth)}
