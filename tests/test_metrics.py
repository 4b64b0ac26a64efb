"""Metrics against scipy and hand-worked examples."""
import math

import numpy as np
import pytest
from scipy import stats

from benchmark import metrics

TRUTH = {"a": 0.9, "b": 0.8, "c": 0.7, "d": 0.6, "e": 0.5}


def test_kendall_by_hand_and_against_scipy():
    assert metrics.kendall_tau(TRUTH, TRUTH) == pytest.approx(1.0)
    reversed_ = {k: -v for k, v in TRUTH.items()}
    assert metrics.kendall_tau(reversed_, TRUTH) == pytest.approx(-1.0)
    # One adjacent swap among 5 children: 9 concordant, 1 discordant pairs -> (9 - 1) / 10.
    swapped = {**TRUTH, "a": 0.8, "b": 0.9}
    assert metrics.kendall_tau(swapped, TRUTH) == pytest.approx(0.8)
    rng = np.random.default_rng(0)
    a, b = rng.random(30), rng.random(30)
    da, db = dict(enumerate(a)), dict(enumerate(b))
    assert metrics.kendall_tau(da, db) == pytest.approx(stats.kendalltau(a, b).statistic)
    assert metrics.spearman_rho(da, db) == pytest.approx(stats.spearmanr(a, b).statistic)


def test_ties_use_tau_b_and_constant_rankings_are_nan():
    tied = {"a": 1.0, "b": 1.0, "c": 0.0}
    truth = {"a": 3.0, "b": 2.0, "c": 1.0}
    # tau-b: concordant 2, discordant 0, one tie in x: 2 / sqrt((3 - 1) * 3)
    assert metrics.kendall_tau(tied, truth) == pytest.approx(2 / math.sqrt(6))
    assert math.isnan(metrics.kendall_tau({"a": 1, "b": 1, "c": 1}, truth))


def test_only_common_children_count():
    assert metrics.kendall_tau({"a": 1, "b": 2, "z": 5}, {"a": 1, "b": 2, "y": 0}) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        metrics.kendall_tau({"a": 1}, {"a": 1})


def test_s_tau_is_mean_pairwise_tau():
    r1, r2, r3 = TRUTH, {**TRUTH, "a": 0.8, "b": 0.9}, {k: -v for k, v in TRUTH.items()}
    s = metrics.s_tau([r1, r2, r3])
    assert s["pairs"] == 3
    assert s["mean"] == pytest.approx((0.8 + -1.0 + -0.8) / 3)
    assert s["min"] == pytest.approx(-1.0) and s["max"] == pytest.approx(0.8)
    with pytest.raises(ValueError):
        metrics.s_tau([r1])


def test_top_n_rank_regret_and_overlap():
    supernet = {"a": 0.1, "b": 0.2, "c": 0.9, "d": 0.8, "e": 0.3}  # picks c, d, e
    assert metrics.ranks(TRUTH) == {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}
    assert metrics.top_n_rank(supernet, TRUTH, 1) == 3
    assert metrics.top_n_rank(supernet, TRUTH, 3) == 3
    assert metrics.top_n_rank(supernet, TRUTH, 5) == 1
    assert metrics.regret(supernet, TRUTH) == pytest.approx(0.2)
    assert metrics.regret(TRUTH, TRUTH) == 0.0
    assert metrics.top_k_overlap(supernet, TRUTH, 2) == 0.0
    assert metrics.top_k_overlap(supernet, TRUTH, 3) == pytest.approx(1 / 3)


def test_ties_in_a_snapshot_keep_its_order():
    """A snapshot lists children by its rank column (accuracy, then loss): the metrics judge that pick."""
    assert metrics.ranking({"b": 1.0, "a": 1.0, "c": 2.0}) == ["c", "b", "a"]
    truth = {"a": 0.9, "b": 0.5, "c": 0.7}
    assert metrics.regret({"b": 0.8, "a": 0.8}, truth) == pytest.approx(0.4)  # b is ranked 1: a worse pick
    assert metrics.top_n_rank({"b": 0.8, "a": 0.8}, truth, 1) == 3


def test_tied_ground_truth_children_share_the_best_rank():
    truth = {"0-0-1": 0.9, "0-0-0": 0.9, "0-0-2": 0.5, "0-0-3": 0.7}
    assert metrics.true_ranks(truth) == {"0-0-1": 1, "0-0-0": 1, "0-0-2": 4, "0-0-3": 3}
    pick_tied_best = {"0-0-1": 0.8, "0-0-0": 0.1, "0-0-2": 0.2, "0-0-3": 0.3}
    assert metrics.top_n_rank(pick_tied_best, truth, 1) == 1 and metrics.regret(pick_tied_best, truth) == 0


def test_overlap_counts_only_children_both_tables_hold():
    assert metrics.top_k_overlap({"a": 1.0, "x": 2.0}, {"a": 1.0, "b": 0.5}, 1) == 1.0
    assert metrics.top_k_overlap({"a": 1.0, "b": 2.0}, {"a": 1.0, "b": 2.0}, 5) == 1.0  # k capped at 2


def test_last_k_must_be_positive():
    with pytest.raises(ValueError, match="last k"):
        metrics.last_k_stats([0.1, 0.2], 0)


def test_last_k_stats():
    s = metrics.last_k_stats([0.0, 10.0, 0.2, 0.4, 0.6], 3)
    assert s["mean"] == pytest.approx(0.4) and s["std"] == pytest.approx(np.std([0.2, 0.4, 0.6])) and s["k"] == 3


def test_ranking_quality_bundle():
    q = metrics.ranking_quality(TRUTH, TRUTH, top=2)
    assert q == {"gt_tau": pytest.approx(1.0), "spearman": pytest.approx(1.0), "t1r": 1.0, "t3r": 1.0,
                 "p_at_2": 1.0, "regret": 0.0}
