"""report.md's text: the table of variants and reference rows with their intervals, the warnings (no better than
random, mixed builds), skipped folders, paired tests and the interference section. Only formatting lives here: every
figure comes from summary.py."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from benchmark import statistics
from benchmark.interference import summarize
from benchmark.io import write_csv
from benchmark.metrics import PRUNE_PERCENTS, TOP_PERCENTS
from benchmark.report.runs import BUILD, Inputs, Run
from benchmark.report.summary import _mean


def mixed_environments(runs: list[Run]) -> list[str]:
    """A warning per variant whose runs ran on different builds, thread counts or hardware."""
    by_variant: dict[str, list[Run]] = {}
    for r in runs:
        by_variant.setdefault(r.variant, []).append(r)
    warnings = []
    for variant, runs in by_variant.items():
        seen = {json.dumps(r.environment, sort_keys=True) for r in runs if r.environment}
        if len(seen) > 1:
            differing = sorted({k for r in runs for k in BUILD if r.environment.get(k) != runs[0].environment.get(k)})
            warnings.append(f"**Warning: the runs of `{variant}` differ in {', '.join(differing)}** "
                            f"(environment.json): their numbers agree only statistically, not bit for bit.")
    return warnings


def _fmt(row: dict[str, Any], key: str, digits: int = 2) -> str:
    v = row.get(key)
    return "—" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{digits}f}"


#: (column, name, whether higher is better): what a variant must beat the random ranking on to carry information.
AGAINST_RANDOM = (("gt_tau", "GT-Tau", True), ("t1r", "T1R", False), ("t3r", "T3R", False), ("s_tau", "S-Tau", True))


def no_better_than_random(row: dict[str, Any], floor: dict[str, Any]) -> list[str]:
    """The columns on which a variant's mean is not better than random rankings', as 'T1R 43.8 vs 31.2'."""
    worse = []
    for key, name, higher in AGAINST_RANDOM:
        mine, chance = row.get(key), floor.get(key)
        if mine is None or chance is None or np.isnan(mine) or np.isnan(chance):
            continue
        if (mine <= chance) if higher else (mine >= chance):
            worse.append(f"{name} {mine:.2f} vs {chance:.2f}")
    return worse


def _warnings(rows: list[dict[str, Any]], references: list[dict[str, Any]], runs: list[Run]) -> list[str]:
    floor = next((r for r in references if r["variant"] == "random ranking"), {})
    return [f"**Warning: `{r['variant']}` is not better than random rankings on {', '.join(worse)}** (the "
            "\"random ranking\" row): its rankings carry little information about the children."
            for r in rows if (worse := no_better_than_random(r, floor))] + mixed_environments(runs)


def _ci(row: dict[str, Any], key: str, digits: int = 2) -> str:
    """'0.67 [0.61, 0.72]': the figure and its 95% interval, where there is one."""
    if f"{key}_low" not in row:
        return _fmt(row, key, digits)
    return f"{_fmt(row, key, digits)} [{_fmt(row, f'{key}_low', digits)}, {_fmt(row, f'{key}_high', digits)}]"


def comparison_section(comparisons: list[dict[str, Any]]) -> str:
    """Paired tests against the baseline, with what their number of seeds allows."""
    if not comparisons:
        return ""
    baseline = comparisons[0]["baseline"]
    names = {"gt_tau": "GT-Tau", "epoch_tau": "epoch tau", "t1r": "T1R"}
    name = " and ".join(dict.fromkeys(names[c["main"]] for c in comparisons))
    if any(c["main"] == "t1r" for c in comparisons) and len({c["main"] for c in comparisons}) > 1:
        name += " (T1R for pruning searches, whose final GT-Tau judges only the children they kept)"
    lines = ["", f"## Paired tests against `{baseline}`", "",
             f"Differences of per-seed figures (variant minus baseline) on the seeds both ran, with the exact "
             f"two-sided sign-flip permutation p-value; the verdict is on {name}. With n paired seeds no p-value is "
             f"below 2/2^n (0.125 for 4, 0.0625 for 5): a study that wants p < 0.05 needs 6 or more.", "",
             "| variant | paired seeds | Δ GT-Tau (p) | Δ T1R (p) | Δ GT-Tau-Mean-k (p) | Δ epoch tau (p) | verdict |",
             "|---|---|---|---|---|---|---|"]
    for c in comparisons:
        cell = lambda key, digits=2: "—" if f"{key}_diff" not in c else \
            f"{c[f'{key}_diff']:+.{digits}f} ({c[f'{key}_p']:.2f})"  # noqa: E731
        lines.append(f"| {c['variant']} | {c.get('pairs', 0)} | {cell('gt_tau')} | {cell('t1r', 1)} | "
                     f"{cell('gt_tau_mean_k')} | {cell('epoch_tau')} | {c['verdict']} |")
    return "\n".join(lines) + "\n\n"


def _k_note(row: dict[str, Any]) -> str:
    """Over what GT-Tau-Mean-k / Std-k were taken: ' (64 steps)' or ' (5 epochs)'."""
    return f" ({row['k']})" if row.get("k") else ""


def _sample_note(space: dict[str, Any]) -> str:
    ranked = space.get("num_children")
    return "" if ranked == space.get("space_size") else f", ranking a fixed sample of {ranked}"


def _sharing_lines(runs: list[Run]) -> list[str]:
    """Each variant's sharing policy with its settings (per-group or fixed budget), once per distinct policy."""
    policies: dict[str, list[str]] = {}
    for r in runs:
        if r.sharing and r.variant not in policies.setdefault(r.sharing, []):
            policies[r.sharing].append(r.variant)
    if not policies:
        return []
    if len(policies) == 1:
        return [f"Sharing: `{next(iter(policies))}`.", ""]
    return ["Sharing:", ""] + [f"- {', '.join(variants)}: `{policy}`" for policy, variants in policies.items()] + [""]


def markdown(inputs: Inputs, rows: list[dict[str, Any]], references: list[dict[str, Any]], last_k: int,
             plots: list[str]) -> str:
    space = inputs.runs[0].space
    step = "epoch" if all(r.every_epoch for r in inputs.runs) else "ranking"  # the stability columns' unit
    lines = ["# Weight-sharing variance report", "",
             f"Space: {space.get('space')} with {space.get('space_size')} children{_sample_note(space)} "
             f"({' x '.join(str(len(c)) for c in space.get('choices', []))}). "
             f"{len(inputs.runs)} runs in {len(rows)} variant(s); {len(inputs.skipped)} skipped. "
             f"Common settings: {' '.join(f'{k}={v}' for k, v in inputs.common.items()) or 'the defaults'}.", "",
             *_sharing_lines(inputs.runs),
             "| variant | runs | S-Tau | GT-Tau | T1R | T3R | regret | "
             f"{step} tau (last {last_k}) | top-1 changes | top-5 overlap | GT-Tau-Mean-k / Std-k (last k) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows + references:
        lines.append(f"| {r['variant']} | {r.get('runs', '—')} | {_ci(r, 's_tau')} | {_ci(r, 'gt_tau')} | "
                     f"{_ci(r, 't1r', 1)} | {_ci(r, 't3r', 1)} | {_ci(r, 'regret', 4)} | {_ci(r, 'epoch_tau')} | "
                     f"{_ci(r, 'top1_changes')} | {_ci(r, 'top5_overlap')} | "
                     f"{_ci(r, 'gt_tau_mean_k')} / {_fmt(r, 'gt_tau_std_k')}{_k_note(r)} |")
    lines += ["", "S-Tau: mean pairwise Kendall tau-b of the instances' final rankings. GT-Tau: Kendall tau-b of the "
              "final ranking against the ground truth (positive = agrees). TnR: best ground-truth rank among the "
              "supernet's top n (1 = found the true best). Regret: ground-truth accuracy of the true best minus that "
              f"of the supernet's pick. {step.capitalize()} tau: mean tau between consecutive {step}s over the last k; "
              f"top-1 changes: share of those {step} steps where the best child changed; top-5 overlap: mean share of "
              "the top 5 two seeds agree on. "
              "Reference rows: the ground truth's own seeds (its ceiling) and random rankings. "
              "Each figure is the mean over seeds with its 95% bootstrap interval in brackets (over seeds; for a "
              "single run, GT-Tau's over children); no interval below 3 seeds. Spreads (min, max, std) are in "
              "summary.csv.", ""]
    lines += [w + "\n" for w in _warnings(rows, references, inputs.runs)]
    if inputs.skipped:
        lines += ["## Skipped", ""] + [f"- `{p}`: {why}" for p, why in inputs.skipped] + [""]
    lines += [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


#: The supernet-help table: (figure, heading, digits).
HELP_COLUMNS = (*((f"top{p}pct_hit", f"top-{p} % hit", 2) for p in TOP_PERCENTS),
                ("pick_percentile", "pick percentile", 1),
                *((f"prune{p}pct_bottom_half", f"pruning {p} %", 2) for p in PRUNE_PERCENTS))


def supernet_help_section(rows: list[dict[str, Any]], references: list[dict[str, Any]]) -> str:
    """What the ranking is good for in a search (How Does Supernet Help, findings ii and iv), for every variant and
    reference row judged against a ground truth."""
    shown = [r for r in rows + references if HELP_COLUMNS[0][0] in r]
    if not shown:
        return ""
    lines = ["", "## Supernet help", "", "| variant | runs | " + " | ".join(h for _, h, _ in HELP_COLUMNS) + " |",
             "|---|---|" + "---|" * len(HELP_COLUMNS)]
    lines += [f"| {r['variant']} | {r.get('runs', '—')} | " + " | ".join(_ci(r, k, d) for k, _, d in HELP_COLUMNS)
              + " |" for r in shown]
    lines += ["", "After *How Does Supernet Help in Neural Architecture Search?* (Zhang, Zhang & Yang 2020, arXiv "
              "2010.08219). A top or bottom p % is p % of the n ranked children, rounded down, at least one; tied "
              "children of the ground truth share the best rank. Top-p % hit: share of seeds whose top p % holds a "
              "child of the true top p % (finding ii: it finds the top 10 % but struggles with the top 1 %). Pick "
              "percentile: where the supernet's pick (its rank 1) lies in the ground truth, 100 × its true rank / n "
              "(at most p: in the true top p %; 100/n: the true best). Pruning p %: of the supernet's bottom p %, what "
              "pruning by it would remove, the share truly in the bottom half (finding iv: it prunes the worst more "
              "reliably than it selects the best). Means over seeds with 95% intervals, as above; the random-ranking "
              "row is chance. summary.csv adds the share of the true top p % in the supernet's top p % "
              "(`top<p>pct_found`), of the true top 1 % and 5 % in its top 10 % (`top<p>pct_in_top10pct`), and of "
              "its bottom 10 % and 25 % truly in the bottom 10 % and 25 % (`prune<p>pct_bottom`).", ""]
    return "\n".join(lines)


def _first_to_last(epochs: list[dict[str, Any]], key: str, digits: int) -> str:
    """'2.301 → 1.204': the mean over seeds at the first and the last epoch that has `key`."""
    have = [e for e in epochs if key in e]
    return f"{_fmt(have[0], key, digits)} → {_fmt(have[-1], key, digits)}" if have else "—"


def loss_section(rows: list[dict[str, Any]], epoch_rows: dict[str, list[dict[str, Any]]], plot: str | None) -> str:
    """Does a better-trained supernet rank better (How Does Supernet Help, finding i)? Per variant, how training loss
    and GT-Tau moved together over the epochs, where the runs have both."""
    epochs = [e for rs in epoch_rows.values() for e in rs]
    if not any("gt_tau" in e for e in epochs):
        return ""
    lines = ["", "## Training loss vs ranking", ""]
    if not any("train_loss" in e for e in epochs):
        return "\n".join(lines + ["No run kept its training loss (`csv/metrics.csv`, from `logger=csv`): nothing to "
                                  "set beside GT-Tau.", ""])
    lines += ["| variant | runs | ρ(train loss, GT-Tau) | train loss, first → last epoch | "
              "GT-Tau, first → last epoch |", "|---|---|---|---|---|"]
    lines += [f"| {r['variant']} | {r.get('runs', '—')} | {_ci(r, 'loss_tau_rho')} | "
              f"{_first_to_last(epoch_rows[r['variant']], 'train_loss', 3)} | "
              f"{_first_to_last(epoch_rows[r['variant']], 'gt_tau', 2)} |" for r in rows]
    drawn = f"; [{plot}]({plot}) draws both, mean and ±1 std over seeds" if plot else ""
    lines += ["", "ρ: Spearman correlation over the epochs between a seed's training loss (`csv/metrics.csv`) and its "
              "GT-Tau, mean over seeds with its 95% interval (seeds with at least 3 such epochs). Negative: the lower "
              "the loss, the better the ranking; near 0 or positive: training the supernet further did not rank the "
              "children better (How Does Supernet Help, finding i: a well-trained supernet is not necessarily a good "
              "ranking model). First → last: means over seeds. Every epoch's values, with the children's mean "
              f"validation loss and the supernet-help figures, are in per_epoch.csv{drawn}.", ""]
    return "\n".join(lines)


def interference_section(by_variant: dict[str, list[Run]], out: Path, baseline: str | None = None) -> str:
    """Each run's interference summary (from its `interference.csv`), per variant: the mean over seeds with its 95%
    bootstrap interval (mean and std in interference.csv), and each variant's paired difference from `baseline`."""
    table: dict[str, dict[str, dict[int, float]]] = {}  # variant -> figure -> seed -> value
    for variant, runs in sorted(by_variant.items()):
        for r in runs:
            f = r.path / "interference.csv"
            if f.exists():
                with open(f, newline="") as fh:
                    for k, v in summarize(list(csv.DictReader(fh))).items():
                        table.setdefault(variant, {}).setdefault(k, {})[r.seed] = v
    if not table:
        return ""
    keys = sorted({k for stats_ in table.values() for k in stats_ if k != "probes"})
    write_csv(out / "interference.csv", ("variant", "runs", *keys, *(f"{k}_std" for k in keys)),
              [[v, len(next(iter(st.values()))), *(_mean(list(st.get(k, {}).values())) for k in keys),
                *(float(np.std(list(st[k].values()))) if k in st else "" for k in keys)] for v, st in table.items()])

    def cell(values: dict[int, float]) -> str:
        interval = statistics.mean_interval(list(values.values()))
        return f"{_mean(list(values.values())):.3f}" + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "")

    lines = ["", "## Interference (runs with the probe)", "",
             "| variant | runs | " + " | ".join(keys) + " |", "|---|---|" + "---|" * len(keys)]
    for v, st in table.items():
        cells = [cell(st[k]) if k in st else "—" for k in keys]
        lines.append(f"| {v} | {len(st[keys[0]])} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + (
        "\n\nMean over seeds of each run's probe summary with its 95% bootstrap interval: mean gradient cosine per "
        "distance d, and Spearman correlations of gradient similarity with d and with input/output similarity (all "
        "pairs, and pairs at layers >= 1 where inputs can differ).\n")
    if baseline not in table or len(table) < 2:
        return text
    lines = ["", f"Paired differences from `{baseline}` (variant minus baseline, exact sign-flip p-value):", "",
             "| variant | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for v, st in table.items():
        if v == baseline:
            continue
        tests = [statistics.paired_test(st.get(k, {}), table[baseline].get(k, {})) for k in keys]
        lines.append(f"| {v} | " + " | ".join("—" if t is None else f"{t['diff']:+.3f} ({t['p']:.2f})"
                                              for t in tests) + " |")
    return text + "\n".join(lines) + "\n"


def recency_section(rows: list[dict[str, Any]]) -> str:
    """The report's Markdown on where the children trained last rank (`benchmark.dense.recency`), or '' without
    dense snapshots."""
    if not rows:
        return ""
    lines = ["## Does the child trained last jump to the top? (dense snapshots)", "",
             "| trained this many steps before the snapshot | runs | snapshots | mean rank (chance) | "
             "ranked first (chance) | in the top 5 (chance) |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['since_trained']} | {r['runs']} | {r['snapshots']} | "
              f"{_ci(r, 'mean_rank', 1)} ({r['chance_rank']:.1f}) | {_ci(r, 'first', 3)} ({r['chance_first']:.3f}) | "
              f"{_ci(r, 'top5')} ({r['chance_top5']:.2f}) |" for r in rows]
    return "\n".join(lines + ["", "Each figure is the mean of the runs' own figures over their dense snapshots, with "
                                  "its 95% bootstrap interval over runs (none below 3 runs).", ""])
