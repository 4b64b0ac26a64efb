"""Intervals and paired tests: checked against cases whose answer is known (exact p-values by enumeration,
coverage by simulation)."""
import itertools

import numpy as np
import pytest

from benchmark import metrics, statistics


def test_sign_flip_p_values_match_enumeration():
    a = {0: 0.50, 1: 0.61, 2: 0.58, 3: 0.70, 4: 0.66}
    b = {0: 0.40, 1: 0.52, 2: 0.60, 3: 0.55, 4: 0.51, 9: 0.99}  # seed 9 has no partner: left out
    d = np.array([a[s] - b[s] for s in range(5)])
    flips = [abs(np.mean(d * np.array(signs))) for signs in itertools.product([1, -1], repeat=5)]
    expected = np.mean([f >= abs(d.mean()) - 1e-12 for f in flips])
    test = statistics.paired_test(a, b)
    assert test["pairs"] == 5 and test["diff"] == pytest.approx(d.mean())
    assert test["p"] == pytest.approx(expected) and test["p_floor"] == pytest.approx(2 / 32)


def test_paired_test_floors_and_degenerate_cases():
    same = {s: 0.5 for s in range(4)}
    assert statistics.paired_test(same, same)["p"] == 1.0
    always_better = statistics.paired_test({s: 1.0 + s for s in range(4)}, {s: float(s) for s in range(4)})
    assert always_better["p"] == pytest.approx(2 / 16) == always_better["p_floor"]  # 4 seeds cannot reach 0.05
    assert statistics.paired_test({0: 1.0}, {0: 0.0}) is None


def test_mean_interval_contains_the_mean_and_needs_three_values():
    assert statistics.mean_interval([0.1, 0.2]) is None
    assert statistics.mean_interval([0.3, 0.3, 0.3]) == (0.3, 0.3)
    values = [0.61, 0.66, 0.70, 0.64, 0.69]
    low, high = statistics.mean_interval(values)
    assert min(values) <= low < np.mean(values) < high <= max(values)
    assert statistics.mean_interval(values) == (low, high)  # seeded: a report is reproducible


def test_mean_interval_coverage_is_near_nominal_with_ten_seeds():
    rng = np.random.default_rng(1)
    hits = 0
    for trial in range(200):
        low, high = statistics.mean_interval(rng.normal(0.0, 1.0, size=10), seed=trial)
        hits += low <= 0.0 <= high
    assert 0.84 <= hits / 200 <= 0.99  # percentile bootstrap is a little narrow at n = 10


def test_pairwise_interval_never_pairs_an_instance_with_itself():
    tables = [{c: float(v) for c, v in zip("abcdef", perm)} for perm in ([1, 2, 3, 4, 5, 6], [2, 1, 3, 4, 6, 5],
                                                                       [1, 3, 2, 5, 4, 6], [6, 5, 4, 3, 2, 1])]
    mean = metrics.s_tau(tables)["mean"]
    low, high = statistics.pairwise_interval(tables, metrics.kendall_tau)
    taus = [metrics.kendall_tau(a, b) for a, b in itertools.combinations(tables, 2)]
    assert min(taus) <= low <= mean <= high <= max(taus) < 1.0  # a self-pair would have pulled it towards 1


def test_children_interval_of_a_single_run():
    rng = np.random.default_rng(0)
    truth = {f"c{i}": float(i) for i in range(64)}
    noisy = {c: v + rng.normal(0, 15) for c, v in truth.items()}
    tau = metrics.kendall_tau(noisy, truth)
    low, high = statistics.children_interval(noisy, truth, metrics.kendall_tau)
    assert low < tau < high and 0.05 < high - low < 0.6
    assert statistics.children_interval({"a": 1, "b": 2}, {"a": 1, "b": 2}, metrics.kendall_tau) is None
