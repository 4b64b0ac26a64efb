"""The report's plots read on their own: axes fitted to the data and the reference lines, every axis labelled, bands
and reference lines named in the legend or caption, the top-k plot's ticks bounded and legible."""
from pathlib import Path

import numpy as np
import pytest
from matplotlib.collections import PolyCollection

from benchmark import plots
from benchmark.report import _references, build_report, load_inputs, per_epoch
from tests.test_report import CHILDREN, make_run, scores

TRUTH = {c: i / 9 for i, c in enumerate(CHILDREN)}


def write_ground_truth(run: Path, seeds: int = 3, noise: float = 0.05) -> None:
    """A ground-truth table beside a run, as a search run with a ground truth leaves it (one row per child and seed)."""
    rng = np.random.default_rng(1)
    (run / "ground_truth.csv").write_text("child,seed,test_acc\n" + "".join(
        f"{c},{s},{TRUTH[c] + noise * rng.standard_normal()}\n" for s in range(seeds) for c in CHILDREN))


def study(root: Path, seeds: int = 3, epochs: int = 4, ground_truth: bool = True, variants=("a", "b"),
          train_loss: bool = True):
    """Runs of `variants` (swept as sharing=...), `seeds` each, with a ground truth and (`train_loss`) a training loss
    falling over the epochs: the report's inputs to plots."""
    for v, variant in enumerate(variants):
        for s in range(seeds):
            make_run(root / variant / str(s), s, [scores(100 * v + 10 * e + s, noise=0.3 + 0.2 * v)
                                                  for e in range(epochs)],
                     overrides=[f"sharing={variant}"], truth=TRUTH,
                     train_loss=[2.3 - 0.3 * e + 0.05 * s + v for e in range(epochs)] if train_loss else None)
    if ground_truth:
        write_ground_truth(root / variants[0] / "0")
    inputs = load_inputs([root])
    by_variant: dict = {}
    for r in inputs.runs:
        by_variant.setdefault(r.variant, []).append(r)
    references = _references(inputs, max(len(rs) for rs in by_variant.values()))
    return {v: per_epoch(rs) for v, rs in sorted(by_variant.items())}, references, by_variant


def visible_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def assert_every_axis_labelled(fig):
    for ax in visible_axes(fig):  # a twin axis shares, and hides, its x axis
        assert (ax.get_xlabel().strip() or not ax.xaxis.get_visible()) and ax.get_ylabel().strip(), ax.get_title()


def caption(fig) -> str:
    return " ".join(t.get_text() for t in fig.texts)


def legend_labels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def hlines(ax) -> dict[str, float]:
    """Labelled horizontal lines: label -> y."""
    return {line.get_label(): line.get_ydata()[0] for line in ax.get_lines()
            if not line.get_label().startswith("_") and len(set(line.get_ydata())) == 1
            and list(line.get_xdata()) == [0, 1]}


@pytest.mark.parametrize("key,title", [("s_tau", "S-Tau"), ("gt_tau", "GT-Tau")])
def test_tau_axes_hold_the_data_the_ceiling_and_the_floor_and_no_more(tmp_path, key, title):
    rows, references, by_variant = study(tmp_path)
    fig = plots.tau_figure(rows, key, title, references, by_variant)
    ax = fig.axes[0]
    lo, hi = ax.get_ylim()
    data = [r[key] for rs in rows.values() for r in rs]
    bands = [y for coll in ax.collections if isinstance(coll, PolyCollection)
             for y in coll.get_paths()[0].vertices[:, 1]]
    refs = hlines(ax)
    ceiling = [y for label, y in refs.items() if label.startswith("ceiling: ground truth (3 seeds)")]
    floor = [y for label, y in refs.items() if label.startswith("floor: random rankings")]
    assert len(ceiling) == 1 and len(floor) == 1, refs
    for y in data + bands + ceiling + floor + [0.0]:
        assert lo < y < hi
    assert lo >= -1.02 and hi <= 1.02 and hi - lo < 1.9  # fitted, not the fixed -1..1
    for label in refs:  # the reference lines are in the legend, with their value
        assert label in legend_labels(ax) and "=" in label
    assert any(label == "sharing=a (3 seeds)" for label in legend_labels(ax))  # the variant as the report names it
    assert_every_axis_labelled(fig)
    assert "Kendall tau-b" in ax.get_ylabel() and "epoch" in ax.get_xlabel()


def test_tau_bands_say_what_they_are(tmp_path):
    rows, references, by_variant = study(tmp_path)
    gt = plots.tau_figure(rows, "gt_tau", "GT-Tau", references, by_variant)
    assert "band: ±1 std over the seeds" in legend_labels(gt.axes[0])
    assert "±1 std (population) of the seeds' GT-Tau" in caption(gt) and "(3 seeds)" in caption(gt)
    assert sum(isinstance(c, PolyCollection) for c in gt.axes[0].collections) == 2  # one band per variant
    st = plots.tau_figure(rows, "s_tau", "S-Tau", references, by_variant)
    assert "band: min–max over seed pairs" in legend_labels(st.axes[0])
    assert "lowest to the highest tau of any two seeds (3 seed pairs)" in caption(st)
    for fig in (gt, st):
        assert "ceiling" in caption(fig) and "floor" in caption(fig)


def test_two_seeds_without_a_ground_truth_say_there_is_no_band_and_no_ceiling(tmp_path):
    rows, references, by_variant = study(tmp_path, seeds=2, ground_truth=False, variants=("a",))
    fig = plots.tau_figure(rows, "s_tau", "S-Tau", references, by_variant)
    ax = fig.axes[0]
    assert not any(isinstance(c, PolyCollection) for c in ax.collections)
    assert "No band" in caption(fig) and "No ceiling" in caption(fig)
    assert [label for label in hlines(ax) if label.startswith("floor")]
    assert not [label for label in hlines(ax) if label.startswith("ceiling")]
    lo, hi = ax.get_ylim()
    assert lo < 0 < hi and lo < min(r["s_tau"] for r in rows["sharing=a"]) and hi - lo >= 0.4
    assert_every_axis_labelled(fig)


def test_a_value_no_variant_has_draws_nothing(tmp_path):
    rows, references, by_variant = study(tmp_path, seeds=2, ground_truth=False, variants=("a",))
    for rs in rows.values():
        for r in rs:
            r.pop("gt_tau", None)
    assert plots.tau_figure(rows, "gt_tau", "GT-Tau", references, by_variant) is None
    assert not plots.tau_per_epoch(rows, "gt_tau", tmp_path / "x.png", "GT-Tau", references, by_variant)
    assert not (tmp_path / "x.png").exists()


def test_proxies_are_drawn_as_further_reference_lines(tmp_path):
    rows, references, by_variant = study(tmp_path)
    references = [{"variant": "proxy: params (no training)", "gt_tau": 0.9}] + references
    ax = plots.tau_figure(rows, "gt_tau", "GT-Tau", references, by_variant).axes[0]
    assert hlines(ax)["proxy: params (no training) = 0.90"] == pytest.approx(0.9)
    assert ax.get_ylim()[1] > 0.9


def test_rank_trajectories_name_their_children_and_their_spread(tmp_path):
    _, _, by_variant = study(tmp_path, seeds=3, epochs=4)
    fig = plots.rank_trajectories_figure(by_variant, top=3)
    axes = visible_axes(fig)
    assert [ax.get_title() for ax in axes] == ["sharing=a (3 seeds)", "sharing=b (3 seeds)"]
    for ax in axes:
        labels = legend_labels(ax)
        assert len(labels) == 3 and all(" > " in label for label in labels)  # '2-1: maxpool3 > conv5'
        assert "top 3 by mean rank after the last epoch" in ax.get_legend().get_title().get_text()
        bottom, top = ax.get_ylim()
        assert bottom > top and top < 1 and bottom <= 9.5  # inverted, rank 1 on top, never past the last rank
        assert 1 in list(ax.get_yticks())
        ranks = [y for line in ax.get_lines() for y in line.get_ydata()]
        assert all(top < y < bottom for y in ranks)
        assert ax.collections  # the seeds' spread is drawn
    assert_every_axis_labelled(fig)
    assert "min–max over the seeds" in caption(fig) and "0 = conv3, 1 = conv5, 2 = maxpool3" in caption(fig)
    assert "the 3 with the best rank after the last epoch" in caption(fig)


def test_top_k_frequency_shows_only_children_that_reach_the_top_with_legible_ticks(tmp_path):
    _, _, by_variant = study(tmp_path, seeds=2, epochs=3)
    fig = plots.top_k_frequency_figure(by_variant, k=2)
    for ax, runs in zip(fig.axes, by_variant.values()):
        shares, total = plots.top_k_shares(runs, 2)
        ticks = [t.get_text() for t in ax.get_xticklabels()]
        assert sorted(ticks) == sorted(shares) and len(ticks) < len(CHILDREN)
        assert [shares[t] for t in ticks] == sorted(shares.values(), reverse=True)  # most frequent first
        assert all(t.get_fontsize() >= 8 for t in ax.get_xticklabels())
        assert "child" in ax.get_xlabel() and "top 2" in ax.get_ylabel()
        assert any(label.startswith("random ranking: every child 2/9") for label in legend_labels(ax))
        assert ax.get_ylim()[0] == 0 and max(shares.values()) < ax.get_ylim()[1] <= 1.05
        assert total == 6
    assert fig.axes[0].get_ylim() == fig.axes[1].get_ylim()  # one scale across variants
    assert_every_axis_labelled(fig)


def test_top_k_frequency_is_bounded_for_large_spaces(tmp_path):
    children = [f"{a}-{b}-{c}" for a in range(4) for b in range(4) for c in range(4)]
    space = {"space": "ChainSpace", "decisions": ["layer0", "layer1", "layer2"],
             "choices": [["conv3", "conv5", "dilconv3", "maxpool3"]] * 3, "num_children": 64}

    class Run:  # what the plot reads of a run
        def __init__(self, seed):
            rng = np.random.default_rng(seed)
            self.epochs = {e: dict(zip(children, rng.random(64))) for e in range(20)}
            self.final, self.space = self.epochs[19], space

    fig = plots.top_k_frequency_figure({"default": [Run(s) for s in range(4)]}, k=5)
    ax = fig.axes[0]
    assert len(ax.get_xticks()) == plots.MAX_BARS
    assert "rarer ones left out" in ax.get_xlabel()
    assert "0 = conv3, 1 = conv5, 2 = dilconv3, 3 = maxpool3" in caption(fig)


def test_long_names_are_shortened_and_short_ones_described():
    nb201 = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|skip_connect~2|"
    assert plots.short_name(nb201) == "conv3 | none skip | avgpool3 conv1 skip"
    assert plots.short_name("0-3-1") == "0-3-1"
    chain = {"choices": [["conv3", "conv5", "maxpool3"]] * 2}
    assert plots.describe("2-0", chain) == "maxpool3 > conv3"
    assert plots.describe("31", chain) == "maxpool3 > conv3"  # 1-based digits (Deeper Insights' names)
    assert plots.describe("3-0", chain) == "" and plots.describe(nb201, chain) == ""


def test_the_report_passes_its_reference_rows_to_the_plots(tmp_path, monkeypatch):
    study(tmp_path)
    figures = {}
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.setdefault(Path(path).name, fig) is not None)
    build_report([tmp_path], tmp_path / "report", use_wandb=False, top_k=3)
    assert sorted(figures) == ["gt_tau_per_epoch.png", "loss_vs_gt_tau.png", "rank_trajectories.png",
                               "s_tau_per_epoch.png", "top_k_frequency.png"]
    assert any(label.startswith("sharing=a (3 seeds): ρ = ") for label in legend_labels(figures["loss_vs_gt_tau.png"]
                                                                                       .axes[0]))
    for name in ("gt_tau_per_epoch.png", "s_tau_per_epoch.png"):
        labels = legend_labels(figures[name].axes[0])
        assert any(label.startswith("ceiling: ground truth (3 seeds)") for label in labels), labels
        assert any(label.startswith("floor: random rankings") for label in labels), labels
    for fig in figures.values():
        assert_every_axis_labelled(fig)


def test_training_loss_and_gt_tau_share_the_epochs_on_two_labelled_axes(tmp_path):
    rows, _, by_variant = study(tmp_path)
    fig = plots.loss_tau_figure(rows, by_variant, rho={"sharing=a": -0.5})
    loss_ax, tau_ax = fig.axes
    assert "training loss" in loss_ax.get_ylabel() and "GT-Tau" in tau_ax.get_ylabel()
    for ax, key in ((loss_ax, "train_loss"), (tau_ax, "gt_tau")):
        assert len(ax.get_lines()) == 2  # one per variant
        assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 2  # a band each: 3 seeds
        lo, hi = ax.get_ylim()
        assert all(lo < r[key] - r[f"{key}_std"] and r[key] + r[f"{key}_std"] < hi for rs in rows.values() for r in rs)
    assert {line.get_linestyle() for line in loss_ax.get_lines()} == {"-"}
    assert {line.get_linestyle() for line in tau_ax.get_lines()} == {"--"}
    labels = legend_labels(loss_ax)
    assert "sharing=a (3 seeds): ρ = -0.50" in labels and "sharing=b (3 seeds)" in labels
    assert "solid: training loss (left axis)" in labels and "dashed: GT-Tau (right axis)" in labels
    assert "±1 std (population) over the seeds (3 seeds)" in caption(fig) and "Spearman" in caption(fig)
    assert_every_axis_labelled(fig)


def test_no_training_loss_draws_nothing(tmp_path):
    rows, _, by_variant = study(tmp_path, train_loss=False)
    assert plots.loss_tau_figure(rows, by_variant) is None
    assert not plots.loss_vs_tau(rows, tmp_path / "x.png", by_variant) and not (tmp_path / "x.png").exists()


def test_pngs_are_written(tmp_path):
    rows, references, by_variant = study(tmp_path)
    assert plots.tau_per_epoch(rows, "gt_tau", tmp_path / "gt.png", "GT-Tau", references, by_variant)
    plots.rank_trajectories(by_variant, tmp_path / "ranks.png", top=3)
    plots.top_k_frequency(by_variant, tmp_path / "topk.png", k=3)
    for name in ("gt.png", "ranks.png", "topk.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
