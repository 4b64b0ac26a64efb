"""`python run.py` end to end: the run a user starts (`console_run`: its outputs and console), and in this process
determinism, stacked ranking and judging against an imported ground truth."""
import csv
import json
from pathlib import Path

import pytest

from benchmark.metrics import kendall_tau
from tests.conftest import run_forked, run_main

SMOKE = ["experiment=smoke", "trainer.limit_train_batches=4", "logger=csv"]


def search(tmp: Path, cache: Path, *overrides: str) -> Path:
    """A search run in this process, its folder as `python run.py` leaves it."""
    out = tmp / "run"
    run_main(*SMOKE, f"hydra.run.dir={out}", f"paths.cache_dir={cache}", *overrides)
    return out


def read_rankings(out: Path) -> list[dict[str, str]]:
    with open(out / "rankings.csv") as f:
        return list(csv.DictReader(f))


def test_smoke_run_ranks_all_children_every_epoch(console_run):
    _, out, _ = console_run
    rows = read_rankings(out)
    assert list(rows[0]) == ["epoch", "step", "child", "val_acc", "val_loss", "rank"]
    for epoch in (0, 1):
        epoch_rows = [r for r in rows if r["epoch"] == str(epoch)]
        assert len(epoch_rows) == 64
        every = {f"{a}-{b}-{c}" for a in range(4) for b in range(4) for c in range(4)}
        assert {r["child"] for r in epoch_rows} == every
        assert [int(r["rank"]) for r in epoch_rows] == list(range(1, 65))
        accs = [float(r["val_acc"]) for r in epoch_rows]
        assert accs == sorted(accs, reverse=True)
        assert {r["step"] for r in epoch_rows} == {str(4 * (epoch + 1))}
    snapshot = json.loads((out / "snapshot.json").read_text())
    assert snapshot["ranked_on"] == "val" and snapshot["val_size"] == 800 and snapshot["num_children"] == 64
    assert (out / "checkpoints" / "last.ckpt").exists()
    assert (out / "csv" / "metrics.csv").exists() and (out / ".hydra" / "config.yaml").exists()


def test_same_seed_same_rankings_bit_for_bit_and_other_seed_differs(tmp_path, cache_dir):
    a = search(tmp_path / "a", cache_dir, "seed=1")
    b = search(tmp_path / "b", cache_dir, "seed=1")
    c = search(tmp_path / "c", cache_dir, "seed=2")
    assert (a / "rankings.csv").read_bytes() == (b / "rankings.csv").read_bytes()
    assert (a / "rankings.csv").read_bytes() != (c / "rankings.csv").read_bytes()
    losses = lambda out: [float(r["val_loss"]) for r in read_rankings(out)]  # noqa: E731
    assert losses(a) != losses(c)


def test_stacked_ranking_writes_the_same_rankings_byte_for_byte(tmp_path, cache_dir):
    """callbacks.ranking.block (the GPU default stacks 64 nodes) changes how a ranking is computed, not its numbers."""
    node_by_node = search(tmp_path / "a", cache_dir, "seed=3")
    stacked = search(tmp_path / "b", cache_dir, "seed=3", "callbacks.ranking.block=64")
    assert (node_by_node / "rankings.csv").read_bytes() == (stacked / "rankings.csv").read_bytes()


def test_top_k_printed_at_the_end(console_run):
    text, out, _ = console_run
    assert "Top 5 children after epoch 1" in text and "after epoch 0" not in text
    best = next(r for r in read_rankings(out) if r["epoch"] == "1")["child"]
    assert f"1. {best}" in text


def test_search_is_judged_against_an_imported_ground_truth(tmp_path, cache_dir):
    from benchmark.spaces import ChainSpace

    space = ChainSpace()
    table = tmp_path / "published.csv"
    table.write_text("arch,accuracy\n" + "".join(f"{space.describe(i)},{(i * 37 % 64) / 64}\n" for i in range(64)))
    out = search(tmp_path, cache_dir, f"ground_truth.path={table}", "ground_truth.metric=accuracy")
    rows = read_rankings(out)
    assert list(rows[0])[-2:] == ["gt_acc", "gt_rank"]
    for r in rows:
        i = space.child(r["child"]).index
        assert float(r["gt_acc"]) == pytest.approx((i * 37 % 64) / 64)
    assert {int(r["gt_rank"]) for r in rows} == set(range(1, 65))
    with open(out / "csv" / "metrics.csv") as f:
        logged = list(csv.DictReader(f))
    taus = [float(r["ranking/gt_tau"]) for r in logged if r.get("ranking/gt_tau")]
    expected = kendall_tau({r["child"]: float(r["val_acc"]) for r in rows},
                           {r["child"]: float(r["gt_acc"]) for r in rows})
    assert taus == [pytest.approx(expected)]
    assert (out / "ground_truth.csv").exists()


def test_search_without_ground_truth_says_so_once(console_run):
    text, out, _ = console_run
    assert text.count("no ground truth for this space") == 1
    assert "gt_acc" not in (out / "rankings.csv").read_text().splitlines()[0]


def test_help_says_what_the_benchmark_does_its_groups_and_exit_codes():
    proc = run_forked("--help", timeout=60)
    assert proc.stdout.startswith("weight-sharing NAS benchmark: trains weight-sharing supernets")
    assert ("sharing: full, keyword, none, not_bn, not_conv, not_dag_edge_3, only_conv, only_stem_and_conv, partial, "
            "prefix") in proc.stdout
    assert "python run.py -m seed=0,1,2,3 sharing=partial" in proc.stdout and "Exit codes: 0 done" in proc.stdout
