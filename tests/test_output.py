"""What a researcher sees: the console of a run, its W&B history as the dashboard draws it, and the report's W&B run."""
import json
import logging
import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from omegaconf import OmegaConf
from pytorch_lightning.callbacks import TQDMProgressBar

from benchmark.callbacks.ranking import _RankingBar
from benchmark.dashboard.records import MAGIC, read_records
from benchmark.loggers import EpochWandbLogger, finish_wandb
from benchmark.report import MultirunReport, build_report
from tests.test_report import make_run, scores


def wandb_records(run_dir: Path, timeout: float = 60.0) -> list:
    """The records of an offline run's `.wandb` file, once W&B's service process has written the run's exit record
    (it may still be flushing when `wandb.finish()` returns, most of all on a busy machine)."""
    deadline = time.monotonic() + timeout
    while True:
        records = _read_records(run_dir)
        if any(r.WhichOneof("record_type") == "exit" for r in records) or time.monotonic() > deadline:
            return records
        time.sleep(0.2)


def _read_records(run_dir: Path) -> list:
    """The records of a run's `.wandb` file as it is now ([] before W&B has written its header)."""
    paths = list(run_dir.glob("*.wandb"))
    if not paths or not paths[0].read_bytes().startswith(MAGIC):
        return []
    return read_records(paths[0])


def history(run_dir: Path) -> list[dict]:
    rows = []
    for r in wandb_records(run_dir):
        if r.WhichOneof("record_type") == "history":
            rows.append({item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in r.history.item})
    return rows


def metric_definitions(run_dir: Path) -> dict[str, str]:
    """name or glob -> its step metric, the last definition winning (as W&B applies them)."""
    defined = {}
    for r in wandb_records(run_dir):
        if r.WhichOneof("record_type") == "metric":
            defined[r.metric.name or r.metric.glob_name] = r.metric.step_metric
    return defined


def user_keys(row: dict) -> set[str]:
    return {k.split("/")[0] + "/" + k.split("/")[1] if k.count("/") > 1 else k for k in row if not k.startswith("_")}


def test_wandb_runs_offline_and_is_finished(console_run):
    _, out, run_dir = console_run
    assert list((out / "wandb").glob("offline-run-*")) == [run_dir] and list(run_dir.glob("*.wandb"))
    assert any(r.WhichOneof("record_type") == "exit" for r in wandb_records(run_dir, timeout=10))
    assert (out / "csv" / "metrics.csv").exists()


def test_wandb_says_one_line_per_run(console_run):
    text, _, run_dir = console_run
    assert [line for line in text.splitlines() if line.startswith("wandb:")] == []
    lines = [line for line in text.splitlines() if "W&B:" in line]
    assert len(lines) == 1
    assert lines[0].endswith(f"W&B: offline run saved in {run_dir}; upload with: wandb sync {run_dir}")


def test_console_has_no_library_noise(console_run):
    text, _, _ = console_run
    for noise in ("LeafSpec", "litlogger", "Tip:", "val_dataloader", "weights_only", "anonymous", "TPU available",
                  "Trainer.fit` stopped"):
        assert noise not in text, noise
    assert "Seed set to 0" in text and "no ground truth" in text and "Top 5 children after epoch 1" in text
    assert "GPU available" in text


def test_ranking_is_its_own_progress_step(console_run):
    text, _, _ = console_run
    assert len(re.findall(r"ranking 64 children: 100%\|[^|]*\| 64/64", text)) == 2  # one per epoch


def test_wandb_history_is_drawn_against_the_epoch(console_run):
    _, out, run_dir = console_run
    assert metric_definitions(run_dir)["*"] == "epoch"
    rows = history(run_dir)
    assert [row["epoch"] for row in rows] == [0, 1]  # one row per epoch: none with step counters only
    for row in rows:
        keys = user_keys(row)
        assert "trainer/global_step" not in keys and not any(re.match(r"ranking/top\d+_child", k) for k in keys)
        assert {"train/loss", "ranking/best_acc", "ranking/top_k"} <= keys
    assert rows[-1]["ranking/top_k/nrows"] == 10  # one table: 5 children x 2 epochs
    # The child indices stay in metrics.csv (and the callback metrics the MAGIC-A anchor reads).
    assert "ranking/top1_child" in (out / "csv" / "metrics.csv").read_text().splitlines()[0]


def test_the_top_k_table_names_children_per_epoch(console_run):
    _, out, run_dir = console_run
    tables = sorted((run_dir / "files" / "media" / "table" / "ranking").glob("top_k_*.table.json"))
    assert tables
    last = json.loads(tables[-1].read_text())
    assert last["columns"] == ["epoch", "rank", "child", "ops", "val_acc"]
    best = next(line for line in (out / "rankings.csv").read_text().splitlines() if line.startswith("1,"))
    assert [1, 1, best.split(",")[2]] == last["data"][0][:3]


def test_per_step_metrics_keep_the_step_and_hidden_ones_stay_out(tmp_path):
    logger = EpochWandbLogger(save_dir=str(tmp_path), offline=True, project="test", name="t")
    logger.log_metrics({"interference/grad_cos_d1": 0.5, "epoch": 0}, step=3)
    logger.log_metrics({"ranking/top1_child": 7.0, "epoch": 0}, step=4)  # nothing but counters left: no row
    logger.log_rows("ranking/top_k", ["epoch", "rank"], [[0, 1]])
    logger.log_metrics({"train/loss": 1.0, "ranking/top1_child": 7.0, "epoch": 0}, step=4)
    run_dir = Path(logger.experiment.settings.sync_dir)
    finish_wandb()
    rows = history(run_dir)
    assert [user_keys(r) for r in rows] == [{"interference/grad_cos_d1", "epoch", "trainer/global_step"},
                                            {"train/loss", "epoch", "ranking/top_k"}]
    assert metric_definitions(run_dir)["interference/grad_cos_d1"] == "trainer/global_step"


def test_verbose_gives_wandb_its_console_back(tmp_path):
    quiet = EpochWandbLogger(save_dir=str(tmp_path), offline=True)
    loud = EpochWandbLogger(save_dir=str(tmp_path), offline=True, verbose=True)
    assert quiet._wandb_init["settings"] == {"silent": True} and "settings" not in loud._wandb_init
    assert "anonymous" not in quiet._wandb_init  # W&B warns whenever it is passed


@pytest.mark.parametrize("bar, rank, shown", [(TQDMProgressBar(), 0, True), (TQDMProgressBar(), 1, False),
                                               (TQDMProgressBar(refresh_rate=0), 0, False), (None, 0, False)])
def test_the_ranking_bar_only_with_lightnings_bar_on_rank_zero(bar, rank, shown, capsys):
    trainer = SimpleNamespace(progress_bar_callback=bar, is_global_zero=rank == 0)
    with _RankingBar(trainer, 64) as ranking:
        ranking.update(32)
        ranking.update(64)  # never past the total (DDP ranks count for each other)
        assert (ranking.bar.n if ranking.bar else None) == (64 if shown else None)
    assert ("ranking 64 children" in capsys.readouterr().out) == shown


def test_the_report_updates_one_wandb_run_per_variant_in_place(tmp_path, caplog):
    truth = scores(99, noise=0.0)
    for seed in (0, 1):
        make_run(tmp_path / str(seed), seed, [scores(seed), scores(seed + 10), scores(seed + 20)], truth=truth)
    report = tmp_path / "report"
    ids = []
    for _ in range(2):
        build_report([tmp_path], report, last_k=2)
        [run_dir] = (report / "wandb").glob("offline-run-*")  # the earlier build's copy is superseded
        ids.append(run_dir.name.split("-", 3)[-1])
    assert ids[0] == ids[1] and ids[0].startswith("report-")
    assert metric_definitions(run_dir)["per_epoch/*"] == "epoch"
    series = [r for r in history(run_dir) if "epoch" in r]
    assert [r["epoch"] for r in series] == [0, 1, 2]
    assert all({"per_epoch/s_tau", "per_epoch/gt_tau"} <= set(r) for r in series)
    # A sweep ends with one command that uploads every offline run under it, the report's included.
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path)}}, "task": {"name": "search"}})
    with caplog.at_level(logging.INFO, logger="benchmark.report"):
        MultirunReport(last_k=2).on_multirun_end(config)
    assert f"upload them all with: wandb sync {tmp_path}/*/wandb/offline-run-*" in caplog.text
    assert len(list(report.glob("wandb/offline-run-*"))) == 1
