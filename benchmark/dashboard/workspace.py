"""The study's W&B workspace: its runs (the seeds and the report run of every variant) grouped by study, the W&B run
group, with one section per concern of the catalogue, every chart against the epoch unless it says otherwise."""
from __future__ import annotations

import wandb_workspaces.workspaces as ws
from wandb_workspaces import expr

from benchmark.dashboard.catalogue import SECTIONS
from benchmark.dashboard.logged import LoggedRun, logged_keys
from benchmark.dashboard.panels import drawn_by_name, section_panels


def runs_filter(runs: list[LoggedRun]) -> expr.And:
    """These runs exactly, by id: study names hold `=` and quotes, which the library's filter strings mangle."""
    return expr.And(expr.Metric("ID").isin([r.id for r in runs]))


def build_workspace(runs: list[LoggedRun], entity: str, project: str, name: str) -> ws.Workspace:
    logged = logged_keys(runs)
    drawn = drawn_by_name(SECTIONS, logged)
    return ws.Workspace(
        entity=entity, project=project, name=name,
        sections=[ws.Section(name=s.name, panels=section_panels(s, logged, drawn), is_open=True) for s in SECTIONS],
        settings=ws.WorkspaceSettings(x_axis="epoch", max_runs=max(10, len(runs))),
        runset_settings=ws.RunsetSettings(filters=runs_filter(runs), groupby=[expr.Metric("Group")]))
