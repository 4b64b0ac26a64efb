"""Uncertainty of study figures: bootstrap intervals over seeds (or children) and paired tests between variants.

Why these methods. A study has few seeds (3-10), so nothing here assumes normality: intervals are percentile
bootstraps (seeded, so a report is reproducible), and two variants run on the same seeds are
compared by the exact sign-flip permutation test on their per-seed differences (scipy.stats.permutation_test). Both
have floors worth stating: a bootstrap interval never leaves the range of the observed values, so with 3-5 seeds it is
too narrow rather than too wide; and the sign-flip test's smallest p-value is 2 / 2^n, so with n = 4 paired seeds
nothing can reach p < 0.125 and 6 seeds are needed for p < 0.05.
"""
from __future__ import annotations

import itertools
from typing import Callable, Hashable, Mapping, Sequence

import numpy as np
from scipy import stats

#: Two-sided level of every interval.
CONFIDENCE = 0.95
#: Fewer values than this get no interval: two seeds say nothing about their spread.
MIN_VALUES = 3
RESAMPLES = 4999


def _bootstrap(n: int, statistic: Callable[[np.ndarray], float], seed: int) -> tuple[float, float]:
    """Percentile bootstrap of `statistic(indices)` over n indices drawn with replacement. Written out rather than
    scipy.stats.bootstrap's: a resample on which the statistic is undefined (every draw the same instance, so no
    pair) is dropped instead of turning the whole interval into nan."""
    draws = np.random.default_rng(seed).integers(0, n, (RESAMPLES, n))
    return _percentiles(np.array([statistic(idx) for idx in draws], float))


def _percentiles(values: np.ndarray) -> tuple[float, float]:
    """The central 95% of the finite resampled values."""
    values = values[np.isfinite(values)]
    alpha = (1 - CONFIDENCE) / 2
    return float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))


def mean_interval(values: Sequence[float], seed: int = 0) -> tuple[float, float] | None:
    """95% bootstrap interval of the mean of per-seed values; None for fewer than MIN_VALUES finite values."""
    x = np.asarray([v for v in values if np.isfinite(v)], float)
    if len(x) < MIN_VALUES:
        return None
    if np.all(x == x[0]):
        return float(x[0]), float(x[0])
    # The same draws as _bootstrap's, all at once: the mean of every resample in one vectorised step.
    return _percentiles(x[np.random.default_rng(seed).integers(0, len(x), (RESAMPLES, len(x)))].mean(axis=1))


def pairwise_interval(items: Sequence[object], pair: Callable[[object, object], float],
                      seed: int = 0) -> tuple[float, float] | None:
    """95% interval of the mean of `pair` over all pairs of instances (S-Tau, top-5 overlap), resampling instances;
    an instance drawn twice is never paired with itself (that pair would be a perfect agreement nobody measured)."""
    n = len(items)
    if n < MIN_VALUES:
        return None
    table = np.full((n, n), np.nan)
    for i, j in itertools.combinations(range(n), 2):
        table[i, j] = table[j, i] = pair(items[i], items[j])
    if np.nanmin(table) == np.nanmax(table):
        return float(np.nanmin(table)), float(np.nanmin(table))

    def statistic(idx: np.ndarray) -> float:
        values = [table[a, b] for a, b in itertools.combinations(idx, 2) if a != b]
        return float(np.mean(values)) if values else np.nan

    low, high = _bootstrap(n, statistic, seed)
    return (low, high) if np.isfinite(low) and np.isfinite(high) else None


def children_interval(scores: Mapping[Hashable, float], truth: Mapping[Hashable, float],
                      metric: Callable[[Mapping[Hashable, float], Mapping[Hashable, float]], float],
                      seed: int = 0) -> tuple[float, float] | None:
    """95% interval of a one-run figure (GT-Tau of a single seed) over the children: how much it owes to which
    children the space happens to hold. A child drawn twice enters twice (as two keys), as the bootstrap asks."""
    common = sorted(scores.keys() & truth.keys(), key=str)
    if len(common) < 2 * MIN_VALUES:
        return None

    def statistic(idx: np.ndarray) -> float:
        chosen = [(k, common[i]) for k, i in enumerate(idx.tolist())]
        return metric({key: scores[c] for key, c in chosen}, {key: truth[c] for key, c in chosen})

    low, high = _bootstrap(len(common), statistic, seed)
    return (low, high) if np.isfinite(low) and np.isfinite(high) else None


def paired_test(a: Mapping[int, float], b: Mapping[int, float]) -> dict[str, float] | None:
    """Exact two-sided sign-flip permutation test of mean(a - b) over the seeds both have; None for fewer than two.
    Returns the mean difference, its p-value, the number of pairs and the smallest p-value that number allows."""
    seeds = sorted(s for s in a.keys() & b.keys() if np.isfinite(a[s]) and np.isfinite(b[s]))
    if len(seeds) < 2:
        return None
    d = np.array([a[s] - b[s] for s in seeds], float)
    if np.all(d == 0):
        p = 1.0
    else:
        p = float(stats.permutation_test((d,), np.mean, permutation_type="samples", alternative="two-sided",
                                         n_resamples=np.inf).pvalue)
    return {"diff": float(d.mean()), "p": min(p, 1.0), "pairs": len(seeds), "p_floor": 2.0 / 2 ** len(seeds)}
