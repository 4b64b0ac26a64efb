"""A run (or sweep) folder is owned by one process at a time.

Two `resume=true` runs in one pinned folder would both train, write every row of `metrics.csv` twice and overwrite each
other's checkpoints. A Hydra callback takes an exclusive lock on `<folder>/.lock` (holding the owner's pid) before Hydra
writes anything there; a second process stops at once with one line naming the owner. The kernel drops the lock when
its process dies, so a killed run never leaves a stale lock behind.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from benchmark.errors import EXIT_CONFIG, ConfigError

LOCK = ".lock"
#: The job name Lightning gives the copies of the script it re-launches for DDP ranks > 0, in the same run folder.
DDP_RELAUNCH = "train_ddp_process_"


def _fail(error: ConfigError) -> None:
    print(f"error: {error}", file=sys.stderr)
    raise SystemExit(EXIT_CONFIG)


class FolderLock(Callback):
    #: folder -> open lock file of this process (a process that runs Hydra again in one folder, as tests do, keeps it)
    held: dict[Path, int] = {}
    #: run and sweep folders this process created: everything in them is its own
    created: set[Path] = set()

    def acquire(self, folder: Path, key: str) -> None:
        folder = folder.resolve()
        if folder in self.held:
            return
        try:
            if not folder.exists():
                folder.mkdir(parents=True)
                self.created.add(folder)
            fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            _fail(ConfigError(key, str(folder), f"a folder this user can create and write ({e.strerror})"))
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            _fail(ConfigError(key, str(folder), f"a folder no other process is using (process {owner} runs in it: "
                                                f"wait for it to end, stop it, or pick another folder)"))
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.held[folder] = fd

    def release(self, folder: Path) -> None:
        fd = self.held.pop(folder.resolve(), None)
        if fd is not None:
            os.close(fd)  # the file stays: removing it would race with a process about to lock it

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        if config.hydra.job.name.startswith(DDP_RELAUNCH):  # rank > 0 of a re-launched DDP run: rank 0 holds it
            return
        self.acquire(Path(config.hydra.run.dir), "hydra.run.dir")

    def on_run_end(self, config: DictConfig, **kwargs: Any) -> None:
        self.release(Path(config.hydra.run.dir))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.acquire(Path(config.hydra.sweep.dir), "hydra.sweep.dir")

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self.release(Path(config.hydra.sweep.dir))


def discard_failed_run(folder: Path) -> bool:
    """Remove the folder of a run that a configuration error stopped before it began, if this process created it (or
    the sweep folder it is in) and it holds no results (no CSV, no checkpoint): an empty run folder under outputs/
    only misleads. A sweep folder left with no job folder goes too. A folder that was there before (a pinned or
    resumed run) is kept."""
    folder = folder.resolve()
    sweep = folder.parent
    if not folder.is_dir() or any(folder.rglob("*.csv")) or any(folder.rglob("*.ckpt")):
        return False
    if folder in FolderLock.created:
        shutil.rmtree(folder, ignore_errors=True)
        FolderLock.created.discard(folder)
        FolderLock().release(folder)
        return True
    if sweep not in FolderLock.created:
        return False
    shutil.rmtree(folder, ignore_errors=True)
    if all(entry.name in (LOCK, "multirun.yaml") for entry in sweep.iterdir()):
        shutil.rmtree(sweep, ignore_errors=True)
        FolderLock.created.discard(sweep)
        FolderLock().release(sweep)
    return True
