"""The report's W&B runs: one per variant, grouped with its seeds' runs so the dashboard shows the cross-seed numbers
beside them. Named wandb_run.py, not wandb.py, so that it is never taken for (or, on sys.path, shadows) the library.

Everything the dashboard (benchmark/dashboard) draws from a report run is logged here, so that no panel depends on a
local file: the per-epoch series, the ceiling and floor as flat per-epoch lines, the summary figures with their
intervals and the reference rows' figures, and the tables (the variance table as report.md prints it, every figure of
summary.csv, each seed's final ranking)."""
from __future__ import annotations

import hashlib
import itertools
import logging
from pathlib import Path
from typing import Any, Sequence

from benchmark import metrics
from benchmark.dashboard import after_report
from benchmark.dashboard.publish import online
from benchmark.report.markdown import _ci, _fmt
from benchmark.report.runs import Run
from benchmark.report.summary import COLUMNS, _mean, per_epoch

log = logging.getLogger(__package__)  # the report's one logger, as the Hydra log names it

#: The report's reference rows by the start of their label, and the prefix of their figures in the run's summary.
REFERENCES = (("ground truth", "ground_truth/"), ("random ranking", "random/"), ("proxy: ", "proxy/"))
#: Figures drawn per epoch with the ceiling and floor beside them as flat lines.
REFERENCE_LINES = ("s_tau", "gt_tau")
#: The variance table as report.md prints it: (column, figure, digits); each cell is the mean [95% interval].
VARIANCE = (("S-Tau", "s_tau", 2), ("GT-Tau", "gt_tau", 2), ("T1R", "t1r", 1), ("T3R", "t3r", 1),
            ("regret", "regret", 4), ("epoch tau", "epoch_tau", 2), ("top-1 changes", "top1_changes", 2),
            ("top-5 overlap", "top5_overlap", 2), ("GT-Tau-Mean-k", "gt_tau_mean_k", 2))
RANKING_COLUMNS = ("variant", "seed", "rank", "child", "val_acc", "gt_acc", "gt_rank")


def reference_prefix(label: str) -> str:
    """'proxy/synflow/' for 'proxy: synflow (no training)', 'ground_truth/' for 'ground truth (10 seeds, ...)'."""
    for start, prefix in REFERENCES:
        if label.startswith(start):
            return prefix + (label[len(start):].split(" ", 1)[0] + "/" if prefix == "proxy/" else "")
    raise ValueError(f"reference row {label!r} is none of {[start for start, _ in REFERENCES]}")


def reference_figures(references: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Every number of the reference rows, keyed `<prefix><figure>`: the ceiling, the floor and the proxies."""
    return {reference_prefix(r["variant"]) + k: v for r in references for k, v in r.items()
            if isinstance(v, (int, float)) and k != "runs"}


def stability_per_epoch(runs: list[Run]) -> dict[int, dict[str, float]]:
    """Per epoch all runs reached: tau between this epoch's and the previous epoch's ranking (mean over seeds), and the
    share of the top 5 two seeds agree on (mean over pairs; two seeds or more)."""
    epochs = sorted(set.intersection(*(set(r.epochs) for r in runs)))
    out: dict[int, dict[str, float]] = {}
    for previous, epoch in zip([None, *epochs], epochs):
        values = {}
        if previous is not None:
            values["epoch_tau"] = _mean([metrics.kendall_tau(r.epochs[previous], r.epochs[epoch]) for r in runs])
        if len(runs) >= 2:
            values["top5_overlap"] = _mean([metrics.top_k_overlap(a.epochs[epoch], b.epochs[epoch], 5)
                                            for a, b in itertools.combinations(runs, 2)])
        out[epoch] = values
    return out


def variance_rows(rows: Sequence[dict[str, Any]]) -> list[list[Any]]:
    """report.md's table: the variant, its runs and each figure as 'mean [low, high]'."""
    return [[r["variant"], r.get("runs"), *(_ci(r, key, digits) for _, key, digits in VARIANCE),
             _fmt(r, "gt_tau_std_k")] for r in rows]


def ranking_rows(by_variant: dict[str, list[Run]]) -> list[list[Any]]:
    """Every seed's final ranking, best first, with the child's ground-truth accuracy and rank where there is one."""
    out = []
    for variant, runs in sorted(by_variant.items()):
        for r in sorted(runs, key=lambda r: r.seed):
            true_rank = metrics.true_ranks(r.truth) if r.truth else {}
            for child, rank in metrics.ranks(r.final).items():
                out.append([variant, r.seed, rank, child, r.final[child], (r.truth or {}).get(child),
                            true_rank.get(child)])
    return out


def _per_epoch_series(runs: list[Run], lines: dict[str, float]) -> list[dict[str, float]]:
    """The rows logged against `epoch`: report.md's per-epoch figures, the stability series and the flat lines."""
    stability = stability_per_epoch(runs)
    return [{"epoch": e["epoch"], **{f"per_epoch/{k}": v for k, v in e.items() if k != "epoch"},
             **{f"per_epoch/{k}": v for k, v in stability.get(e["epoch"], {}).items()}, **lines}
            for e in per_epoch(runs)]


def _init(wandb: Any, out: Path, mode: str, **kwargs: Any) -> Any:
    """A run in `mode`; an online run that cannot start (no key, no network) is written offline instead, with a
    warning (after W&B's service is reset: it keeps the failed run's id in use), so that a report never fails for
    W&B."""
    if mode == "online":
        try:
            return wandb.init(dir=str(out), mode="online", **kwargs)
        except Exception as e:  # noqa: BLE001 - any failure of W&B's service
            log.warning("report: W&B could not start online (%s: %s); writing the run offline", type(e).__name__, e)
            wandb.teardown()
    return wandb.init(dir=str(out), mode="offline", **kwargs)


def _log_wandb(out: Path, by_variant: dict[str, list[Run]], rows: list[dict[str, Any]], pngs: list[str],
               references: Sequence[dict[str, Any]] = ()) -> None:
    """One report run per variant, grouped with its seeds' runs (the study), so the dashboard shows the cross-seed
    numbers beside them: the variant's numbers (with their intervals) and the reference rows' (`ground_truth/...`,
    `random/...`, `proxy/<name>/...`) as the run's summary; every row in `report/summary` and `report/variance`, every
    seed's final ranking in `report/rankings`; the plots; and per epoch, charted against `epoch`, S-Tau, GT-Tau and its
    spread, consecutive-epoch tau, top-5 overlap, and the ceiling and floor of S-Tau and GT-Tau as flat lines.

    The run's id is derived from the report folder and the variant: building the report again writes the same run,
    which `wandb sync` then updates in place instead of adding a second run of the same name; the superseded offline
    copy in `<out>/wandb` is removed, so `wandb sync <out>/wandb/offline-run-*` uploads the current one only. Then
    the study's dashboard (benchmark/dashboard): its specification in `<out>/dashboard`, saved to W&B when online."""
    try:
        import wandb
    except ImportError:  # pragma: no cover - wandb is a requirement
        return
    import shutil

    everything, figures = [*rows, *references], reference_figures(references)
    lines = {f"per_epoch/{k}_{prefix.rstrip('/')}": figures[prefix + k] for k in REFERENCE_LINES
             for prefix in ("ground_truth/", "random/") if prefix + k in figures}
    mode = "online" if online() else "offline"
    for row in rows:
        variant = row["variant"]
        group = by_variant[variant][0].study or "report"
        run_id = "report-" + hashlib.sha1(f"{out.resolve()}\n{variant}".encode()).hexdigest()[:16]
        for stale in (out / "wandb").glob(f"offline-run-*-{run_id}"):
            shutil.rmtree(stale, ignore_errors=True)
        run = _init(wandb, out, mode, project="weight-sharing-benchmark", group=group, job_type="report",
                    name=f"report-{group}", id=run_id, resume="allow", reinit="finish_previous",
                    config={"variant": variant}, settings=wandb.Settings(silent=True))
        mode = "offline" if run.offline else "online"  # once W&B could not be reached, the other runs stay offline
        try:
            run.define_metric("epoch")
            run.define_metric("per_epoch/*", step_metric="epoch")
            for values in _per_epoch_series(by_variant[variant], lines):
                run.log(values)
            run.log({"report/summary": wandb.Table(columns=list(COLUMNS), data=[[r.get(c) for c in COLUMNS]
                                                                                for r in everything]),
                     "report/variance": wandb.Table(columns=["variant", "runs", *(c for c, _, _ in VARIANCE),
                                                             "GT-Tau-Std-k"], data=variance_rows(everything)),
                     "report/rankings": wandb.Table(columns=list(RANKING_COLUMNS), data=ranking_rows(by_variant)),
                     **{f"report/{Path(p).stem}": wandb.Image(str(out / p)) for p in pngs}})
            run.summary.update({**{k: v for k, v in row.items() if isinstance(v, (int, float))}, **figures})
        finally:
            run.finish()
    if mode == "online":
        log.info("report: %d W&B run(s), one per variant, streamed to W&B", len(rows))
    else:
        log.info("report: %d W&B run(s), one per variant, saved offline in %s; upload with: wandb sync %s",
                 len(rows), out / "wandb", out / "wandb" / "offline-run-*")
    after_report(out, sorted({r.path for runs in by_variant.values() for r in runs}))
