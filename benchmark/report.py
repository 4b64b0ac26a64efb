"""Cross-seed report: what the rankings of many runs say, in the papers' format.

`python -m benchmark.report PATH... [--out DIR] [--last-k K]` reads run folders (or sweep folders holding them) and
writes `report.md`, `summary.csv`, `per_epoch.csv`, PNG plots and a W&B run per study group. A Hydra callback runs it
at the end of every multirun (`report/` beside the jobs). The report is a pure function of the files runs leave
behind (`rankings.csv`, `snapshot.json`, `.hydra/`, `ground_truth.csv`); a run that is missing, failed, diverged or
truncated is named under "Skipped" and never counted.

Variants are the swept keys other than `seed` (e.g. `sharing=partial sampler=uniform`); seeds of a variant are its
instances. S-Tau is the mean pairwise Kendall tau of the instances' final rankings; GT-Tau, T1R, T3R and regret are
averaged over instances; "epoch tau" is the mean Kendall tau between consecutive epochs over the last k epochs, and
GT-Tau-Mean-k / Std-k are over the last k snapshots of each run, averaged over instances.
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import yaml
from hydra.experimental.callback import Callback
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from benchmark import metrics
from benchmark.callbacks.ranking import HEADER
from benchmark.ground_truth import read_table
from benchmark.spaces import SearchSpace
from benchmark.variants import variant_overrides
from benchmark.io import atomic_path, write_csv

log = logging.getLogger(__name__)

class ReportError(ValueError):
    """Inputs that cannot be reported together (e.g. runs of different spaces)."""


@dataclass
class Run:
    path: Path
    seed: int
    overrides: dict[str, str]  # command-line overrides other than seed, paths and logging
    study: str
    space: dict[str, Any]
    epochs: dict[int, dict[str, float]]  # epoch -> child -> val_acc
    truth: dict[str, float] | None
    variant: str = "default"

    @property
    def final(self) -> dict[str, float]:
        return self.epochs[max(self.epochs)]


@dataclass
class Inputs:
    runs: list[Run] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    common: dict[str, str] = field(default_factory=dict)  # overrides every run shares


def find_run_folders(paths: Sequence[str | Path]) -> list[Path]:
    """Run folders under `paths`: every folder holding `.hydra/config.yaml`."""
    found: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise ReportError(f"{p}: no such folder")
        found += sorted(c.parent.parent for c in p.glob("**/.hydra/config.yaml"))
    return sorted(set(found))


def _study(folder: Path, config: dict[str, Any]) -> str:
    """The run's study name as its W&B group was resolved: the saved config keeps `${hydra:...}` unresolved, so it is
    resolved here against the run's own `.hydra/hydra.yaml` ('' where that cannot be done)."""
    study, hydra_file = str(config.get("study", "")), folder / ".hydra" / "hydra.yaml"
    if "${" not in study:
        return study
    if not hydra_file.exists():
        return ""
    try:
        node = OmegaConf.create({"study": study.replace("${hydra:", "${hydra."),
                                 "hydra": yaml.safe_load(hydra_file.read_text())["hydra"]})
        return str(node.study)
    except Exception:  # an old or hand-made run folder: group its report under 'report'
        return ""


def assign_variants(runs: list[Run]) -> dict[str, str]:
    """Label each run by the overrides that differ between runs (the swept keys); return the shared ones."""
    keys = sorted({k for r in runs for k in r.overrides})
    swept = [k for k in keys if len({r.overrides.get(k) for r in runs}) > 1]
    for r in runs:
        r.variant = " ".join(f"{k}={r.overrides[k]}" for k in swept if k in r.overrides) or "default"
    return {k: runs[0].overrides[k] for k in keys if k not in swept and k in runs[0].overrides}


def load_run(folder: Path) -> Run:
    """One run, fully checked; raises ValueError naming what is wrong."""
    config = yaml.safe_load((folder / ".hydra" / "config.yaml").read_text())
    overrides_file = folder / ".hydra" / "overrides.yaml"
    overrides = yaml.safe_load(overrides_file.read_text()) if overrides_file.exists() else []
    if config.get("task", {}).get("name") != "search":
        raise ValueError(f"task {config.get('task', {}).get('name')!r} is not a search run")
    status = folder / "status.json"
    if status.exists() and json.loads(status.read_text()).get("status") != "completed":
        raise ValueError(f"run did not complete ({json.loads(status.read_text()).get('status')})")
    rankings, snapshot = folder / "rankings.csv", folder / "snapshot.json"
    if not rankings.exists() or not snapshot.exists():
        raise ValueError("no rankings.csv / snapshot.json (the run failed before its first snapshot?)")
    space = json.loads(snapshot.read_text())
    n = space["num_children"]
    epochs: dict[int, dict[str, float]] = {}
    order: dict[int, dict[str, int]] = {}  # epoch -> child -> rank
    truth: dict[str, float] = {}
    with open(rankings, newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ())[: len(HEADER)] != HEADER:
            raise ValueError(f"rankings.csv has header {reader.fieldnames}, expected {list(HEADER)}")
        for line, row in enumerate(reader, start=2):
            try:
                epochs.setdefault(int(row["epoch"]), {})[row["child"]] = float(row["val_acc"])
                order.setdefault(int(row["epoch"]), {})[row["child"]] = int(row["rank"])
                if row.get("gt_acc"):
                    truth[row["child"]] = float(row["gt_acc"])
            except (TypeError, ValueError):
                raise ValueError(f"rankings.csv line {line} is malformed (truncated file?): {row}") from None
    if not epochs:
        raise ValueError("rankings.csv has no snapshots")
    for epoch, children in epochs.items():
        if len(children) != n:
            raise ValueError(f"rankings.csv epoch {epoch} has {len(children)} of {n} children (truncated?)")
    if any(not np.isfinite(v) for children in epochs.values() for v in children.values()):
        raise ValueError("rankings.csv holds non-finite accuracies")
    # Listed by the rank column, so that the metrics judge the run's own pick when accuracies tie (see metrics.py).
    epochs = {e: dict(sorted(children.items(), key=lambda kv: order[e][kv[0]])) for e, children in epochs.items()}
    return Run(folder, int(config.get("seed", 0)), variant_overrides(overrides), _study(folder, config),
               {**{k: space[k] for k in ("space", "decisions", "choices", "num_children")},
                "space_size": space.get("space_size", space["num_children"])}, epochs, truth or None)


def load_inputs(paths: Sequence[str | Path]) -> Inputs:
    inputs = Inputs()
    for folder in find_run_folders(paths):
        try:
            inputs.runs.append(load_run(folder))
        except (OSError, ValueError, KeyError, yaml.YAMLError) as e:
            inputs.skipped.append((str(folder), str(e)))
            log.warning("report: skipping %s: %s", folder, e)
    spaces = {json.dumps(r.space, sort_keys=True) for r in inputs.runs}
    if len(spaces) > 1:
        kinds = [f"{json.loads(s)['space']} {json.loads(s)['choices']}" for s in spaces]
        raise ReportError(f"the runs come from {len(spaces)} different search spaces ({'; '.join(kinds)}); "
                          "report each space separately")
    if len({frozenset(r.final) for r in inputs.runs}) > 1:
        raise ReportError("the runs rank different children (a different search_space.eval_children or eval_seed); "
                          "report each sample separately")
    inputs.common = assign_variants(inputs.runs)
    return inputs


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def variant_summary(runs: list[Run], last_k: int) -> dict[str, Any]:
    row: dict[str, Any] = {"runs": len(runs), "seeds": " ".join(str(r.seed) for r in sorted(runs, key=lambda r: r.seed)),
                           "epochs": min(max(r.epochs) for r in runs) + 1}
    if len(runs) >= 2:
        st = metrics.s_tau([r.final for r in runs])
        row.update({"s_tau": st["mean"], "s_tau_min": st["min"], "s_tau_max": st["max"],
                    "top5_overlap": _mean([metrics.top_k_overlap(a.final, b.final, 5)
                                           for i, a in enumerate(runs) for b in runs[i + 1:]])})
    epoch_taus, top1_changes = [], []
    for r in runs:
        tail = sorted(r.epochs)[-(last_k + 1):]
        epoch_taus += [metrics.kendall_tau(r.epochs[a], r.epochs[b]) for a, b in zip(tail, tail[1:])]
        top1_changes += [metrics.ranking(r.epochs[a])[0] != metrics.ranking(r.epochs[b])[0]
                         for a, b in zip(tail, tail[1:])]
    row["epoch_tau"] = _mean(epoch_taus)
    row["top1_changes"] = _mean(top1_changes)
    judged = [r for r in runs if r.truth]
    if judged:
        gt = [metrics.kendall_tau(r.final, r.truth) for r in judged]
        row.update({"gt_tau": _mean(gt), "gt_tau_std": float(np.std(gt)),
                    "t1r": _mean([metrics.top_n_rank(r.final, r.truth, 1) for r in judged]),
                    "t3r": _mean([metrics.top_n_rank(r.final, r.truth, 3) for r in judged]),
                    "regret": _mean([metrics.regret(r.final, r.truth) for r in judged])})
        lastk = [metrics.last_k_stats([metrics.kendall_tau(r.epochs[e], r.truth) for e in sorted(r.epochs)], last_k)
                 for r in judged]
        row.update({"gt_tau_mean_k": _mean([s["mean"] for s in lastk]), "gt_tau_std_k": _mean([s["std"] for s in lastk])})
    return row


def random_floor(truth: dict[str, float] | None, children: list[str], instances: int, seed: int = 0,
                 trials: int = 200) -> dict[str, Any]:
    """What random rankings score, by simulation (seeded): the floor of every column."""
    rng = np.random.default_rng(seed)
    draw = lambda: dict(zip(children, rng.permutation(len(children)).astype(float)))  # noqa: E731
    row: dict[str, Any] = {"s_tau": _mean([metrics.s_tau([draw() for _ in range(max(2, instances))])["mean"]
                                           for _ in range(trials)])}
    if truth:
        samples = [draw() for _ in range(trials)]
        row.update({"gt_tau": _mean([metrics.kendall_tau(s, truth) for s in samples]),
                    "t1r": _mean([metrics.top_n_rank(s, truth, 1) for s in samples]),
                    "t3r": _mean([metrics.top_n_rank(s, truth, 3) for s in samples]),
                    "regret": _mean([metrics.regret(s, truth) for s in samples])})
    return row


def per_epoch(runs: list[Run]) -> list[dict[str, Any]]:
    """S-Tau and GT-Tau (mean and std over instances) at every epoch all instances reached."""
    rows = []
    for epoch in sorted(set.intersection(*(set(r.epochs) for r in runs))):
        row: dict[str, Any] = {"epoch": epoch}
        if len(runs) >= 2:
            row["s_tau"] = metrics.s_tau([r.epochs[epoch] for r in runs])["mean"]
        gt = [metrics.kendall_tau(r.epochs[epoch], r.truth) for r in runs if r.truth]
        if gt:
            row.update({"gt_tau": _mean(gt), "gt_tau_std": float(np.std(gt))})
        rows.append(row)
    return rows


COLUMNS = ("variant", "runs", "seeds", "epochs", "s_tau", "s_tau_min", "s_tau_max", "gt_tau", "gt_tau_std", "t1r",
           "t3r", "regret", "epoch_tau", "top1_changes", "top5_overlap", "gt_tau_mean_k", "gt_tau_std_k")


def _fmt(row: dict[str, Any], key: str, digits: int = 2) -> str:
    v = row.get(key)
    return "—" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.{digits}f}"


def _sample_note(space: dict[str, Any]) -> str:
    ranked = space.get("num_children")
    return "" if ranked == space.get("space_size") else f", ranking a fixed sample of {ranked}"


def markdown(inputs: Inputs, rows: list[dict[str, Any]], references: list[dict[str, Any]], last_k: int,
             plots: list[str]) -> str:
    space = inputs.runs[0].space if inputs.runs else {}
    lines = ["# Weight-sharing variance report", "",
             f"Space: {space.get('space')} with {space.get('space_size')} children{_sample_note(space)} "
             f"({' x '.join(str(len(c)) for c in space.get('choices', []))}). "
             f"{len(inputs.runs)} runs in {len(rows)} variant(s); {len(inputs.skipped)} skipped. "
             f"Common settings: {' '.join(f'{k}={v}' for k, v in inputs.common.items()) or 'the defaults'}.", "",
             "| variant | runs | S-Tau mean (min, max) | GT-Tau mean ± std | T1R | T3R | regret | "
             f"epoch tau (last {last_k}) | top-1 changes | top-5 overlap | GT-Tau-Mean-{last_k} / Std-{last_k} |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows + references:
        st = f"{_fmt(r, 's_tau')} ({_fmt(r, 's_tau_min')}, {_fmt(r, 's_tau_max')})" if "s_tau_min" in r else _fmt(r, "s_tau")
        lines.append(f"| {r['variant']} | {r.get('runs', '—')} | {st} | {_fmt(r, 'gt_tau')} ± {_fmt(r, 'gt_tau_std')} | "
                     f"{_fmt(r, 't1r', 1)} | {_fmt(r, 't3r', 1)} | {_fmt(r, 'regret', 4)} | {_fmt(r, 'epoch_tau')} | "
                     f"{_fmt(r, 'top1_changes')} | {_fmt(r, 'top5_overlap')} | "
                     f"{_fmt(r, 'gt_tau_mean_k')} / {_fmt(r, 'gt_tau_std_k')} |")
    lines += ["", "S-Tau: mean pairwise Kendall tau-b of the instances' final rankings. GT-Tau: Kendall tau-b of the "
              "final ranking against the ground truth (positive = agrees). TnR: best ground-truth rank among the "
              "supernet's top n (1 = found the true best). Regret: ground-truth accuracy of the true best minus that of "
              "the supernet's pick. Epoch tau: mean tau between consecutive epochs over the last k; top-1 changes: share of those "
              "epoch steps where the best child changed; top-5 overlap: mean share of the top 5 two seeds agree on. "
              "Reference rows: the ground truth's own seeds (its ceiling) and random rankings.", ""]
    if inputs.skipped:
        lines += ["## Skipped", ""] + [f"- `{p}`: {why}" for p, why in inputs.skipped] + [""]
    lines += [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


def build_report(paths: Sequence[str | Path], out: str | Path, last_k: int = 5, use_wandb: bool = True,
                 top_k: int = 5, proxies: str | Path | None = None) -> list[dict[str, Any]]:
    """Write the report for the runs under `paths` into `out`; returns the summary rows."""
    from benchmark import plots

    if not (isinstance(last_k, int) and last_k >= 1):
        raise ReportError(f"last_k={last_k!r}: GT-Tau-Mean-k needs an integer k >= 1 (the last k snapshots)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    inputs = load_inputs(paths)
    by_variant: dict[str, list[Run]] = {}
    for r in inputs.runs:
        by_variant.setdefault(r.variant, []).append(r)
    rows = [{"variant": v, **variant_summary(rs, last_k)} for v, rs in sorted(by_variant.items())]
    references = _references(inputs, max((len(rs) for rs in by_variant.values()), default=2))
    if proxies:
        references = proxy_rows(proxies, next((r.truth for r in inputs.runs if r.truth), None)) + references
    epoch_rows = {v: per_epoch(rs) for v, rs in sorted(by_variant.items())}
    write_csv(out / "summary.csv", COLUMNS, [[r.get(c, "") for c in COLUMNS] for r in rows + references])
    write_csv(out / "per_epoch.csv", ("variant", "epoch", "s_tau", "gt_tau", "gt_tau_std"),
              [[v, r["epoch"], r.get("s_tau", ""), r.get("gt_tau", ""), r.get("gt_tau_std", "")]
               for v, rs in epoch_rows.items() for r in rs])
    pngs = []
    if by_variant:
        if plots.tau_per_epoch(epoch_rows, "s_tau", out / "s_tau_per_epoch.png", "S-Tau"):
            pngs.append("s_tau_per_epoch.png")
        if plots.tau_per_epoch(epoch_rows, "gt_tau", out / "gt_tau_per_epoch.png", "GT-Tau"):
            pngs.append("gt_tau_per_epoch.png")
        plots.rank_trajectories(by_variant, out / "rank_trajectories.png", top=top_k)
        plots.top_k_frequency(by_variant, out / "top_k_frequency.png", k=top_k)
        pngs += ["rank_trajectories.png", "top_k_frequency.png"]
    text = markdown(inputs, rows, references, last_k, pngs) + interference_section(by_variant, out)
    with atomic_path(out / "report.md") as tmp:
        tmp.write_text(text)
    if use_wandb and by_variant:
        _log_wandb(out, by_variant, rows, pngs)
    log.info("report: %d runs, %d skipped -> %s", len(inputs.runs), len(inputs.skipped), out / "report.md")
    return rows


def _references(inputs: Inputs, instances: int) -> list[dict[str, Any]]:
    if not inputs.runs:
        return []
    truth = next((r.truth for r in inputs.runs if r.truth), None)
    refs = []
    table = next((r.path / "ground_truth.csv" for r in inputs.runs if (r.path / "ground_truth.csv").exists()), None)
    if table is not None:
        config = yaml.safe_load((table.parent / ".hydra" / "config.yaml").read_text())
        space: SearchSpace = instantiate(config["search_space"])
        try:
            gt = read_table(table, space, metric=config.get("ground_truth", {}).get("metric", "test_acc"))
        except ValueError as e:  # named and skipped: the runs' own rows still stand
            log.warning("report: ground-truth reference rows skipped, %s is unreadable (%s)", table, e)
            gt = None
        s = gt.stability(children=inputs.runs[0].final) if gt is not None else {}
        if "s_tau" in s:
            refs.append({"variant": f"ground truth ({int(s['seeds'])} seeds, leave-one-out)", "runs": int(s["seeds"]),
                         "s_tau": s["s_tau"], "s_tau_min": s["s_tau_min"], "s_tau_max": s["s_tau_max"],
                         "gt_tau": s["gt_tau"], "gt_tau_std": s["gt_tau_std"], "t1r": s["t1r"], "t3r": s["t3r"]})
    refs.append({"variant": "random ranking", **random_floor(truth, sorted(inputs.runs[0].final), instances)})
    return refs


def interference_section(by_variant: dict[str, list[Run]], out: Path) -> str:
    """Mean +- std over seeds of each run's interference summary (from its `interference.csv`), per variant."""
    from benchmark.callbacks.interference import summarize

    table: dict[str, dict[str, list[float]]] = {}
    for variant, runs in sorted(by_variant.items()):
        for r in runs:
            f = r.path / "interference.csv"
            if f.exists():
                with open(f, newline="") as fh:
                    for k, v in summarize(list(csv.DictReader(fh))).items():
                        table.setdefault(variant, {}).setdefault(k, []).append(v)
    if not table:
        return ""
    keys = sorted({k for stats_ in table.values() for k in stats_ if k != "probes"})
    write_csv(out / "interference.csv", ("variant", "runs", *keys),
              [[v, len(next(iter(st.values()))), *(_mean(st.get(k, [])) for k in keys)] for v, st in table.items()])
    lines = ["", "## Interference (runs with the probe)", "",
             "| variant | runs | " + " | ".join(keys) + " |", "|---|---|" + "---|" * len(keys)]
    for v, st in table.items():
        cells = [f"{_mean(st[k]):.3f} ± {float(np.std(st[k])):.3f}" if k in st else "—" for k in keys]
        lines.append(f"| {v} | {len(st[keys[0]])} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\nMean ± std over seeds of each run's probe summary: mean gradient cosine per distance d, " \
        "and Spearman correlations of gradient similarity with d and with input/output similarity (all pairs, and " \
        "pairs at layers >= 1 where inputs can differ).\n"


def proxy_rows(path: str | Path, truth: dict[str, float] | None) -> list[dict[str, Any]]:
    """Training-free baselines from a `proxies.csv` (task=proxies), judged against the runs' ground truth."""
    by_proxy: dict[str, dict[str, float]] = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            by_proxy.setdefault(r["proxy"], {})[r["child"]] = float(r["score"])
    rows = []
    for name, scores in by_proxy.items():
        row: dict[str, Any] = {"variant": f"proxy: {name} (no training)"}
        if truth:
            row.update({k: v for k, v in metrics.ranking_quality(scores, truth).items()
                        if k in ("gt_tau", "t1r", "t3r", "regret")})
        rows.append(row)
    return rows


def _log_wandb(out: Path, by_variant: dict[str, list[Run]], rows: list[dict[str, Any]], pngs: list[str]) -> None:
    """One report run per study group, so the dashboard shows the cross-seed numbers beside the seeds' runs."""
    try:
        import wandb
    except ImportError:  # pragma: no cover - wandb is a requirement
        return
    for row in rows:
        group = by_variant[row["variant"]][0].study or "report"
        run = wandb.init(project="weight-sharing-benchmark", group=group, job_type="report", name=f"report-{group}",
                         dir=str(out), mode="offline", reinit="finish_previous", config={"variant": row["variant"]})
        try:
            run.summary.update({k: v for k, v in row.items() if isinstance(v, (int, float))})
            run.log({"report/summary": wandb.Table(columns=list(COLUMNS), data=[[r.get(c) for c in COLUMNS]
                                                                                 for r in rows]),
                     **{f"report/{Path(p).stem}": wandb.Image(str(out / p)) for p in pngs}})
        finally:
            run.finish()


class MultirunReport(Callback):
    """Hydra callback: at the end of a multirun, write the report beside the jobs (`<sweep dir>/report/`)."""

    def __init__(self, last_k: int = 5, use_wandb: bool = True) -> None:
        self.last_k, self.use_wandb = last_k, use_wandb

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep = Path(config.hydra.sweep.dir)
        if config.task.name != "search":
            return
        try:
            build_report([sweep], sweep / "report", last_k=self.last_k, use_wandb=self.use_wandb)
        except ReportError as e:
            log.error("report: %s", e)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", help="run folders or folders holding them (e.g. a multirun sweep)")
    parser.add_argument("--out", help="report folder (default: <first path>/report)")
    parser.add_argument("--last-k", type=int, default=5, help="epochs for the within-run stability columns")
    parser.add_argument("--no-wandb", action="store_true", help="do not write a W&B report run")
    parser.add_argument("--proxies", help="a proxies.csv (task=proxies) to show as training-free baseline rows")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        build_report(args.paths, args.out or Path(args.paths[0]) / "report", args.last_k, not args.no_wandb,
                     proxies=args.proxies)
    except ReportError as e:
        raise SystemExit(f"error: {e}")


if __name__ == "__main__":
    main()
