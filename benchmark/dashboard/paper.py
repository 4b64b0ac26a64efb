"""The study's W&B Report, laid out like the paper's results: the variance table, the per-epoch plots, the variants side
by side with the ground truth's ceiling and the random floor, the final rankings; then training and interference.
Its panels read three sets of runs: the seeds (grouped by study), the report runs (one per variant) and the first
report run alone for the tables and plots every report run logs alike."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import wandb_workspaces.reports.v2 as wr
from wandb_workspaces import expr

from benchmark.dashboard import catalogue as c
from benchmark.dashboard.logged import LoggedRun, logged_keys
from benchmark.dashboard.panels import drawn_by_name, panels, section_panels

VARIANCE_TEXT = (
    "One row per variant, then the reference rows: the ground truth's own seeds, judged leave-one-out (the ceiling "
    "any supernet can reach), and random rankings (the floor). Each cell is the mean over seeds with its 95% bootstrap "
    "interval in brackets. S-Tau: how well the seeds' final rankings agree (mean pairwise Kendall tau-b). GT-Tau: "
    "Kendall tau-b of the final ranking against the ground truth. T1R/T3R: the best true rank among the top 1/top 3. "
    "Regret: true accuracy lost by the supernet's pick. Epoch tau and top-1 changes: how much the ranking still moves "
    "over the last epochs. GT-Tau-Mean-k/Std-k: GT-Tau over the last k snapshots.")
REFERENCES_TEXT = (
    "Every figure of the report with its interval (`_low`, `_high`), the variants' and the reference rows'. The report "
    "runs also keep the references' figures in their summary (`ground_truth/<figure>`, `random/<figure>`, "
    "`proxy/<name>/<figure>`), which the bar charts above draw beside each variant and the per-epoch charts as flat "
    "lines.")


def _runset(name: str, runs: Sequence[LoggedRun], where: tuple[str, str], **kwargs: Any) -> wr.Runset:
    """The runs by id (see workspace.runs_filter); `where` = (entity, project), empty offline, where W&B would look
    the project up."""
    return wr.Runset(entity=where[0], project=where[1], name=name,
                     filters=expr.And(expr.Metric("ID").isin([r.id for r in runs])), **kwargs)


def _grid(runsets: list[wr.Runset], found: list[Any]) -> list[Any]:
    return [wr.PanelGrid(runsets=runsets, panels=found)] if found else []


def _tables(one: wr.Runset, logged: Mapping[str, str], *charts: c.Chart) -> list[Any]:
    """Panels of what every report run logs alike (tables, plots), read from one of them: one copy, not one a run."""
    return _grid([one], [p for chart in charts for p in panels(chart, logged)])


def _section(heading: str, section: c.Section, runsets: list[wr.Runset], logged: Mapping[str, str],
             drawn: set[str]) -> list[Any]:
    """A heading, what the section shows (and what to run where it has nothing), and its charts."""
    [about, *charts] = section_panels(section, logged, drawn)
    return [wr.H2(heading), wr.P(about.markdown), *_grid(runsets, charts)]


def build_report(runs: list[LoggedRun], entity: str, project: str, title: str,
                 where: tuple[str, str] = ("", "")) -> wr.Report:
    """The report over `runs`, of which at least one is a report run (job type `report`)."""
    logged = logged_keys(runs)
    drawn = drawn_by_name(c.SECTIONS, logged)
    reports = [r for r in runs if r.job_type == "report"]
    seeds = [r for r in runs if r.job_type != "report"]  # a search's or a pruning search's seeds
    columns = [f"summary:{k}" for f in c.FIGURES for k in (f, f"{f}_low", f"{f}_high") if logged.get(k) == "number"]
    seed_set = _runset("Seeds, grouped by study", seeds, where, groupby=["Group"])
    variant_set = _runset("Variants: one report run each", reports, where, pinned_columns=columns)
    one = _runset("The report's tables", reports[:1], where)
    studies = sorted({r.group for r in runs if r.group})
    blocks = [
        wr.P(f"Built from the study's W&B runs: {len(seeds)} seed run(s) in {len(studies)} study group(s) and one "
             f"report run per variant ({len(reports)}), which holds the cross-seed figures of `python -m "
             f"benchmark.report`. Every number and chart below is read from what those runs logged."),
        wr.TableOfContents(),
        wr.H2("The variance table"), wr.P(VARIANCE_TEXT), *_tables(one, logged, c.VARIANCE_TABLE),
        *_section("Ranking quality per epoch", c.RANKING, [seed_set, variant_set], logged, drawn),
        *_section("Stability per epoch", c.STABILITY, [variant_set, seed_set], logged, drawn),
        *_tables(one, logged, c.REPORT_PLOTS),
        *_section("The variants side by side, with proxies, the ceiling and the floor", c.PROXIES, [variant_set],
                  logged, drawn),
        wr.H2("Every figure with its interval"), wr.P(REFERENCES_TEXT), *_tables(one, logged, c.SUMMARY_TABLE),
        wr.H2("Final rankings"), wr.P("Every seed's final ranking, best first, with each child's ground-truth "
                                      "accuracy and rank."), *_tables(one, logged, c.RANKINGS_TABLE),
        *_section("Training", c.TRAINING, [seed_set, variant_set], logged, drawn),
        *_section("Interference", c.INTERFERENCE, [seed_set], logged, drawn),
    ]
    return wr.Report(entity=entity, project=project, title=title[:128], description=", ".join(studies)[:1000],
                     blocks=blocks)
