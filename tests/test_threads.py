"""Intra-op threads (benchmark/threads.py): the rule behind `threads: auto`, what wins over it, bad values, and that
a real run, its DDP workers included, uses the count it logs and records."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest
import torch

from benchmark import threads
from benchmark.errors import ConfigError
from benchmark.validation import validate
from tests.conftest import run_cli, run_main

SMOKE = ["experiment=smoke", "trainer.limit_train_batches=2", "logger=csv"]


@pytest.fixture
def torch_threads(monkeypatch):
    """Put back torch's thread count and OMP_NUM_THREADS after a test that applies a choice in this process."""
    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "_exported", None)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize(("cores", "processes", "expected"), [
    (1, 1, 1), (2, 1, 1), (3, 1, 1), (4, 1, 2), (16, 1, 8), (16, 2, 4), (16, 3, 2), (2, 2, 1), (2, 8, 1), (64, 4, 8)])
def test_auto_uses_half_of_each_process_share_of_the_cores(cores, processes, expected):
    count, reason = threads.choose("auto", cores, processes, None, f"{cores} cores usable")
    assert count == expected
    assert reason.startswith(f"{cores} cores usable, {processes} process")
    assert f"half of {max(1, cores // processes)} per process" in reason


def test_an_explicit_count_wins_and_auto_honours_omp_num_threads():
    assert threads.choose(3, 16, 1, "5") == (3, "threads=3 in the config")
    assert threads.choose("auto", 16, 1, "5") == (5, "OMP_NUM_THREADS=5 in the environment")
    for unusable in ("0", "", "two", "4,2"):  # not a count: the rule decides
        assert threads.choose("auto", 16, 1, unusable)[0] == 8


def test_cgroup_quota_v2_and_v1(tmp_path):
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cpu.max").write_text("max 100000\n")
    assert threads.cgroup_cores(v2) is None
    (v2 / "cpu.max").write_text("150000 100000\n")
    assert threads.cgroup_cores(v2) == 1.5
    v1 = tmp_path / "v1" / "cpu"
    v1.mkdir(parents=True)
    (v1 / "cpu.cfs_quota_us").write_text("-1\n")
    (v1 / "cpu.cfs_period_us").write_text("100000\n")
    assert threads.cgroup_cores(tmp_path / "v1") is None
    (v1 / "cpu.cfs_quota_us").write_text("50000\n")
    assert threads.cgroup_cores(tmp_path / "v1") == 0.5
    assert threads.cgroup_cores(tmp_path / "none") is None
    assert threads.usable_cores(tmp_path / "v1") == (1, "cgroup quota of 0.5 cores")  # never below one core
    affinity = len(os.sched_getaffinity(0))
    assert threads.usable_cores(tmp_path / "none")[0] == affinity


def test_processes_per_node_counts_ddp_ranks(make_cfg):
    assert threads.processes_per_node(make_cfg()) == 1
    assert threads.processes_per_node(make_cfg("trainer=ddp_cpu")) == 2
    assert threads.processes_per_node(make_cfg("trainer=ddp_cpu", "trainer.devices=3")) == 3
    assert threads.processes_per_node(make_cfg("trainer=ddp_cpu", "trainer.devices=[0,1,2,3]")) == 4


@pytest.mark.parametrize("value", [0, -1, 1.5, "abc", True, None, "AUTO"])
def test_a_bad_thread_count_is_a_config_error(make_cfg, value):
    cfg = make_cfg()
    cfg.threads = value
    with pytest.raises(ConfigError, match=r"^threads=.* is not valid: auto \(half of this process's share"):
        validate(cfg)


def test_a_bad_thread_count_stops_run_py_with_one_line(tmp_path):
    proc = run_main("threads=0", f"hydra.run.dir={tmp_path}", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "error: threads=0 is not valid: auto (half of this process's share of the usable cores" in proc.stderr


def test_apply_sets_torch_and_exports_the_count_once_per_process(make_cfg, torch_threads, monkeypatch, caplog):
    cfg = make_cfg("threads=3")
    with caplog.at_level(logging.INFO, logger="benchmark.threads"):
        assert threads.apply(cfg)[0] == 3
    assert torch.get_num_threads() == 3 and os.environ["OMP_NUM_THREADS"] == "3"
    assert "threads: 3 intra-op threads (threads=3 in the config; load " in caplog.text
    # a later job of a sweep in this process: its own export is not the user's
    monkeypatch.setattr(threads, "usable_cores", lambda: (4, "4 cores usable"))
    assert threads.apply(make_cfg())[0] == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the user's (or a parent run's): honoured under auto
    assert threads.apply(make_cfg())[0] == 1 and torch.get_num_threads() == 1


def test_a_busy_machine_is_warned_about_but_does_not_change_the_count(make_cfg, torch_threads, monkeypatch, caplog):
    monkeypatch.setattr(threads, "usable_cores", lambda: (4, "4 cores usable"))
    monkeypatch.setattr(threads, "machine_load", lambda: 3.5)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    with caplog.at_level(logging.INFO, logger="benchmark.threads"):
        count, reason = threads.apply(make_cfg())
    assert count == 2 and reason == "4 cores usable, 1 process: half of 4 per process, at least 1; load 3.5"
    assert "the machine is busy (load 3.5 on 4 cores)" in caplog.text


def test_a_run_logs_and_records_its_threads(console_run):
    text, out, _ = console_run
    log = (out / "run.log").read_text() if (out / "run.log").exists() else text
    assert "threads: 1 intra-op thread (threads=1 in the config; load " in log
    env = json.loads((out / threads.ENVIRONMENT).read_text())
    assert env["threads"] == 1 and env["torch"] == torch.__version__ and env["cpu"]
    assert json.loads((out / "threads_rank0.json").read_text()) == {"torch": 1, "env": "1"}


@pytest.mark.slow
@pytest.mark.xdist_group("ddp")  # with tests/test_ddp.py's runs, one at a time
def test_spawned_ddp_workers_use_the_chosen_count(tmp_path, cache_dir):
    lightning = max(1, len(os.sched_getaffinity(0)) // 2)  # what Lightning would give each of the 2 workers
    count = 2 if lightning == 1 else 1  # another count, and no more than the cores (torch caps OMP_NUM_THREADS there)
    if count > len(os.sched_getaffinity(0)):
        pytest.skip("one core: no count tells the export from Lightning's own")
    out = tmp_path / "ddp"
    run_cli(*SMOKE, "trainer=ddp_cpu", f"threads={count}", f"hydra.run.dir={out}", f"paths.cache_dir={cache_dir}",
            "+callbacks.threads._target_=tests.helpers.RecordThreads", f"+callbacks.threads.output_dir={out}",
            timeout=300)
    for rank in (0, 1):  # spawned workers do not inherit torch.set_num_threads; they read the exported variable
        assert json.loads((out / f"threads_rank{rank}.json").read_text()) == {"torch": count, "env": str(count)}


def test_environment_records_the_instruction_set_torch_dispatches_to():
    """Two machines with the same CPU name can run different kernels (AVX2 vs AVX512): environment.json says which."""
    code = "from benchmark.threads import environment; print(environment(1, 'test')['cpu_capability'])"
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default"}
    forced = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert forced.stdout.strip() == "DEFAULT"
    assert threads.environment(1, "test")["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
