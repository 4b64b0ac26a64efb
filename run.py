"""Entry point: `python run.py [task=search] [key=value ...]`, or `-m` for a sweep. Dispatches on `task`."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import get_method
from omegaconf import DictConfig

from benchmark import threads
from benchmark.errors import EXIT_CONFIG, EXIT_INTERRUPTED, ConfigError, RunFailed, find_config_error
from benchmark.folder_lock import discard_failed_run
from benchmark.validation import check_moved, validate

log = logging.getLogger("run")


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg: DictConfig) -> None:
    try:
        validate(cfg)
        threads.record(cfg.paths.output_dir, *threads.apply(cfg))  # once per process, before the task builds anything
        get_method(cfg.task.fn)(cfg)
    except RunFailed as e:  # recorded in the run's status.json; a sweep goes on with its other jobs, unless stopped
        log.error("%s", e)
        print(f"error: {e}", file=sys.stderr)
        if e.code == EXIT_INTERRUPTED or HydraConfig.get().mode != RunMode.MULTIRUN:
            raise SystemExit(e.code)
    except Exception as e:  # a user's mistake gets one line, not a traceback
        error = find_config_error(e)
        if error is None:
            raise
        log.error("configuration error: %s", error)
        print(f"error: {error}", file=sys.stderr)
        discard_failed_run(Path(HydraConfig.get().runtime.output_dir))
        raise SystemExit(EXIT_CONFIG)


if __name__ == "__main__":
    try:
        check_moved(sys.argv[1:])
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG)
    main()
