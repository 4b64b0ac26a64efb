"""What a run prints: the libraries' notices that are not the researcher's concern are dropped.

Kept: the seed, what is ranked against, whether a GPU is used, the top children, where the files are. Dropped (they
say nothing about this benchmark, or are about code that is not ours):

- Lightning's "You passed in a `val_dataloader` but have no `validation_step`": the datamodule offers a validation
  split because the ranking callback measures children on it, not Lightning's validation loop (`limit_val_batches: 0`);
- torch's "`isinstance(treespec, LeafSpec)` is deprecated", raised inside Lightning;
- Lightning's "💡 Tip: ... litlogger", "TPU available: False" (and its HPU/IPU kin when absent), "`Trainer.fit`
  stopped: `max_epochs=N` reached" (as asked; printed onto the progress bar's line), and "`weights_only` was not set"
  after every epoch's checkpoint (the checkpoint callback saves whole states on purpose).

The log records among them are demoted to DEBUG rather than deleted: `hydra.verbose=true` shows them again.
"""
from __future__ import annotations

import logging
import re
import warnings

#: Python warnings, by the start of their message (as `-W` and `warnings.filterwarnings` match).
WARNINGS = (
    r"You passed in a `val_dataloader` but have no `validation_step`",
    r"`isinstance\(treespec, LeafSpec\)` is deprecated",
)
LIGHTNING = r"💡 Tip:|.*litlogger|(TPU|HPU|IPU) available: False|`Trainer.fit` stopped: `max_epochs=\d+` reached"
#: Log records of these loggers whose message matches are demoted to DEBUG.
RECORDS = {
    "pytorch_lightning.utilities.rank_zero": re.compile(LIGHTNING),
    "lightning.pytorch.utilities.rank_zero": re.compile(LIGHTNING),
    "pytorch_lightning.trainer.connectors.checkpoint_connector": re.compile(r"`weights_only` was not set"),
    "lightning.pytorch.trainer.connectors.checkpoint_connector": re.compile(r"`weights_only` was not set"),
}


class _Demote(logging.Filter):
    """Turn matching INFO records into DEBUG ones (dropped by handlers at INFO, kept by verbose ones)."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        super().__init__()
        self.pattern = pattern

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and self.pattern.match(record.getMessage()):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


def quiet_console() -> None:
    """Install the filters above (idempotent; the warnings filters are process-wide, as are the loggers')."""
    for message in WARNINGS:
        warnings.filterwarnings("ignore", message=message)
    for name, pattern in RECORDS.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Demote) for f in logger.filters):
            logger.addFilter(_Demote(pattern))
