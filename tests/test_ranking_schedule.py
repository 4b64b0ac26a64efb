"""callbacks.ranking.every_n_epochs: rankings after every n-th epoch and the last, a report that checks exactly those,
and a resume from a checkpoint of an epoch that was not ranked."""
import csv
import json
import shutil
import signal

import pytest

from benchmark.records import ranked_epochs
from benchmark.report.markdown import markdown
from benchmark.report.runs import Inputs, load_run
from benchmark.report.summary import variant_summary
from tests.conftest import run_forked, run_main

# 4 epochs of 4 steps, ranked after epochs 1 and 3.
SCHEDULE = ["experiment=smoke", "trainer.limit_train_batches=4", "trainer.max_epochs=4", "logger=csv", "seed=2",
            "callbacks.ranking.every_n_epochs=2"]


def _epochs(folder) -> list[int]:
    with open(folder / "rankings.csv", newline="") as f:
        return sorted({int(row["epoch"]) for row in csv.DictReader(f)})


def test_ranked_epochs_are_every_nth_and_the_last():
    assert ranked_epochs(5, 1) == [0, 1, 2, 3, 4]
    assert ranked_epochs(5, 2) == [1, 3, 4]
    assert ranked_epochs(4, 2) == [1, 3]
    assert ranked_epochs(3, 10) == [2]


@pytest.fixture(scope="module")
def scheduled(tmp_path_factory, cache_dir):
    out = tmp_path_factory.mktemp("scheduled")
    run_main(*SCHEDULE, f"paths.cache_dir={cache_dir}", f"hydra.run.dir={out}")
    return out


def test_a_run_ranks_only_on_its_schedule_and_the_report_reads_it(scheduled):
    assert _epochs(scheduled) == [1, 3]
    assert json.loads((scheduled / "snapshot.json").read_text())["every_n_epochs"] == 2
    run = load_run(scheduled)
    assert sorted(run.epochs) == [1, 3] and all(len(scores) == 64 for scores in run.epochs.values())
    run.truth = {child: float(i) for i, child in enumerate(sorted(run.epochs[3]))}  # any table judges it
    row = variant_summary([run], last_k=5)
    assert row["k"] == "2 rankings"  # not epochs: they are two epochs apart
    text = markdown(Inputs(runs=[run]), [{**row, "variant": "scheduled"}], [], last_k=5, plots=[])
    assert "| ranking tau (last 5) |" in text and "consecutive rankings over the last k" in text
    assert "epoch tau" not in text.lower()


def test_the_report_names_a_scheduled_epoch_that_is_missing(scheduled, tmp_path):
    shutil.copytree(scheduled, tmp_path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("checkpoints", "csv"))
    lines = (tmp_path / "rankings.csv").read_text().splitlines(keepends=True)
    (tmp_path / "rankings.csv").write_text("".join(line for line in lines if not line.startswith("3,")))
    with pytest.raises(ValueError, match=r"1 of the 2 epochs the config promised \(trainer.max_epochs and "
                                         r"callbacks.ranking.every_n_epochs=2\); epoch 3 is missing"):
        load_run(tmp_path)


def test_a_run_killed_after_an_unranked_epoch_resumes_from_that_epochs_checkpoint(tmp_path, cache_dir, scheduled):
    """Killed in epoch 3: last.ckpt is epoch 2, which ranks nothing; rankings.csv holding epoch 1 is caught up."""
    common = [*SCHEDULE, f"paths.cache_dir={cache_dir}", f"hydra.run.dir={tmp_path}"]
    proc = run_forked(*common, "+callbacks.kill._target_=tests.helpers.KillAt", "+callbacks.kill.step=14",
                      check=False)
    assert proc.returncode == -signal.SIGKILL and _epochs(tmp_path) == [1]
    run_main(*common, "resume=true")
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["status"] == "completed" and status["resumed_from"]["epoch"] == 2
    for name in ("rankings.csv", "csv/metrics.csv"):
        assert (tmp_path / name).read_bytes() == (scheduled / name).read_bytes(), name
