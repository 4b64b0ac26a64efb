"""Reliability: exact resume after SIGKILL, divergence caught and reported, W&B never breaks a run, safe loading."""
import json

import torch

from benchmark.report import load_inputs
from tests.conftest import run_cli

BASE = ["experiment=smoke", "trainer.limit_train_batches=4", "trainer.max_epochs=3", "logger=csv"]


def test_killed_run_resumes_to_the_same_rankings_bit_for_bit(tmp_path, cache_dir):
    common = [*BASE, f"paths.cache_dir={cache_dir}", "seed=4", "sampler=round_robin", "sampler.order=shuffle_every"]
    run_cli(*common, f"hydra.run.dir={tmp_path / 'whole'}")
    killed = tmp_path / "killed"
    proc = run_cli(*common, f"hydra.run.dir={killed}", "+callbacks.kill._target_=tests.helpers.KillAt",
                   "+callbacks.kill.step=10", check=False)
    assert proc.returncode != 0  # SIGKILL in epoch 2 (steps 8..11), after the epoch-1 checkpoint
    assert json.loads((killed / "status.json").read_text())["status"] == "running"
    rows_before = (killed / "rankings.csv").read_text().splitlines()
    assert {r.split(",")[0] for r in rows_before[1:]} == {"0", "1"}
    run_cli(*common, f"hydra.run.dir={killed}", "resume=true")
    assert (killed / "rankings.csv").read_bytes() == (tmp_path / "whole" / "rankings.csv").read_bytes()
    # The CSV metrics of the epochs before the kill are kept, and the re-run epoch is logged once.
    assert (killed / "csv" / "metrics.csv").read_text() == (tmp_path / "whole" / "csv" / "metrics.csv").read_text()
    assert json.loads((killed / "status.json").read_text())["status"] == "completed"


def test_checkpoints_load_with_weights_only(tmp_path, cache_dir):
    run_cli(*BASE, f"paths.cache_dir={cache_dir}", f"hydra.run.dir={tmp_path}", "trainer.max_epochs=1")
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert {"sampler", "rng_states", "state_dict"} <= set(checkpoint)


def test_divergence_stops_the_run_keeps_snapshots_and_the_report_skips_it(tmp_path, cache_dir):
    proc = run_cli(*BASE, f"paths.cache_dir={cache_dir}", f"hydra.run.dir={tmp_path}",
                   "+callbacks.poison._target_=tests.helpers.PoisonAt", "+callbacks.poison.step=6")
    assert "diverged: training loss is nan at epoch 1" in proc.stderr + proc.stdout
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["status"] == "diverged" and status["epoch"] == 1
    lines = (tmp_path / "rankings.csv").read_text().splitlines()
    assert len(lines) == 1 + 64 and lines[1].startswith("0,")  # epoch 0 kept
    inputs = load_inputs([tmp_path])
    assert not inputs.runs and "diverged" in inputs.skipped[0][1]


def test_wandb_online_without_an_account_warns_and_goes_on(tmp_path, cache_dir):
    env_home = tmp_path / "home"
    env_home.mkdir()
    overrides = [*BASE, "logger=default", "trainer.max_epochs=1", f"paths.cache_dir={cache_dir}",
                 f"hydra.run.dir={tmp_path / 'run'}", "logger.wandb.offline=false"]
    proc = run_cli(*overrides, timeout=240, env={"WANDB_MODE": "online", "HOME": str(env_home), "WANDB_API_KEY": None})
    assert "W&B could not start" in proc.stdout + proc.stderr
    assert (tmp_path / "run" / "rankings.csv").exists() and (tmp_path / "run" / "csv" / "metrics.csv").exists()


def test_resuming_in_a_run_folder_keeps_its_csv_metrics(tmp_path, cache_dir):
    """Lightning's own CSVLogger deletes metrics.csv when a run resumes in its folder; ours continues it."""
    common = [*BASE[:2], "logger=csv", f"paths.cache_dir={cache_dir}", f"hydra.run.dir={tmp_path}"]
    run_cli(*common, "trainer.max_epochs=2")
    before = (tmp_path / "csv" / "metrics.csv").read_text().splitlines()
    run_cli(*common, "trainer.max_epochs=3", "resume=true")
    after = (tmp_path / "csv" / "metrics.csv").read_text().splitlines()
    assert after[:3] == before and [r.split(",")[0] for r in after[1:]] == ["0", "1", "2"]


def test_resumed_csv_metrics_replace_the_epochs_logged_again(tmp_path):
    from benchmark.loggers import ResumableCSVLogger

    first = ResumableCSVLogger(tmp_path, name="csv", version="")
    for epoch in range(3):
        first.log_metrics({"epoch": epoch, "train/loss": 1.0 + epoch}, step=epoch)
    first.finalize("success")
    resumed = ResumableCSVLogger(tmp_path, name="csv", version="")  # from a checkpoint after epoch 1
    resumed.log_metrics({"epoch": 2, "train/loss": 7.0, "ranking/best_acc": 0.5}, step=2)
    resumed.finalize("success")
    rows = (tmp_path / "csv" / "metrics.csv").read_text().splitlines()
    assert rows == ["epoch,ranking/best_acc,step,train/loss", "0,,0,1.0", "1,,1,2.0", "2,0.5,2,7.0"]


def test_atomic_outputs_get_the_usual_file_mode(tmp_path):
    import os

    from benchmark.io import write_csv

    mask = os.umask(0o022)
    try:
        write_csv(tmp_path / "t.csv", ["a"], [[1]])
    finally:
        os.umask(mask)
    assert (tmp_path / "t.csv").stat().st_mode & 0o777 == 0o644
