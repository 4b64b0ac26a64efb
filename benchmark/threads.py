"""Intra-op threads: how many threads torch's kernels use in each process of a run (the config key `threads`).

`threads: auto` takes this process's share of the cores and uses half of it, at least 1 thread: the cores it may use
(its CPU affinity, capped by its cgroup's CPU quota) divided among the processes the run starts on this node (DDP
ranks, times the jobs a Hydra joblib launcher runs at once), halved, rounded down. The other half is headroom: torch's
OpenMP threads wait for each other at the end of every kernel, so when another process takes a core from one of them
the others stall, and the default supernet's small kernels then ran up to 77x slower with 2 threads on 2 cores than
with 1 (docs/performance.md, "Threads"), while on an idle machine a 2nd thread can earn at most 2x. The load is
logged, and warned about when it leaves fewer free cores than the run's threads, but it does not change the count:
the count changes results in their last digits, and the same command on the same machine must give the same bytes
whatever else runs there. An OMP_NUM_THREADS in the environment is honoured under `auto`; `threads: N` always wins.

The count is set once per process with `torch.set_num_threads` and exported as OMP_NUM_THREADS, which is how the
processes a run starts get it: spawned DDP workers do not inherit `torch.set_num_threads`, but read OMP_NUM_THREADS
when torch starts (and Lightning then leaves their count alone); re-launched DDP ranks run `run.py` again and find it.
"""
from __future__ import annotations

import logging
import math
import os
import platform
import sys
from pathlib import Path
from typing import Any

import torch

from benchmark.errors import is_int, require

log = logging.getLogger(__name__)

AUTO = "auto"
ALLOWED = ("auto (half of this process's share of the usable cores, at least 1) or an integer >= 1 (intra-op "
           "threads per process)")
CGROUP = Path("/sys/fs/cgroup")
#: The file of a run folder that records the thread count, the build and the hardware.
ENVIRONMENT = "environment.json"

_exported: str | None = None  # the OMP_NUM_THREADS this process exported (a later job of a sweep must not honour it)


def check(value: Any) -> None:
    """`threads` is auto or a positive integer."""
    require(value == AUTO or (is_int(value) and value >= 1), "threads", value, ALLOWED)


def cgroup_cores(root: Path = CGROUP) -> float | None:
    """The CPU quota of this process's cgroup in cores (v2 `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`),
    or None when there is none or it cannot be read."""
    try:
        if (root / "cpu.max").is_file():
            quota, period = (root / "cpu.max").read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        for folder in (root / "cpu", root / "cpu,cpuacct", root):
            if (folder / "cpu.cfs_quota_us").is_file():
                quota = int((folder / "cpu.cfs_quota_us").read_text())
                period = int((folder / "cpu.cfs_period_us").read_text())
                return None if quota <= 0 or period <= 0 else quota / period
    except (OSError, ValueError):
        return None
    return None


def usable_cores(root: Path = CGROUP) -> tuple[int, str]:
    """The whole cores this process may use (its affinity, capped by its cgroup's quota; at least 1), and what they
    are in words."""
    try:
        affinity = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        affinity = os.cpu_count() or 1
    quota = cgroup_cores(root)
    if quota is not None and quota < affinity:
        return max(1, math.floor(quota)), f"cgroup quota of {quota:g} cores"
    return affinity, f"{affinity} core{'s' if affinity != 1 else ''} usable"


def machine_load() -> float | None:
    """The 1-minute load average (runnable processes of the whole machine), or None where there is none."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def processes_per_node(cfg: Any) -> int:
    """Processes of this run that compute on this node at once: DDP ranks (trainer.devices when more than one; a run
    on several devices is a DDP run whatever its strategy says) times the jobs of a Hydra joblib launcher."""
    trainer = cfg.get("trainer") or {}
    devices = trainer.get("devices", 1)
    ranks = 1
    if is_int(devices) and devices >= 1:
        ranks = devices
    elif not isinstance(devices, str) and hasattr(devices, "__len__"):  # a list of device indices
        ranks = max(1, len(devices))
    elif devices in ("auto", -1) and trainer.get("accelerator") in ("gpu", "cuda", "auto"):
        ranks = max(1, torch.cuda.device_count())
    return ranks * launcher_jobs()


def launcher_jobs() -> int:
    """n_jobs of a Hydra joblib launcher in a multirun (joblib's meaning: -1 all cores, -2 all but one), else 1."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hydra = HydraConfig.get()
        if hydra.mode != RunMode.MULTIRUN or "Joblib" not in str(hydra.launcher.get("_target_", "")):
            return 1
        n_jobs = hydra.launcher.get("n_jobs", -1)
    except Exception:  # no Hydra app (a test, a notebook), or a launcher without those keys
        return 1
    if not is_int(n_jobs) or n_jobs == 0:
        return 1
    return max(1, n_jobs if n_jobs > 0 else _joblib_cores() + 1 + n_jobs)


def _joblib_cores() -> int:
    try:
        import joblib

        return joblib.cpu_count()
    except ImportError:
        return os.cpu_count() or 1


def from_joblib(env: str, jobs: int) -> bool:
    """Whether this OMP_NUM_THREADS is the one joblib's loky backend gives its workers when the user set none
    (its cores // n_jobs): then it says nothing about what the user asked for."""
    import multiprocessing

    return (jobs > 1 and type(multiprocessing.current_process()).__name__ == "LokyProcess"
            and env == str(max(1, _joblib_cores() // jobs)))


def choose(setting: Any, cores: int, processes: int, env: str | None = None, where: str = "") -> tuple[int, str]:
    """The intra-op threads per process and why: from the config value, the usable cores (`where` says what they are),
    the run's processes on this node and an OMP_NUM_THREADS from the environment (None: unset). Pure, so that the
    rule can be tested on any machine."""
    if is_int(setting):
        return setting, f"threads={setting} in the config"
    if env is not None and env.strip().isdigit() and int(env) >= 1:
        return int(env), f"OMP_NUM_THREADS={int(env)} in the environment"
    share = max(1, cores // processes)
    procs = f"{processes} process{'es' if processes != 1 else ''}"
    return max(1, share // 2), f"{where or f'{cores} cores usable'}, {procs}: half of {share} per process, at least 1"


def apply(cfg: Any) -> tuple[int, str]:
    """Choose the intra-op threads for this process from `cfg.threads` (absent: auto), set them, export them as
    OMP_NUM_THREADS for the processes the run starts, and log one line saying what and why (with the machine's load,
    and a warning when that load leaves fewer free cores than the run's threads)."""
    global _exported
    setting = cfg.get("threads", AUTO)
    check(setting)
    processes = processes_per_node(cfg)
    cores, where = usable_cores()
    env = os.environ.get("OMP_NUM_THREADS")
    if env is not None and (env == _exported or from_joblib(env, launcher_jobs())):
        env = None  # this process's own, from an earlier job of a sweep; or joblib's default for its workers
    threads, reason = choose(setting, cores, processes, env, where)
    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = _exported = str(threads)
    load = machine_load()
    if load is not None:
        reason += f"; load {load:.1f}"
    log.info("threads: %d intra-op thread%s (%s)", threads, "" if threads == 1 else "s", reason)
    machine = os.cpu_count() or cores
    if load is not None and threads > 1 and machine - load < threads * processes:
        log.warning("threads: the machine is busy (load %.1f on %d cores): with %d threads per process this run may "
                    "be several times slower than with threads=1", load, machine, threads)
    return threads, reason


def cpu_name() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), or what the platform module says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(threads: int, reason: str) -> dict[str, Any]:
    """What a run's numbers depend on besides its config: the build, the thread count and the hardware, including the
    instruction set torch's CPU kernels dispatch to (results are byte-identical only for the same build, thread count
    and instruction set: docs/reliability.md)."""
    import pytorch_lightning

    cuda = torch.cuda.is_available()
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else []
    return {"threads": threads, "threads_reason": reason, "torch": torch.__version__,
            "lightning": pytorch_lightning.__version__, "python": sys.version.split()[0], "cpu": cpu_name(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "cpu_count": os.cpu_count(),
            "cuda": torch.version.cuda, "gpus": gpus}


def record(output_dir: str | os.PathLike, threads: int, reason: str) -> None:
    """Write `environment.json` into the run folder (once per node: not from re-launched DDP ranks)."""
    from benchmark.io import write_json

    if os.environ.get("LOCAL_RANK", "0") == "0":
        write_json(Path(output_dir) / ENVIRONMENT, environment(threads, reason))
