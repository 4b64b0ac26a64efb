"""PNG plots of a report (matplotlib, headless)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from benchmark import metrics  # noqa: E402


def tau_per_epoch(per_variant: dict[str, list[dict[str, Any]]], key: str, path: Path, title: str) -> bool:
    """Mean (and +- std band where there is one) of `key` per epoch, one line per variant."""
    fig, ax = plt.subplots(figsize=(7, 4))
    drawn = False
    for variant, rows in per_variant.items():
        pts = [(r["epoch"], r[key], r.get(f"{key}_std", 0.0)) for r in rows if key in r]
        if not pts:
            continue
        e, m, s = map(np.array, zip(*pts))
        ax.plot(e, m, label=variant)
        ax.fill_between(e, m - s, m + s, alpha=0.2)
        drawn = True
    if drawn:
        ax.set(xlabel="epoch", ylabel=title, title=f"{title} per epoch", ylim=(-1, 1))
        ax.axhline(0, color="grey", lw=0.5)
        ax.legend(fontsize="small")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    plt.close(fig)
    return drawn


def rank_trajectories(runs_by_variant: dict[str, list], path: Path, top: int = 5) -> None:
    """Rank over epochs of each variant's best children (by mean final rank), mean and range across seeds."""
    fig, axes = plt.subplots(1, len(runs_by_variant), figsize=(5 * len(runs_by_variant), 4), squeeze=False)
    for ax, (variant, runs) in zip(axes[0], runs_by_variant.items()):
        epochs = sorted(set.intersection(*(set(r.epochs) for r in runs)))
        ranks = {e: [metrics.ranks(r.epochs[e]) for r in runs] for e in epochs}
        final = {c: np.mean([rk[c] for rk in ranks[epochs[-1]]]) for c in ranks[epochs[-1]][0]}
        for child in sorted(final, key=final.get)[:top]:
            per = np.array([[rk[child] for rk in ranks[e]] for e in epochs])
            ax.plot(epochs, per.mean(1), label=child)
            ax.fill_between(epochs, per.min(1), per.max(1), alpha=0.15)
        ax.set(xlabel="epoch", ylabel="rank (1 = best)", title=variant)
        ax.invert_yaxis()
        ax.legend(fontsize="small", title="child")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def top_k_frequency(runs_by_variant: dict[str, list], path: Path, k: int = 5) -> None:
    """How often each child is in the top-k, over all seeds and epochs: a flat bar = a volatile ranking."""
    fig, axes = plt.subplots(len(runs_by_variant), 1, figsize=(12, 2.6 * len(runs_by_variant)), squeeze=False)
    for ax, (variant, runs) in zip(axes[:, 0], runs_by_variant.items()):
        children = sorted(runs[0].final)
        counts = dict.fromkeys(children, 0)
        total = 0
        for r in runs:
            for scores in r.epochs.values():
                for c in metrics.ranking(scores)[:k]:
                    counts[c] += 1
                total += 1
        ax.bar(range(len(children)), [counts[c] / total for c in children])
        ax.set(ylabel=f"share in top-{k}", title=variant, ylim=(0, 1))
        ax.set_xticks(range(len(children)), children, rotation=90, fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
