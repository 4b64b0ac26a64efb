"""task=prune_search: samplers and rankings restricted to the kept children, the closed-form random-search baseline,
and a pruning run (in this process), killed in a process of its own and resumed to the same files."""
import csv
import itertools
import json
import shutil
import signal
from pathlib import Path

import pytest

from benchmark.callbacks.pruning import kept_counts
from benchmark.errors import ConfigError, find_config_error
from benchmark.random_search import expected_best
from benchmark.samplers import FairSampler, GradualSampler, PerGroupSampler, RoundRobinSampler, UniformSampler
from benchmark.spaces import ChainSpace
from benchmark.tasks import prune_search
from tests.conftest import ROOT, run_forked, run_main

SPACE = ChainSpace(layers=3, ops=["conv3", "conv5", "dilconv3", "maxpool3"])  # 64 children
# 5 epochs of 4 steps, pruned after epochs 1 and 3: 64 -> 32 -> 16 children.
BASE = ["task=prune_search", "experiment=smoke", "trainer.limit_train_batches=4", "trainer.max_epochs=5",
        "task.every=2", "task.rounds=2", "task.drop=0.5", "logger=csv", "threads=1", "seed=3",
        f"ground_truth.path={ROOT / 'benchmark/tables/538311c71c8d89e4/ground_truth.csv'}"]  # the default space's


def test_a_restricted_uniform_sampler_draws_only_kept_children_and_carries_them_in_its_state():
    sampler = UniformSampler(SPACE, seed=0)
    sampler.sample()
    sampler.restrict([5, 9, 60, 61])
    sampler.restrict(range(64))  # idempotent: restricting to more brings nothing back
    drawn = {c for _ in range(200) for c in sampler.sample()}
    assert drawn == {5, 9, 60, 61}
    resumed = UniformSampler(SPACE, seed=0)
    resumed.load_state_dict(sampler.state_dict())
    assert [resumed.sample() for _ in range(20)] == [sampler.sample() for _ in range(20)]


@pytest.mark.parametrize("order", RoundRobinSampler.orders)
def test_a_restricted_round_robin_finishes_its_cycle_without_the_dropped_then_cycles_the_kept(order):
    sampler = RoundRobinSampler(SPACE, seed=1, order=order)
    first = [sampler.sample()[0] for _ in range(10)]
    keep = set(range(0, 64, 2))
    sampler.restrict(keep)
    rest = [c for c in sampler.cycle[sampler.position:]]
    cycle_end = [sampler.sample()[0] for _ in range(len(rest))]
    assert set(cycle_end) | {c for c in first if c in keep} == keep  # the cycle ends visiting each kept child once
    assert not set(cycle_end) & set(first)
    next_cycle = [sampler.sample()[0] for _ in range(len(keep))]
    assert sorted(next_cycle) == sorted(keep)


@pytest.mark.parametrize("make", [lambda: GradualSampler(SPACE), lambda: FairSampler(SPACE)], ids=["gradual", "fair"])
def test_samplers_that_walk_the_whole_space_refuse_to_be_pruned(make):
    sampler = make()
    sampler.restrict(range(64))  # keeping everything is fine
    with pytest.raises(ConfigError, match="task=prune_search keeps"):
        sampler.restrict(range(32))


def test_a_per_group_sampler_stops_training_a_group_whose_children_were_all_dropped():
    groups = [list(range(0, 32)), list(range(32, 64))]
    sampler = PerGroupSampler(SPACE, [UniformSampler(SPACE, seed=g, children=m) for g, m in enumerate(groups)])
    sampler.restrict([3, 4])
    assert all(sampler.sample() in ([3], [4]) for _ in range(50))


def test_kept_counts_drop_the_share_rounded_down_and_keep_at_least_one():
    assert kept_counts(64, 3, 0.5) == [32, 16, 8]
    assert kept_counts(10, 2, 0.25) == [8, 6]
    assert kept_counts(3, 3, 0.9) == [1, 1, 1]


def test_random_search_expectation_matches_enumerating_every_subset_with_ties():
    truth = {"a": 0.9, "b": 0.8, "c": 0.8, "d": 0.6, "e": 0.5}
    ranks = {"a": 1, "b": 2, "c": 2, "d": 4, "e": 5}  # competition ranks: b and c tie
    pool = ["b", "c", "d", "e", "a"]
    for n in range(1, 6):
        subsets = list(itertools.combinations(pool, n))
        acc = sum(max(truth[c] for c in s) for s in subsets) / len(subsets)
        rank = sum(min(ranks[c] for c in s) for s in subsets) / len(subsets)
        got = expected_best(truth, pool, n)
        assert got["acc"] == pytest.approx(acc) and got["true_rank"] == pytest.approx(rank)
        assert got["regret"] == pytest.approx(0.9 - acc)
    assert expected_best(truth, ["d", "e"], 1) == pytest.approx({"acc": 0.55, "regret": 0.35, "true_rank": 4.5})
    with pytest.raises(ValueError, match="draws 1 to 2 children"):
        expected_best(truth, ["d", "e"], 3)


@pytest.mark.parametrize("overrides, key", [
    (["task.rounds=3"], "task.rounds"),  # 3 x 2 epochs >= max_epochs 5: nothing left to train the kept
    (["task.drop=1.0"], "task.drop"),
    (["sampler=gradual"], "sampler"),
])
def test_impossible_pruning_settings_fail_before_training_naming_the_key(make_cfg, overrides, key):
    cfg = make_cfg(*BASE[1:], "task=prune_search", *overrides)
    with pytest.raises(Exception) as raised:
        prune_search.run(cfg)
    error = find_config_error(raised.value)
    assert error is not None and str(error).startswith(f"{key}="), str(raised.value)
    assert not (Path(cfg.paths.output_dir) / "rankings.csv").exists()


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def pruned(tmp_path_factory, cache_dir) -> Path:
    out = tmp_path_factory.mktemp("pruned")
    run_main(*BASE, f"paths.cache_dir={cache_dir}", f"hydra.run.dir={out}",
             "+callbacks.steps._target_=tests.helpers.RecordSteps", f"+callbacks.steps.output_dir={out}")
    return out


def test_a_pruning_run_trains_and_ranks_only_the_children_it_kept(pruned):
    rankings = _rows(pruned / "rankings.csv")
    per_epoch = {e: [r for r in rankings if r["epoch"] == str(e)] for e in range(5)}
    assert [len(per_epoch[e]) for e in range(5)] == [64, 64, 32, 32, 16]
    rounds = _rows(pruned / "pruning.csv")
    assert [(r["round"], r["epoch"]) for r in rounds] == [("1", "1"), ("2", "3")]
    for r in rounds:  # the kept are the best half of that epoch's ranking, the dropped the rest
        by_rank = [x["child"] for x in sorted(per_epoch[int(r["epoch"])], key=lambda x: int(x["rank"]))]
        assert r["kept"].split() == by_rank[: len(by_rank) // 2] and r["dropped"].split() == by_rank[len(by_rank) // 2:]
    assert {x["child"] for x in per_epoch[4]} == set(rounds[1]["kept"].split())
    names = {c: SPACE.name(c) for c in range(SPACE.num_children)}
    steps = json.loads((pruned / "steps_rank0.json").read_text())["children"]
    assert len(steps) == 20
    assert all(names[c] in rounds[0]["kept"].split() for step in steps[8:16] for c in step)
    assert all(names[c] in rounds[1]["kept"].split() for step in steps[16:] for c in step)


def test_a_pruning_run_judges_its_pick_against_the_whole_space_and_random_search(pruned):
    summary = json.loads((pruned / "pruning_summary.json").read_text())
    final, rounds = summary["final"], summary["rounds"]
    last = [r for r in _rows(pruned / "rankings.csv") if r["epoch"] == "4"]
    pick = next(r for r in last if r["rank"] == "1")
    assert final["pick"] == pick["child"] and final["pick_true_rank"] == int(pick["gt_rank"])
    assert final["kept"] == 16 and [r["kept"] for r in rounds] == [32, 16]
    assert final["best_kept_true_rank"] == min(int(r["gt_rank"]) for r in last)
    assert final["best_of_kept"]["true_rank"] == final["best_kept_true_rank"]
    # gt_rank is the rank among all 64 children, not among the kept 16: the true top 10 % (6 children) from the table
    table = _rows(pruned / "ground_truth.csv")
    truth = {c: sum(float(r["test_acc"]) for r in table if r["child"] == c) / sum(r["child"] == c for r in table)
             for c in {r["child"] for r in table}}
    top6 = set(sorted(truth, key=lambda c: -truth[c])[:6])
    assert final["top10_kept"] == pytest.approx(len(top6 & {r["child"] for r in last}) / 6)
    assert 1.0 <= final["random_search_same_evaluations"]["true_rank"] <= final["random_child_of_space"]["true_rank"]


KILLS = {
    "mid-epoch after the first pruning": ("KillAt", "step=10", 1),
    "at the pruning epoch's end, before it pruned and saved": ("KillAtEpochEnd", "epoch=3", 2),
}


@pytest.mark.parametrize("kill", list(KILLS), ids=list(KILLS))
def test_a_killed_pruning_run_resumes_to_the_same_files_byte_for_byte(tmp_path, cache_dir, pruned, kill):
    callback, argument, resumed_after = KILLS[kill]
    common = [*BASE, f"paths.cache_dir={cache_dir}", f"hydra.run.dir={tmp_path}"]
    proc = run_forked(*common, f"+callbacks.kill._target_=tests.helpers.{callback}", f"+callbacks.kill.{argument}",
                      check=False)
    assert proc.returncode == -signal.SIGKILL
    run_main(*common, "resume=true")
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["status"] == "completed" and status["resumed_from"]["epoch"] == resumed_after
    for name in ("rankings.csv", "pruning.csv", "pruning_summary.json"):
        assert (tmp_path / name).read_bytes() == (pruned / name).read_bytes(), name


def test_a_report_counts_a_pruning_run_tests_it_on_t1r_and_refuses_rankings_that_left_the_kept(pruned, tmp_path,
                                                                                             cache_dir):
    """Beside an unpruned search of the same seed: its own Pruning table, a paired test on T1R (its final GT-Tau
    judges only its 16 kept children), and a run whose rankings rank other children than pruning.csv kept refused."""
    from benchmark.report import build_report, load_run

    search = tmp_path / "search"
    run_main(*[o for o in BASE if not o.startswith("task")], f"paths.cache_dir={cache_dir}", f"hydra.run.dir={search}")
    build_report([pruned, search], tmp_path / "report", use_wandb=False, baseline="task=search")
    comparison = _rows(tmp_path / "report" / "comparisons.csv")[0]
    assert comparison["variant"].endswith("task=prune_search task.drop=0.5 task.every=2 task.rounds=2")
    assert comparison["main"] == "t1r"
    assert "## Pruning search" in (tmp_path / "report" / "report.md").read_text()
    row = _rows(tmp_path / "report" / "pruning.csv")[0]
    summary = json.loads((pruned / "pruning_summary.json").read_text())["final"]
    assert float(row["kept"]) == 16 and float(row["pick_true_rank"]) == summary["pick_true_rank"]
    damaged = tmp_path / "damaged"
    shutil.copytree(pruned, damaged)
    rows = _rows(damaged / "pruning.csv")
    rows[1]["kept"] = " ".join(rows[1]["kept"].split()[1:])  # the second pruning "kept" one child fewer
    with open(damaged / "pruning.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(ValueError, match="epoch 4 has 16 rows for 16 children, expected 15"):
        load_run(damaged)

