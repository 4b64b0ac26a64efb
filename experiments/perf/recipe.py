"""What the figures time, composed from conf/ as `run.py` composes it: the data, space, sampler and SGD recipes of a
run, so that a change to a config's recipe changes the speed figures with it."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig

from benchmark import CONF
from benchmark.data import ArrayDataModule
from benchmark.samplers import Sampler
from benchmark.sharing import SharingPolicy
from benchmark.spaces import DataShape, SearchSpace
from experiments.perf.clock import accelerator

#: conf/search_space options that `--spaces` measures.
SPACES = ("chain", "deeper_insights", "nb201", "transformer")
Optimizer = Callable[..., torch.optim.Optimizer]
Batches = list[tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class Recipe:
    """The run `python run.py <overrides>` would make, built part by part; the data is loaded once, when first used."""

    overrides: tuple[str, ...]

    @classmethod
    def default(cls, cache_dir: str, device: torch.device) -> Recipe:
        """The default study, its data cached in `cache_dir` and its trainer for `device`."""
        return cls((f"paths.cache_dir={cache_dir}", "paths.root_dir=.", "paths.output_dir=.",
                    f"trainer={accelerator(device)}"))

    def but(self, *overrides: str) -> Recipe:
        return Recipe((*self.overrides, *overrides))

    @cached_property
    def cfg(self) -> DictConfig:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return compose("config", overrides=list(self.overrides))

    @cached_property
    def data(self) -> ArrayDataModule:
        dm: ArrayDataModule = instantiate(self.cfg.data)
        dm.setup()
        return dm

    def ranking_batches(self, device: torch.device) -> tuple[Batches, list[torch.Tensor]]:
        """What a ranking reads, on `device`: the validation batches and the training batches that re-calibrate
        BatchNorm (`callbacks.ranking.calib_batches` of them)."""
        val = [(x.to(device), y.to(device)) for x, y in self.data.val_dataloader()]
        calib = [x.to(device) for x in self.data.calibration_inputs(self.cfg.callbacks.ranking.calib_batches)]
        return val, calib

    @property
    def shape(self) -> DataShape:
        """The data's shape, known without loading it."""
        return instantiate(self.cfg.data).shape

    def space(self) -> SearchSpace:
        return instantiate(self.cfg.search_space)

    def sharing(self) -> SharingPolicy:
        return instantiate(self.cfg.sharing)

    def sampler(self, space: SearchSpace) -> Sampler:
        return instantiate(self.cfg.sampler, space=space)

    @property
    def optimizer(self) -> Optimizer:
        """The supernet's optimizer (`module.optimizer`), to be called with the parameters."""
        return instantiate(self.cfg.module.optimizer)

    @property
    def standalone_optimizer(self) -> Optimizer:
        """The optimizer children are trained with alone for ground truth (`ground_truth.optimizer`)."""
        return instantiate(self.cfg.ground_truth.optimizer)
