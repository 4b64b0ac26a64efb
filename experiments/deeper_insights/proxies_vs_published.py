"""Data-free proxies of the authors' Deeper Insights space at CIFAR-10 shapes, judged against their published 10-seed
ground truth: how much of the paper's ranking a network's size and shape already give, without any training.

`python -m experiments.deeper_insights.proxies_vs_published` (from the repository root) prints a Markdown table:
Kendall tau-b and Spearman rho with 95 % bootstrap intervals over the 64 children (scipy.stats.bootstrap, 2,000
resamples, seed 0), and where the proxy's best child ranks in the truth.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from benchmark import metrics, published
from benchmark.ground_truth import read_table
from benchmark.proxies import DATA_FREE, score_children
from benchmark.spaces import DataShape, DeeperInsightsSpace

CIFAR10 = DataShape(channels=3, length=32, num_classes=10, height=32)


def interval(statistic, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """95 % bootstrap interval of a paired statistic over children (BCa would need many more resamples here)."""
    result = stats.bootstrap((x, y), lambda a, b: statistic(a, b).statistic, paired=True, vectorized=False,
                             n_resamples=2000, method="percentile", random_state=np.random.default_rng(0))
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def main() -> None:
    space = DeeperInsightsSpace()
    truth = read_table(published.DEEPER_INSIGHTS_GROUND_TRUTH, space).scores()
    rows = score_children(space, list(range(space.num_children)), CIFAR10, list(DATA_FREE))
    print("| proxy | GT-Tau (95 % CI) | Spearman (95 % CI) | true rank of its pick | seconds per child |")
    print("|---|---|---|---|---|")
    for proxy in DATA_FREE:
        scores = {str(r["child"]): float(r["score"]) for r in rows if r["proxy"] == proxy}
        x = np.array([scores[c] for c in sorted(truth)])
        y = np.array([truth[c] for c in sorted(truth)])
        tau, rho = metrics.kendall_tau(scores, truth), metrics.spearman_rho(scores, truth)
        t_lo, t_hi = interval(stats.kendalltau, x, y)
        r_lo, r_hi = interval(stats.spearmanr, x, y)
        seconds = np.mean([float(r["seconds"]) for r in rows if r["proxy"] == proxy])
        print(f"| {proxy} | {tau:.2f} ({t_lo:.2f}, {t_hi:.2f}) | {rho:.2f} ({r_lo:.2f}, {r_hi:.2f}) | "
              f"{metrics.top_n_rank(scores, truth, 1)} | {seconds:.3f} |")


if __name__ == "__main__":
    main()
