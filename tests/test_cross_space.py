"""The cross-space report: runs of two hand-made spaces of equal shape (the same child names, other ops), one with a
ground truth and proxies; one row per space, its ceiling and best proxy, and what is left out said."""
import csv
from pathlib import Path

import pytest
import yaml

from benchmark import metrics
from benchmark.report import ReportError
from benchmark.report.__main__ import main
from benchmark.report.cross_space import build_by_space, findings
from tests.test_plots import TRUTH, write_ground_truth
from tests.test_report import CHILDREN, SPACE, make_run, scores

CHAIN_OPS = SPACE["choices"][0]
SKIP_OPS = ["conv3", "skip", "maxpool3"]


def record(folder: Path, choice: str, ops: list[str], task: str = "search") -> Path:
    """Give a folder the search_space config and Hydra choice a run of `choice` with `ops` leaves."""
    config_file = folder / ".hydra" / "config.yaml"
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load(config_file.read_text()) if config_file.exists() else {"seed": 0, "task": {"name": task}}
    config["search_space"] = {"_target_": "benchmark.spaces.ChainSpace", "layers": 2, "ops": ops}
    config_file.write_text(yaml.safe_dump(config))
    (folder / ".hydra" / "hydra.yaml").write_text(yaml.safe_dump({"hydra": {"runtime": {"choices": {
        "search_space": choice}}}}))
    return folder


def space_runs(root: Path, choice: str, ops: list[str], truth=None, seeds: int = 3, overrides=()) -> list[Path]:
    space = {**SPACE, "choices": [ops] * 2}
    return [record(make_run(root / choice / f"{'-'.join(overrides)}{s}", s, [scores(10 + s), scores(s, noise=1.0)],
                            overrides=overrides, truth=truth, space=space), choice, ops) for s in range(seeds)]


def proxies(folder: Path, choice: str, ops: list[str]) -> Path:
    """A task=proxies folder: params ranks like the truth, nwot upside down, flops scores every child the same."""
    record(folder, choice, ops, task="proxies")
    (folder / "proxies.csv").write_text("child,proxy,score,seconds\n" + "".join(
        f"{c},params,{i},0\n{c},nwot,{-i},0\n{c},flops,7,0\n" for i, c in enumerate(CHILDREN)))
    return folder / "proxies.csv"


@pytest.fixture
def two_spaces(tmp_path):
    """chain: 3 seeds with a ground truth (a 3-seed table) and its proxies; chain_skip: 2 seeds, no ground truth,
    with its own proxies; and proxies of a third space, a second and a damaged one of chain."""
    runs = tmp_path / "runs"
    chain = space_runs(runs, "chain", CHAIN_OPS, truth=TRUTH)
    write_ground_truth(chain[0])
    space_runs(runs, "chain_skip", SKIP_OPS, seeds=2)
    given = proxies(tmp_path / "elsewhere", "chain", CHAIN_OPS)
    proxies(runs / "proxies_skip", "chain_skip", SKIP_OPS)
    proxies(runs / "proxies_avg", "chain_avg", ["conv1", "conv5", "avgpool3"])
    proxies(runs / "proxies_again", "chain", CHAIN_OPS)
    record(runs / "proxies_bad", "chain", CHAIN_OPS, task="proxies")
    (runs / "proxies_bad" / "proxies.csv").write_text("arch,value\n0-0,1\n")
    return tmp_path, given


def test_one_row_per_space_with_its_ceiling_and_best_proxy(two_spaces):
    root, given = two_spaces
    out = root / "out"
    rows = {r["space"]: r for r in build_by_space([root / "runs"], out, last_k=1, use_wandb=False, proxies=[given])}
    assert sorted(rows) == ["chain", "chain_skip"]
    chain = rows["chain"]
    finals = [scores(s, noise=1.0) for s in range(3)]
    assert chain["runs"] == 3 and chain["variant"] == "default" and chain["children"] == 9
    assert chain["gt_tau"] == pytest.approx(sum(metrics.kendall_tau(f, TRUTH) for f in finals) / 3)
    with open(out / "chain" / "summary.csv") as f:
        ceiling = next(r for r in csv.DictReader(f) if r["variant"].startswith("ground truth (3 seeds"))
    assert chain["ceiling_gt_tau"] == pytest.approx(float(ceiling["gt_tau"])) and chain["ceiling_seeds"] == 3
    assert chain["gt_tau_share"] == pytest.approx(chain["gt_tau"] / chain["ceiling_gt_tau"])
    assert (chain["best_proxy"], chain["best_proxy_gt_tau"]) == ("params", pytest.approx(1.0))
    assert chain["proxies"] == str(given)  # the one given; proxies_again is the second of its space
    skip = rows["chain_skip"]  # the same child names: matched to its proxies by config, and shown without GT figures
    assert "gt_tau" not in skip and "ceiling_gt_tau" not in skip and "best_proxy" not in skip and "s_tau" in skip
    assert skip["proxies"] == str(root / "runs" / "proxies_skip" / "proxies.csv")
    with open(out / "spaces.csv") as f:
        table = {r["space"]: r for r in csv.DictReader(f)}
    assert float(table["chain"]["gt_tau_low"]) == pytest.approx(chain["gt_tau_low"])
    assert table["chain_skip"]["gt_tau"] == "" and table["chain_skip"]["report"] == "chain_skip"
    report = (out / "report.md").read_text()
    assert f"- `chain`: GT-Tau {chain['gt_tau']:.2f} [{chain['gt_tau_low']:.2f}, {chain['gt_tau_high']:.2f}], " \
           f"{100 * chain['gt_tau_share']:.0f} % of its ceiling {chain['ceiling_gt_tau']:.2f} (3 ground-truth seeds)" \
           f"; below its ceiling; below the best proxy (params 1.00)." in report
    assert "- `chain_skip`: its runs have no ground truth" in report
    assert "conv3 skip maxpool3 at each of 2 decisions" in report
    unused = report.split("## Proxies not used")[1]
    assert "proxies_avg/proxies.csv`: its 9 children of search_space=chain_avg are no space's children" in unused
    assert "proxies_again/proxies.csv`: a second proxies.csv for chain" in unused
    assert "proxies_bad/proxies.csv`: no child column" in unused
    assert "## Skipped" not in report  # the task=proxies folders are named as proxies, not as skipped runs
    assert "proxy: params" in (out / "chain" / "report.md").read_text()


def test_the_row_shows_the_baseline_variant_and_same_named_spaces_are_told_apart(tmp_path):
    for variant in ("a", "b"):
        space_runs(tmp_path, "chain", CHAIN_OPS, truth=TRUTH, seeds=2, overrides=[f"sharing={variant}"])
    space_runs(tmp_path / "other", "chain", SKIP_OPS, seeds=2)
    rows = build_by_space([tmp_path], tmp_path / "out", last_k=1, use_wandb=False, baseline="sharing=b")
    by_ops = {r["report"]: r for r in rows}
    assert len(by_ops) == 2 and all(label.startswith("chain-") and len(label) == 14 for label in by_ops)
    swept = next(r for r in rows if r["variants"] == 2)
    assert swept["variant"] == "sharing=b" and next(r for r in rows if r is not swept)["variant"] == "default"
    assert "| sharing=b (1 of 2) | 2 |" in (tmp_path / "out" / "report.md").read_text()
    with pytest.raises(ReportError, match="baseline 'sharing=c' is a variant of no space"):
        build_by_space([tmp_path], tmp_path / "out2", use_wandb=False, baseline="sharing=c")


def test_findings_set_gt_tau_against_its_interval():
    row = {"space": "s", "runs": 3, "gt_tau": 0.5, "gt_tau_low": 0.4, "gt_tau_high": 0.6, "ceiling_gt_tau": 0.55,
           "ceiling_seeds": 5, "gt_tau_share": 0.5 / 0.55, "best_proxy": "synflow", "best_proxy_gt_tau": 0.3}
    text = "\n".join(findings([row, {**row, "space": "t", "gt_tau_share": 0.1, "ceiling_gt_tau": 0.8}]))
    assert "- `s`: GT-Tau 0.50 [0.40, 0.60], 91 % of its ceiling 0.55 (5 ground-truth seeds); level with its ceiling " \
           "(within the interval); above the best proxy (synflow 0.30)." in text
    assert text.index("`s`") < text.index("`t`") and "`t`: GT-Tau 0.50 [0.40, 0.60], 10 % of its ceiling 0.80 " \
                                                     "(5 ground-truth seeds); below its ceiling" in text
    unsure = findings([{k: v for k, v in row.items() if not k.startswith("gt_tau_")}])[2]
    assert "its ceiling 0.55 (5 ground-truth seeds); no interval (3 seed(s)) to set against its ceiling" in unsure


def test_paths_without_runs_are_an_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReportError, match="no run to report in .*empty: empty folder"):
        build_by_space([tmp_path / "empty"], tmp_path / "out", use_wandb=False)
    with pytest.raises(SystemExit) as exit_:
        main(["--by-space", str(tmp_path / "empty"), "--out", str(tmp_path / "out"), "--no-wandb"])
    assert exit_.value.code == 2 and capsys.readouterr().err.startswith("error: no run to report")
    with pytest.raises(SystemExit):
        main(["--by-space", str(tmp_path / "empty")])
    assert "--by-space needs --out" in capsys.readouterr().err
    with pytest.raises(ReportError, match="missing.csv: no such file"):
        build_by_space([tmp_path / "empty"], tmp_path / "out", proxies=[tmp_path / "missing.csv"])


def test_a_sweep_over_search_spaces_ends_with_the_cross_space_report(tmp_path):
    """The multirun callback: one space gets the plain report, several the cross-space one (no mixed-spaces error)."""
    from omegaconf import OmegaConf

    from benchmark.report import MultirunReport

    sweep = tmp_path / "sweep"
    space_runs(sweep, "chain", CHAIN_OPS, truth=TRUTH)
    space_runs(sweep, "chain_skip", SKIP_OPS, seeds=2)
    config = OmegaConf.create({"hydra": {"sweep": {"dir": str(sweep)}}, "task": {"name": "search"}})
    MultirunReport(use_wandb=False).on_multirun_end(config)
    with open(sweep / "report" / "spaces.csv") as f:
        assert sorted(r["space"] for r in csv.DictReader(f)) == ["chain", "chain_skip"]
    assert (sweep / "report" / "chain" / "report.md").exists()
