"""User-facing configuration errors: one exception type that `run.py` prints without a traceback."""
from __future__ import annotations

import math
from typing import Any

from torch.multiprocessing import ProcessRaisedException


class ConfigError(ValueError):
    """A configuration value that cannot work, reported with the key, the value and what would work."""

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={value!r} is not valid: {allowed}")


def require(condition: bool, key: str, value: Any, allowed: str) -> None:
    """Raise ConfigError unless `condition` holds."""
    if not condition:
        raise ConfigError(key, value, allowed)


def is_int(value: Any) -> bool:
    """An integer and not a bool (YAML's `true` would pass `isinstance(value, int)` as 1)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite int or float, not a bool or a string: what a rate or a weight can be."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


#: Seeds are integers in [0, 2**32): numpy's range, which Lightning's `seed_everything` enforces too.
SEED_LIMIT = 2 ** 32


def require_seed(key: str, value: Any) -> None:
    """One rule for every seed of the config, so that none fails deep inside numpy or torch."""
    require(is_int(value) and 0 <= value < SEED_LIMIT, key, value, f"an integer from 0 to {SEED_LIMIT - 1}")


#: Exit codes of `run.py` (docs/reliability.md): a configuration error; training went wrong (the loss became NaN or
#: infinite, or the validation loss exploded); the run was stopped by SIGTERM (its last epoch checkpoint is kept).
EXIT_CONFIG, EXIT_DIVERGED, EXIT_INTERRUPTED = 2, 3, 4


class RunFailed(RuntimeError):
    """A run that went wrong in a way its folder records (`status.json`); `run.py` exits with `code`."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class SpawnedConfigError(ConfigError):
    """A ConfigError raised in a spawned DDP process: only its text crosses the process boundary."""

    def __init__(self, message: str) -> None:
        ValueError.__init__(self, message)


_SPAWNED = f"{ConfigError.__module__}.{ConfigError.__qualname__}: "


def raised(error: BaseException, kind: type[BaseException]) -> str | None:
    """The message of the `kind` exception behind `error`, also when a spawned DDP process raised it (only its
    traceback's text comes back, naming it on its last line); None if there is none."""
    prefix = f"{kind.__module__}.{kind.__qualname__}: "
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, kind):
            return str(error)
        lines = [line for line in str(error).splitlines() if line.startswith(prefix)]
        if isinstance(error, ProcessRaisedException) and lines:
            return lines[-1][len(prefix):]
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def find_config_error(error: BaseException) -> ConfigError | None:
    """The ConfigError behind `error`, if any (Hydra and Lightning wrap exceptions raised in user code; a spawned DDP
    process sends back only the traceback's text, which names it on its last line)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, ConfigError):
            return error
        lines = [line for line in str(error).splitlines() if line.startswith(_SPAWNED)]
        if isinstance(error, ProcessRaisedException) and lines:
            return SpawnedConfigError(lines[-1][len(_SPAWNED):])
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None
