"""Charts of the catalogue turned into panels of `wandb-workspaces`, with their patterns replaced by the keys the runs
logged (of the kind the chart draws): a panel only ever names a key some run logged."""
from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any, Iterable, Mapping

import wandb_workspaces.reports.v2 as wr

from benchmark.dashboard.catalogue import Chart, Section

#: What a chart of each kind draws: numbers, images or tables.
DRAWS = {"line": "number", "step": "number", "bar": "number", "image": "image", "table": "table"}
X_AXIS = {"line": "epoch", "step": "trainer/global_step"}


def matched(chart: Chart, logged: Mapping[str, str], drawn: Iterable[str] = ()) -> list[str]:
    """The logged keys `chart` draws, in the order of its patterns (sorted within one); `drawn`: keys that charts
    without `each` already draw, which an `each` chart leaves to them."""
    skip = set(drawn) if chart.each else set()
    keys: list[str] = []
    for pattern in chart.keys:
        keys += [k for k in sorted(logged) if fnmatchcase(k, pattern) and logged[k] == DRAWS[chart.kind]
                 and k not in skip and k not in keys]
    return keys


def drawn_by_name(sections: Iterable[Section], logged: Mapping[str, str]) -> set[str]:
    """The keys drawn by charts without `each`: what the catch-all charts leave out."""
    return {k for s in sections for c in s.charts if not c.each for k in matched(c, logged)}


def panel(title: str, keys: list[str], kind: str) -> Any:
    """One panel: lines and bars grouped by study (W&B's run group), mean with a +-1 std band over its runs."""
    grouped = {"groupby": "Group", "groupby_aggfunc": "mean", "groupby_rangefunc": "stddev"}
    if kind in X_AXIS:
        return wr.LinePlot(title=title, x=X_AXIS[kind], y=keys, **grouped)
    if kind == "bar":
        return wr.BarPlot(title=title, metrics=keys, orientation="v", **grouped)
    if kind == "image":
        return wr.MediaBrowser(title=title, media_keys=keys, num_columns=len(keys))
    return wr.WeavePanelSummaryTable(table_name=keys[0])


def panels(chart: Chart, logged: Mapping[str, str], drawn: Iterable[str] = ()) -> list[Any]:
    """The chart's panels: none when it matched nothing, one per key with `each` or for a table, else one."""
    keys = matched(chart, logged, drawn)
    if chart.each or chart.kind == "table":
        return [panel(chart.title.format(key=k), [k], chart.kind) for k in keys]
    return [panel(chart.title, keys, chart.kind)] if keys else []


def section_panels(section: Section, logged: Mapping[str, str], drawn: Iterable[str]) -> list[Any]:
    """A section's panels: what it shows, what to run where its `needs` matched nothing, then its charts."""
    notes = [section.about]
    if section.needs and not any(fnmatchcase(k, section.needs) for k in logged):
        notes.append(section.missing)
    return [wr.MarkdownPanel(markdown="\n\n".join(notes))] + [p for c in section.charts
                                                              for p in panels(c, logged, drawn)]
