"""User-facing configuration errors: one exception type that `run.py` prints without a traceback."""
from __future__ import annotations

from typing import Any


class ConfigError(ValueError):
    """A configuration value that cannot work, reported with the key, the value and what would work."""

    def __init__(self, key: str, value: Any, allowed: str) -> None:
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key}={value!r} is not valid: {allowed}")


def require(condition: bool, key: str, value: Any, allowed: str) -> None:
    """Raise ConfigError unless `condition` holds."""
    if not condition:
        raise ConfigError(key, value, allowed)


def find_config_error(error: BaseException) -> ConfigError | None:
    """The ConfigError behind `error`, if any (Hydra and Lightning wrap exceptions raised in user code)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, ConfigError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None
