"""Every chart of the dashboards and the keys it draws: the one place where the dashboards name what the runs log.

A chart names keys or glob patterns; a pattern stands for every logged key it matches, so a metric the runs start to
log appears without an edit here: each `ranking/*` number without a chart of its own gets one (`each`), and so do
`train/*` and `val/*`. A chart none of whose keys was logged is left out; a section whose `needs` matched nothing says
what to run instead. tests/test_dashboard.py builds the dashboards from real runs and requires every chart here to
appear with every key it names, so a renamed metric fails a test instead of leaving a panel empty.

Charts of the seeds' runs (job type `search` or `prune_search`) are drawn against the epoch as the mean over a
study's seeds with a +-1 std band; those of the report runs (job type `report`, one per variant,
benchmark/report/wandb_run.py) hold the cross-seed figures, the ceiling (`ground_truth/...`: the ground truth's own
seeds) and the floor (`random/...`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: line: against the epoch; step: against trainer/global_step; bar: each run's last value; image; table.
Kind = Literal["line", "step", "bar", "image", "table"]


@dataclass(frozen=True)
class Chart:
    title: str  # with `each`, a format string of `key`
    keys: tuple[str, ...]  # logged keys or fnmatch patterns over them
    kind: Kind = "line"
    each: bool = False  # one chart per matched key that no chart without `each` draws


@dataclass(frozen=True)
class Section:
    name: str
    about: str  # what the section shows, at its top
    charts: tuple[Chart, ...]
    needs: str = ""  # a key pattern: when no logged key matches it ...
    missing: str = ""  # ... the section says this (what to run) instead


GT_TAU = Chart("GT-Tau: Kendall tau-b against the ground truth (flat lines: its ceiling and the random floor)",
               ("ranking/gt_tau", "per_epoch/gt_tau_ground_truth", "per_epoch/gt_tau_random"))
RANKING = Section(
    "Ranking quality",
    "How well each epoch's shared-weight ranking agrees with the ground truth (every child trained alone): mean over "
    "the study's seeds with a +-1 std band. Precision at k: the share of the true top k among the supernet's top k; "
    "T1R/T3R: the best true rank among its top 1/top 3 (1 = found the true best); regret: true accuracy of the true "
    "best minus that of the supernet's pick; top p % and pruning precision after How Does Supernet Help. Every other "
    "per-epoch ranking metric the runs log follows, one chart each.",
    (GT_TAU,
     Chart("Spearman's rho against the ground truth", ("ranking/spearman",)),
     Chart("Precision at k", ("ranking/p_at_*",)),
     Chart("T1R and T3R (lower is better)", ("ranking/t1r", "ranking/t3r")),
     Chart("Regret of the supernet's pick", ("ranking/regret",)),
     Chart("Top p %: share of the true top p % among the supernet's top p %", ("ranking/top*pct_found",)),
     Chart("Top p %: whether the supernet's top p % holds a true top-p % child", ("ranking/top*pct_hit",)),
     Chart("Pruning precision: share of the supernet's bottom p % that truly is bad", ("ranking/prune*pct_*",)),
     Chart("Children's accuracy with shared weights: best, mean, worst",
           ("ranking/best_acc", "ranking/mean_acc", "ranking/worst_acc")),
     Chart("{key}", ("ranking/*",), each=True)),
    needs="ranking/gt_tau",
    missing="No ground truth: these runs were judged against nothing. `python run.py task=ground_truth` with the "
            "study's data and search_space overrides trains every child alone once; runs after it are judged.")
S_TAU = Chart("S-Tau per epoch: agreement between the seeds' rankings (flat lines: ceiling and floor)",
              ("per_epoch/s_tau", "per_epoch/s_tau_ground_truth", "per_epoch/s_tau_random"))
STABILITY = Section(
    "Stability",
    "Whether rankings settle and whether seeds agree, per variant (its report run): S-Tau, the mean Kendall tau "
    "between the seeds' rankings at each epoch; consecutive-epoch tau, between each seed's ranking and its previous "
    "epoch's (mean over seeds); the share of the top 5 two seeds agree on; GT-Tau's spread over seeds; and each seed's "
    "top children per epoch.",
    (S_TAU,
     Chart("Consecutive-epoch tau (mean over seeds)", ("per_epoch/epoch_tau",)),
     Chart("Top-5 overlap between seeds", ("per_epoch/top5_overlap",)),
     Chart("GT-Tau: mean and std over seeds", ("per_epoch/gt_tau", "per_epoch/gt_tau_std")),
     Chart("Top children per epoch", ("ranking/top_k",), "table")))
TRAINING = Section(
    "Training",
    "The supernet's training loss and accuracy per epoch (mean over seeds, +-1 std), the training loss beside the "
    "children's mean validation loss, and every other training or validation metric the runs log.",
    (Chart("Training loss", ("train/loss",)),
     Chart("Training accuracy", ("train/acc",)),
     Chart("Training loss and the children's mean validation loss (report run: mean over seeds)",
           ("per_epoch/train_loss", "per_epoch/val_loss")),
     Chart("{key}", ("train/*", "val/*"), each=True)))
INTERFERENCE = Section(
    "Interference",
    "How much children disagree about the gradient of an operator they share (Xu et al., 2022): the mean gradient "
    "cosine per distance d (how many other decisions differ) while training, its mean per d over the run, Spearman "
    "correlations of gradient similarity with d and with input/output similarity, and the probe's plot.",
    (Chart("Gradient cosine per distance d, during training", ("interference/grad_cos_d*",), "step"),
     Chart("Mean gradient cosine vs distance d", ("interference/grad_cos_mean_d*",), "bar"),
     Chart("Spearman correlations of gradient similarity", ("interference/spearman_*",), "bar"),
     Chart("The probe's plot", ("interference/plot",), "image")),
    needs="interference/*",
    missing="No run of this study had the interference probe on: add `callbacks=with_interference` (or "
            "`experiment=interference`).")
VARIANT_GT_TAU = Chart("GT-Tau per variant, training-free proxies, ceiling and floor",
                       ("gt_tau", "proxy/*/gt_tau", "ground_truth/gt_tau", "random/gt_tau"), "bar")
VARIANTS = (
    VARIANT_GT_TAU,
    Chart("T1R per variant, proxies, ceiling and floor (lower is better)",
          ("t1r", "proxy/*/t1r", "ground_truth/t1r", "random/t1r"), "bar"),
    Chart("S-Tau per variant, ceiling and floor", ("s_tau", "ground_truth/s_tau", "random/s_tau"), "bar"),
    Chart("Regret per variant, proxies and floor", ("regret", "proxy/*/regret", "random/regret"), "bar"),
    Chart("Top p % found per variant, proxies and floor",
          ("top*pct_found", "proxy/*/top*pct_found", "random/top*pct_found"), "bar"),
    Chart("True percentile of the pick per variant, proxies and floor",
          ("pick_percentile", "proxy/*/pick_percentile", "random/pick_percentile"), "bar"),
    Chart("Consecutive-epoch tau and top-1 changes over the last epochs", ("epoch_tau", "top1_changes"), "bar"),
    Chart("Top-5 overlap between seeds", ("top5_overlap",), "bar"),
)
PROXIES = Section(
    "Proxies, ceiling and floor",
    "Each variant's final figures (means over seeds, from its report run) beside training-free proxies scored on the "
    "same children, the ground truth's own seeds (the ceiling) and random rankings (the floor).",
    VARIANTS,
    needs="proxy/*",
    missing="No proxies in the report: `python run.py task=proxies` scores the children, then "
            "`python -m benchmark.report <sweep> --proxies <proxies run>/proxies.csv` adds them.")
#: The workspace, top to bottom.
SECTIONS = (RANKING, STABILITY, TRAINING, INTERFERENCE, PROXIES)

#: The report run's tables and plots (benchmark/report/wandb_run.py), which every report run logs alike.
VARIANCE_TABLE = Chart("The variance table", ("report/variance",), "table")
SUMMARY_TABLE = Chart("Every figure with its interval", ("report/summary",), "table")
RANKINGS_TABLE = Chart("Final rankings", ("report/rankings",), "table")
REPORT_PLOTS = Chart("Rank trajectories, how often children make the top k, and loss against GT-Tau",
                     ("report/rank_trajectories", "report/top_k_frequency", "report/loss_vs_gt_tau"), "image")
#: The report runs' summary figures shown as columns of the variants' table, each with its interval.
FIGURES = ("gt_tau", "s_tau", "t1r", "t3r", "regret", "epoch_tau", "top5_overlap", "gt_tau_mean_k")
