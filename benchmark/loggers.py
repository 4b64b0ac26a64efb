"""The run's loggers: a CSV logger that survives a resume and a kill, and W&B as a user reads it.

CSV.
Lightning's CSVLogger deletes an existing `metrics.csv` when it starts, so resuming a killed run into its pinned folder
(`resume=true`) would lose the metrics of every epoch before the kill; it also writes only every 100 steps, appending in
place, so a kill could lose epochs or cut a row. This one keeps the earlier rows (those of epochs the resumed run logs
again, after its checkpoint, are replaced by the new ones) and rewrites the whole file atomically whenever something is
logged (a row per epoch; with the interference probe also a row every `log_every_n_steps`: still a small file), so
`metrics.csv` is never more than the current epoch behind and never half written.

W&B (`EpochWandbLogger`, conf/logger/wandb.yaml). Offline unless the environment says `WANDB_MODE=online`, which
streams the run live (with a key; a run that cannot start online goes on without W&B, see tasks/common.py). Quiet:
W&B's own console output (banner, run history, sync hints: some 35 lines a run) is off unless
`logger.wandb.verbose=true`; the run says one line instead, where it is and how to upload it (`finish_wandb`). Charted
against the epoch: `epoch` is every metric's step metric, so the x-axis of every chart is the epoch, except the
per-step metrics (`per_step`: the interference probe's), which keep `trainer/global_step`. Rows that would hold
nothing but step counters are not logged. The children ranked on top are no line charts of child indices:
`ranking/top<i>_child` stay in Lightning's callback metrics and metrics.csv (the MAGIC-A anchor reads the first) but
stay out of W&B, which gets the table `ranking/top_k` instead, one row per epoch and rank (`log_rows`).
"""
from __future__ import annotations

import csv
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

from lightning_fabric.loggers.logger import rank_zero_experiment
from lightning_fabric.utilities.logger import _add_prefix
from pytorch_lightning.loggers import CSVLogger, Logger, WandbLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.utilities.rank_zero import rank_zero_only

from benchmark.console import quiet_console
from benchmark.io import atomic_path

log = logging.getLogger(__name__)


class _ContinuingWriter(ExperimentWriter):
    def _check_log_dir_exists(self) -> None:
        """Read the earlier rows instead of deleting the file (the parent's behaviour)."""
        self.earlier: list[dict[str, Any]] = []
        self.written: list[dict[str, Any]] = []
        self.resumed_at: float | None = None  # the first epoch this process logs: earlier rows from there on go
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as file:
                self.earlier = [{k: v for k, v in row.items() if v != ""} for row in csv.DictReader(file)]

    def save(self) -> None:
        if not self.metrics:
            return
        if self.resumed_at is None:
            self.resumed_at = min((float(m["epoch"]) for m in self.metrics if "epoch" in m), default=float("inf"))
        self.written += self.metrics
        self.metrics = []
        kept = [row for row in self.earlier if row.get("epoch", "") == "" or float(row["epoch"]) < self.resumed_at]
        rows = kept + self.written
        self.metrics_keys = sorted(set().union(*rows))
        with atomic_path(self.metrics_file_path) as tmp:
            with open(tmp, "w", newline="") as file:
                writer = csv.DictWriter(file, fieldnames=self.metrics_keys)
                writer.writeheader()
                writer.writerows(rows)


class _QuietInWorkers:
    """Under ddp_spawn the trainer, loggers included, is unpickled in fresh processes: quiet their console too."""

    def __setstate__(self, state: dict[str, Any]) -> None:
        quiet_console()
        self.__dict__.update(state)


class ResumableCSVLogger(_QuietInWorkers, CSVLogger):
    """CSVLogger (same arguments and files) that continues an existing metrics.csv instead of deleting it, and
    writes it whenever metrics are logged (`flush_logs_every_n_steps=1`)."""

    def __init__(self, *args: Any, flush_logs_every_n_steps: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, flush_logs_every_n_steps=flush_logs_every_n_steps, **kwargs)

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _ContinuingWriter(log_dir=self.log_dir)
        return self._experiment


STEP_COUNTERS = frozenset({"epoch", "trainer/global_step"})


class EpochWandbLogger(_QuietInWorkers, WandbLogger):
    """WandbLogger (same arguments) with one console line per run, the epoch as x-axis and no child indices as charts.

    verbose: W&B's own console output; off: `wandb.Settings(silent=True)` and one line from `finish_wandb`.
    per_step: glob patterns of metrics logged every few steps, charted against `trainer/global_step`.
    hide: glob patterns of metrics kept out of W&B (still in Lightning's callback metrics and metrics.csv).
    """

    def __init__(self, *args: Any, verbose: bool = False, per_step: Sequence[str] = ("interference/*",),
                 hide: Sequence[str] = ("ranking/top*_child",), **kwargs: Any) -> None:
        if os.environ.get("WANDB_MODE") == "online":  # asked for in the environment: stream live (Lightning's
            kwargs["offline"] = False                  # offline=True would overwrite WANDB_MODE with dryrun)
        super().__init__(*args, **kwargs)
        if self._wandb_init.get("anonymous") is None:  # a no-op setting in wandb >= 0.19 that warns whenever passed
            self._wandb_init.pop("anonymous", None)
        if not verbose:
            settings = self._wandb_init.get("settings") or {}
            if isinstance(settings, Mapping):
                self._wandb_init["settings"] = {"silent": True, **settings}
            else:  # a wandb.Settings
                settings.silent = True
        self.verbose, self.per_step, self.hide = verbose, tuple(per_step), tuple(hide)
        self._axes: Any = None  # the run whose axes are defined
        self._per_step_defined: set[str] = set()
        self._tables: dict[str, Any] = {}

    @property
    @rank_zero_experiment
    def experiment(self) -> Any:
        run = super().experiment
        if run is not self._axes and callable(getattr(run, "define_metric", None)):
            # Lightning defined `*` against trainer/global_step: every metric is logged once an epoch here, so
            # its x-axis is the epoch (step_sync fills it into rows logged without it, such as a table's).
            run.define_metric("epoch")
            run.define_metric("*", step_metric="epoch", step_sync=True, overwrite=True)
            self._axes, self._per_step_defined = run, set()
        return run

    def _is(self, key: str, patterns: Sequence[str]) -> bool:
        return any(fnmatchcase(key, p) for p in patterns)

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        metrics = {k: v for k, v in metrics.items() if not self._is(k, self.hide)}
        if not set(metrics) - STEP_COUNTERS:
            return  # nothing but counters (all the row's metrics were hidden)
        per_step = [k for k in metrics if self._is(k, self.per_step)]
        if per_step and step is not None:
            metrics["trainer/global_step"] = step
        metrics = _add_prefix(metrics, self._prefix, self.LOGGER_JOIN_CHAR)
        run = self.experiment
        for key in _add_prefix(dict.fromkeys(per_step), self._prefix, self.LOGGER_JOIN_CHAR):
            if key not in self._per_step_defined:  # an exact definition overrides the `*` one
                run.define_metric(key, step_metric="trainer/global_step", step_sync=True)
                self._per_step_defined.add(key)
        run.log(metrics)

    def log_rows(self, key: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Append `rows` to the table `key`, which W&B shows whole (an incremental table: each epoch uploads only its
        own rows); it joins the row of metrics that Lightning logs next (the epoch's)."""
        import wandb

        table = self._tables.get(key)
        if table is None or list(table.columns) != list(columns):
            try:
                table = wandb.Table(columns=list(columns), log_mode="INCREMENTAL")
            except TypeError:  # a wandb without incremental tables: log the whole table each time
                table = wandb.Table(columns=list(columns))
            self._tables[key] = table
        for row in rows:
            table.add_data(*row)
        self.experiment.log({key: table}, commit=False)

    def __getstate__(self) -> dict[str, Any]:
        """As Lightning's (a spawned worker attaches to the run started here), without its `wandb.require("service")`,
        a no-op that warns in wandb >= 0.18."""
        _ = self.experiment
        state = self.__dict__.copy()
        if self._experiment is not None:
            state.update(_id=getattr(self._experiment, "id", None),
                         _attach_id=getattr(self._experiment, "_attach_id", None), _name=self._experiment.name)
        state.update(_experiment=None, _axes=None, _tables={})  # none of them pickles
        return state


def log_rows(logger: Logger, key: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A table for `logger` if it is a W&B one (ours appends to one table; Lightning's logs one per call)."""
    if isinstance(logger, EpochWandbLogger):
        logger.log_rows(key, columns, rows)
    elif isinstance(logger, WandbLogger):
        logger.log_table(key, columns=list(columns), data=[list(r) for r in rows])


def describe_wandb_run(run: Any) -> str:
    """One line: where a W&B run is and, offline, the command that uploads it."""
    if run.offline:
        return f"W&B: offline run saved in {run.settings.sync_dir}; upload with: wandb sync {run.settings.sync_dir}"
    return f"W&B: run {run.name} at {run.url}"


def finish_wandb() -> None:
    """Finish the current W&B run, if any; a run that was started silent says its one line first."""
    if "wandb" not in sys.modules:
        return
    import wandb

    run = wandb.run
    if run is None:
        return
    try:
        line = describe_wandb_run(run) if run.settings.silent else None
    finally:
        wandb.finish()
    if line:
        log.info("%s", line)
