"""What every task shares: building the study from the config, and closing W&B whatever happens."""
from __future__ import annotations

import functools
import logging
from typing import Any, Callable

import pytorch_lightning as pl
from hydra.utils import instantiate
from lightning_fabric.utilities.exceptions import MisconfigurationException
from pytorch_lightning.loggers import WandbLogger
from omegaconf import DictConfig, OmegaConf

from benchmark.console import quiet_console
from benchmark.data import ArrayDataModule
from benchmark.errors import ConfigError, require
from benchmark.loggers import finish_wandb
from benchmark.module import SupernetModule
from benchmark.samplers import PerGroupSampler, Sampler
from benchmark.spaces import SearchSpace
from benchmark.supernet import Supernet

log = logging.getLogger(__name__)


def task_wrapper(task: Callable[[DictConfig], Any]) -> Callable[[DictConfig], Any]:
    """Every task prints only what concerns the user, and always finishes the W&B run, also on exceptions: under
    Hydra multirun an open run swallows the next job's."""

    @functools.wraps(task)
    def wrapped(cfg: DictConfig) -> Any:
        quiet_console()  # ground truth and fine-tuning build Trainers of their own
        try:
            return task(cfg)
        finally:
            finish_wandb()  # and say in one line where the run is

    return wrapped


def build_study(cfg: DictConfig) -> tuple[ArrayDataModule, SupernetModule]:
    """Seed, then compose data, space, sharing policy, supernet, sampler and module from the config."""
    pl.seed_everything(cfg.seed, workers=True)
    datamodule: ArrayDataModule = instantiate(cfg.data)
    space = instantiate(cfg.search_space)
    sharing = instantiate(cfg.sharing)
    supernet = Supernet(space, sharing, datamodule.shape)
    sampler = build_sampler(cfg, space, sharing.trained_apart())
    module: SupernetModule = instantiate(cfg.module, supernet=supernet, sampler=sampler)
    return datamodule, module


def build_sampler(cfg: DictConfig, space: SearchSpace, groups: list[list[int]] | None) -> Sampler:
    """The configured sampler; for groups trained apart, one per group (group g seeded with sampler.seed + g)."""
    if groups is None:
        return instantiate(cfg.sampler, space=space)
    return PerGroupSampler(space, [instantiate(cfg.sampler, space=space, children=members, seed=cfg.sampler.seed + g)
                                   for g, members in enumerate(groups)])


def instantiate_all(node: DictConfig | None, given: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Instantiate every `_target_` entry of a dict node (callbacks, loggers), by its key; others are skipped. A task
    finds the callback it works with by that key (`ranking`), not by searching the trainer's callbacks, and hands an
    entry what only the task knows as arguments (`given`: key -> keyword arguments, e.g. the ranking's ground truth)."""
    if not node:
        return {}
    given = given or {}
    # Partial first: Hydra would turn a given dataclass (a GroundTruth) into a config; called, it gets the object.
    return {str(k): instantiate(v, _partial_=True)(**given.get(str(k), {})) for k, v in node.items()
            if isinstance(v, DictConfig) and "_target_" in v}


def build_trainer(cfg: DictConfig, callbacks: dict[str, pl.Callback] | None = None) -> pl.Trainer:
    """The configured Trainer with `callbacks` (default: the config's), its loggers started."""
    epochs = cfg.trainer.get("max_epochs")
    require(isinstance(epochs, int) and epochs >= 1, "trainer.max_epochs", epochs, "an integer >= 1")
    callbacks = instantiate_all(cfg.get("callbacks")) if callbacks is None else callbacks
    loggers = list(instantiate_all(cfg.get("logger")).values())
    try:
        trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=list(callbacks.values()), logger=loggers or False)
    except Exception as e:  # Lightning's own checks (devices, accelerator, strategy, limits) are user errors too
        cause = e.__cause__ or e
        if not isinstance(cause, (MisconfigurationException, ValueError)):
            raise
        t = cfg.trainer
        raise ConfigError("trainer", f"accelerator={t.get('accelerator')} devices={t.get('devices')} "
                          f"strategy={t.get('strategy', 'auto')}",
                          f"Lightning says: {cause} (without a GPU use trainer=cpu or trainer=ddp_cpu)") from e
    hparams = OmegaConf.to_container(cfg, resolve=True)
    for logger in list(trainer.loggers):
        try:
            logger.log_hyperparams(hparams)  # starts the W&B run
        except Exception as e:  # W&B must never break a run: no network, no key, a bad setting
            if not isinstance(logger, WandbLogger):
                raise
            log.warning("W&B could not start (%s: %s); continuing without it (CSV logging is unaffected)",
                        type(e).__name__, e)
            trainer.loggers = [other for other in trainer.loggers if other is not logger]
    return trainer
