"""The report's numbers: each variant's figures with their intervals, paired tests against a baseline, per-epoch
curves and the reference rows (ground truth's own seeds, random rankings, training-free proxies). The same rows feed
report.md, the CSV files, the plots and W&B, so they are computed once, here."""
from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import yaml
from hydra.utils import instantiate

from benchmark import dense, metrics, statistics
from benchmark.ground_truth import read_table
from benchmark.report.runs import Inputs, Run
from benchmark.spaces import SearchSpace

log = logging.getLogger(__package__)  # the report's one logger, as the Hydra log names it


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


#: Figures measured once per seed: their interval resamples seeds and two variants are compared seed by seed.
PER_SEED = ("gt_tau", "t1r", "t3r", "regret", "gt_tau_mean_k", "epoch_tau", "top1_changes", *metrics.HELP_KEYS,
            "loss_tau_rho")
#: Figures measured on pairs of seeds: their interval resamples seeds; no paired test.
PAIRWISE = ("s_tau", "top5_overlap")
#: Fewer epochs than this say nothing about how training loss and GT-Tau move together (two points always agree).
MIN_EPOCHS = 3


def loss_tau_rho(run: Run) -> float:
    """Spearman rho over the epochs between a judged run's training loss and its GT-Tau (How Does Supernet Help,
    finding i): negative where a lower loss goes with a better ranking, near 0 or positive where training further did
    not rank better; nan with fewer than MIN_EPOCHS epochs holding both (or a constant series)."""
    gt = {e: metrics.kendall_tau(scores, run.truth) for e, scores in run.epochs.items() if e in run.train_loss}
    return metrics.spearman_rho(run.train_loss, gt) if len(gt) >= MIN_EPOCHS else float("nan")


def _help_means(judged: Sequence[tuple[dict[str, float], dict[str, float]]]) -> dict[str, float]:
    """The mean of every supernet-help figure over (ranking, ground truth) pairs."""
    helps = [metrics.supernet_help(scores, truth) for scores, truth in judged]
    return {key: _mean([h[key] for h in helps]) for key in metrics.HELP_KEYS} if helps else {}


def variant_summary(runs: list[Run], last_k: int, dense_k: int = 64) -> dict[str, Any]:
    """The variant's figures (means over seeds), each with a 95% bootstrap interval (`<figure>_low/_high`) over seeds
    or, for a single run, over children; `per_seed` keeps each seed's value for the paired tests. Runs are taken in
    seed order: the intervals' resamples then do not depend on where the folders lie or in what order they were
    given (the same runs in two reports get the same intervals)."""
    runs = sorted(runs, key=lambda r: r.seed)
    seeds = " ".join(str(r.seed) for r in runs)
    row: dict[str, Any] = {"runs": len(runs), "seeds": seeds,
                           "epochs": min(max(r.epochs) for r in runs) + 1, "pruned": any(r.kept_after for r in runs)}
    per_seed: dict[str, dict[int, float]] = {key: {} for key in PER_SEED}
    finals = [r.final for r in runs]
    if len(runs) >= 2 and metrics.same_children(finals):
        st = metrics.s_tau(finals)
        overlap = lambda a, b: metrics.top_k_overlap(a, b, 5)  # noqa: E731
        row.update({"s_tau": st["mean"], "s_tau_min": st["min"], "s_tau_max": st["max"],
                    "top5_overlap": _mean([overlap(a, b) for i, a in enumerate(finals) for b in finals[i + 1:]])})
        _interval(row, "s_tau", statistics.pairwise_interval(finals, metrics.kendall_tau))
        _interval(row, "top5_overlap", statistics.pairwise_interval(finals, overlap))
    for r in runs:
        tail = sorted(r.epochs)[-(last_k + 1):]
        pairs = list(zip(tail, tail[1:]))
        if pairs:
            per_seed["epoch_tau"][r.seed] = _mean([metrics.kendall_tau(r.epochs[a], r.epochs[b]) for a, b in pairs])
            per_seed["top1_changes"][r.seed] = _mean([metrics.ranking(r.epochs[a])[0] != metrics.ranking(r.epochs[b])[0]
                                                      for a, b in pairs])
    judged = [r for r in runs if r.truth]
    for r in judged:
        per_seed["gt_tau"][r.seed] = metrics.kendall_tau(r.final, r.truth)
        per_seed["t1r"][r.seed] = metrics.top_n_rank(r.final, r.truth, 1)
        per_seed["t3r"][r.seed] = metrics.top_n_rank(r.final, r.truth, 3)
        per_seed["regret"][r.seed] = metrics.regret(r.final, r.truth)
        for key, value in metrics.supernet_help(r.final, r.truth).items():
            per_seed[key][r.seed] = value
        if np.isfinite(rho := loss_tau_rho(r)):
            per_seed["loss_tau_rho"][r.seed] = rho
    if judged:
        row["gt_tau_std"] = float(np.std(list(per_seed["gt_tau"].values())))
        if all(r.steps for r in judged):  # Deeper Insights' definition: the last k mini-batches
            lastk = {r.seed: dense.gt_tau_last_k(r.steps, r.truth, dense_k) for r in judged}
            unit = "steps"
        else:
            lastk = {r.seed: metrics.last_k_stats([metrics.kendall_tau(r.epochs[e], r.truth) for e in sorted(r.epochs)],
                                                  last_k) for r in judged}
            unit = "epochs" if all(r.every_epoch for r in judged) else "rankings"  # else the last k are n epochs apart
        per_seed["gt_tau_mean_k"] = {seed: s["mean"] for seed, s in lastk.items()}
        row.update({"gt_tau_std_k": _mean([s["std"] for s in lastk.values()]),
                    "k": f"{min(s['k'] for s in lastk.values())} {unit}"})
    for key, values in per_seed.items():
        if values:
            row[key] = _mean(list(values.values()))
            _interval(row, key, statistics.mean_interval(list(values.values())))
    if len(judged) == 1:  # one seed: how much its GT-Tau owes to which children the space holds
        _interval(row, "gt_tau", statistics.children_interval(judged[0].final, judged[0].truth, metrics.kendall_tau))
    row["ci_over"] = "seeds" if len(runs) >= statistics.MIN_VALUES else "children" if len(judged) == 1 else ""
    row["per_seed"] = {key: values for key, values in per_seed.items() if values}
    return row


def per_seed_rows(rows: Sequence[dict[str, Any]]) -> list[list[Any]]:
    """Each seed's own figures, behind every mean, interval and paired test of the report: a reader can quote a seed
    or redo a test without the run folders."""
    out = []
    for row in rows:
        figures = row.get("per_seed", {})
        for seed in sorted({seed for values in figures.values() for seed in values}):
            out.append([row["variant"], seed, *(figures.get(key, {}).get(seed, "") for key in PER_SEED)])
    return out


def _interval(row: dict[str, Any], key: str, interval: tuple[float, float] | None) -> None:
    if interval is not None:
        row[f"{key}_low"], row[f"{key}_high"] = interval


def compare(rows: list[dict[str, Any]], baseline: str) -> list[dict[str, Any]]:
    """Each variant against `baseline` on the seeds both ran: mean difference and the exact sign-flip p-value of
    every per-seed figure, and a verdict on the main one (GT-Tau with a ground truth, else epoch tau; T1R, the pick's
    true rank, where a side pruned: its final GT-Tau judges only the children it kept)."""
    base = next(r for r in rows if r["variant"] == baseline)
    judged = "gt_tau" in base.get("per_seed", {})
    out = []
    for row in rows:
        if row is base:
            continue
        main = ("t1r" if row.get("pruned") or base.get("pruned") else "gt_tau") if judged else "epoch_tau"
        result: dict[str, Any] = {"variant": row["variant"], "baseline": baseline, "main": main}
        for key in PER_SEED:
            test = statistics.paired_test(row.get("per_seed", {}).get(key, {}), base.get("per_seed", {}).get(key, {}))
            if test is not None:
                result.update({f"{key}_diff": test["diff"], f"{key}_p": test["p"], "pairs": test["pairs"],
                               "p_floor": test["p_floor"]})
        if f"{main}_p" not in result:
            result["verdict"] = "not compared: fewer than two seeds in common"
        elif result[f"{main}_p"] < 0.05:
            result["verdict"] = "differs"
        else:
            floor = f"; {result['pairs']} paired seeds cannot give p below {result['p_floor']:.3f}" \
                if result["p_floor"] >= 0.05 else ""
            result["verdict"] = f"not distinguishable (p = {result[f'{main}_p']:.2f}{floor})"
        out.append(result)
    return out


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
                    "regret": _mean([metrics.regret(s, truth) for s in samples]),
                    **_help_means([(s, truth) for s in samples])})
    return row


def _mean_std(key: str, values: Sequence[float]) -> dict[str, float]:
    """`key` and `<key>_std`: mean and population std over the instances that have the value ({} if none has)."""
    return {key: _mean(values), f"{key}_std": float(np.std(values))} if values else {}


def per_epoch(runs: list[Run]) -> list[dict[str, Any]]:
    """At every epoch all instances reached: S-Tau; GT-Tau, the supernet's training loss and its children's mean
    validation loss (mean and std over instances); the supernet-help figures (means): what training does to the
    ranking, epoch by epoch."""
    rows = []
    judged = [r for r in runs if r.truth]
    for epoch in sorted(set.intersection(*(set(r.epochs) for r in runs))):
        row: dict[str, Any] = {"epoch": epoch}
        if len(runs) >= 2 and metrics.same_children([r.epochs[epoch] for r in runs]):
            row["s_tau"] = metrics.s_tau([r.epochs[epoch] for r in runs])["mean"]
        row.update(_mean_std("gt_tau", [metrics.kendall_tau(r.epochs[epoch], r.truth) for r in judged]))
        for key in ("train_loss", "val_loss"):
            row.update(_mean_std(key, [getattr(r, key)[epoch] for r in runs if epoch in getattr(r, key)]))
        row.update(_help_means([(r.epochs[epoch], r.truth) for r in judged]))
        rows.append(row)
    return rows


#: per_epoch.csv, after the variant.
PER_EPOCH_COLUMNS = ("epoch", "s_tau", "gt_tau", "gt_tau_std", "train_loss", "train_loss_std", "val_loss",
                     "val_loss_std", *metrics.HELP_KEYS)


COLUMNS = ("variant", "runs", "seeds", "epochs", "s_tau", "s_tau_min", "s_tau_max", "gt_tau", "gt_tau_std", "t1r",
           "t3r", "regret", "epoch_tau", "top1_changes", "top5_overlap", "gt_tau_mean_k", "gt_tau_std_k", "k",
           *metrics.HELP_KEYS, "loss_tau_rho", "ci_over",
           *(f"{key}_{end}" for key in PAIRWISE + PER_SEED for end in ("low", "high")))
#: comparisons.csv: each variant against the baseline, seed by seed.
COMPARISON_COLUMNS = ("variant", "baseline", "pairs", "p_floor", "main", "verdict",
                      *(f"{key}_{end}" for key in PER_SEED for end in ("diff", "p")))


def _references(inputs: Inputs, instances: int) -> list[dict[str, Any]]:
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


def proxy_rows(path: str | Path, truth: dict[str, float] | None) -> list[dict[str, Any]]:
    """Training-free baselines from a `proxies.csv` (task=proxies), judged against the runs' ground truth."""
    by_proxy: dict[str, dict[str, float]] = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            by_proxy.setdefault(r["proxy"], {})[r["child"]] = float(r["score"])
    rows = []
    for name, scores in by_proxy.items():
        row: dict[str, Any] = {"variant": f"proxy: {name} (no training)"}
        if len(set(scores.values())) == 1:  # every child scores the same (params on an equal-size space): no ranking
            row["variant"] = f"proxy: {name} (no training; every child scores the same: no ranking)"
        elif truth:
            row.update({k: v for k, v in metrics.ranking_quality(scores, truth).items()
                        if k in ("gt_tau", "t1r", "t3r", "regret", *metrics.HELP_KEYS)})
        rows.append(row)
    return rows
