"""Entry point: `python run.py [task=search] [key=value ...]`, or `-m` for a sweep. Dispatches on `task`."""
from __future__ import annotations

import logging
import sys

import hydra
from hydra.utils import get_method
from omegaconf import DictConfig

from benchmark.errors import find_config_error

log = logging.getLogger("run")


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    try:
        get_method(cfg.task.fn)(cfg)
    except Exception as e:  # a user's mistake gets one line, not a traceback
        error = find_config_error(e)
        if error is None:
            raise
        log.error("configuration error: %s", error)
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2)


if __name__ == "__main__":
    main()
