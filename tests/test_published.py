"""The published Deeper Insights figures shipped in benchmark/published/: our metrics and report on their supernet log
give the paper's Table 3 row for full sharing, and their ground truth is what the CIFAR-10 preset judges against."""
import csv

import pytest

from benchmark import dense, published
from benchmark.ground_truth import read_table
from benchmark.spaces import DeeperInsightsSpace


def _log() -> dict[int, dict[str, float]]:
    """Their supernet's last 128 mini-batches as dense snapshots: step -> child -> accuracy, best first."""
    with open(published.DEEPER_INSIGHTS_SUPERNET_LAST128, newline="") as f:
        rows = list(csv.DictReader(f))
    steps = {}
    for r in rows:
        accs = {c: float(v) for c, v in r.items() if c != "step"}
        steps[int(r["step"])] = dict(sorted(accs.items(), key=lambda kv: -kv[1]))
    return steps


def test_the_published_ground_truth_reads_as_a_table_of_the_space():
    table = read_table(published.DEEPER_INSIGHTS_GROUND_TRUTH, DeeperInsightsSpace())
    scores = table.scores()
    assert len(scores) == 64 and table.metric == "test_acc"
    assert max(scores, key=scores.get) == "434" and scores["434"] == pytest.approx(0.85161)
    assert min(scores, key=scores.get) == "111" and scores["111"] == pytest.approx(0.70139)
    assert table.provenance["seeds"] == 10


def test_the_published_supernet_log_gives_the_papers_gt_tau_mean_64():
    """Table 3, m = 1: GT-Tau-Mean-64 / Std-64 = 0.50 / 0.15. Our tau-b over their log: 0.508 / 0.153."""
    truth = read_table(published.DEEPER_INSIGHTS_GROUND_TRUTH, DeeperInsightsSpace()).scores()
    steps = _log()
    assert len(steps) == 128 and min(steps) == 39_073 and max(steps) == 39_200
    stats = dense.gt_tau_last_k(steps, truth, 64)
    assert stats["k"] == 64
    assert stats["mean"] == pytest.approx(0.5082, abs=5e-4)  # the paper prints 0.50
    assert stats["std"] == pytest.approx(0.1526, abs=5e-4)


def test_in_their_log_the_child_trained_last_does_not_rank_above_chance():
    """Their fixed round robin trains child (g mod 64) at global step g; the log's step is g + 1. Pooled over the
    128 snapshots, the child trained at the step before a snapshot ranks 33.0 on average (chance 32.5), never first."""
    steps = _log()
    names = list(next(iter(steps.values())))
    order = sorted(names)  # their child index order is the lexicographic order of the names
    since = {s: {order[(s - 1 - lag) % 64]: lag for lag in range(dense.LAGS)} for s in steps}
    rows = dense.recency([(steps, since)])
    assert [r["snapshots"] for r in rows] == [128] * dense.LAGS
    assert rows[0]["mean_rank"] == pytest.approx(32.95, abs=0.01) and rows[0]["first"] == 0
    assert all(abs(r["mean_rank"] - r["chance_rank"]) < 3 for r in rows)
