"""The report's W&B runs: one per variant, grouped with its seeds' runs so the dashboard shows the cross-seed numbers
beside them. Named wandb_run.py, not wandb.py, so that it is never taken for (or, on sys.path, shadows) the library."""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from benchmark.report.runs import Run
from benchmark.report.summary import COLUMNS, per_epoch

log = logging.getLogger(__package__)  # the report's one logger, as the Hydra log names it


def _log_wandb(out: Path, by_variant: dict[str, list[Run]], rows: list[dict[str, Any]], pngs: list[str]) -> None:
    """One report run per variant, grouped with its seeds' runs (the study), so the dashboard shows the cross-seed
    numbers beside them: the variant's numbers as the run's summary, every variant's row in `report/summary`, the
    plots, and S-Tau (and GT-Tau where there is a ground truth) per epoch, charted against `epoch`.

    The run's id is derived from the report folder and the variant: building the report again writes the same run,
    which `wandb sync` then updates in place instead of adding a second run of the same name; the superseded offline
    copy in `<out>/wandb` is removed, so `wandb sync <out>/wandb/offline-run-*` uploads the current one only."""
    try:
        import wandb
    except ImportError:  # pragma: no cover - wandb is a requirement
        return
    import shutil

    table = [[r.get(c) for c in COLUMNS] for r in rows]
    for row in rows:
        variant = row["variant"]
        group = by_variant[variant][0].study or "report"
        run_id = "report-" + hashlib.sha1(f"{out.resolve()}\n{variant}".encode()).hexdigest()[:16]
        for stale in (out / "wandb").glob(f"offline-run-*-{run_id}"):
            shutil.rmtree(stale, ignore_errors=True)
        run = wandb.init(project="weight-sharing-benchmark", group=group, job_type="report", name=f"report-{group}",
                         id=run_id, resume="allow", dir=str(out), mode="offline", reinit="finish_previous",
                         config={"variant": variant}, settings=wandb.Settings(silent=True))
        try:
            run.define_metric("epoch")
            run.define_metric("per_epoch/*", step_metric="epoch")
            for epoch in per_epoch(by_variant[variant]):
                values = {f"per_epoch/{k}": epoch[k] for k in ("s_tau", "gt_tau", "gt_tau_std") if k in epoch}
                if values:
                    run.log({"epoch": epoch["epoch"], **values})
            run.log({"report/summary": wandb.Table(columns=list(COLUMNS), data=table),
                     **{f"report/{Path(p).stem}": wandb.Image(str(out / p)) for p in pngs}})
            run.summary.update({k: v for k, v in row.items() if isinstance(v, (int, float))})
        finally:
            run.finish()
    log.info("report: %d W&B run(s), one per variant, saved offline in %s; upload with: wandb sync %s",
             len(rows), out / "wandb", out / "wandb" / "offline-run-*")
