"""A CSV logger that survives a resume.

Lightning's CSVLogger deletes an existing `metrics.csv` when it starts, so resuming a killed run into its pinned folder
(`resume=true`) would lose the metrics of every epoch before the kill. This one keeps them: the rows of epochs the
resumed run logs again (those after its checkpoint) are replaced by the new ones, all others stay.
"""
from __future__ import annotations

import csv
from typing import Any

from lightning_fabric.loggers.logger import rank_zero_experiment
from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter


class _ContinuingWriter(ExperimentWriter):
    def _check_log_dir_exists(self) -> None:
        """Read the earlier rows instead of deleting the file (the parent's behaviour)."""
        self.earlier: list[dict[str, Any]] = []
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as file:
                self.earlier = list(csv.DictReader(file))

    def save(self) -> None:
        if self.earlier and self.metrics:
            first = min((float(m["epoch"]) for m in self.metrics if "epoch" in m), default=float("inf"))
            kept = [{k: v for k, v in row.items() if v != ""} for row in self.earlier
                    if row.get("epoch", "") == "" or float(row["epoch"]) < first]
            self.metrics_keys = sorted(set().union(*kept, *self.metrics))
            with self._fs.open(self.metrics_file_path, "w", newline="") as file:
                writer = csv.DictWriter(file, fieldnames=self.metrics_keys)
                writer.writeheader()
                writer.writerows(kept)
            self.earlier = []
        super().save()


class ResumableCSVLogger(CSVLogger):
    """CSVLogger (same arguments and files) that continues an existing metrics.csv instead of deleting it."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _ContinuingWriter(log_dir=self.log_dir)
        return self._experiment
