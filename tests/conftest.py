"""Shared fixtures: composed configs (as `run.py` would see them), a data cache, and `run.py` run in a subprocess
(`run_cli`), in a process forked from a server that has done the imports (`run_forked`) or in this process
(`run_main`)."""
from __future__ import annotations

import contextlib
import inspect
import io
import json
import logging
import os
import runpy
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterator
from unittest import mock

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from benchmark import threads
from benchmark.folder_lock import FolderLock

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


@pytest.hookimpl(optionalhook=True)  # an xdist hook: this file loads without the plugin too
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`pytest` runs on `-n auto` workers (pytest.ini): one per core this process may use (its affinity capped by its
    cgroup's quota, as `threads=auto` counts them), not one per core of the host a container shares. No workers (the
    suite in this process) where there is one core; PYTEST_XDIST_AUTO_NUM_WORKERS still decides where it is set."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    cores = threads.usable_cores()[0]
    return cores if cores > 1 else 0


CHEAP_SHARED = {"one_thread", "cache_dir", "fork_server_stopped"}


#: What makes a test a `cli` test (it starts a process of its own) or an `integration` test (it composes the real
#: config, trains, or builds a whole report), read from its source and its fixtures'; any other test is a `unit` test.
CLI_CALLS = ("run_cli(", "run_forked(", "subprocess.")
INTEGRATION_CALLS = ("run_main(", "make_cfg(", "cache_dir", "build_report(", "build_by_space(", "on_multirun_end(")


def _kind(sources: list[str]) -> str:
    if any(call in text for text in sources for call in CLI_CALLS):
        return "cli"
    return "integration" if any(call in text for text in sources for call in INTEGRATION_CALLS) else "unit"


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups off the items
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test `unit`, `integration` or `cli` (`pytest -m unit`: the quick ones). Keep the tests that share
    one of our module- or session-scoped fixtures on one xdist worker (`--dist loadgroup`): such a fixture is an
    expensive run, and each worker would otherwise make it again. The cheap ones (a thread count, an empty cache
    folder, the fork server's teardown) may be made by every worker."""
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        ours = {name: defs[-1] for name, defs in (info.name2fixturedefs.items() if info else ())
                if ROOT / "tests" in Path(inspect.getfile(defs[-1].func)).parents}
        function = getattr(item, "function", None)
        sources = [inspect.getsource(f) for f in [function, *(d.func for d in ours.values())] if f is not None]
        item.add_marker(_kind(sources + [" ".join(ours)]))
        shared = sorted(name if d.scope == "session" else f"{item.module.__name__}.{name}"
                        for name, d in ours.items() if d.scope in ("module", "session") and name not in CHEAP_SHARED)
        if shared:
            item.add_marker(pytest.mark.xdist_group("+".join(shared)))


@pytest.fixture(scope="session", autouse=True)
def one_thread() -> None:
    """Tests that train in this process use one intra-op thread, as `threads=1` would: their tiny kernels run fastest
    so, and on a busy machine a second thread stalls them (docs/performance.md, "Threads")."""
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One MNIST-1D cache for the whole session (generation takes seconds)."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def make_cfg(tmp_path: Path, cache_dir: Path) -> Callable[..., DictConfig]:
    """Compose the real config with overrides, outputs under tmp_path, as Hydra would for `run.py`."""

    def make(*overrides: str) -> DictConfig:
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            cfg = compose("config", overrides=list(overrides), return_hydra_config=True)
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = str(tmp_path / "out")
            cfg.hydra.runtime.cwd = str(ROOT)
            cfg.paths.cache_dir = str(cache_dir)
            cfg.paths.output_dir = str(tmp_path / "out")
        HydraConfig.instance().set_config(cfg)
        with open_dict(cfg):
            del cfg["hydra"]  # the task function never sees it
        return cfg

    yield make
    GlobalHydra.instance().clear()


def run_cli(*overrides: str, cwd: Path = ROOT, check: bool = True, timeout: int = 300,
            env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess:
    """Run `python run.py ...` the way a user does (W&B offline and silent without an API key, unless `env` says
    otherwise; None in `env` unsets a variable)."""
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "HYDRA_FULL_ERROR": "0",
           "WANDB_API_KEY": None, **(env or {})}
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), *overrides], cwd=cwd, timeout=timeout,
                          env={k: v for k, v in env.items() if v is not None}, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"run.py {' '.join(overrides)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


# A server that has imported what run.py needs and forks a child for each `run_forked` (multiprocessing's forkserver,
# for run.py): it computes nothing itself, so it holds no threads or thread pools a fork could leave broken.
FORK_SERVER = r"""
import atexit, json, os, runpy, sys, threading, traceback
sys.path[0] = os.getcwd()  # run.py's folder, as `python run.py` puts it first
import mnist1d.data, pytorch_lightning, torch  # noqa: F401  (not wandb: it makes temporary folders on import,
import run, benchmark.report, benchmark.tasks.search  # noqa: F401  which the first child to end would delete)
while (line := sys.stdin.readline()):
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:  # the child: run.py as `python run.py ...` runs it, its console in files, then a normal exit
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        for fd, path, mode in ((0, os.devnull, os.O_RDONLY), (1, request["stdout"], os.O_WRONLY),
                               (2, request["stderr"], os.O_WRONLY)):
            opened = os.open(path, mode)
            os.dup2(opened, fd)
            os.close(opened)
        sys.stdin = open(0, closefd=False)
        sys.argv = request["argv"]
        try:
            runpy.run_path(request["argv"][0], run_name="__main__")
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 0 if e.code is None else print(e.code, file=sys.stderr) or 1
        except BaseException:
            traceback.print_exc()
            code = 1
        # The end of a Python process (its threads joined, atexit, the streams flushed) but the ~3 s of tearing down
        # torch's modules, which leaves nothing behind.
        threading._shutdown()
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    print(pid, flush=True)
    print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)
"""
_fork_server: subprocess.Popen | None = None


def _server() -> subprocess.Popen:
    global _fork_server
    if _fork_server is None or _fork_server.poll() is not None:
        log = tempfile.TemporaryFile()
        _fork_server = subprocess.Popen([sys.executable, "-c", FORK_SERVER], cwd=ROOT, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=log, text=True)
        _fork_server.log = log
    return _fork_server


def _reply(server: subprocess.Popen) -> int:
    line = server.stdout.readline()
    if not line:
        server.log.seek(0)
        raise RuntimeError(f"the fork server ended:\n{server.log.read().decode()[-4000:]}")
    return int(line)


@pytest.fixture(scope="session", autouse=True)
def fork_server_stopped() -> Iterator[None]:
    yield
    if _fork_server is not None:
        _fork_server.stdin.close()  # the server ends at the end of its input
        _fork_server.wait(timeout=60)


def run_forked(*overrides: str, cwd: Path = ROOT, check: bool = True, timeout: int = 300,
               env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess:
    """`run_cli` without its ~5 s of imports and ~3 s of teardown: `python run.py ...` in a process of its own (a
    SIGKILL or SIGTERM ends that process, DDP spawns its workers from it, its exit code and console are its own),
    forked from a server that has already imported torch, Lightning, Hydra and the benchmark (not W&B). What only a
    fresh interpreter shows (warnings printed while importing) is tested with `run_cli` (`console_run`), which this
    falls back to where there is no fork server (off Linux)."""
    if sys.platform != "linux":
        return run_cli(*overrides, cwd=cwd, check=check, timeout=timeout, env=env)
    global _fork_server
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "HYDRA_FULL_ERROR": "0",
           "WANDB_API_KEY": None, **(env or {})}
    server = _server()
    with tempfile.TemporaryDirectory() as folder:
        out, err = Path(folder, "stdout"), Path(folder, "stderr")
        out.touch()
        err.touch()
        request = {"argv": [str(ROOT / "run.py"), *overrides], "cwd": str(cwd), "stdout": str(out),
                   "stderr": str(err), "env": {k: v for k, v in env.items() if v is not None}}
        fired = threading.Event()
        try:
            server.stdin.write(json.dumps(request) + "\n")
            server.stdin.flush()
            pid = _reply(server)

            def kill() -> None:  # as subprocess.run does on a timeout
                fired.set()
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

            timer = threading.Timer(timeout, kill)
            timer.start()
            try:
                code = _reply(server)
            finally:
                timer.cancel()
        except BaseException:  # interrupted between a request and its reply: start a new server next time
            server.kill()
            _fork_server = None
            raise
        if fired.is_set():
            raise subprocess.TimeoutExpired(request["argv"], timeout, out.read_text(), err.read_text())
        proc = subprocess.CompletedProcess(request["argv"], code, out.read_text(), err.read_text())
    if check and proc.returncode != 0:
        raise AssertionError(f"run.py {' '.join(overrides)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc


@pytest.fixture(scope="session")
def console_run(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> tuple[str, Path, Path]:
    """A two-epoch search run as a user starts it, in a process of its own, with the default loggers (W&B offline, not
    silenced by the caller) and threads=1, recording the threads training used (`threads_rank0.json`). Its console,
    its folder and its W&B run folder."""
    out = tmp_path_factory.mktemp("console") / "run"
    proc = run_cli("experiment=smoke", "trainer.limit_train_batches=4", "trainer.max_epochs=2", "logger=default",
                   "threads=1", "+callbacks.threads._target_=tests.helpers.RecordThreads",
                   f"+callbacks.threads.output_dir={out}", f"hydra.run.dir={out}", f"paths.cache_dir={cache_dir}",
                   env={"WANDB_SILENT": None})
    [run_dir] = (out / "wandb").glob("offline-run-*")
    return proc.stdout + proc.stderr, out, run_dir


@contextlib.contextmanager
def hydra_logging_undone() -> Iterator[None]:
    """Hydra points the root logger at the streams of the run; put back the handlers that were there before."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)


def run_main(*overrides: str, check: bool = True) -> subprocess.CompletedProcess:
    """`python run.py ...` in this process, for what needs no process of its own (a `python run.py` costs ~5 s of
    imports): run.py executed as __main__ (Hydra finds conf/ beside it, makes the run folder, validates, sets the
    threads, runs the task) as a process of its own would: with its own folder locks, released when it ends, and
    Hydra's global state, the environment and torch's thread count put back after it. Returns what `run_cli` does:
    the exit code and what went to stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}  # set, Hydra would raise instead
    count = torch.get_num_threads()
    GlobalHydra.instance().clear()
    with mock.patch.object(sys, "argv", ["run.py", *overrides]), mock.patch.dict(os.environ, env, clear=True), \
            mock.patch.object(threads, "_exported", None), mock.patch.object(FolderLock, "held", {}), \
            mock.patch.object(FolderLock, "created", set()), contextlib.redirect_stderr(err), \
            contextlib.redirect_stdout(out), hydra_logging_undone():
        try:
            runpy.run_path(str(ROOT / "run.py"), run_name="__main__")
            code = 0
        except SystemExit as e:
            code = e.code
        finally:
            for fd in FolderLock.held.values():  # what the kernel does when a process ends
                os.close(fd)
            GlobalHydra.instance().clear()
            torch.set_num_threads(count)
    proc = subprocess.CompletedProcess(["run.py", *overrides], code, out.getvalue(), err.getvalue())
    if check and code != 0:
        raise AssertionError(f"run.py {' '.join(overrides)} failed ({code}):\n{proc.stderr[-4000:]}")
    return proc
