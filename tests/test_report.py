"""The cross-seed report: numbers from hand-made run folders, robustness to broken runs, and a real multirun."""
import csv
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from omegaconf import OmegaConf

from benchmark import metrics
from benchmark.io import write_json
from benchmark.report import MultirunReport, ReportError, build_report, load_inputs, load_run, main
from tests.conftest import run_forked

CHILDREN = [f"{a}-{b}" for a in range(3) for b in range(3)]
SPACE = {"space": "ChainSpace", "decisions": ["layer0", "layer1"], "choices": [["conv3", "conv5", "maxpool3"]] * 2,
         "num_children": 9}


def make_run(folder: Path, seed: int, epochs: list[dict[str, float]], overrides=(), truth=None, space=SPACE,
             status="completed", max_epochs=None, train_loss=None):
    """A run folder as a search run leaves it; `max_epochs` (default: all of `epochs`) is what its config promised;
    `train_loss`, one per epoch, goes to csv/metrics.csv as the CSV logger writes it."""
    (folder / ".hydra").mkdir(parents=True)
    config = {"seed": seed, "task": {"name": "search"}, "study": "s",
              "trainer": {"max_epochs": len(epochs) if max_epochs is None else max_epochs},
              "search_space": {"_target_": "benchmark.spaces.ChainSpace", "layers": 2,
                               "ops": ["conv3", "conv5", "maxpool3"]}}
    (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"seed={seed}", *overrides]))
    (folder / "snapshot.json").write_text(json.dumps(space))
    write_json(folder / "status.json", {"status": status})
    header = ["epoch", "step", "child", "val_acc", "val_loss", "rank"] + (["gt_acc", "gt_rank"] if truth else [])
    with open(folder / "rankings.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for e, scores in enumerate(epochs):
            for rank, child in enumerate(metrics.ranking(scores), start=1):
                w.writerow([e, e * 10, child, scores[child], 1.0, rank] + ([truth[child], 0] if truth else []))
    if train_loss is not None:
        (folder / "csv").mkdir()  # with a step-level row before each epoch-end row, as the interference probe's
        (folder / "csv" / "metrics.csv").write_text("epoch,step,train/acc,train/loss\n" + "".join(
            f"{e},{e * 10 + 5},,\n{e},{e * 10 + 9},0.5,{loss}\n" for e, loss in enumerate(train_loss)))
    return folder


def scores(seed: int, noise: float = 0.3) -> dict[str, float]:
    import numpy as np

    rng = np.random.default_rng(seed)
    return {c: i / 9 + noise * rng.random() for i, c in enumerate(CHILDREN)}


def test_numbers_match_the_metrics(tmp_path):
    truth = {c: i / 9 for i, c in enumerate(CHILDREN)}
    finals = [scores(s) for s in range(3)]
    for s in range(3):
        make_run(tmp_path / f"{s}", s, [scores(10 + s), scores(20 + s), finals[s]], truth=truth)
    rows = build_report([tmp_path], tmp_path / "report", last_k=2, use_wandb=False)
    assert len(rows) == 1 and rows[0]["runs"] == 3 and rows[0]["variant"] == "default"
    st = metrics.s_tau(finals)
    assert rows[0]["s_tau"] == pytest.approx(st["mean"]) and rows[0]["s_tau_min"] == pytest.approx(st["min"])
    gt = [metrics.kendall_tau(f, truth) for f in finals]
    assert rows[0]["gt_tau"] == pytest.approx(sum(gt) / 3)
    assert rows[0]["t1r"] == pytest.approx(sum(metrics.top_n_rank(f, truth, 1) for f in finals) / 3)
    report = (tmp_path / "report" / "report.md").read_text()
    assert "| default | 3 |" in report and "random ranking" in report
    for name in ("summary.csv", "per_epoch.csv", "gt_tau_per_epoch.png", "s_tau_per_epoch.png",
                 "rank_trajectories.png", "top_k_frequency.png"):
        assert (tmp_path / "report" / name).exists(), name
    with open(tmp_path / "report" / "summary.csv") as f:
        summary = list(csv.DictReader(f))
    assert summary[0]["variant"] == "default" and summary[-1]["variant"] == "random ranking"
    assert abs(float(summary[-1]["s_tau"])) < 0.1  # random rankings barely agree
    assert "Warning" not in report  # these rankings follow the truth closely


def test_a_study_is_labelled_by_what_was_chosen_and_warned_when_no_better_than_random(tmp_path):
    truth = {c: i / 9 for i, c in enumerate(CHILDREN)}
    upside_down = {c: -v for c, v in truth.items()}  # ranks the best child last
    for s in range(2):
        make_run(tmp_path / f"{s}", s, [upside_down], overrides=["sharing=partial"], truth=truth)
    rows = build_report([tmp_path], tmp_path / "report", last_k=1, use_wandb=False)
    report = (tmp_path / "report" / "report.md").read_text()
    assert rows[0]["variant"] == "sharing=partial" and "| sharing=partial | 2 |" in report
    assert "**Warning: `sharing=partial` is not better than random rankings on GT-Tau -1.00 vs" in report
    assert "T1R 9.00 vs" in report and "S-Tau" not in report.split("Warning")[1].split("\n")[0]


def test_variants_are_swept_keys_other_than_seed(tmp_path):
    for s in range(2):
        make_run(tmp_path / f"a{s}", s, [scores(s)], overrides=["sharing=full"])
        make_run(tmp_path / f"b{s}", s, [scores(s + 5)], overrides=["sharing=none"])
    rows = build_report([tmp_path], tmp_path / "report", use_wandb=False)
    assert [r["variant"] for r in rows] == ["sharing=full", "sharing=none"]


def test_broken_runs_are_named_and_skipped(tmp_path):
    for s in range(2):
        make_run(tmp_path / f"ok{s}", s, [scores(s), scores(s + 1)])
    truncated = make_run(tmp_path / "truncated", 7, [scores(7), scores(8)])
    text = (truncated / "rankings.csv").read_text().splitlines()
    (truncated / "rankings.csv").write_text("\n".join(text[:-3]) + "\n8,3")
    empty = make_run(tmp_path / "empty", 8, [scores(8)])
    (empty / "rankings.csv").unlink()
    failed = make_run(tmp_path / "failed", 9, [scores(9)])
    (failed / "status.json").write_text(json.dumps({"status": "diverged"}))
    inputs = load_inputs([tmp_path])
    assert len(inputs.runs) == 2
    why = dict(inputs.skipped)
    assert "malformed" in why[str(truncated)] or "children" in why[str(truncated)]
    assert "no rankings.csv" in why[str(empty)] and "diverged" in why[str(failed)]
    build_report([tmp_path], tmp_path / "report", use_wandb=False)
    report = (tmp_path / "report" / "report.md").read_text()
    assert "## Skipped" in report and "truncated" in report and "| default | 2 |" in report


def test_runs_of_different_spaces_are_refused_naming_the_folders_of_each(tmp_path):
    make_run(tmp_path / "a", 0, [scores(0)])
    make_run(tmp_path / "c", 2, [scores(2)])
    other = {**SPACE, "choices": [["conv3", "skip", "maxpool3"]] * 2}
    make_run(tmp_path / "b", 1, [scores(1)], space=other)
    with pytest.raises(ReportError, match="different search spaces") as error:
        build_report([tmp_path], tmp_path / "report", use_wandb=False)
    first, second = str(error.value).split("; report each separately: ")[1].split("; ")
    assert '"conv5"' in first and first.endswith(f": {tmp_path / 'a'}, {tmp_path / 'c'}")
    assert '"skip"' in second and second.endswith(f": {tmp_path / 'b'}")
    assert not (tmp_path / "report").exists()


def _cut_at_an_epoch_boundary(run: Path) -> None:
    lines = (run / "rankings.csv").read_text().splitlines(keepends=True)
    (run / "rankings.csv").write_text("".join(lines[:1 + 2 * 9]))


def _cut_the_last_rank(run: Path) -> None:  # "...,64" cut to "...,6": a rank twice, one missing
    text = (run / "rankings.csv").read_text()
    assert text.endswith(",9\n")
    (run / "rankings.csv").write_text(text[:-3] + ",6\n")


def _a_row_twice(run: Path) -> None:
    lines = (run / "rankings.csv").read_text().splitlines(keepends=True)
    (run / "rankings.csv").write_text("".join(lines + lines[-1:]))


@pytest.mark.parametrize("damage, why", [(_cut_at_an_epoch_boundary, "has 2 of the 3 epochs"),
                                         (_cut_the_last_rank, "epoch 2 does not hold ranks 1..9"),
                                         (_a_row_twice, "epoch 2 has 10 rows for 9 children")])
def test_completed_runs_with_damaged_rankings_are_skipped(tmp_path, caplog, damage, why):
    for s in range(2):
        make_run(tmp_path / f"ok{s}", s, [scores(s), scores(s + 1), scores(s + 2)])
    damaged = make_run(tmp_path / "damaged", 7, [scores(7), scores(8), scores(9)])
    damage(damaged)
    rows = build_report([tmp_path], tmp_path / "report", use_wandb=False)
    assert rows[0]["runs"] == 2 and rows[0]["seeds"] == "0 1"
    assert f"- `{damaged}`: rankings.csv {why}" in (tmp_path / "report" / "report.md").read_text()
    assert f"report: skipping {damaged}: rankings.csv {why}" in caplog.text


def test_unfinished_runs_are_skipped_with_their_status_and_message(tmp_path):
    make_run(tmp_path / "ok", 0, [scores(0)])
    messages = {"running": None, "failed": "RuntimeError: out of memory", "diverged": "training loss is nan",
                "exploded": "validation loss exploded", "interrupted": "stopped by SIGTERM in epoch 0"}
    for i, (status, message) in enumerate(messages.items()):
        run = make_run(tmp_path / status, i + 1, [scores(i)])
        write_json(run / "status.json", {"status": status, **({"message": message} if message else {})})
    why = dict(load_inputs([tmp_path]).skipped)
    assert why[str(tmp_path / "running")] == "run did not complete (status 'running')"
    for status, message in list(messages.items())[1:]:
        assert why[str(tmp_path / status)] == f"run did not complete (status {status!r}: {message})"


def test_folders_without_a_config_and_empty_folders_are_named(tmp_path):
    sweep = tmp_path / "sweep"
    make_run(sweep / "0", 0, [scores(0)])
    shutil.rmtree(make_run(sweep / "1", 1, [scores(1)]) / ".hydra")
    (sweep / "2").mkdir()
    (sweep / "0" / "checkpoints").mkdir()  # killed before its first checkpoint: not a folder of its own
    (tmp_path / "empty").mkdir()
    why = dict(load_inputs([sweep, tmp_path / "empty", sweep / "0"]).skipped)
    assert why == {str(sweep / "1"): "no .hydra/config.yaml (its seed, task and trainer.max_epochs are unknown)",
                   str(sweep / "2"): "empty folder", str(tmp_path / "empty"): "empty folder"}


def test_a_run_is_counted_once_however_often_it_is_given(tmp_path):
    for s in range(2):
        make_run(tmp_path / "sweep" / f"{s}", s, [scores(s)])
    shutil.copytree(tmp_path / "sweep" / "0", tmp_path / "copy")
    inputs = load_inputs([tmp_path / "sweep", tmp_path / "sweep" / ".." / "sweep" / "1", tmp_path / "copy"])
    assert sorted(r.seed for r in inputs.runs) == [0, 1]
    assert inputs.skipped == [(str(tmp_path / "copy"), f"duplicate of {tmp_path / 'sweep' / '0'} "
                                                       "(the same seed 0 and overrides)")]


def test_nothing_to_report_exits_2_with_one_line(tmp_path, capsys, caplog):
    make_run(tmp_path / "failed", 0, [scores(0)], status="failed")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path / "failed"), str(tmp_path / "empty"), "--no-wandb"])
    assert exit_.value.code == 2 and not caplog.records  # the log would add lines to stderr
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: no run to report in {tmp_path / 'failed'}, ")
    assert f"{tmp_path / 'failed'}: run did not complete (status 'failed')" in err
    assert f"{tmp_path / 'empty'}: empty folder" in err
    assert not (tmp_path / "failed" / "report").exists()


def test_a_sweep_with_nothing_to_report_logs_why_and_writes_no_report(tmp_path, caplog):
    sweep = tmp_path / "sweep"
    make_run(sweep / "0", 0, [scores(0)], status="diverged")
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}}, "task": {"name": "search"}})
    with caplog.at_level(logging.ERROR, logger="benchmark.report"):
        MultirunReport(use_wandb=False).on_multirun_end(config)
    assert not (sweep / "report").exists()
    why = f"{sweep / '0'}: run did not complete (status 'diverged')"
    assert f"error: no run to report in {sweep} ({why})" in caplog.text


def test_multirun_ends_with_a_report(tmp_path, cache_dir):
    sweep = tmp_path / "sweep"
    run_forked("-m", "seed=0,1", "experiment=smoke", "trainer.limit_train_batches=3", "trainer.max_epochs=2",
               "logger=csv", f"paths.cache_dir={cache_dir}", f"hydra.sweep.dir={sweep}")
    report = sweep / "report"
    assert (sweep / "0" / "rankings.csv").exists() and (sweep / "1" / "rankings.csv").exists()
    text = (report / "report.md").read_text()
    assert "| experiment=smoke | 2 |" in text and "Skipped" not in text
    assert list((report / "wandb").glob("offline-run-*"))
    # Nothing stray (.lock names the process that owns the sweep folder).
    assert sorted(p.name for p in sweep.iterdir()) == [".lock", "0", "1", "multirun.yaml", "report"]
    # the report groups its W&B run with the seeds' runs: the study name as the runs resolved it
    assert load_run(sweep / "0").study == ("mnist1d-chain-full-uniform-experiment=smoke,trainer.limit_train_batches=3,"
                                           "trainer.max_epochs=2")


def test_proxies_appear_as_baseline_rows(tmp_path):
    truth = {c: i / 9 for i, c in enumerate(CHILDREN)}
    for s in range(2):
        make_run(tmp_path / f"{s}", s, [scores(s)], truth=truth)
    table = tmp_path / "proxies.csv"
    table.write_text("child,proxy,score,seconds\n" + "".join(f"{c},params,{i},0\n{c},nwot,{-i},0\n{c},flops,7,0\n"
                                                               for i, c in enumerate(CHILDREN)))
    build_report([tmp_path / "0", tmp_path / "1"], tmp_path / "report", use_wandb=False, proxies=table)
    with open(tmp_path / "report" / "summary.csv") as f:
        rows = {r["variant"]: r for r in csv.DictReader(f)}
    assert float(rows["proxy: params (no training)"]["gt_tau"]) == pytest.approx(1.0)
    assert float(rows["proxy: nwot (no training)"]["gt_tau"]) == pytest.approx(-1.0)
    assert "proxy: params" in (tmp_path / "report" / "report.md").read_text()
    assert float(rows["proxy: params (no training)"]["top1pct_hit"]) == 1.0  # judged like the supernet: the best
    assert float(rows["proxy: nwot (no training)"]["pick_percentile"]) == 100.0  # the worst of the 9
    constant = rows["proxy: flops (no training; every child scores the same: no ranking)"]
    assert constant["gt_tau"] == constant["t1r"] == ""  # no pick to judge, not the first child in table order


def test_interference_summaries_are_aggregated_per_variant_with_intervals_and_paired_differences(tmp_path):
    """Two variants x 3 seeds; the aligned one's gradient cosine is 0.2 higher on every seed."""
    for variant, extra, shift in (("a", [], 0.0), ("b", ["module.align.weight=1.0"], 0.2)):
        for s in range(3):
            run = make_run(tmp_path / variant / f"{s}", s, [scores(s)],
                           overrides=["callbacks=with_interference", *extra])
            rows = [(0, 1, "conv3", "0-0", "1-0", 1, 0.4 + s / 10 + shift, 0.5, 0.5)] * 3
            with open(run / "interference.csv", "w", newline="") as f:
                csv.writer(f).writerows([("step", "layer", "op", "child_a", "child_b", "d", "grad_cos", "input_cos",
                                          "output_cos"), *rows])
    build_report([tmp_path / "a", tmp_path / "b"], tmp_path / "report", use_wandb=False, baseline="default")
    text = (tmp_path / "report" / "report.md").read_text()
    assert "## Interference" in text and "| default | 3 | 0.500 [0.400, 0.600] |" in text
    assert "Paired differences from `default`" in text and "| module.align.weight=1.0 | +0.200 (0.25) |" in text
    with open(tmp_path / "report" / "interference.csv") as f:
        row = next(r for r in csv.DictReader(f) if r["variant"] == "default")
    assert float(row["grad_cos_mean_d1"]) == pytest.approx(0.5) and float(row["grad_cos_mean_d1_std"]) == \
        pytest.approx(np.std([0.4, 0.5, 0.6]))


def test_the_pick_is_the_rank_column_s_when_accuracies_tie(tmp_path):
    """Tied at the top, the run's pick is its rank-1 child (lower validation loss), whatever the file's row order."""
    truth = {**{c: i / 9 for i, c in enumerate(CHILDREN)}, "0-0": 1.0}  # 0-0 best, 1-1 (4/9) sixth
    final = {"1-1": 0.9, "0-0": 0.9, **{c: 0.1 for c in CHILDREN if c not in ("0-0", "1-1")}}  # 1-1 ranked first
    for s in range(2):
        run = make_run(tmp_path / f"{s}", s, [final], truth=truth)
        lines = (run / "rankings.csv").read_text().splitlines()
        (run / "rankings.csv").write_text("\n".join([lines[0], *sorted(lines[1:], key=lambda r: r.split(",")[2],
                                                                         reverse=True)]) + "\n")
    rows = build_report([tmp_path], tmp_path / "report", use_wandb=False)
    assert rows[0]["t1r"] == 6 and rows[0]["regret"] == pytest.approx(5 / 9)


def test_a_resumed_seed_is_not_a_variant_but_more_devices_are(tmp_path):
    make_run(tmp_path / "a", 0, [scores(0)])
    make_run(tmp_path / "b", 1, [scores(1)], overrides=["resume=true"])
    make_run(tmp_path / "c", 2, [scores(2)], overrides=["trainer.accelerator=gpu"])
    assert [(r["variant"], r["runs"]) for r in build_report([tmp_path], tmp_path / "r1", use_wandb=False)] == [
        ("default", 3)]
    make_run(tmp_path / "d", 3, [scores(3)], overrides=["trainer.devices=2"])
    assert len(build_report([tmp_path], tmp_path / "r2", use_wandb=False)) == 2


def test_last_k_below_one_is_refused(tmp_path):
    make_run(tmp_path / "a", 0, [scores(0)])
    with pytest.raises(ReportError, match="last_k=0"):
        build_report([tmp_path], tmp_path / "r", last_k=0, use_wandb=False)


def _two_variants(tmp_path, seeds, noise_good=0.2, noise_bad=0.6):
    truth = {c: i / 9 for i, c in enumerate(CHILDREN)}
    for s in range(seeds):
        make_run(tmp_path / f"good{s}", s, [scores(100 + s, noise_good)], overrides=["+variant=good"], truth=truth)
        make_run(tmp_path / f"bad{s}", s, [scores(200 + s, noise_bad)], overrides=["+variant=bad"], truth=truth)
    return truth


def test_every_figure_has_an_interval_and_variants_are_tested_seed_by_seed(tmp_path):
    _two_variants(tmp_path, seeds=6)
    rows = build_report([tmp_path], tmp_path / "report", last_k=2, use_wandb=False, baseline="variant=bad")
    good = next(r for r in rows if r["variant"] == "variant=good")
    assert good["ci_over"] == "seeds"
    for key in ("s_tau", "gt_tau", "t1r", "top5_overlap"):
        assert good[f"{key}_low"] <= good[key] <= good[f"{key}_high"], key
    summary = list(csv.DictReader(open(tmp_path / "report" / "summary.csv")))
    assert float(summary[1]["gt_tau_low"]) == pytest.approx(good["gt_tau_low"])
    report = (tmp_path / "report" / "report.md").read_text()
    assert f"| variant=good | 6 | {good['s_tau']:.2f} [{good['s_tau_low']:.2f}, {good['s_tau_high']:.2f}] |" in report
    assert "## Paired tests against `variant=bad`" in report
    (comparison,) = csv.DictReader(open(tmp_path / "report" / "comparisons.csv"))
    per_seed = [metrics.kendall_tau(scores(100 + s, 0.2), {c: i / 9 for i, c in enumerate(CHILDREN)})
                - metrics.kendall_tau(scores(200 + s, 0.6), {c: i / 9 for i, c in enumerate(CHILDREN)})
                for s in range(6)]
    assert float(comparison["gt_tau_diff"]) == pytest.approx(sum(per_seed) / 6)
    assert float(comparison["gt_tau_p"]) == pytest.approx(2 / 64)  # better on every seed: the smallest p 6 seeds allow
    assert comparison["pairs"] == "6" and comparison["verdict"] == "differs"


def test_the_same_runs_get_the_same_intervals_wherever_their_folders_lie(tmp_path):
    """Folder names sort 10 before 2: the report takes runs in seed order, so its resamples do not follow paths."""
    truth = {c: i / 9 for i, c in enumerate(CHILDREN)}
    for name, folder in (("a", lambda s: f"{s}"), ("b", lambda s: f"{11 - s}")):
        for s in range(6):
            make_run(tmp_path / name / folder(s), s, [scores(30 + s), scores(40 + s)], truth=truth)
    a, b = (build_report([tmp_path / name], tmp_path / f"report_{name}", last_k=1, use_wandb=False)[0]
            for name in "ab")
    assert a["t1r_low"] != a["t1r_high"]
    for key in ("gt_tau", "t1r", "s_tau", "top5_overlap", "epoch_tau"):
        assert (a[f"{key}_low"], a[f"{key}_high"]) == (b[f"{key}_low"], b[f"{key}_high"]), key


def test_each_seed_s_figures_are_written_beside_their_mean(tmp_path):
    truth = _two_variants(tmp_path, seeds=3)
    rows = build_report([tmp_path], tmp_path / "report", last_k=2, use_wandb=False)
    table = list(csv.DictReader(open(tmp_path / "report" / "per_seed.csv")))
    assert [(r["variant"], r["seed"]) for r in table] == [(v, str(s)) for v in ("variant=bad", "variant=good")
                                                          for s in range(3)]
    good = [r for r in table if r["variant"] == "variant=good"]
    for r in good:
        assert float(r["gt_tau"]) == pytest.approx(metrics.kendall_tau(scores(100 + int(r["seed"]), 0.2), truth))
        assert float(r["t1r"]) == metrics.top_n_rank(scores(100 + int(r["seed"]), 0.2), truth, 1)
    mean = next(r for r in rows if r["variant"] == "variant=good")["gt_tau"]
    assert sum(float(r["gt_tau"]) for r in good) / 3 == pytest.approx(mean)


def test_four_seeds_say_what_their_p_value_cannot_reach(tmp_path):
    _two_variants(tmp_path, seeds=4)
    build_report([tmp_path], tmp_path / "report", use_wandb=False)  # baseline: the first variant, 'variant=bad'
    report = (tmp_path / "report" / "report.md").read_text()
    assert "| variant=good | 4 |" in report
    assert "not distinguishable (p = 0.12; 4 paired seeds cannot give p below 0.125)" in report
    with pytest.raises(ReportError, match="baseline 'nope' is not a variant of these runs"):
        build_report([tmp_path], tmp_path / "report", use_wandb=False, baseline="nope")


def test_a_single_run_gets_an_interval_over_children(tmp_path):
    truth = {c: i / 9 for i, c in enumerate(CHILDREN)}
    make_run(tmp_path / "only", 0, [scores(1, 0.3)], truth=truth)
    (row,) = build_report([tmp_path], tmp_path / "report", use_wandb=False)
    assert row["ci_over"] == "children" and row["gt_tau_low"] < row["gt_tau"] < row["gt_tau_high"]
    assert "s_tau_low" not in row and "t1r_low" not in row  # one seed: no interval over seeds


def test_runs_of_one_variant_on_different_builds_are_flagged(tmp_path):
    for seed, threads in ((0, 1), (1, 1), (2, 2)):
        folder = make_run(tmp_path / str(seed), seed, [scores(seed)])
        write_json(folder / "environment.json", {"torch": "2.13.0+cpu", "threads": threads, "cpu": "x", "gpus": []})
    build_report([tmp_path], tmp_path / "report", use_wandb=False)
    report = (tmp_path / "report" / "report.md").read_text()
    assert "**Warning: the runs of `default` differ in threads** (environment.json)" in report
    write_json(tmp_path / "2" / "environment.json", {"torch": "2.13.0+cpu", "threads": 1, "cpu": "x", "gpus": []})
    build_report([tmp_path], tmp_path / "report", use_wandb=False)
    assert "differ in" not in (tmp_path / "report" / "report.md").read_text()


def test_runs_on_cpus_with_different_instruction_sets_are_flagged(tmp_path):
    """Same CPU name and threads, kernels dispatched to AVX2 on one and AVX512 on the other: not bit-comparable."""
    for seed, capability in ((0, "AVX512"), (1, "AVX512"), (2, "AVX2")):
        folder = make_run(tmp_path / str(seed), seed, [scores(seed)])
        write_json(folder / "environment.json", {"torch": "2.13.0+cpu", "threads": 1, "cpu": "x",
                                                 "cpu_capability": capability, "gpus": []})
    build_report([tmp_path], tmp_path / "report", use_wandb=False)
    report = (tmp_path / "report" / "report.md").read_text()
    assert "**Warning: the runs of `default` differ in cpu_capability** (environment.json)" in report


def test_a_run_without_the_swept_override_is_labelled_with_the_option_it_ran(tmp_path):
    for seed in range(2):
        make_run(tmp_path / f"rr{seed}", seed, [scores(seed)], overrides=["sampler=round_robin"])
        plain = make_run(tmp_path / f"u{seed}", seed, [scores(seed + 5)])
        (plain / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump({"hydra": {"runtime": {"choices": {
            "sampler": "uniform", "sharing": "full"}}}}))
    variants = {r["variant"] for r in build_report([tmp_path], tmp_path / "report", use_wandb=False)}
    assert variants == {"sampler=round_robin", "sampler=uniform"}


MAIN_HEADER = ("| variant | runs | S-Tau | GT-Tau | T1R | T3R | regret | epoch tau (last 1) | top-1 changes | "
               "top-5 overlap "
               "| GT-Tau-Mean-k / Std-k (last k) |")


def test_supernet_help_figures_are_the_metrics_averaged_over_seeds(tmp_path):
    truth = {c: i / 9 for i, c in enumerate(CHILDREN)}
    finals = [scores(s, 0.8) for s in range(3)]  # each prunes well (bottom half) but picks the 2nd-4th best
    for s in range(3):
        make_run(tmp_path / f"{s}", s, [finals[s]], truth=truth)
    (row,) = build_report([tmp_path], tmp_path / "report", last_k=1, use_wandb=False)
    helps = [metrics.supernet_help(f, truth) for f in finals]
    for key in metrics.HELP_KEYS:
        assert row[key] == pytest.approx(sum(h[key] for h in helps) / 3), key
        assert row[f"{key}_low"] - 1e-9 <= row[key] <= row[f"{key}_high"] + 1e-9, key
    summary = {r["variant"]: r for r in csv.DictReader(open(tmp_path / "report" / "summary.csv"))}
    assert float(summary["default"]["pick_percentile"]) == pytest.approx(row["pick_percentile"])
    assert {"prune10pct_bottom_half_low", "top5pct_found_high", "loss_tau_rho"} <= summary["default"].keys()
    chance = summary["random ranking"]  # simulated: a random top 10 % (1 of 9) holds the best 1 time in 9
    assert float(chance["top10pct_hit"]) == pytest.approx(1 / 9, abs=0.06)
    assert float(chance["prune50pct_bottom_half"]) == pytest.approx(0.5, abs=0.06)
    report = (tmp_path / "report" / "report.md").read_text()
    assert MAIN_HEADER in report  # the main table keeps its columns
    section = report.split("## Supernet help")[1]
    assert ("| variant | runs | top-1 % hit | top-5 % hit | top-10 % hit | pick percentile | pruning 10 % | "
            "pruning 25 % | pruning 50 % |") in section
    pick = f"{row['pick_percentile']:.1f} [{row['pick_percentile_low']:.1f}, {row['pick_percentile_high']:.1f}]"
    assert f"| default | 3 | {row['top1pct_hit']:.2f} [" in section and pick in section
    assert "| random ranking | — |" in section and "rounded down, at least one" in section


def test_training_loss_is_set_beside_gt_tau(tmp_path):
    truth = {c: i / 9 for i, c in enumerate(CHILDREN)}
    worse = {**truth, "0-0": 0.5, "2-2": 0.0}  # the worst child ranked in the middle: a lower GT-Tau
    worst = {c: -v for c, v in truth.items()}
    for s in range(3):  # the loss falls while the ranking gets worse: rho = +1 on every seed
        make_run(tmp_path / f"{s}", s, [truth, worse, worst], truth=truth, train_loss=[3.0, 2.0 + s / 10, 1.0])
    (row,) = build_report([tmp_path], tmp_path / "report", last_k=1, use_wandb=False)
    assert row["loss_tau_rho"] == pytest.approx(1.0)
    epochs = list(csv.DictReader(open(tmp_path / "report" / "per_epoch.csv")))
    assert [float(e["train_loss"]) for e in epochs] == pytest.approx([3.0, 2.1, 1.0])
    assert float(epochs[1]["train_loss_std"]) == pytest.approx(np.std([2.0, 2.1, 2.2]))
    gt_tau = [metrics.kendall_tau(t, truth) for t in (truth, worse, worst)]
    assert [float(e["gt_tau"]) for e in epochs] == pytest.approx(gt_tau)
    assert float(epochs[0]["val_loss"]) == 1.0 and float(epochs[0]["top1pct_hit"]) == 1.0
    assert float(epochs[2]["pick_percentile"]) == 100.0
    report = (tmp_path / "report" / "report.md").read_text()
    section = report.split("## Training loss vs ranking")[1]
    assert "| default | 3 | 1.00 [1.00, 1.00] | 3.000 → 1.000 | 1.00 → -1.00 |" in section
    assert "[loss_vs_gt_tau.png](loss_vs_gt_tau.png)" in section
    assert (tmp_path / "report" / "loss_vs_gt_tau.png").exists()


def test_runs_without_a_training_loss_say_so(tmp_path):
    truth = {c: i / 9 for i, c in enumerate(CHILDREN)}
    for s in range(2):
        make_run(tmp_path / f"{s}", s, [scores(s), scores(s + 3)], truth=truth)
    (row,) = build_report([tmp_path], tmp_path / "report", use_wandb=False)
    assert "loss_tau_rho" not in row and not (tmp_path / "report" / "loss_vs_gt_tau.png").exists()
    assert "No run kept its training loss" in (tmp_path / "report" / "report.md").read_text()
