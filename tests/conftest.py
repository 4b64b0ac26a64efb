"""Shared fixtures: composed configs (as `run.py` would see them), a data cache, and a small trainer."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("WANDB_SILENT", "true")


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
    """Run `python run.py ...` the way a user does (W&B offline unless `env` says otherwise)."""
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "HYDRA_FULL_ERROR": "0", **(env or {})}
    if env.get("WANDB_API_KEY") is None:
        env.pop("WANDB_API_KEY", None)
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), *overrides], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"run.py {' '.join(overrides)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc
