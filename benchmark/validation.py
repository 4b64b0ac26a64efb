"""Checks of the composed config that no class of ours owns (seed, optimizer, schedule, trainer limits), run before
anything is built, so that a user's mistake fails at once with one line naming the key, the value and what works."""
from __future__ import annotations

from omegaconf import DictConfig


def validate(cfg: DictConfig) -> None:
    """Raise ConfigError for the first value that cannot work."""
