"""PNG plots of a report (matplotlib, headless), each readable on its own: every axis is labelled, a caption under the
plot says what the lines and shaded bands are, and the report's reference rows (the ground truth's own agreement, its
ceiling; random rankings, the floor) are drawn as labelled lines.

Each plot has a `*_figure` function that returns the matplotlib Figure (None where there is nothing to draw), so that
tests can inspect it, and a function of the old name that saves it as a PNG.
"""
from __future__ import annotations

import math
import re
import textwrap
from pathlib import Path
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from benchmark import metrics  # noqa: E402

#: What the x axis of the per-epoch plots counts (rankings.csv's `epoch`: a ranking is taken after every epoch).
EPOCH_LABEL = "epoch (ranked at the end of each; 0 = the first)"
#: At most this many children get a bar in the top-k frequency plot (the most frequent ones).
MAX_BARS = 30
#: Above this many characters a child's name is shortened on an axis (NAS-Bench-201 arch strings).
SHORT_NAME = 18
BAND_ALPHA = 0.18
DPI = 110


# -- helpers ---------------------------------------------------------------------------------------------------------
def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _fit(values: Sequence[float], lo: float | None = None, hi: float | None = None, include: Sequence[float] = (),
         pad: float = 0.08, min_span: float = 0.2) -> tuple[float, float]:
    """Axis limits holding every finite value (and `include`) with `pad` of the span either side, clipped to lo/hi."""
    vals = [float(v) for v in (*values, *include) if _finite(v)]
    if not vals:
        return (lo if lo is not None else 0.0, hi if hi is not None else 1.0)
    a, b = min(vals), max(vals)
    if b - a < min_span:  # a flat line gets room, centred on it
        mid = (a + b) / 2
        a, b = mid - min_span / 2, mid + min_span / 2
    a, b = a - pad * (b - a), b + pad * (b - a)
    return (a if lo is None else max(lo, a), b if hi is None else min(hi, b))


def _num(value: float) -> str:
    """Two decimals, without a '-0.00' for a value that rounds to zero."""
    text = f"{value:.2f}"
    return "0.00" if text == "-0.00" else text


def _caption(fig: Figure, text: str, fontsize: float = 8.5) -> None:
    """A caption under everything already drawn (axes, their labels, legends below them), as wide as the drawing,
    left-aligned with it; call it once the layout is final. savefig's tight bounding box keeps it in the PNG."""
    if not fig.canvas or not hasattr(fig.canvas, "get_renderer"):
        FigureCanvasAgg(fig)
    box = fig.get_tightbbox(fig.canvas.get_renderer())  # inches
    chars = max(80, int(box.width * 72 / (fontsize * 0.52)))
    fig.text(box.x0 / fig.get_figwidth(), (box.y0 - 0.12) / fig.get_figheight(), textwrap.fill(text, chars),
             ha="left", va="top", fontsize=fontsize, color="0.2")


def _widen_for(fig: Figure, legend: Any) -> None:
    """Lay the figure out with the legend beside the plot, widening the figure by the legend's width so that the
    plot keeps its own."""
    fig.tight_layout()
    if not fig.canvas or not hasattr(fig.canvas, "get_renderer"):
        FigureCanvasAgg(fig)
    extra = legend.get_window_extent(fig.canvas.get_renderer()).width / fig.dpi
    fig.set_figwidth(fig.get_figwidth() + extra + 0.2)
    fig.tight_layout()


def _save(fig: Figure | None, path: Path) -> bool:
    if fig is None:
        return False
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    return True


def _seeds(n: int) -> str:
    return f"{n} seed{'s' if n != 1 else ''}"


def describe(child: str, space: dict[str, Any] | None) -> str:
    """The ops of a child from its name and the space's choices ('1-2-0' -> 'conv5 > dilconv3 > conv3'; '142' for
    1-based digit names); '' where the name does not index the choices (arch strings describe themselves)."""
    choices = (space or {}).get("choices") or []
    if "-" in child:
        parts = child.split("-")
        offset = 0
    elif child.isdigit():
        parts, offset = list(child), 1
    else:
        return ""
    try:
        idx = [int(p) - offset for p in parts]
    except ValueError:
        return ""
    if len(idx) != len(choices) or not all(0 <= d < len(c) for d, c in zip(idx, choices)):
        return ""
    return " > ".join(str(c[d]) for d, c in zip(idx, choices))


def _abbreviate_op(op: str) -> str:
    """'nor_conv_3x3' -> 'conv3', 'avg_pool_3x3' -> 'avgpool3', 'skip_connect' -> 'skip'."""
    op = op.replace("nor_", "").replace("_connect", "")
    op = re.sub(r"_(\d)x\1", r"\1", op)
    return op.replace("_", "")


def short_name(child: str, limit: int = SHORT_NAME) -> str:
    """A child's name short enough for an axis: unchanged when short; an arch string '|op~0|+|op~0|op~1|+|...|' as its
    abbreviated ops by node ('conv3 | skip conv1 | ...'); anything else cut with an ellipsis."""
    if len(child) <= limit:
        return child
    if "~" in child:
        nodes = [" ".join(_abbreviate_op(e.split("~")[0]) for e in node.strip("|").split("|") if e)
                 for node in child.split("+")]
        return " | ".join(nodes)
    return child[: limit - 1] + "…"


def _name_key(children: Sequence[str], space: dict[str, Any] | None) -> str:
    """How to read the children's names: which op each index stands for (where every decision has the same choices),
    or that they are abbreviated arch strings."""
    choices = (space or {}).get("choices") or []
    named = [c for c in children if describe(c, space)]
    if named and choices and all(list(c) == list(choices[0]) for c in choices):
        offset = 0 if "-" in named[0] else 1
        decisions = ", ".join(map(str, (space or {}).get("decisions") or [])) or "each decision"
        ops = ", ".join(f"{i + offset} = {op}" for i, op in enumerate(choices[0]))
        return f"Child names: the op chosen for {decisions}, in order ({ops})."
    if any("~" in c and len(c) > SHORT_NAME for c in children):
        return "Child names: the arch string's ops by node, abbreviated (conv3 = nor_conv_3x3, skip = skip_connect)."
    return ""


#: How each kind of reference row is drawn, and what the caption says of it.
LINE_STYLES = {"ceiling": {"color": "black", "ls": "--", "lw": 1.3}, "floor": {"color": "0.45", "ls": ":", "lw": 1.5},
               "other": {"color": "0.6", "ls": "-.", "lw": 1.0}}
REF_TEXT = {"ceiling": "Black dashed: the ground truth's own seeds (the ceiling: how far rankings can agree given the "
                       "noise of training).",
            "floor": "Grey dotted: random rankings (the floor).",
            "other": "Dash-dotted: the report's other reference rows (e.g. training-free proxies)."}


def _reference_lines(references: Sequence[dict[str, Any]] | None, key: str) -> list[tuple[str, float, str]]:
    """(legend label, value, kind: ceiling, floor or other) for the report's reference rows that hold `key`."""
    lines = []
    for row in references or ():
        value, name = row.get(key), str(row.get("variant", ""))
        if not _finite(value):
            continue
        if name.startswith("ground truth"):
            seeds = row.get("runs")
            what = ("its seeds' agreement with each other" if key == "s_tau"
                    else "each of its seeds vs the mean of the others")
            label = f"ceiling: ground truth{f' ({_seeds(int(seeds))})' if seeds else ''}, {what} = {_num(value)}"
            kind = "ceiling"
        elif name == "random ranking":
            label = f"floor: random rankings (simulated) = {_num(value)}"
            kind = "floor"
        else:  # e.g. training-free proxies
            label = f"{name} = {_num(value)}"
            kind = "other"
        lines.append((label, float(value), kind))
    return lines


# -- S-Tau / GT-Tau per epoch ----------------------------------------------------------------------------------------
#: Per key: the plot's question, the y axis, and what the line is.
TAU_TEXT = {
    "s_tau": ("do the seeds rank the children alike?", "S-Tau (Kendall tau-b, seed vs seed)",
              "Line: S-Tau, the Kendall tau-b between the rankings two seeds of a variant gave after that epoch, "
              "averaged over all pairs of its seeds."),
    "gt_tau": ("does the ranking match the ground truth?", "GT-Tau (Kendall tau-b vs ground truth)",
               "Line: GT-Tau, the Kendall tau-b between a seed's ranking after that epoch and the ground truth (the "
               "children trained alone), averaged over the variant's seeds."),
}


def _s_tau_range(runs: list, epochs: Sequence[int]) -> tuple[np.ndarray, np.ndarray] | None:
    """Min and max of the pairwise tau per epoch, where a variant has at least two seed pairs."""
    if len(runs) < 3:
        return None
    tables = [[r.epochs[e] for r in runs] for e in epochs]
    st = [metrics.s_tau(t) if metrics.same_children(t) else {"min": np.nan, "max": np.nan} for t in tables]
    return np.array([s["min"] for s in st]), np.array([s["max"] for s in st])


def _counts(phrases: dict[str, str]) -> str:
    """'4 seeds' when every variant has the same, else 'sharing=full: 4 seeds; sharing=partial: 3 seeds'."""
    if len(set(phrases.values())) == 1:
        return next(iter(phrases.values()))
    return "; ".join(f"{v}: {p}" for v, p in phrases.items())


def tau_figure(per_variant: dict[str, list[dict[str, Any]]], key: str, title: str,
               references: Sequence[dict[str, Any]] | None = None,
               runs_by_variant: dict[str, list] | None = None) -> Figure | None:
    """`key` ('s_tau' or 'gt_tau') per epoch, one line per variant with a band over its seeds (where `runs_by_variant`
    says how many there are), and the report's reference rows as labelled horizontal lines; None where no variant has
    the value."""
    fig = Figure(figsize=(8, 4.4))
    ax = fig.add_subplot()
    question, ylabel, line_text = TAU_TEXT.get(key, ("", title, f"Line: mean {title} over the variant's seeds."))
    values: list[float] = []
    bands: dict[str, str] = {}
    drawn = False
    for i, (variant, rows) in enumerate(per_variant.items()):
        pts = [r for r in rows if _finite(r.get(key))]
        if not pts:
            continue
        color = f"C{i % 10}"
        e = np.array([r["epoch"] for r in pts])
        m = np.array([r[key] for r in pts], float)
        runs = (runs_by_variant or {}).get(variant, [])
        counted = [r for r in runs if r.truth] if key == "gt_tau" else runs
        band = None
        if key == "gt_tau" and len(counted) >= 2:
            s = np.array([r.get("gt_tau_std", 0.0) for r in pts], float)
            band = (m - s, m + s)
            bands[variant] = _seeds(len(counted))
        elif key == "s_tau" and runs:
            band = _s_tau_range(runs, list(e))
            if band is not None:
                bands[variant] = f"{len(runs) * (len(runs) - 1) // 2} seed pairs"
        label = f"{variant} ({_seeds(len(counted))})" if counted else variant
        ax.plot(e, m, color=color, marker="o", ms=4, label=label)
        values += list(m)
        if band is not None:
            ax.fill_between(e, band[0], band[1], color=color, alpha=BAND_ALPHA, lw=0)
            values += list(band[0]) + list(band[1])
        drawn = True
    if not drawn:
        return None
    refs = _reference_lines(references, key)
    for label, value, kind in refs:
        ax.axhline(value, label=label, **LINE_STYLES[kind])
    ax.axhline(0, color="0.75", lw=0.7, zorder=0)
    handles, labels = ax.get_legend_handles_labels()
    if bands:
        handles.append(Patch(color="0.5", alpha=BAND_ALPHA + 0.1))
        labels.append("band: ±1 std over the seeds" if key == "gt_tau" else "band: min–max over seed pairs")
    # Fitted to the lines, bands and reference lines, with 0 (no agreement) always in view; tau never leaves [-1, 1].
    ax.set_ylim(*_fit(values + [v for _, v, _ in refs], lo=-1.02, hi=1.02, include=[0.0], min_span=0.4))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel=EPOCH_LABEL, ylabel=ylabel)
    ax.set_title(f"{title} per epoch: {question}" if question else f"{title} per epoch")
    ax.grid(alpha=0.3)
    legend = ax.legend(handles, labels, fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0),
                       borderaxespad=0)
    _widen_for(fig, legend)
    if key == "gt_tau":
        band_text = (f"Band: ±1 std (population) of the seeds' GT-Tau around the mean ({_counts(bands)})."
                     if bands else "No band: no variant has two seeds judged against the ground truth.")
    else:
        band_text = (f"Band: the lowest to the highest tau of any two seeds ({_counts(bands)})." if bands else
                     "No band: a variant with 2 seeds has a single pair, so there is no spread to show.")
    kinds = {kind for _, _, kind in refs}
    ref_text = " ".join(text for kind, text in REF_TEXT.items() if kind in kinds)
    if "ceiling" not in kinds:
        ref_text += " No ceiling: the report has no ground truth with two or more seeds of its own."
    _caption(fig, f"{line_text} {band_text} {ref_text} Tau is unitless, from -1 (reversed) through 0 (unrelated, "
                  f"grey line) to 1 (the same order).")
    return fig


def tau_per_epoch(per_variant: dict[str, list[dict[str, Any]]], key: str, path: Path, title: str,
                  references: Sequence[dict[str, Any]] | None = None,
                  runs_by_variant: dict[str, list] | None = None) -> bool:
    """Save `tau_figure` to `path`; False (and no file) where there is nothing to draw."""
    return _save(tau_figure(per_variant, key, title, references, runs_by_variant), path)


# -- training loss vs GT-Tau ----------------------------------------------------------------------------------------
#: Per curve: its axis (0: the loss's, on the left; 1: GT-Tau's, on the right) and line style.
LOSS_TAU_CURVES = {"train_loss": (0, "-"), "gt_tau": (1, "--")}


def loss_tau_figure(per_variant: dict[str, list[dict[str, Any]]], runs_by_variant: dict[str, list] | None = None,
                    rho: dict[str, float] | None = None) -> Figure | None:
    """Per variant, the supernet's training loss (left axis, solid) and GT-Tau (right axis, dashed) after every epoch:
    mean over seeds with a ±1 std band, so that whether a better-trained supernet ranks better can be read off (How
    Does Supernet Help, finding i). `rho`: each variant's Spearman rho between the two, for its legend. None where no
    variant has both."""
    fig = Figure(figsize=(8, 4.6))
    axes = [fig.add_subplot()]
    axes.append(axes[0].twinx())
    handles, labels, values, banded = [], [], ([], []), {}
    for i, (variant, rows) in enumerate(per_variant.items()):
        pts = [r for r in rows if all(_finite(r.get(key)) for key in LOSS_TAU_CURVES)]
        if not pts:
            continue
        color, epochs = f"C{i % 10}", np.array([r["epoch"] for r in pts])
        seeds = len([r for r in (runs_by_variant or {}).get(variant, []) if r.truth and r.train_loss])
        for key, (side, style) in LOSS_TAU_CURVES.items():
            mean = np.array([r[key] for r in pts], float)
            axes[side].plot(epochs, mean, color=color, ls=style, marker="o", ms=3.5)
            values[side].extend(mean)
            if seeds >= 2:
                std = np.array([r.get(f"{key}_std", 0.0) for r in pts], float)
                axes[side].fill_between(epochs, mean - std, mean + std, color=color, alpha=BAND_ALPHA, lw=0)
                values[side].extend([*(mean - std), *(mean + std)])
                banded[variant] = _seeds(seeds)
        correlation = (rho or {}).get(variant)
        handles.append(Line2D([], [], color=color, marker="o", ms=3.5))
        labels.append(f"{variant} ({_seeds(seeds)})" + (f": ρ = {_num(correlation)}" if _finite(correlation) else ""))
    if not handles:
        return None
    handles += [Line2D([], [], color="0.3", ls=style) for _, style in LOSS_TAU_CURVES.values()]
    labels += ["solid: training loss (left axis)", "dashed: GT-Tau (right axis)"]
    axes[0].set_ylim(*_fit(values[0], lo=0.0, min_span=0.05))
    axes[1].set_ylim(*_fit(values[1], lo=-1.02, hi=1.02, min_span=0.4))
    axes[0].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set(xlabel=EPOCH_LABEL, ylabel="supernet training loss (cross-entropy, mean over the epoch)")
    axes[1].set_ylabel("GT-Tau (Kendall tau-b vs ground truth)")
    axes[0].set_title("Training loss and GT-Tau per epoch: does the better-trained supernet rank better?")
    axes[0].grid(alpha=0.3)
    axes[0].legend(handles, labels, fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    fig.tight_layout()
    band = (f"Bands: ±1 std (population) over the seeds ({_counts(banded)})." if banded else
            "No bands: no variant has two seeds with both a training loss and a ground truth.")
    _caption(fig, "Solid: the supernet's training loss (csv/metrics.csv: the mean over the epoch's steps and sampled "
                  "children), averaged over the variant's seeds. Dashed: GT-Tau, the Kendall tau-b between a seed's "
                  f"ranking after that epoch and the ground truth, averaged over the seeds. {band} ρ: the Spearman "
                  "correlation over the epochs between the two, averaged over the seeds (negative: the lower the "
                  "loss, the better the ranking). A falling loss beside a flat or falling GT-Tau means training "
                  "further did not rank the children better.")
    return fig


def loss_vs_tau(per_variant: dict[str, list[dict[str, Any]]], path: Path,
                runs_by_variant: dict[str, list] | None = None, rho: dict[str, float] | None = None) -> bool:
    """Save `loss_tau_figure` to `path`; False (and no file) where there is nothing to draw."""
    return _save(loss_tau_figure(per_variant, runs_by_variant, rho), path)


# -- rank trajectories -----------------------------------------------------------------------------------------------
#: Up to this many epochs the seeds' spread is drawn as bars beside each point, beyond as a shaded band.
BARS_UP_TO = 15


def _rank_ticks(ax: Any, bottom: float) -> None:
    """Integer rank ticks that always include 1 (the best)."""
    ticks = [int(t) for t in MaxNLocator(nbins=8, integer=True, steps=[1, 2, 5, 10]).tick_values(1, bottom)
             if 1 <= t <= bottom]
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1
    if ticks and ticks[0] != 1 and ticks[0] - 1 < step / 2:  # e.g. 2, 4, 6 -> 1, 4, 6: keep the labels apart
        ticks = ticks[1:]
    ax.set_yticks(sorted({1, *ticks}))


def rank_trajectories_figure(runs_by_variant: dict[str, list], top: int = 5) -> Figure:
    """Rank over epochs of each variant's `top` children by mean final rank: mean over seeds, and the min–max over
    seeds as bars (few epochs) or a band."""
    rows, cols = _grid(len(runs_by_variant))
    fig = Figure(figsize=(5.8 * cols, 5.6 * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    shown_names: list[str] = []
    most_seeds, bars = 1, True
    for ax, (variant, runs) in zip(axes.flat, runs_by_variant.items()):
        epochs = sorted(set.intersection(*(set(r.epochs) for r in runs)))
        n = len(runs[0].epochs[epochs[0]])
        ranks = {e: [metrics.ranks(r.epochs[e]) for r in runs] for e in epochs}
        # A pruning search's seeds keep different children: each child's mean is over the seeds that still rank it.
        final = {c: np.mean([rk[c] for rk in ranks[epochs[-1]] if c in rk]) for rk in ranks[epochs[-1]] for c in rk}
        shown = sorted(final, key=lambda c: (final[c], c))[:top]
        bars = len(epochs) <= BARS_UP_TO
        worst = 1.0
        for i, child in enumerate(shown):
            per = np.array([[rk.get(child, np.nan) for rk in ranks[e]] for e in epochs], float)
            mean, color = np.nanmean(per, 1), f"C{i % 10}"
            ops = describe(child, runs[0].space)
            label = f"{short_name(child)}: {ops}" if ops else short_name(child, 60)
            x = np.array(epochs, float) + (0.07 * (i - (len(shown) - 1) / 2) if bars and len(runs) >= 2 else 0.0)
            ax.plot(x, mean, color=color, marker="o", ms=4, label=label)
            if len(runs) >= 2 and bars:
                low, high = np.nanmin(per, 1), np.nanmax(per, 1)
                ax.errorbar(x, mean, yerr=[mean - low, high - mean], fmt="none", ecolor=color,
                            elinewidth=1.2, capsize=2.5, alpha=0.75)
            elif len(runs) >= 2:
                ax.fill_between(x, np.nanmin(per, 1), np.nanmax(per, 1), color=color, alpha=0.1, lw=0)
            worst = max(worst, float(np.nanmax(per)))
        bottom = min(n + 0.5, worst + max(1.0, 0.06 * (worst - 1)))
        ax.set_ylim(bottom, 0.5)  # inverted: rank 1 (the best) on top, always in view
        _rank_ticks(ax, bottom)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(xlabel=EPOCH_LABEL, ylabel=f"rank among the {n} ranked children (1 = best)")
        ax.set_title(f"{variant} ({_seeds(len(runs))})", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", title=f"its top {len(shown)} by mean rank after the last epoch",
                  title_fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=1)
        shown_names += shown
        most_seeds = max(most_seeds, len(runs))
    for ax in axes.flat[len(runs_by_variant):]:
        ax.set_visible(False)
    fig.suptitle(f"Rank over training of each variant's {top} best children")
    fig.tight_layout()
    spread = "bars beside each point" if bars else "shaded band"
    band = (f"The {spread}: the best to the worst rank the child got from any one seed (min–max over the seeds)."
            if most_seeds >= 2 else "No spread: a single seed per variant.")
    key = _name_key(shown_names, next(iter(runs_by_variant.values()))[0].space)
    _caption(fig, f"The children shown are, per variant, the {top} with the best rank after the last epoch averaged "
                  f"over its seeds. Line: the child's rank averaged over the seeds (each seed's supernet ranks all "
                  f"children after every epoch). {band} A child near the top with a short spread is ranked reliably. "
                  f"{key}")
    return fig


def _grid(n: int, per_row: int = 3) -> tuple[int, int]:
    cols = min(per_row, n)
    return math.ceil(n / cols), cols


def rank_trajectories(runs_by_variant: dict[str, list], path: Path, top: int = 5) -> None:
    _save(rank_trajectories_figure(runs_by_variant, top), path)


# -- top-k frequency -------------------------------------------------------------------------------------------------
TICK_FONT = 8.5


def top_k_shares(runs: list, k: int) -> tuple[dict[str, float], int]:
    """Share of (seed, epoch) snapshots in which each child is among the top k, for the children that ever are;
    and the number of snapshots."""
    counts: dict[str, int] = {}
    total = 0
    for r in runs:
        for scores in r.epochs.values():
            for c in metrics.ranking(scores)[:k]:
                counts[c] = counts.get(c, 0) + 1
            total += 1
    return {c: v / total for c, v in counts.items()}, total


def top_k_frequency_figure(runs_by_variant: dict[str, list], k: int = 5, max_bars: int = MAX_BARS) -> Figure:
    """Per variant, how often each child that ever reaches the top k is there (most frequent first, at most
    `max_bars`), against the k/n a random ranking gives every child."""
    shares = {v: top_k_shares(runs, k) for v, runs in runs_by_variant.items()}
    widest = max(min(len(s), max_bars) for s, _ in shares.values())
    longest = max((len(short_name(c)) for s, _ in shares.values() for c in s), default=1)
    width = max(7.0, 0.34 * widest + 3)
    # Names lie flat when they fit under their bar, else stand upright.
    rotate = longest * TICK_FONT * 0.62 / 72 > 0.9 * (width - 2) / max(widest, 5)
    height = 2.6 + (longest * TICK_FONT * 0.62 / 72 if rotate else 0.3)
    fig = Figure(figsize=(width, height * len(runs_by_variant) + 0.6))
    axes = fig.subplots(len(runs_by_variant), 1, squeeze=False)
    top_share, shown_names = 0.0, []
    for ax, (variant, runs) in zip(axes[:, 0], runs_by_variant.items()):
        share, total = shares[variant]
        n = len(runs[0].epochs[min(runs[0].epochs)])  # before any pruning
        shown = sorted(share, key=lambda c: (-share[c], c))[:max_bars]
        shown_names += shown
        ax.bar(range(len(shown)), [share[c] for c in shown], color="C0")
        chance = min(k, n) / n
        ax.axhline(chance, color="0.25", ls="--", lw=1.2,
                   label=f"random ranking: every child {min(k, n)}/{n} = {_num(chance)}")
        ax.set_xticks(range(len(shown)), [short_name(c) for c in shown], rotation=90 if rotate else 0,
                      fontsize=TICK_FONT)
        ax.set_xlim(-0.6, max(len(shown), 5) - 0.4)
        left_out = len(share) - len(shown)
        ax.set(ylabel=f"share of snapshots\nin the top {k}",
               xlabel=(f"child (the {len(shown)} most frequent of the {len(share)} ever in the top {k}; "
                       f"{left_out} rarer ones left out)" if left_out else
                       f"child (all {len(share)} ever in the top {k}, most frequent first)"))
        ax.set_title(f"{variant}: {len(share)} of {n} children were ever in the top {k}, over {total} snapshots "
                     f"({_seeds(len(runs))} × {total // max(1, len(runs))} epochs)", fontsize=10)
        ax.legend(fontsize="small", loc="upper right")
        ax.grid(axis="y", alpha=0.3)
        top_share = max(top_share, max(share.values(), default=0.0), chance)
    for ax in axes[:, 0]:  # one scale for every variant, so that bars compare across them
        ax.set_ylim(0, min(1.05, top_share * 1.12 + 0.02))  # a bar at 1 clears the frame
    fig.suptitle(f"How often each child is in the top {k}, over all seeds and epochs")
    fig.tight_layout()
    key = _name_key(shown_names, next(iter(runs_by_variant.values()))[0].space)
    _caption(fig, f"A snapshot is one seed's ranking after one epoch; a bar is the share of the snapshots in which the "
                  f"child is among the {k} best (1 = always). A few tall bars = a stable top {k}; many short bars "
                  f"near the dashed random-ranking line = a volatile ranking. Children never in the top {k} are not "
                  f"drawn. {key}")
    return fig


def top_k_frequency(runs_by_variant: dict[str, list], path: Path, k: int = 5) -> None:
    _save(top_k_frequency_figure(runs_by_variant, k), path)
