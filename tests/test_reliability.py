"""Reliability: exact resume after SIGKILL, divergence caught and reported, W&B never breaks a run, safe loading.
Kills, SIGTERM, a second process and W&B online run `run.py` in processes of their own; the rest in this one."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from benchmark.io import _host
from benchmark.report import load_inputs
from tests.conftest import run_forked, run_main

BASE = ["experiment=smoke", "trainer.limit_train_batches=4", "trainer.max_epochs=3", "logger=csv"]


RESUMABLE = [*BASE, "seed=4", "sampler=round_robin", "sampler.order=shuffle_every"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, cache_dir) -> Path:
    out = tmp_path_factory.mktemp("whole")
    run_main(*RESUMABLE, f"paths.cache_dir={cache_dir}", f"hydra.run.dir={out}")
    return out


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _status(folder: Path) -> dict:
    return json.loads((folder / "status.json").read_text())


# (callback that kills the run, its argument, what else the kill left behind, the epoch the resume must start after).
# 3 epochs of 4 steps: steps 0-3 are epoch 0, 4-7 epoch 1, 8-11 epoch 2.
KILLS = {
    "mid-epoch": ("KillAt", "step=10", None, 1),
    "between the ranking and the checkpoint": ("KillAtEpochEnd", "epoch=1", None, 0),
    "between the checkpoint and metrics.csv": ("KillAfterCheckpoint", "epoch=1", None, 0),
    "between renaming last.ckpt and saving the next": ("KillAt", "step=10", "rename", 1),
}


@pytest.mark.parametrize("kill", list(KILLS), ids=list(KILLS))
def test_a_killed_run_resumes_from_its_checkpoint_to_the_same_files_byte_for_byte(tmp_path, cache_dir,
                                                                                   uninterrupted, kill):
    callback, argument, damage, resumed_after = KILLS[kill]
    common = [*RESUMABLE, f"paths.cache_dir={cache_dir}", f"hydra.run.dir={tmp_path}"]
    proc = run_forked(*common, f"+callbacks.kill._target_=tests.helpers.{callback}", f"+callbacks.kill.{argument}",
                      check=False)
    assert proc.returncode == -signal.SIGKILL and _status(tmp_path)["status"] == "running"
    checkpoints = tmp_path / "checkpoints"
    stale = tmp_path / f".rankings.csv.{_host()}.{_dead_pid()}.abcdefgh.tmp"  # a write the kill cut short
    stale.write_text("epoch,st")
    if damage == "rename":  # killed after last.ckpt became previous.ckpt, before the new last.ckpt was written
        os.replace(checkpoints / "last.ckpt", checkpoints / "previous.ckpt")
    run_main(*common, "resume=true")
    status = _status(tmp_path)
    assert status["status"] == "completed"
    assert status["resumed_from"]["epoch"] == resumed_after  # a checkpoint was loaded, the newest one that is whole
    assert not stale.exists()
    for name in ("rankings.csv", "csv/metrics.csv"):
        assert (tmp_path / name).read_bytes() == (uninterrupted / name).read_bytes(), name


def test_sigterm_stops_after_the_step_keeps_the_epoch_checkpoint_and_exits_4(tmp_path, cache_dir, uninterrupted):
    common = [*RESUMABLE, f"paths.cache_dir={cache_dir}", f"hydra.run.dir={tmp_path}"]
    proc = run_forked(*common, "+callbacks.term._target_=tests.helpers.TermAt", "+callbacks.term.step=6", check=False)
    assert proc.returncode == 4 and "stopped by SIGTERM in epoch 1" in proc.stderr and "Traceback" not in proc.stderr
    assert _status(tmp_path)["status"] == "interrupted"
    assert torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 0
    run_main(*common, "resume=true")
    assert _status(tmp_path)["resumed_from"]["epoch"] == 0
    assert (tmp_path / "rankings.csv").read_bytes() == (uninterrupted / "rankings.csv").read_bytes()


def test_every_epoch_leaves_a_checkpoint(uninterrupted):
    epochs = [torch.load(uninterrupted / "checkpoints" / name, weights_only=True)["epoch"]
              for name in ("previous.ckpt", "last.ckpt")]
    assert epochs == [1, 2]


def test_a_second_process_in_a_run_folder_is_refused_before_it_writes_anything(tmp_path, cache_dir):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        proc = run_forked(*BASE, f"paths.cache_dir={cache_dir}", f"hydra.run.dir={tmp_path}", "resume=true",
                          check=False, timeout=120)
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"process {holder.pid} runs in it" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock"]  # no .hydra, no run.log, no status


HOLD_LOCK = """
import fcntl, os, sys, time
fd = os.open(os.path.join(sys.argv[1], ".lock"), os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, f"{os.getpid()}\\n".encode())
print("locked", flush=True)
time.sleep(120)
"""


def test_checkpoints_load_with_weights_only(uninterrupted):
    checkpoint = torch.load(uninterrupted / "checkpoints" / "last.ckpt", weights_only=True)
    assert {"sampler", "rng_states", "state_dict"} <= set(checkpoint)


def test_divergence_stops_the_run_keeps_snapshots_and_the_report_skips_it(tmp_path, cache_dir):
    proc = run_main(*BASE, f"paths.cache_dir={cache_dir}", f"hydra.run.dir={tmp_path}",
                    "+callbacks.poison._target_=tests.helpers.PoisonAt", "+callbacks.poison.step=6", check=False)
    assert proc.returncode == 3 and "error: diverged: training loss is nan at epoch 1" in proc.stderr
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
    proc = run_forked(*overrides, timeout=240,
                      env={"WANDB_MODE": "online", "HOME": str(env_home), "WANDB_API_KEY": None})
    assert "W&B could not start" in proc.stdout + proc.stderr
    assert (tmp_path / "run" / "rankings.csv").exists() and (tmp_path / "run" / "csv" / "metrics.csv").exists()


def test_resuming_in_a_run_folder_keeps_its_csv_metrics(tmp_path, cache_dir):
    """Lightning's own CSVLogger deletes metrics.csv when a run resumes in its folder; ours continues it."""
    common = [*BASE[:2], "logger=csv", f"paths.cache_dir={cache_dir}", f"hydra.run.dir={tmp_path}"]
    run_main(*common, "trainer.max_epochs=2")
    before = (tmp_path / "csv" / "metrics.csv").read_text().splitlines()
    run_main(*common, "trainer.max_epochs=3", "resume=true")
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


def test_a_run_whose_validation_loss_explodes_is_flagged_and_exits_3(tmp_path, cache_dir):
    proc = run_main(*BASE, f"paths.cache_dir={cache_dir}", f"hydra.run.dir={tmp_path}", "trainer.max_epochs=2",
                    "module.optimizer.lr=300", check=False)
    assert proc.returncode == 3 and "error: validation loss exploded" in proc.stderr
    status = _status(tmp_path)
    assert status["status"] == "exploded" and "median child" in status["message"]
    inputs = load_inputs([tmp_path])
    assert not inputs.runs and "exploded" in inputs.skipped[0][1]


def test_explosion_is_judged_against_guessing():
    from benchmark.tasks.search import explosion

    rows = [(0, 4, "a", 0.1, 2.0), (0, 4, "b", 0.1, 900.0), (1, 8, "a", 0.1, 22.0), (1, 8, "b", 0.1, 24.0)]
    assert "median child's is 451 after epoch 0" in explosion(rows[:2], num_classes=10)
    assert explosion(rows, num_classes=10) is None  # median 23.0 <= 10 ln 10 = 23.03
    assert "exploded" in explosion([*rows, (2, 12, "a", 0.1, float("nan")), (2, 12, "b", 0.1, 1.0)], 10)
    assert explosion([], 10) is None


def _resume_cfg(make_cfg, folder, *overrides):
    cfg = make_cfg("experiment=smoke", "logger=csv", *overrides)
    from omegaconf import open_dict

    with open_dict(cfg):
        cfg.paths.output_dir = str(folder)
        cfg.callbacks.ranking.output_dir = str(folder)
        cfg.callbacks.checkpoint.dirpath = str(folder / "checkpoints")
    return cfg


@pytest.fixture(scope="module")
def finished(tmp_path_factory, cache_dir) -> Path:
    out = tmp_path_factory.mktemp("finished")
    run_main("experiment=smoke", "logger=csv", f"paths.cache_dir={cache_dir}", f"hydra.run.dir={out}")
    return out


BAD_CHECKPOINTS = [
    ("garbage", "ckpt_path", "a readable Lightning checkpoint of this benchmark (UnpicklingError"),
    ("truncated", "ckpt_path", "a readable Lightning checkpoint of this benchmark"),
    ("not ours", "ckpt_path", "a checkpoint of a search run (this one lacks loops, epoch, sampler, rng_states)"),
    ("other supernet", "ckpt_path", "tensors differ: supernet.head.1.2.bias: absent in the checkpoint"),
    ("other settings", "ckpt_path", "module.optimizer.lr=0.05 there, 0.1 here"),
    ("other settings on resume", "resume", "sampler._target_='benchmark.samplers.UniformSampler' there"),
]


@pytest.mark.parametrize("case, key, message", BAD_CHECKPOINTS, ids=[c[0] for c in BAD_CHECKPOINTS])
def test_a_checkpoint_that_cannot_continue_this_run_is_refused_naming_why(make_cfg, finished, tmp_path, case, key,
                                                                           message):
    from hydra.utils import get_method

    from benchmark.errors import find_config_error

    last = finished / "checkpoints" / "last.ckpt"
    bad = tmp_path / "bad.ckpt"
    overrides = [f"ckpt_path={bad}"]
    if case == "garbage":
        bad.write_bytes(b"not a checkpoint at all\n" * 10)
    elif case == "truncated":
        bad.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    elif case == "not ours":
        torch.save({"state_dict": {}}, bad)
    elif case == "other supernet":
        overrides = [f"ckpt_path={last}", "sharing=none"]
    elif case == "other settings":
        overrides = [f"ckpt_path={last}", "module.optimizer.lr=0.1"]
    else:
        overrides = ["resume=true", "sampler=round_robin"]
    folder = finished if case == "other settings on resume" else tmp_path / "run"
    cfg = _resume_cfg(make_cfg, folder, *overrides)
    with pytest.raises(Exception) as raised:
        get_method(cfg.task.fn)(cfg)
    error = find_config_error(raised.value)
    assert error is not None and error.key == key, repr(raised.value)
    assert message in str(error)
