"""W&B dashboards generated from a study: a workspace (runs grouped by study; sections for ranking quality, stability,
training, interference, proxies) and a Report laid out like the paper, built with `wandb-workspaces` from nothing but
what the runs logged (logged.py reads it from their run files or from W&B; catalogue.py names every chart's keys).

Offline, the dashboard is its specification, `workspace.json` and `report.json` beside the report; with
`WANDB_MODE=online` (or `--publish`) it is saved to W&B and its URLs are printed. The report writes it at its end
(`after_report`); `python -m benchmark.dashboard` builds it for any folder of runs or W&B project (docs/dashboards.md).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from benchmark.dashboard.logged import DashboardError, LoggedRun, from_folders, read_run_file, run_files

log = logging.getLogger(__name__)


@dataclass
class Dashboard:
    workspace: Any  # wandb_workspaces.workspaces.Workspace
    report: Any  # wandb_workspaces.reports.v2.Report


def check_runs(runs: list[LoggedRun], source: str) -> None:
    """Refuse a source a dashboard cannot be drawn from, naming it and what would work."""
    if not runs:
        raise DashboardError(f"{source} holds no W&B runs (no wandb/offline-run-*/ or wandb/run-*/ with a run file "
                             "under it): run a study with the W&B logger (logger=default or logger=wandb), e.g. "
                             "`python run.py -m seed=0,1,2`, and give its sweep folder")
    if not any(r.job_type == "report" for r in runs):
        raise DashboardError(f"{source} holds no report run (W&B job type 'report'), which the dashboard's tables and "
                             f"cross-seed charts read: `python -m benchmark.report {source}` writes one per variant")


def build_dashboard(runs: list[LoggedRun], name: str, entity: str = "", project: str = "",
                    where: tuple[str, str] = ("", "")) -> Dashboard:
    """The workspace and report over `runs` for `entity`/`project` (the runs' project by default); `where`: the
    (entity, project) the report's run sets look up on W&B when it is saved (empty offline: no lookup)."""
    from benchmark.dashboard.paper import build_report
    from benchmark.dashboard.workspace import build_workspace

    project = project or runs[0].project
    title = f"Weight-sharing NAS study: {name}"
    return Dashboard(build_workspace(runs, entity, project, title), build_report(runs, entity, project, title, where))


def _finished(sources: Sequence[str], report: Path, timeout: float) -> list[LoggedRun]:
    """The runs under `sources`, once the files of the report runs in `report` hold their exit record (W&B's service
    may still be writing them when `finish()` returns) or `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while not all(read_run_file(f).finished for f in run_files(report)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return from_folders([Path(s) for s in sources])


def produce(runs: list[LoggedRun], sources: Sequence[str], name: str, out: Path, entity: str = "",
            project: str = "", to_wandb: bool = False) -> list[str]:
    """Build the dashboard of the runs found in `sources` and write its specification to `out` (without a network,
    whatever else happens); then, `to_wandb`, save it to W&B under `entity` (by default the key's) and `project` (by
    default the runs'). Returns what to tell the user, line by line."""
    from benchmark.dashboard import publish

    check_runs(runs, " ".join(sources))
    project = project or runs[0].project
    board = build_dashboard(runs, name, entity, project)
    paths = publish.write_specification(out, board.workspace, board.report)
    lines = [f"dashboard: specification in {', '.join(map(str, paths))}"]
    unfinished = [r.name for r in runs if not r.finished]
    if unfinished:
        lines.append(f"dashboard: {len(unfinished)} run(s) still running or cut short ({', '.join(unfinished)}): "
                     "it draws what they logged so far")
    if not to_wandb:
        return lines + [f"dashboard: {publish.how_to_publish(sources, out, name, project)}"]
    entity = entity or publish.default_entity()
    board = build_dashboard(runs, name, entity, project, where=(entity, project))
    workspace_url, report_url = publish.save(board.workspace, board.report)
    lines += [f"dashboard: workspace {workspace_url}", f"dashboard: report {report_url}"]
    missing = publish.unsynced(sources)
    if missing:
        lines.append(f"dashboard: {missing} offline run(s) are not on W&B yet, so it cannot show them: "
                     f"{publish.sync_command(sources, entity, project)}")
    return lines


def report_sources(out: Path, folders: Sequence[Path]) -> list[Path]:
    """The folders a report's runs lie in: the sweeps holding its run folders, and its own folder (its runs) unless
    it lies in one of them."""
    sweeps = sorted({Path(f).resolve().parent for f in folders})
    out = out.resolve()
    return sweeps + ([] if any(out.is_relative_to(s) for s in sweeps) else [out])


def after_report(out: Path, folders: Sequence[Path]) -> None:
    """The dashboard of a report just written to `out` over the run `folders`, named after the report's folder (its
    sweep's): its specification in `out/dashboard/`, and with WANDB_MODE=online also saved to W&B. Never raises: a
    report does not fail for its dashboard."""
    from benchmark.dashboard.publish import PublishError, default_name, online

    out = out.resolve()
    sources = [str(s) for s in report_sources(out, folders)]
    try:
        runs = _finished(sources, out, timeout=30)
        for line in produce(runs, sources, default_name([str(out)]), out / "dashboard", to_wandb=online()):
            log.info("%s", line)
    except PublishError as e:
        log.warning("dashboard: specification in %s, not saved to W&B: %s", out / "dashboard", e)
    except Exception as e:  # noqa: BLE001 - W&B, the network or a run file: the report stands without it
        log.warning("dashboard: not built (%s: %s); `python -m benchmark.dashboard %s` retries", type(e).__name__, e,
                    " ".join(sources))
