"""Metrics against scipy and hand-worked examples."""
import itertools
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


def test_same_children_tells_rankings_of_other_children_apart_whatever_their_scores():
    """S-Tau is given only where this holds: a pruning search's seeds end with different kept children."""
    assert metrics.same_children([TRUTH, {k: -v for k, v in TRUTH.items()}])
    assert not metrics.same_children([TRUTH, {k: v for k, v in list(TRUTH.items())[1:]}])


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
                 "p_at_2": 1.0, "regret": 0.0, **metrics.supernet_help(TRUTH, TRUTH)}


# -- supernet help: top p %, pick percentile, pruning precision ----------------------------------------------------
FORTY = {f"c{i:02d}": 1 - i / 40 for i in range(40)}  # c00 best, c39 worst: true rank of c<i> = i + 1
HEAD = ["c01", "c03", "c00", "c10"]  # the supernet's top 10 % (4 of 40)
TAIL = ["c05", "c31", "c32", "c33", "c34", "c35", "c36", "c37", "c38", "c25"]  # its bottom 25 % (10), worst last


def forty_ranked() -> dict[str, float]:
    middle = [c for c in FORTY if c not in HEAD + TAIL]  # in true order: c02, c04, ..., c30, c39
    return {c: -float(i) for i, c in enumerate(HEAD + middle + TAIL)}


@pytest.mark.parametrize("n, percent, count", [(64, 1, 1), (64, 5, 3), (64, 10, 6), (64, 25, 16), (64, 50, 32),
                                               (100, 1, 1), (100, 10, 10), (40, 5, 2), (7, 50, 3), (5, 10, 1),
                                               (9, 100, 9)])
def test_top_count_rounds_down_to_at_least_one(n, percent, count):
    assert metrics.top_count(n, percent) == count


@pytest.mark.parametrize("percent", [0, -5, 101])
def test_top_count_refuses_what_is_not_a_percentage(percent):
    with pytest.raises(ValueError, match="percentage"):
        metrics.top_count(10, percent)


def test_top_fractions_by_hand():
    judged = metrics.judge(forty_ranked(), FORTY)
    assert metrics.top_found(judged, 1) == 0.0  # top 1 % = 1 child: picked c01, the best is c00
    assert metrics.top_found(judged, 5) == 0.5  # top 2: {c01, c03} against {c00, c01}
    assert metrics.top_found(judged, 10) == 0.75  # top 4: c01, c03, c00 of c00-c03
    assert metrics.top_found(judged, 1, within=10) == 1.0 and metrics.top_found(judged, 5, within=10) == 1.0
    assert metrics.pick_percentile(judged) == 5.0  # c01: true rank 2 of 40


def test_pruning_precision_by_hand():
    judged = metrics.judge(forty_ranked(), FORTY)
    # Bottom 10 % = c36, c37, c38, c25: all in the true bottom half (ranks 21-40), three in the true bottom 4.
    assert metrics.prune_precision(judged, 10, worst=50) == 1.0 and metrics.prune_precision(judged, 10) == 0.75
    # Bottom 25 % = TAIL: all but c05 in the bottom half; c31-c38 in the true bottom 10 (ranks 31-40).
    assert metrics.prune_precision(judged, 25, worst=50) == 0.9 and metrics.prune_precision(judged, 25) == 0.8
    # Bottom half = TAIL and the middle's last 10 (c21-c24, c26-c30, c39): only c05 is in the top half.
    assert metrics.prune_precision(judged, 50) == 0.95


def test_supernet_help_bundles_the_figures_under_their_keys():
    help_ = metrics.supernet_help(forty_ranked(), FORTY)
    assert tuple(help_) == metrics.HELP_KEYS
    assert help_ == {"top1pct_hit": 0.0, "top5pct_hit": 1.0, "top10pct_hit": 1.0, "top1pct_found": 0.0,
                     "top5pct_found": 0.5, "top10pct_found": 0.75, "top1pct_in_top10pct": 1.0,
                     "top5pct_in_top10pct": 1.0, "pick_percentile": 5.0, "prune10pct_bottom_half": 1.0,
                     "prune25pct_bottom_half": 0.9, "prune50pct_bottom_half": 0.95, "prune10pct_bottom": 0.75,
                     "prune25pct_bottom": 0.8}
    perfect = metrics.supernet_help(FORTY, FORTY)
    assert perfect == {**dict.fromkeys(metrics.HELP_KEYS, 1.0), "pick_percentile": 2.5}
    upside_down = metrics.supernet_help({c: -v for c, v in FORTY.items()}, FORTY)
    assert upside_down == {**dict.fromkeys(metrics.HELP_KEYS, 0.0), "pick_percentile": 100.0}


def test_pick_percentile_within_p_means_the_pick_is_in_the_true_top_p():
    for rank in range(1, 41):
        judged = metrics.judge({**FORTY, f"c{rank - 1:02d}": 2.0}, FORTY)  # the supernet picks the child of that rank
        for p in (5, 10, 25, 50):
            assert (metrics.pick_percentile(judged) <= p) == (rank <= metrics.top_count(40, p))


def test_tied_ground_truth_at_the_edge_of_a_fraction():
    truth = {"a": 0.9, "b": 0.9, "c": 0.5, "d": 0.1}
    judged = metrics.judge({"b": 4.0, "c": 3.0, "a": 2.0, "d": 1.0}, truth)
    # The true top 25 % (1 child) is a and b, tied: picking either is a hit, and it counts out of the one place.
    assert metrics.top_found(judged, 25) == 1.0 and metrics.pick_percentile(judged) == 25.0
    # Bottom half of the supernet: a, d. a is tied for the best; d is beaten by 3 >= 4 - 2: the only deserved prune.
    assert metrics.prune_precision(judged, 50) == 0.5
    tied_edge = metrics.judge({"a": 4.0, "b": 3.0, "c": 2.0, "d": 1.0}, {"a": 0.9, "b": 0.5, "c": 0.5, "d": 0.1})
    # b and c tie across the edge of the halves: pruned c might belong to the top half, so only d is credited; the
    # same tie puts c in the true top half, beside a and b.
    assert metrics.prune_precision(tied_edge, 50) == 0.5 and metrics.top_found(tied_edge, 50) == 1.0
    assert metrics.top_found(tied_edge, 50, within=75) == 1.0  # a, b, c: all three fit in the top 3


def test_supernet_help_judges_the_children_both_tables_hold():
    scores = {**forty_ranked(), "extra": 99.0}  # not in the truth: not the pick
    truth = {**FORTY, "unranked": 2.0}  # not ranked by the supernet: not the true best
    assert metrics.supernet_help(scores, truth) == metrics.supernet_help(forty_ranked(), FORTY)
    with pytest.raises(ValueError, match="two children in common"):
        metrics.supernet_help({"a": 1.0}, {"a": 1.0, "b": 0.0})


def test_random_rankings_score_the_hypergeometric_chance():
    """Over every ordering of 6 children, the top half holds a true top-half child with probability 1 - P(none),
    P(none) hypergeometric, and the mean share found or correctly pruned is its mean over the 3 places."""
    truth = {c: float(i) for i, c in enumerate("abcdef")}
    judged = [metrics.judge(dict(zip(order, range(6, 0, -1))), truth) for order in itertools.permutations(truth)]
    draws = stats.hypergeom(M=6, n=3, N=3)
    assert np.mean([metrics.top_found(j, 50) > 0 for j in judged]) == pytest.approx(1 - draws.pmf(0))
    assert np.mean([metrics.top_found(j, 50) for j in judged]) == pytest.approx(draws.mean() / 3)
    assert np.mean([metrics.prune_precision(j, 50) for j in judged]) == pytest.approx(draws.mean() / 3)
    assert np.mean([metrics.pick_percentile(j) for j in judged]) == pytest.approx(100 * 3.5 / 6)
