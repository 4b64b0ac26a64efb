"""The cross-space report (How Does Supernet Help, finding iii: the supernet's use depends on the search space). Runs
of several spaces are split by space, each space gets its own report in `<out>/<space>/`, and `<out>/report.md` and
`<out>/spaces.csv` hold one row per space: the supernet's figures beside what that space allows - the ground truth's
own ceiling and the best training-free proxy - since a GT-Tau means little without them when spaces differ in how
well anything can rank them."""
from __future__ import annotations

import csv
import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import yaml

from benchmark.io import atomic_path, write_csv
from benchmark.metrics import TOP_PERCENTS
from benchmark.report import check_last_k, default_variant, write_report
from benchmark.report.markdown import _ci, _sample_note
from benchmark.report.runs import DAMAGE, Inputs, ReportError, _choices, load_by_space, nothing_to_report
from benchmark.report.wandb_run import reference_prefix

log = logging.getLogger(__package__)

#: The figures set side by side: (figure, heading, digits); each with its 95% interval.
FIGURES = (("gt_tau", "GT-Tau", 2), ("s_tau", "S-Tau", 2), ("t1r", "T1R", 1),
           *((f"top{p}pct_hit", f"top-{p} % hit", 2) for p in TOP_PERCENTS),
           (f"top{TOP_PERCENTS[-1]}pct_found", f"top-{TOP_PERCENTS[-1]} % found", 2),
           ("pick_percentile", "pick percentile", 1), ("prune50pct_bottom_half", "pruning 50 %", 2))
#: spaces.csv, one row per space.
SPACE_COLUMNS = ("space", "variant", "variants", "runs", "children",
                 *(f"{key}{end}" for key, _, _ in FIGURES for end in ("", "_low", "_high")),
                 "ceiling_gt_tau", "ceiling_seeds", "gt_tau_share", "best_proxy", "best_proxy_gt_tau", "proxies",
                 "report")


def _labels(groups: Sequence[Inputs]) -> list[str]:
    """Each space's name: its runs' search_space choice (the space's class where the runs recorded none), with a
    short hash of the space and children where two groups would otherwise share a name (other ops, another sample)."""
    names = ["+".join(sorted({r.choices.get("search_space", r.space["space"]) for r in g.runs})) for g in groups]
    return [f"{n}-{_digest(g)}" if names.count(n) > 1 else n for n, g in zip(names, groups)]


def _digest(group: Inputs) -> str:
    return hashlib.sha1(json.dumps([group.runs[0].space, sorted(_ranked(group))]).encode()).hexdigest()[:8]


def _search_space(folder: Path) -> Any:
    """The search_space node of the config a run (or task=proxies) folder was made with; None where unreadable."""
    try:
        return yaml.safe_load((folder / ".hydra" / "config.yaml").read_text()).get("search_space")
    except (OSError, AttributeError, yaml.YAMLError):
        return None


def _ranked(group: Inputs) -> set[str]:
    """The children a space's runs rank (before any pruning)."""
    run = group.runs[0]
    return set(run.epochs[min(run.epochs)])


def find_proxies(paths: Sequence[str | Path], given: Sequence[str | Path]) -> list[Path]:
    """Every proxies.csv under `paths` (task=proxies writes one into its run folder) and the `given` ones, each once."""
    missing = [str(p) for p in given if not Path(p).is_file()]
    if missing:
        raise ReportError(f"--proxies {', '.join(missing)}: no such file")
    found: dict[Path, Path] = {}
    for file in [*map(Path, given), *(f for p in paths for f in sorted(Path(p).glob("**/proxies.csv")))]:
        found.setdefault(file.resolve(), file)
    return list(found.values())


def _proxy_space(file: Path, groups: dict[str, Inputs]) -> str:
    """The space a proxies.csv scores: the one whose runs were made with the same search_space config and rank exactly
    the children it scores (child names alone do not tell spaces of equal shape apart). ValueError says why none."""
    node = _search_space(file.parent)
    if node is None:
        raise ValueError("no .hydra/config.yaml beside it (task=proxies writes one): its search space is unknown")
    with open(file, newline="") as f:
        reader = csv.DictReader(f)
        if "child" not in (reader.fieldnames or ()):
            raise ValueError(f"no child column (header {reader.fieldnames}): not a proxies.csv of task=proxies")
        children = {row["child"] for row in reader}
    for label, group in groups.items():
        if children == _ranked(group) and any(_search_space(r.path) == node for r in group.runs):
            return label
    choice = _choices(file.parent).get("search_space")
    raise ValueError(f"its {len(children)} children of search_space={choice or json.dumps(node)} are no space's "
                     "children in these runs")


def match_proxies(files: Sequence[Path], groups: dict[str, Inputs]) -> tuple[dict[str, Path], list[tuple[str, str]]]:
    """Space label -> its proxies.csv, and each file not used with why (no space of these runs, or a second one)."""
    matched: dict[str, Path] = {}
    unused: list[tuple[str, str]] = []
    for file in files:
        try:
            label = _proxy_space(file, groups)
        except DAMAGE as e:
            unused.append((str(file), str(e)))
            continue
        if label in matched:
            unused.append((str(file), f"a second proxies.csv for {label}; the report uses {matched[label]}"))
        else:
            matched[label] = file
    return matched, unused


def _baselines(groups: dict[str, Inputs], baseline: str | None) -> dict[str, str]:
    """Space label -> the variant its row shows: `baseline` where the space has it, else 'default' or the first."""
    variants = {label: sorted({r.variant for r in g.runs}) for label, g in groups.items()}
    if baseline is not None and not any(baseline in v for v in variants.values()):
        raise ReportError(f"baseline {baseline!r} is a variant of no space; their variants: {variants}")
    return {label: baseline if baseline in v else default_variant(v) for label, v in variants.items()}


def _best_proxy(references: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The proxy row with the highest GT-Tau (proxies that rank nothing, or without a ground truth, excluded)."""
    judged = [r for r in references if reference_prefix(r["variant"]).startswith("proxy/")
              and np.isfinite(r.get("gt_tau", np.nan))]
    return max(judged, key=lambda r: r["gt_tau"], default=None)


def space_row(label: str, rows: Sequence[dict[str, Any]], references: Sequence[dict[str, Any]],
              variant: str) -> dict[str, Any]:
    """One space's row: `variant`'s figures with their intervals, the ground truth's leave-one-out GT-Tau (the
    ceiling) and its seeds, GT-Tau as a share of a positive ceiling, and the best proxy."""
    row = next(r for r in rows if r["variant"] == variant)
    out = {"space": label, "variant": variant, "variants": len(rows), "runs": row["runs"],
           **{k: row[k] for k in SPACE_COLUMNS if k in row and k not in ("variant", "runs")}}
    ceiling = next((r for r in references if reference_prefix(r["variant"]) == "ground_truth/"), {})
    if "gt_tau" in ceiling:
        out.update(ceiling_gt_tau=ceiling["gt_tau"], ceiling_seeds=ceiling["runs"])
        if "gt_tau" in row and ceiling["gt_tau"] > 0:
            out["gt_tau_share"] = row["gt_tau"] / ceiling["gt_tau"]
    best = _best_proxy(references)
    if best is not None:
        out.update(best_proxy=reference_prefix(best["variant"]).split("/")[1], best_proxy_gt_tau=best["gt_tau"])
    return out


def _against(row: dict[str, Any], value: float, what: str) -> str:
    """Where `value` lies against the space's GT-Tau interval: above it, within it or below it."""
    if "gt_tau_low" not in row:
        return f"no interval ({row['runs']} seed(s)) to set against {what}"
    if value > row["gt_tau_high"]:
        return f"below {what}"
    return f"above {what}" if value < row["gt_tau_low"] else f"level with {what} (within the interval)"


def _finding(row: dict[str, Any]) -> str:
    """One space's sentence, generated from its figures: GT-Tau against its ceiling and its best proxy."""
    if "gt_tau" not in row:
        return f"- `{row['space']}`: its runs have no ground truth (no `gt_acc` in rankings.csv): no GT figures; " \
               f"S-Tau {_ci(row, 's_tau')}."
    parts = [f"GT-Tau {_ci(row, 'gt_tau')}"]
    if "ceiling_gt_tau" in row:
        share = f"{100 * row['gt_tau_share']:.0f} % of its ceiling" if "gt_tau_share" in row else "its ceiling"
        parts[0] += f", {share} {row['ceiling_gt_tau']:.2f} ({row['ceiling_seeds']} ground-truth seeds)"
        parts.append(_against(row, row["ceiling_gt_tau"], "its ceiling"))
    else:
        parts.append("no ceiling (no ground_truth.csv of two or more seeds beside its runs)")
    if "best_proxy" in row:
        parts.append(f"{_against(row, row['best_proxy_gt_tau'], 'the best proxy')} "
                     f"({row['best_proxy']} {row['best_proxy_gt_tau']:.2f})")
    return f"- `{row['space']}`: " + "; ".join(parts) + "."


def findings(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The paragraph under the table: each space, nearest its ceiling first, against its ceiling and best proxy."""
    order = sorted(rows, key=lambda r: (-r.get("gt_tau_share", -np.inf), r["space"]))
    return ["How near each space's supernet ranks to what its space allows, nearest its ceiling first. Below its "
            "ceiling or a proxy: that GT-Tau lies above the supernet's 95% interval; level: within it; above: below "
            "it.", "", *map(_finding, order), ""]


def _ops(space: dict[str, Any]) -> str:
    """What tells spaces of equal shape apart: the ops of each decision ('conv3 conv5 at each of 3 decisions')."""
    choices = space["choices"]
    if all(c == choices[0] for c in choices):
        return f"{' '.join(choices[0])} at each of {len(choices)} decisions"
    return "; ".join(f"{d}: {' '.join(c)}" for d, c in zip(space["decisions"], choices))


def cross_space_markdown(rows: Sequence[dict[str, Any]], groups: dict[str, Inputs], proxies: dict[str, Path],
                         skipped: Sequence[tuple[str, str]], unused: Sequence[tuple[str, str]]) -> str:
    """report.md: the table of spaces, the generated findings, what each space is, and what was left out."""
    heads = " | ".join(h for _, h, _ in FIGURES[1:])
    lines = ["# Supernet help across search spaces", "",
             f"{sum(len(g.runs) for g in groups.values())} runs of {len(groups)} search space(s); each space's own "
             "report (every variant, the reference rows, plots, paired tests) is in its folder.", "",
             f"| space | variant | runs | GT-Tau | ceiling (seeds) | share of ceiling | best proxy | {heads} |",
             "|---|---|---|---|---|---|---|" + "---|" * (len(FIGURES) - 1)]
    for r in rows:
        variant = f"{r['variant']} (1 of {r['variants']})" if r["variants"] > 1 else r["variant"]
        ceiling = f"{r['ceiling_gt_tau']:.2f} ({r['ceiling_seeds']})" if "ceiling_gt_tau" in r else "—"
        share = f"{100 * r['gt_tau_share']:.0f} %" if "gt_tau_share" in r else "—"
        proxy = f"{r['best_proxy']} {r['best_proxy_gt_tau']:.2f}" if "best_proxy" in r else "—"
        lines.append(f"| [{r['space']}]({r['report']}/report.md) | {variant} | {r['runs']} | {_ci(r, 'gt_tau')} | "
                     f"{ceiling} | {share} | {proxy} | " + " | ".join(_ci(r, k, d) for k, _, d in FIGURES[1:]) + " |")
    lines += ["", "Each space's row is one variant (`--baseline`, else `default`, else the first), its figures means "
              "over seeds with 95% bootstrap intervals, as in the per-space reports. Ceiling: the ground truth's own "
              "leave-one-out GT-Tau over its seeds (how well one ground-truth seed ranks against the others' mean); "
              "share of ceiling: GT-Tau over it. Best proxy: the training-free proxy with the highest GT-Tau in the "
              "space's proxies.csv. Hit, found, pick percentile and pruning: see the per-space reports' \"Supernet "
              "help\". All figures with their intervals are in spaces.csv.", "", *findings(rows), "## Spaces", ""]
    for label, g in groups.items():
        space = g.runs[0].space
        lines.append(f"- `{label}`: {space['space']} with {space['space_size']} children{_sample_note(space)}, "
                     f"{_ops(space)}; proxies: {f'`{proxies[label]}`' if label in proxies else 'none'}")
    lines.append("")
    for title, named in (("Skipped", skipped), ("Proxies not used", unused)):
        lines += [f"## {title}", "", *(f"- `{p}`: {why}" for p, why in named), ""] if named else []
    return "\n".join(lines)


def build_by_space(paths: Sequence[str | Path], out: str | Path, last_k: int = 5, use_wandb: bool = True,
                   proxies: Sequence[str | Path] = (), dense_k: int = 64,
                   baseline: str | None = None) -> list[dict[str, Any]]:
    """Split the runs under `paths` by space, write each space's report into `out/<space>/` (with the proxies.csv
    that scores that space, found under `paths` or given) and the cross-space table into `out`; returns its rows."""
    check_last_k(last_k)
    files = find_proxies(paths, proxies)
    found, everything = load_by_space(paths)
    if not found:
        raise ReportError(nothing_to_report(paths, everything))
    groups = dict(zip(_labels(list(found.values())), found.values()))
    shown = _baselines(groups, baseline)
    matched, unused = match_proxies(files, groups)
    proxy_runs = {f.parent.resolve() for f in files}  # a task=proxies folder is named once, as proxies
    skipped = [(p, why) for p, why in everything.skipped if Path(p).resolve() not in proxy_runs]
    for path, why in [*skipped, *unused]:
        log.warning("report: not used: %s: %s", path, why)
    out = Path(out)
    rows = []
    for label, group in sorted(groups.items()):
        folder = re.sub(r"[^\w.=+-]", "_", label)
        summary, references = write_report(group, out / folder, last_k, use_wandb, proxies=matched.get(label),
                                           dense_k=dense_k, baseline=shown[label])
        rows.append({**space_row(label, summary, references, shown[label]), "children": len(_ranked(group)),
                     "report": folder, "proxies": str(matched.get(label, ""))})
    write_csv(out / "spaces.csv", SPACE_COLUMNS, [[r.get(c, "") for c in SPACE_COLUMNS] for r in rows])
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(cross_space_markdown(rows, dict(sorted(groups.items())), matched, skipped, unused))
    log.info("report: %d search spaces -> %s", len(rows), out / "report.md")
    return rows
