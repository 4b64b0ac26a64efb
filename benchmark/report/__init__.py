"""Cross-seed report: what the rankings of many runs say, in the papers' format (the full account is the CLI's
description, in __main__.py). Each concept has its module - runs.py (what is counted), summary.py (the numbers),
markdown.py (report.md), wandb_run.py (the W&B runs) - and this one ties them into the report's folder, runs it after
every multirun (MultirunReport, which conf/hydra/default.yaml names) and re-exports what callers import."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from benchmark import dense
from benchmark.io import atomic_path, write_csv
from benchmark.report.markdown import (_warnings, comparison_section, interference_section, loss_section, markdown,
                                       recency_section, supernet_help_section)
from benchmark.report.pruning import pruning_rows, pruning_section
from benchmark.report.runs import (SEARCH_TASKS, Inputs, ReportError, Run, find_run_folders, load_by_space, load_inputs,
                                   load_run, nothing_to_report)
from benchmark.report.summary import (COLUMNS, COMPARISON_COLUMNS, PER_EPOCH_COLUMNS, PER_SEED, _references, compare,
                                      per_epoch, per_seed_rows, proxy_rows, random_floor, variant_summary)
from benchmark.report.wandb_run import _log_wandb

__all__ = ["COLUMNS", "COMPARISON_COLUMNS", "Inputs", "MultirunReport", "ReportError", "Run", "_references",
           "build_report", "check_last_k", "compare", "default_variant", "find_run_folders", "load_inputs", "load_run",
           "main", "markdown", "per_epoch", "proxy_rows", "random_floor", "variant_summary", "write_report"]

log = logging.getLogger(__name__)


def build_report(paths: Sequence[str | Path], out: str | Path, last_k: int = 5, use_wandb: bool = True,
                 top_k: int = 5, proxies: str | Path | None = None, dense_k: int = 64,
                 baseline: str | None = None) -> list[dict[str, Any]]:
    """Write the report for the runs under `paths` into `out`; returns the summary rows. Variants are tested
    against `baseline` (a variant label; default: 'default' if there is one, else the first in order)."""
    check_last_k(last_k)
    inputs = load_inputs(paths)
    if not inputs.runs:  # the error names every skipped folder: one line, not the same news twice
        raise ReportError(nothing_to_report(paths, inputs))
    return write_report(inputs, out, last_k, use_wandb, top_k, proxies, dense_k, baseline)[0]


def check_last_k(last_k: int) -> None:
    if not (isinstance(last_k, int) and last_k >= 1):
        raise ReportError(f"last_k={last_k!r}: GT-Tau-Mean-k needs an integer k >= 1 (the last k snapshots)")


def default_variant(labels: Sequence[str]) -> str:
    """The variant others are measured against when none is named: 'default' if there is one, else the first."""
    return "default" if "default" in labels else labels[0]


def write_report(inputs: Inputs, out: str | Path, last_k: int = 5, use_wandb: bool = True, top_k: int = 5,
                 proxies: str | Path | None = None, dense_k: int = 64,
                 baseline: str | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """build_report's work on runs already loaded as one space; returns the summary rows and the reference rows
    (ceiling, floor, proxies), which the cross-space report sets beside each space's figures."""
    from benchmark import plots

    for path, why in inputs.skipped:
        log.warning("report: skipping %s: %s", path, why)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    by_variant: dict[str, list[Run]] = {}
    for r in inputs.runs:
        by_variant.setdefault(r.variant, []).append(r)
    rows = [{"variant": v, **variant_summary(rs, last_k, dense_k)} for v, rs in sorted(by_variant.items())]
    labels = [r["variant"] for r in rows]
    if baseline is not None and baseline not in labels:
        raise ReportError(f"baseline {baseline!r} is not a variant of these runs; their variants: {labels}")
    comparisons = compare(rows, baseline or default_variant(labels)) if len(rows) > 1 else []
    write_csv(out / "comparisons.csv", COMPARISON_COLUMNS, [[c.get(k, "") for k in COMPARISON_COLUMNS]
                                                            for c in comparisons])
    references = _references(inputs, max(len(rs) for rs in by_variant.values()))
    if proxies:
        references = proxy_rows(proxies, next((r.truth for r in inputs.runs if r.truth), None)) + references
    epoch_rows = {v: per_epoch(rs) for v, rs in sorted(by_variant.items())}
    write_csv(out / "summary.csv", COLUMNS, [[r.get(c, "") for c in COLUMNS] for r in rows + references])
    write_csv(out / "per_seed.csv", ("variant", "seed", *PER_SEED), per_seed_rows(rows))
    write_csv(out / "per_epoch.csv", ("variant", *PER_EPOCH_COLUMNS),
              [[v, *(r.get(c, "") for c in PER_EPOCH_COLUMNS)] for v, rs in epoch_rows.items() for r in rs])
    pngs = [name for key, name, title in (("s_tau", "s_tau_per_epoch.png", "S-Tau"),
                                          ("gt_tau", "gt_tau_per_epoch.png", "GT-Tau"))
            if plots.tau_per_epoch(epoch_rows, key, out / name, title, references, by_variant)]
    plots.rank_trajectories(by_variant, out / "rank_trajectories.png", top=top_k)
    plots.top_k_frequency(by_variant, out / "top_k_frequency.png", k=top_k)
    pngs += ["rank_trajectories.png", "top_k_frequency.png"]
    rho = {r["variant"]: r.get("loss_tau_rho") for r in rows}
    loss_png = "loss_vs_gt_tau.png" if plots.loss_vs_tau(epoch_rows, out / "loss_vs_gt_tau.png", by_variant, rho) \
        else None
    pngs += [loss_png] if loss_png else []
    pruned, damaged = pruning_rows(by_variant)
    for path, why in damaged:
        log.warning("report: %s: %s; left out of the pruning table", path, why)
    if pruned:
        write_csv(out / "pruning.csv", list(pruned[0]), [list(r.values()) for r in pruned])
    for warning in _warnings(rows, references, inputs.runs):
        log.warning("report: %s", warning.replace("**", ""))
    text = (markdown(inputs, rows, references, last_k, pngs) + supernet_help_section(rows, references)
            + loss_section(rows, epoch_rows, loss_png) + comparison_section(comparisons)
            + pruning_section(pruned) + interference_section(by_variant, out, baseline or default_variant(labels))
            + recency_section(dense.recency([(r.steps, r.since) for r in inputs.runs if r.steps])))
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(text)
    if use_wandb:
        _log_wandb(out, by_variant, rows, pngs, references)
    log.info("report: %d runs, %d skipped -> %s", len(inputs.runs), len(inputs.skipped), out / "report.md")
    return rows, references


class MultirunReport(Callback):
    """Hydra callback: at the end of a multirun, write the report beside the jobs (`<sweep dir>/report/`; for a sweep
    over several search spaces, the cross-space report with one report per space in it); a sweep that cannot be
    reported (nothing completed) logs why and still ends normally. Then one line: the
    command that uploads the whole sweep's offline W&B runs (every job's and the report's) at once."""

    def __init__(self, last_k: int = 5, use_wandb: bool = True) -> None:
        self.last_k, self.use_wandb = last_k, use_wandb

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = Path(config.hydra.sweep.dir)
        if config.task.name not in SEARCH_TASKS:
            return
        from benchmark.report.cross_space import build_by_space

        try:  # a sweep over search spaces (search_space=chain,transformer) gets the cross-space report
            build = build_by_space if len(load_by_space([sweep])[0]) > 1 else build_report
            build([sweep], sweep / "report", last_k=self.last_k, use_wandb=self.use_wandb)
        except ReportError as e:
            log.error("error: %s", e)
        offline = list(sweep.glob("*/wandb/offline-run-*"))  # the jobs' folders and report/
        if offline:
            import shlex

            log.info("W&B: %d offline run(s) in this sweep; upload them all with: wandb sync %s/*/wandb/offline-run-*",
                     len(offline), shlex.quote(str(sweep)))


def main(argv: list[str] | None = None) -> None:
    """The command line, for callers that import the package; it lives in __main__.py, where `python -m` runs it."""
    from benchmark.report.__main__ import main as cli

    cli(argv)
