"""Which command-line overrides make a run another variant of a study, and the study's name.

Runs that differ only in result-neutral overrides (conf/config.yaml's `neutral`: the seed, where and how they log,
resuming, speed settings) are one study: W&B groups them and the report aggregates them. Any other override -
`sharing.groups=8`, `trainer.devices=2` - is another variant, so it is part of the study's name (`${variant:...}` in
conf/config.yaml) as well as of the report's variant label.
"""
from __future__ import annotations

import fnmatch
import functools
import hashlib
from typing import Iterable, Sequence

import yaml
from omegaconf import OmegaConf

from benchmark import CONF

#: Choices the study's name spells out already; the task is W&B's job type.
NAMED_IN_STUDY = ("data=", "search_space=", "sharing=", "sampler=", "task=")
#: Keeps group names readable and under 128 characters (the base name is at most ~45); longer suffixes end in a hash.
MAX_SUFFIX = 80


@functools.cache
def default_neutral() -> tuple[str, ...]:
    """conf/config.yaml's `neutral` globs: for runs whose recorded config predates the key."""
    return tuple(yaml.safe_load((CONF / "config.yaml").read_text())["neutral"])


def is_neutral(key: str, neutral: Sequence[str]) -> bool:
    """Whether an override's key matches a glob of `neutral` ('*' crosses dots: 'logger.*' covers
    'logger.wandb.offline')."""
    return any(fnmatch.fnmatchcase(key, glob) for glob in neutral)


def variant_overrides(overrides: Iterable[str], neutral: Sequence[str] | None = None) -> dict[str, str]:
    """The overrides that make a variant, as key -> value ('+' and '~' prefixes dropped); `neutral`: the run's
    result-neutral globs (conf/config.yaml's by default)."""
    neutral = default_neutral() if neutral is None else neutral
    pairs = [o.lstrip("+~").partition("=") for o in overrides]
    return {key: value for key, _, value in pairs if not is_neutral(key, neutral)}


def study_suffix(overrides: Iterable[str], neutral: Sequence[str] | None = None) -> str:
    """'' for a plain study, else '-' and the variant's overrides (sorted), e.g. '-sharing.groups=8'."""
    kept = [f"{k}={v}" for k, v in sorted(variant_overrides(overrides, neutral).items())
            if not f"{k}=".startswith(NAMED_IN_STUDY)]
    suffix = ",".join(kept)
    if len(suffix) > MAX_SUFFIX:
        suffix = f"{suffix[:MAX_SUFFIX - 9]}~{hashlib.sha1(suffix.encode()).hexdigest()[:8]}"
    return f"-{suffix}" if suffix else ""


def _resolve_variant(overrides: Sequence[str] | None, neutral: Sequence[str] | None = None) -> str:
    """`${variant:...}`; a `neutral` that is not a list is left to benchmark/validation.py to name."""
    return study_suffix(overrides or [], list(neutral) if isinstance(neutral, Sequence) else None)


OmegaConf.register_new_resolver("variant", _resolve_variant, replace=True)
