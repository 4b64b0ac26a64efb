"""The W&B dashboards: built offline from a real sweep's run files, every panel reading a key some run logged and every
chart of the catalogue there; new metrics appear by themselves; what the report runs log for them; the command."""
import json
import logging
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
import wandb
import wandb_workspaces.reports.v2 as wr

from benchmark import metrics
from benchmark.dashboard import __main__ as cli
from benchmark.dashboard import build_dashboard, catalogue, produce, publish
from benchmark.dashboard.logged import LoggedRun, from_folders, from_project
from benchmark.dashboard.publish import specification
from benchmark.loggers import EpochWandbLogger
from benchmark.report import build_report
from benchmark.report.wandb_run import _init, reference_prefix, stability_per_epoch
from tests.conftest import run_forked
from tests.test_output import history, wandb_records
from tests.test_report import make_run, scores

CHILDREN = [f"{a}-{b}-{c}" for a in range(4) for b in range(4) for c in range(4)]


@pytest.fixture(scope="module")
def study(tmp_path_factory, cache_dir):
    """A two-seed sweep as a user runs it (ground truth, interference probe, W&B offline), its report rebuilt with
    hand-made training-free proxies: every kind of key the dashboards draw."""
    root = tmp_path_factory.mktemp("dashboard")
    truth = root / "truth.csv"  # two seeds: the report's ground-truth reference row needs them
    truth.write_text("child,seed,test_acc\n" + "".join(f"{c},{s},{(i + s * (i % 3)) / 100}\n"
                                                       for i, c in enumerate(CHILDREN) for s in (0, 1)))
    sweep = root / "sweep"
    run_forked("-m", "seed=0,1", "experiment=smoke", "trainer.limit_train_batches=2", "trainer.max_epochs=2",
               "callbacks=with_interference", "callbacks.interference.every_n_steps=1", "trainer.log_every_n_steps=1",
               f"ground_truth.path={truth}", f"paths.cache_dir={cache_dir}", f"hydra.sweep.dir={sweep}", timeout=600)
    proxies = root / "proxies.csv"
    proxies.write_text("child,proxy,score,seconds\n" + "".join(f"{c},params,{i},0\n" for i, c in enumerate(CHILDREN)))
    build_report([sweep], sweep / "report", last_k=1, proxies=proxies)
    return sweep


def referenced(spec: dict) -> set[str]:
    """Every key a specification's panels and run tables read: line, bar and scalar metrics and x-axes, media keys,
    the tables of summary-table panels (a `pick` of the key) and pinned summary columns."""
    keys: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            if "viewType" in node:
                config = node.get("config", {})
                keys.update(config.get("metrics", []), config.get("mediaKeys", []))
                keys.update([config["xAxis"]] if config.get("xAxis") else [])
            if node.get("name") == "pick":
                keys.add(node["inputs"]["key"]["val"])
            keys.update(c.split(":", 1)[1] for c in node.get("columnPinned", {}) if c.startswith("summary:"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    return {k.removeprefix("summary_metrics.") for k in keys}


def specs(sweep: Path) -> tuple[dict, dict]:
    folder = sweep / "report" / "dashboard"
    return json.loads((folder / "workspace.json").read_text()), json.loads((folder / "report.json").read_text())


def test_every_panel_reads_a_key_the_runs_logged(study):
    logged = set().union(*(r.keys for r in from_folders([study])))
    workspace, report = specs(study)
    for spec in (workspace, report):
        keys = referenced(spec)
        assert keys and keys <= logged, sorted(keys - logged)
    # The keys are the runs' own, read back independently of the dashboard's reader.
    [seed_run] = (study / "0" / "wandb").glob("offline-run-*")
    assert {"ranking/gt_tau", "train/loss", "epoch"} <= set().union(*history(seed_run)) & referenced(workspace)
    assert [s["name"] for s in workspace["spec"]["section"]["panelBankConfig"]["sections"]] == \
        [s.name for s in catalogue.SECTIONS]


def _charts() -> list[catalogue.Chart]:
    report = (catalogue.VARIANCE_TABLE, catalogue.SUMMARY_TABLE, catalogue.RANKINGS_TABLE, catalogue.REPORT_PLOTS)
    return [c for s in catalogue.SECTIONS for c in s.charts if not c.each] + list(report)


@pytest.mark.parametrize("chart", _charts(), ids=lambda c: c.title[:40])
def test_every_chart_appears_with_every_key_it_names(study, chart):
    """A metric renamed in the code but not in the catalogue fails here, not on a dashboard."""
    keys = referenced(specs(study)[0]) | referenced(specs(study)[1])
    for pattern in chart.keys:
        assert any(fnmatchcase(k, pattern) for k in keys), f"{chart.title}: nothing drawn for {pattern}"


def _run(id_: str, job_type: str, **keys: str) -> LoggedRun:
    return LoggedRun(id_, "p", "study-a", job_type, id_, keys=keys, finished=True)


def _titles(board, section: str) -> list[str]:
    [found] = [s for s in specification(board.workspace)["spec"]["section"]["panelBankConfig"]["sections"]
               if s["name"] == section]
    return [p["config"].get("chartTitle") or p["config"].get("value", "") for p in found["panels"]]


def test_a_new_ranking_metric_gets_a_chart_of_its_own():
    runs = [_run("a", "search", **{"ranking/gt_tau": "number", "ranking/top_10pct_tau": "number", "epoch": "number"}),
            _run("r", "report", **{"per_epoch/s_tau": "number"})]
    titles = _titles(build_dashboard(runs, "x"), "Ranking quality")
    assert "ranking/top_10pct_tau" in titles and "ranking/gt_tau" not in titles  # GT-Tau has its own chart
    assert not any("No ground truth" in t for t in titles)


def test_sections_without_their_keys_say_what_to_run():
    board = build_dashboard([_run("r", "report", **{"per_epoch/s_tau": "number"})], "x")
    assert "No ground truth" in _titles(board, "Ranking quality")[0]
    assert "callbacks=with_interference" in _titles(board, "Interference")[0]
    assert "task=proxies" in _titles(board, "Proxies, ceiling and floor")[0]
    assert _titles(board, "Interference") == _titles(board, "Interference")[:1]  # no empty charts


def test_the_report_runs_log_what_the_dashboard_draws(tmp_path):
    truth = scores(99, noise=0.0)
    for seed in (0, 1, 2):
        make_run(tmp_path / str(seed), seed, [scores(seed), scores(seed + 10)], truth=truth)
    report = tmp_path / "report"
    build_report([tmp_path], report, last_k=1)
    [run_dir] = (report / "wandb").glob("offline-run-*")
    series = [r for r in history(run_dir) if "epoch" in r]
    assert "per_epoch/epoch_tau" not in series[0] and series[1]["per_epoch/epoch_tau"] == pytest.approx(
        sum(metrics.kendall_tau(scores(s), scores(s + 10)) for s in (0, 1, 2)) / 3)
    assert {"per_epoch/top5_overlap", "per_epoch/gt_tau_random", "per_epoch/s_tau_ground_truth"} - set(series[0]) \
        == {"per_epoch/s_tau_ground_truth"}  # hand-made runs have no ground-truth table of seeds: no ceiling
    summary = {}
    for record in wandb_records(run_dir):
        if record.WhichOneof("record_type") == "summary":
            summary.update({i.key or "/".join(i.nested_key): i.value_json for i in record.summary.update})
    assert {"gt_tau", "gt_tau_low", "gt_tau_high", "random/gt_tau", "random/s_tau"} <= set(summary)
    tables = {p.name.split("_")[0]: json.loads(p.read_text()) for p in (run_dir / "files" / "media" / "table" /
                                                                         "report").glob("*.table.json")}
    assert tables["variance"]["data"][0][0] == "default" and "[" in tables["variance"]["data"][0][3]  # GT-Tau [CI]
    assert tables["variance"]["data"][-1][0] == "random ranking"
    assert len(tables["rankings"]["data"]) == 3 * 9 and tables["rankings"]["data"][0][:3] == ["default", 0, 1]
    # ... and the dashboard beside the report says how to publish it
    assert (report / "dashboard" / "workspace.json").exists() and (report / "dashboard" / "report.json").exists()


def test_reference_rows_and_stability_per_epoch():
    assert reference_prefix("ground truth (10 seeds, leave-one-out)") == "ground_truth/"
    assert reference_prefix("random ranking") == "random/"
    assert reference_prefix("proxy: synflow (no training)") == "proxy/synflow/"
    with pytest.raises(ValueError, match="reference row 'mystery'"):
        reference_prefix("mystery")
    a, b = {"x": 3.0, "y": 2.0, "z": 1.0}, {"x": 1.0, "y": 2.0, "z": 3.0}
    runs = [type("R", (), {"epochs": {0: a, 1: a}})(), type("R", (), {"epochs": {0: a, 1: b}})()]
    per_epoch = stability_per_epoch(runs)
    assert per_epoch[0] == {"top5_overlap": 1.0} and per_epoch[1]["epoch_tau"] == pytest.approx((1 + -1) / 2)


def test_the_command_writes_the_specification_offline_and_says_how_to_publish(study, capsys, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the offline command touched W&B's API")

    monkeypatch.setattr(wandb, "Api", no_network)
    out = study / "elsewhere"
    cli.main([str(study), "--out", str(out), "--name", "variance"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"dashboard: specification in {out / 'workspace.json'}, {out / 'report.json'}"
    assert f"wandb sync --entity E --project weight-sharing-benchmark {study}/*/wandb/offline-run-*" in lines[1]
    assert (f"then python -m benchmark.dashboard {study} --out {out} --name variance --publish --entity E --project "
            "weight-sharing-benchmark") in lines[1]
    report = json.loads((out / "report.json").read_text())
    assert report["displayName"] == "Weight-sharing NAS study: variance"
    assert all(rs.get("project") is None for rs in _runsets(report))  # offline: no project for W&B to look up


def _runsets(spec: dict) -> list[dict]:
    return [rs for block in spec["spec"]["blocks"] if block["type"] == "panel-grid"
            for rs in block["metadata"]["runSets"]]


@pytest.mark.parametrize("runs", [0, 1])
def test_the_command_refuses_a_folder_without_wandb_runs(tmp_path, capsys, runs):
    for seed in range(runs):  # a run folder logged with CSV only
        make_run(tmp_path / str(seed), seed, [scores(seed)])
    with pytest.raises(SystemExit) as exit_:
        cli.main([str(tmp_path)])
    assert exit_.value.code == 2 and capsys.readouterr().err.startswith(f"error: {tmp_path} holds no W&B runs (")


def test_the_command_refuses_a_source_that_is_no_folder_or_project(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["no/such/folder"])
    assert exit_.value.code == 2 and "neither a folder nor a W&B project" in capsys.readouterr().err


def test_without_a_report_run_the_command_says_how_to_make_one(study, tmp_path, capsys):
    import shutil

    shutil.copytree(study / "0", tmp_path / "0")
    with pytest.raises(SystemExit):
        cli.main([str(tmp_path)])
    assert f"python -m benchmark.report {tmp_path}` writes one per variant" in capsys.readouterr().err


def test_online_the_dashboard_is_saved_and_its_urls_printed(study, tmp_path, monkeypatch):
    saved = []
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setattr(publish, "default_entity", lambda: "me")
    monkeypatch.setattr(publish, "save", lambda w, r: saved.append((w, r)) or ["https://w", "https://r"])
    looked_up = []  # saving a report's run sets looks their project up on W&B

    def lookup(api, query, variables):
        looked_up.append((variables["entityName"], variables["projectName"]))
        return {"project": {"internalId": "p1"}}

    monkeypatch.setattr("wandb_workspaces.reports.v2.interface.execute_graphql", lookup)
    monkeypatch.setattr("wandb_workspaces.reports.v2.interface._get_api", lambda: None)
    lines = produce(from_folders([study]), [str(study)], "s", tmp_path, to_wandb=publish.online())
    assert lines[1:3] == ["dashboard: workspace https://w", "dashboard: report https://r"]
    [(workspace, report)] = saved
    assert (workspace.entity, workspace.project) == ("me", "weight-sharing-benchmark")
    assert {rs._to_model().project.name for block in report.blocks if isinstance(block, wr.PanelGrid)
            for rs in block.runsets} == {"weight-sharing-benchmark"}
    assert set(looked_up) == {("me", "weight-sharing-benchmark")}
    assert all(rs.get("project") is None for rs in _runsets(json.loads((tmp_path / "report.json").read_text())))


def test_a_failed_publish_keeps_the_specification_and_exits_1(study, tmp_path, capsys, monkeypatch):
    def refuse(workspace, report):
        raise publish.PublishError("W&B did not save the dashboard (CommError: unreachable)")

    monkeypatch.setattr(publish, "save", refuse)
    with pytest.raises(SystemExit) as exit_:
        cli.main([str(study), "--out", str(tmp_path), "--publish", "--entity", "me"])
    assert exit_.value.code == 1 and "unreachable" in capsys.readouterr().err
    assert (tmp_path / "workspace.json").exists()


def test_wandb_mode_online_streams_the_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "online")
    assert EpochWandbLogger(save_dir=str(tmp_path), offline=True)._offline is False
    calls = []

    class Library:  # a wandb whose online start fails, as without a key or a network
        def init(self, mode, **kwargs):
            calls.append(mode)
            if mode == "online":
                raise ConnectionError("unreachable")
            return mode

        def teardown(self):  # W&B's service keeps a failed run's id in use until it is reset
            calls.append("teardown")

    assert _init(Library(), tmp_path, "online", project="p") == "offline"
    assert calls == ["online", "teardown", "offline"]


def test_a_wandb_project_is_read_through_its_runs_summaries(tmp_path, monkeypatch, capsys):
    class Run:  # what W&B's API gives for a synced report run
        id, project, group, job_type, name, state = "r1", "p", "study-a", "report", "report-study-a", "finished"
        summary_metrics = {"gt_tau": 0.5, "report/variance": {"_type": "table-file"}, "_step": 3}

    class Api:
        def runs(self, path):
            assert path == "me/p"
            return [Run()]

    monkeypatch.setattr(wandb, "Api", Api)
    monkeypatch.chdir(tmp_path)
    cli.main(["me/p"])
    [run] = from_project("me/p")
    assert run.keys == {"gt_tau": "number", "report/variance": "table"} and run.finished
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"dashboard: specification in {Path('dashboard/me/p/workspace.json')}")
    assert lines[1] == "dashboard: to publish it: python -m benchmark.dashboard me/p --publish"  # its runs are there


def test_a_study_over_several_sweeps_says_the_command_for_exactly_its_folders(tmp_path, caplog, capsys):
    truth = scores(99, noise=0.0)
    for sweep, seed in (("a", 0), ("a", 1), ("b", 2)):
        make_run(tmp_path / sweep / str(seed), seed, [scores(seed)], truth=truth)
    out = tmp_path / "elsewhere" / "report"
    with caplog.at_level(logging.INFO, logger="benchmark.dashboard"):
        build_report([tmp_path / "a", tmp_path / "b"], out)
    command = (f"python -m benchmark.dashboard {tmp_path / 'a'} {tmp_path / 'b'} {out} --out {out / 'dashboard'} "
               f"--name elsewhere --publish")
    [hint] = [r.getMessage() for r in caplog.records if "to publish it" in r.getMessage()]
    assert f"wandb sync --entity E --project weight-sharing-benchmark {out}/wandb/offline-run-*; then {command}" in hint
    cli.main(command.split()[3:-1])  # the same command offline writes the same specification
    assert capsys.readouterr().out.splitlines()[-1].endswith(f"then {command} --entity E --project "
                                                             "weight-sharing-benchmark (E: your W&B entity)")


def test_runs_not_synced_yet_are_named_when_publishing(study, tmp_path, monkeypatch):
    monkeypatch.setattr(publish, "save", lambda w, r: ["https://w", "https://r"])
    run_files = sorted(study.glob("*/wandb/offline-run-*/*.wandb"))
    markers = [f.with_name(f.name + ".synced") for f in run_files[1:]]  # what `wandb sync` leaves beside a run file
    try:
        for marker in markers:
            marker.touch()
        lines = produce(from_folders([study]), [str(study)], "s", tmp_path, entity="me", to_wandb=True)
    finally:
        for marker in markers:
            marker.unlink()
    assert lines[-1] == (f"dashboard: 1 offline run(s) are not on W&B yet, so it cannot show them: wandb sync --entity "
                         f"me --project weight-sharing-benchmark {study}/*/wandb/offline-run-*")


def test_a_report_whose_dashboard_w_and_b_refuses_still_writes_it_and_says_why(tmp_path, caplog, monkeypatch):
    def no_key():
        raise publish.PublishError("no W&B entity to save to (UsageError: api_key not configured)")

    monkeypatch.setattr(publish, "online", lambda: True)
    monkeypatch.setattr(publish, "default_entity", no_key)
    for seed in (0, 1):
        make_run(tmp_path / str(seed), seed, [scores(seed)])
    with caplog.at_level(logging.INFO, logger="benchmark.dashboard"):
        build_report([tmp_path], tmp_path / "report")
    assert (tmp_path / "report" / "dashboard" / "report.json").exists()
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.startswith(f"dashboard: specification in {tmp_path / 'report' / 'dashboard'}, not saved to W&B: "
                              "no W&B entity")
