"""Dense snapshots and the ranking protocol options, through run.py (in this process): `callbacks.ranking.dense_steps`
ranks every child after each of the last steps without changing the run, the report turns them into step-level
GT-Tau-Mean-k and a recency table; `bn=shared` and `split=test` (with `data.val_size=0`) are what Deeper Insights
does."""
import csv
import json

import pytest

from benchmark import dense
from benchmark.report import build_report
from benchmark.report.markdown import recency_section
from tests.conftest import run_main

BASE = ["experiment=smoke", "trainer.limit_train_batches=4", "trainer.max_epochs=2", "logger=csv",
        "sampler=round_robin"]


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_dense_snapshots_leave_the_run_unchanged_and_reach_the_report(tmp_path, cache_dir):
    table = tmp_path / "truth.csv"
    table.write_text("child,test_acc\n" + "".join(f"{a}-{b}-{c},{(a * 16 + b * 4 + c) / 100}\n"
                                                  for a in range(4) for b in range(4) for c in range(4)))
    common = [*BASE, f"paths.cache_dir={cache_dir}", f"ground_truth.path={table}"]
    run_main(*common, f"hydra.run.dir={tmp_path / 'plain'}")
    run_main(*common, f"hydra.run.dir={tmp_path / 'dense'}", "callbacks.ranking.dense_steps=5")
    dense_dir = tmp_path / "dense"
    assert (dense_dir / "rankings.csv").read_bytes() == (tmp_path / "plain" / "rankings.csv").read_bytes()
    rows = _rows(dense_dir / "rankings_dense.csv")
    assert sorted({int(r["step"]) for r in rows}) == [4, 5, 6, 7, 8] and len(rows) == 5 * 64
    # round robin in index order: step s (after the update) trained child s - 1, so it is 0 steps old at step s
    for step in (4, 8):
        fresh = [r["child"] for r in rows if int(r["step"]) == step and r["since_trained"] == "0"]
        assert fresh == [f"{(step - 1) // 16}-{(step - 1) // 4 % 4}-{(step - 1) % 4}"]
    # the last dense snapshot is the last epoch's ranking (same weights)
    last_epoch = [(r["child"], r["val_acc"], r["rank"]) for r in _rows(dense_dir / "rankings.csv") if r["epoch"] == "1"]
    assert [(r["child"], r["val_acc"], r["rank"]) for r in rows if r["step"] == "8"] == last_epoch
    build_report([dense_dir], tmp_path / "report", use_wandb=False, dense_k=4)
    report = (tmp_path / "report" / "report.md").read_text()
    assert "(4 steps) |" in report and "Does the child trained last jump to the top?" in report
    build_report([tmp_path / "plain"], tmp_path / "report_plain", use_wandb=False)
    assert "(2 epochs) |" in (tmp_path / "report_plain" / "report.md").read_text()


def test_shared_statistics_on_the_test_set_with_every_training_example(tmp_path, cache_dir):
    out = tmp_path / "run"
    run_main(*BASE, f"paths.cache_dir={cache_dir}", f"hydra.run.dir={out}", "callbacks.ranking.bn=shared",
             "callbacks.ranking.split=test", "data.val_size=0")
    snapshot = json.loads((out / "snapshot.json").read_text())
    assert snapshot["ranked_on"] == "test" and snapshot["bn"] == "shared" and "calib_batches" not in snapshot
    assert snapshot["val_size"] == 0 and snapshot["train_size"] == 4000 and snapshot["test_size"] == 1000
    assert len(_rows(out / "rankings.csv")) == 2 * 64


def test_recency_averages_the_runs_and_states_its_interval_over_runs():
    """Snapshots within a run are not independent, so each figure is the mean of per-run figures, its interval over
    runs: runs whose freshly trained child ranks 1 (2 snapshots), 2 (4) and 3 (6) give mean rank 2, where pooling the
    12 snapshots would give 2.33, inside an interval from 1 to 3."""
    children = [f"c{i}" for i in range(8)]

    def run(fresh_rank: int, snapshots: int) -> tuple[dict, dict]:
        steps, since = {}, {}
        for step in range(snapshots):
            fresh = children[step]
            others = [c for c in children if c != fresh]
            order = others[:fresh_rank - 1] + [fresh] + others[fresh_rank - 1:]
            steps[step] = {c: 1.0 - i / 10 for i, c in enumerate(order)}
            since[step] = {fresh: 0}
        return steps, since

    rows = dense.recency([run(1, 2), run(2, 4), run(3, 6)])
    assert len(rows) == 1 and rows[0]["runs"] == 3 and rows[0]["snapshots"] == 12
    assert rows[0]["mean_rank"] == pytest.approx(2) and rows[0]["first"] == pytest.approx(1 / 3)
    assert rows[0]["chance_rank"] == 4.5
    low, high = rows[0]["mean_rank_low"], rows[0]["mean_rank_high"]
    assert 1 <= low < 2 < high <= 3
    assert f"| 0 | 3 | 12 | 2.0 [{low:.1f}, {high:.1f}] (4.5) |" in recency_section(rows)
    single = dense.recency([run(1, 2)])
    assert "mean_rank_low" not in single[0] and "| 0 | 1 | 2 | 1.0 (4.5) |" in recency_section(single)
