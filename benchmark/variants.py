"""Which command-line overrides make a run another variant of a study, and the study's name.

Runs that differ only in `seed` (or in where and how they log, or in resuming) are one study: W&B groups them and
the report aggregates them. Any other override - `sharing.groups=8`, `trainer.devices=2` - is another variant, so it
is part of the study's name (`${variant:...}` in conf/config.yaml) as well as of the report's variant label.
"""
from __future__ import annotations

import hashlib
from typing import Iterable

from omegaconf import OmegaConf

# Overrides that do not change what a run ranks (the interference probe is tested to leave rankings untouched, and
# so are stacking in the ranking, callbacks.ranking.block, and dense snapshots, which add rankings after the last
# steps without touching any RNG; top_k only says how many children the console and W&B show; the ground-truth shard
# is one job's share of one table).
# A resumed run is the same run, on whatever hardware; more devices are not (DDP shards the data: another effective
# batch size), so trainer.devices splits variants. The thread count changes results only in their last digits: the
# report warns when the runs of one variant differ in it (environment.json) instead of splitting them.
IGNORED_OVERRIDE_PREFIXES = ("seed=", "hydra.", "paths.", "logger", "resume=", "ckpt_path=", "trainer.accelerator",
                             "callbacks=with_interference", "callbacks.interference", "callbacks.ranking.block=",
                             "callbacks.ranking.dense_steps=", "callbacks.ranking.top_k=", "gt_shard=",
                             "gt_num_shards=", "threads=")
#: Choices the study's name spells out already; the task is W&B's job type.
NAMED_IN_STUDY = ("data=", "search_space=", "sharing=", "sampler=", "task=")
#: Keeps group names readable and under 128 characters (the base name is at most ~45); longer suffixes end in a hash.
MAX_SUFFIX = 80


def variant_overrides(overrides: Iterable[str]) -> dict[str, str]:
    """The overrides that make a variant, as key -> value ('+' and '~' prefixes dropped)."""
    kept = [o.lstrip("+~") for o in overrides if not o.lstrip("+~").startswith(IGNORED_OVERRIDE_PREFIXES)]
    return dict(o.split("=", 1) if "=" in o else (o, "") for o in kept)


def study_suffix(overrides: Iterable[str]) -> str:
    """'' for a plain study, else '-' and the variant's overrides (sorted), e.g. '-sharing.groups=8'."""
    kept = [f"{k}={v}" for k, v in sorted(variant_overrides(overrides).items())
            if not f"{k}=".startswith(NAMED_IN_STUDY)]
    suffix = ",".join(kept)
    if len(suffix) > MAX_SUFFIX:
        suffix = f"{suffix[:MAX_SUFFIX - 9]}~{hashlib.sha1(suffix.encode()).hexdigest()[:8]}"
    return f"-{suffix}" if suffix else ""


OmegaConf.register_new_resolver("variant", lambda overrides: study_suffix(overrides or []), replace=True)
