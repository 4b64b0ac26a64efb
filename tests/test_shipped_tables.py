"""The ground-truth tables shipped in benchmark/tables/: each is found by the config its command composes today, is
whole, and (slow) agrees with a fresh training of a sample of its children."""
import json
from pathlib import Path

import pytest
import torch

from benchmark import ground_truth
from benchmark.tasks import ground_truth as gt_task
from experiments.ground_truth.ship import ship

TABLES = sorted(p for p in ground_truth.SHIPPED.glob("*") if (p / ground_truth.TABLE).is_file())
#: Overrides of a table's command that do not change the table (what to train, where, how fast).
NOT_RECIPE = ("task=", "ground_truth.seeds=", "logger=", "threads=", "hydra.")
#: Test accuracy of a child retrained with the same build and thread count, chunk aside: a stack of n children equals
#: n separate trainings up to float rounding, which 20 epochs of SGD can grow into a few test examples.
TOLERANCE = 0.01


def recipe_overrides(folder: Path) -> list[str]:
    command = json.loads((folder / "ground_truth.json").read_text())["made_with"]["command"].split()[2:]
    return [o for o in command if not o.startswith(NOT_RECIPE)]


def test_tables_ship():
    assert [p.name for p in TABLES], "the default space's table must ship"


@pytest.mark.parametrize("folder", TABLES, ids=[p.name for p in TABLES])
def test_a_shipped_table_is_found_by_the_config_that_made_it(folder, make_cfg):
    cfg = make_cfg(*recipe_overrides(folder))
    assert ground_truth.provenance(cfg)["hash"] == folder.name  # else the defaults changed: recompute and ship again
    space = gt_task.instantiate(cfg.search_space)
    table = ground_truth.read_cached(folder, space, "test_acc")
    made = json.loads((folder / "ground_truth.json").read_text())["made_with"]
    assert table is not None and table.seeds == made["seeds"] and len(table.rows) == made["rows"]
    assert set(table.children) == {space.name(c) for c in space.ranked_children()}


@pytest.mark.slow
@pytest.mark.parametrize("folder", TABLES, ids=[p.name for p in TABLES])
def test_a_sample_of_children_retrains_to_the_shipped_accuracy(folder, make_cfg):
    made = json.loads((folder / "ground_truth.json").read_text())["made_with"]
    cfg = make_cfg(*recipe_overrides(folder))
    space = gt_task.instantiate(cfg.search_space)
    dm = gt_task.instantiate(cfg.data)
    dm.setup()
    sample = [0, 21, 42, 63]
    threads = torch.get_num_threads()
    torch.set_num_threads(made["threads"])
    try:
        rows = gt_task.train_chunk(cfg, space, dm, seed=0, children=sample)
    finally:
        torch.set_num_threads(threads)
    shipped = {r["child"]: r["test_acc"] for r in ground_truth.read_cached(folder, space, "test_acc").rows
               if r["seed"] == 0}
    for row in rows:
        assert abs(row["test_acc"] - shipped[row["child"]]) <= TOLERANCE, (row["child"], row["test_acc"],
                                                                           shipped[row["child"]])


def test_shipping_copies_the_table_and_records_the_command_without_where_or_which_shard(tmp_path):
    """The table of a sharded run is the merged whole: its command is the recipe, the seeds and the threads."""
    run = tmp_path / "run"
    (run / ".hydra").mkdir(parents=True)
    table = "child,seed,val_acc,test_acc,params,epochs\n0-0,0,0.5,0.5,10,1\n0-0,1,0.6,0.6,10,1\n"
    (run / "ground_truth.csv").write_text(table)
    (run / "ground_truth.json").write_text(json.dumps({"hash": "0123456789abcdef", "table_sha256": "x"}))
    (run / "environment.json").write_text(json.dumps({"threads": 1, "torch": "2.13.0"}))
    (run / ".hydra" / "overrides.yaml").write_text(
        "- task=ground_truth\n- search_space=deeper_insights\n- ground_truth.seeds=2\n- ground_truth.shard=1\n"
        "- ground_truth.num_shards=2\n- hydra.run.dir=/tmp/x\n")
    folder = ship(run, into=tmp_path / "tables")
    assert folder == tmp_path / "tables" / "0123456789abcdef"
    assert (folder / "ground_truth.csv").read_text() == table
    made = json.loads((folder / "ground_truth.json").read_text())
    assert made["hash"] == "0123456789abcdef" and made["table_sha256"] == "x"
    assert made["made_with"] == {"command": "python run.py task=ground_truth search_space=deeper_insights "
                                            "ground_truth.seeds=2 threads=1",
                                 "seeds": [0, 1], "rows": 2, "threads": 1, "torch": "2.13.0"}


def test_agreement_reports_the_spreads_and_the_split_half_tau(tmp_path, capsys):
    from experiments.ground_truth.agreement import main

    # Two seeds agree on a < b and a < c and disagree on b, c: tau (2 - 1) / 3 between the halves (one split).
    table = tmp_path / "t.csv"
    accuracy = {0: (0.90, 0.92, 0.94), 1: (0.90, 0.94, 0.92)}
    table.write_text("child,seed,test_acc\n" + "".join(f"{c},{s},{a}\n" for s, row in accuracy.items()
                                                      for c, a in zip("abc", row)))
    main(table)
    out = capsys.readouterr().out
    assert "3 children, 2 seeds; test_acc of the children's means 90.0-93.0 %" in out
    # per child 0, 1.41 and 1.41 pp; the means 0.90, 0.93, 0.93 have a standard deviation of 1.73 pp
    assert "(mean standard deviation): 0.94 pp; the spread of the children's means (standard deviation): 1.73 pp" in out
    assert "the means of 1 seeds against the other 1's, Kendall tau 0.33 (min 0.33, max 0.33 over 1 splits)" in out
