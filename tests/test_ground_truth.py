"""Ground truth: stacked training equals one-by-one training; cache, resume, shards; CSV import with clear errors."""
import logging
import os
import time
from pathlib import Path

import pytest
import torch

from benchmark.data import DigitsDataModule
from benchmark.errors import ConfigError
from benchmark.ground_truth import cache_folder, find, read_table
from benchmark.metrics import kendall_tau
from benchmark.io import atomic_path
from benchmark.spaces import ChainSpace, DataShape, NB201Space
from benchmark.stacked import StackedChildren
from benchmark.tasks import ground_truth as gt_task
from tests.conftest import run_main
from tests.test_io import killed_writer

SMALL = ["data=digits", "search_space.layers=2", "search_space.ops=[conv3,dilconv3,maxpool3]",
         "ground_truth.epochs=1", "logger=none"]
SMALL_SPACE = ChainSpace(layers=2, ops=["conv3", "dilconv3", "maxpool3"])
QUICK = [*SMALL, "ground_truth.seeds=1", "+trainer.limit_train_batches=2"]  # a whole table in about a second


def test_a_stack_of_one_is_the_standalone_child():
    space, shape = ChainSpace(), DataShape(1, 40, 10)
    x = torch.randn(7, 1, 40)
    stack = StackedChildren(space, [0, 13, 63], shape, [5, 6, 7]).eval()
    for i, (child, seed) in enumerate([(0, 5), (13, 6), (63, 7)]):
        torch.manual_seed(seed)
        alone = space.build_child(child, shape).eval()
        assert torch.equal(stack(x)[:, i], alone(x))
        assert torch.equal(StackedChildren(space, [child], shape, [seed]).eval()(x)[:, 0], alone(x))


def test_side_by_side_training_equals_one_after_another(make_cfg):
    cfg = make_cfg(*SMALL, "ground_truth.epochs=2")
    space = ChainSpace(layers=2, ops=["conv3", "dilconv3", "maxpool3"])
    dm = DigitsDataModule()
    dm.setup()
    together = gt_task.train_chunk(cfg, space, dm, seed=1, children=list(range(9)))
    alone = [row for c in range(9) for row in gt_task.train_chunk(cfg, space, dm, seed=1, children=[c])]
    assert [r["child"] for r in together] == [r["child"] for r in alone]
    for a, b in zip(together, alone):
        assert abs(a["test_acc"] - b["test_acc"]) <= 2 / 360 and abs(a["val_acc"] - b["val_acc"]) <= 2 / 360
        assert a["params"] == b["params"]
    assert len({r["test_acc"] for r in together}) > 3  # children really differ
    other_seed = gt_task.train_chunk(cfg, space, dm, seed=2, children=list(range(9)))
    assert [r["test_acc"] for r in other_seed] != [r["test_acc"] for r in together]


def test_cached_resumed_and_sharded(make_cfg, trained, caplog):
    cfg0 = make_cfg(*SMALL, "ground_truth.seeds=2", "ground_truth.num_shards=2", "ground_truth.shard=0",
                    "ground_truth.chunk=2")
    assert gt_task.run(cfg0) == {}  # half the pairs: not complete yet
    assert len(trained) == 9 and not (cache_folder(cfg0) / "ground_truth.csv").exists()
    # Shard 1 "was killed" after its first chunk: its part file holds 2 rows, which must not be retrained.
    cfg1 = make_cfg(*SMALL, "ground_truth.seeds=2", "ground_truth.num_shards=2", "ground_truth.shard=1",
                    "ground_truth.chunk=2")
    folder = cache_folder(cfg1)
    space = ChainSpace(layers=2, ops=["conv3", "dilconv3", "maxpool3"])
    dm = DigitsDataModule()
    dm.setup()
    first = gt_task.train_chunk(cfg1, space, dm, 0, [1, 3])
    gt_task.write_csv(folder / "part-1-of-2.csv", list(first[0]), [list(r.values()) for r in first])
    trained.clear()
    with caplog.at_level(logging.INFO):
        stability = gt_task.run(cfg1)
    assert sorted(trained) == sorted([(s, c) for s in range(2) for c in range(9)][1::2][2:])
    # Progress within the first chunk (after its first epoch), then after every chunk.
    assert "ground truth: 2.0 of 7 children trained (seed 0, 2 side by side, epoch 1/1); about" in caplog.text
    assert "seed 0: 2/7 pairs trained and saved" in caplog.text and "seed 1: 7/7 pairs trained" in caplog.text
    table = read_table(folder / "ground_truth.csv", space)
    assert table.seeds == [0, 1] and len(table.rows) == 18 and table.provenance["hash"] == folder.name
    per_seed = [{r["child"]: r["test_acc"] for r in table.rows if r["seed"] == seed} for seed in (0, 1)]
    assert stability["seeds"] == 2 and stability["s_tau"] == pytest.approx(kendall_tau(*per_seed))  # one pair of seeds
    assert (Path(cfg1.paths.output_dir) / "ground_truth.csv").exists()
    # A second call with the same config returns at once, training nothing; fewer seeds reuse the table too.
    trained.clear()
    gt_task.run(make_cfg(*SMALL, "ground_truth.seeds=1"))
    assert trained == []
    assert find(make_cfg(*SMALL), space) is not None
    assert find(make_cfg(*SMALL, "ground_truth.epochs=3"), space) is None  # another recipe, another table


def write(path, text):
    path.write_text(text)
    return path


def test_import_published_table(tmp_path, caplog):
    space = ChainSpace()
    rows = "arch,accuracy\n" + "".join(f"{space.describe(i)},{0.5 + i / 200}\n" for i in range(64))
    table = read_table(write(tmp_path / "pub.csv", rows), space)
    assert table.metric == "accuracy" and table.scores()["3-3-3"] == pytest.approx(0.5 + 63 / 200)
    with caplog.at_level(logging.WARNING):
        partial = read_table(write(tmp_path / "some.csv", "child,test_acc,seed\n0-0-0,0.9,0\n0-0-1,0.8,0\n"), space)
    assert len(partial.children) == 2 and "lacks 62 of the 64 ranked children" in caplog.text


def test_import_nb201_arch_strings(tmp_path):
    space = NB201Space(eval_children=3)
    names = [space.name(c) for c in space.ranked_children()]
    table = read_table(write(tmp_path / "nb201.csv", "arch,accuracy\n" + "".join(f"{n},{0.9 - i / 10}\n"
                                                                               for i, n in enumerate(names))), space)
    assert table.scores() == pytest.approx(dict(zip(names, [0.9, 0.8, 0.7])))
    bad = "arch,accuracy\n|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|,0.5\n"
    with pytest.raises(ValueError, match=r"nb201.csv:2: .* is not a child of this space \(.*op 'conv'"):
        read_table(write(tmp_path / "nb201.csv", bad), space)


@pytest.mark.parametrize("text, line, message", [
    ("child,test_acc\n0-0-9,0.5\n", 2, "not a child of this space"),
    ("arch,test_acc\nconv3 > conv3,0.5\n", 2, "not a child of this space"),
    ("child,test_acc\n0-0-0,0.5\n0-0-0,0.6\n", 3, "duplicate row"),
    ("child,test_acc\n0-0-0,nan\n", 2, "finite accuracies"),
    ("child,test_acc\n0-0-0,high\n", 2, "not a number"),
    ("child,test_acc,params\n0-0-0,0.5,inf\n", 2, "params 'inf' is not an integer"),
    ("name,test_acc\n0-0-0,0.5\n", 1, "no 'child' or 'arch' column"),
    ("child,test_acc\n", 2, "no rows"),
    ("", 1, "the file is empty"),
    ("child,test_acc\n0-0-0,0.5\n0-0-1\n", 3, "expected 2 fields as in the header .*, found 1"),
    ("child,test_acc\n0-0-0,0.5,0.7\n", 2, "expected 2 fields as in the header .*, found 3"),
    ("child,test_acc,child\n0-0-0,0.5,0-0-1\n", 1, "names a column twice"),
    (b"child,test_acc\n0-0-0,0.5\n0-0-1,0.6\xb5\n", 3, "byte 0xb5 is not UTF-8"),
    ('child,test_acc\n"0-0-0\n', 2, "not a CSV table"),
])
def test_bad_tables_are_config_errors_naming_the_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "t.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError, match=message) as e:
        read_table(path, ChainSpace())
    assert e.value.key == "ground_truth.path" and f"{path}:{line}: " in str(e.value)


def test_an_unreadable_sidecar_is_a_config_error_naming_its_line(tmp_path):
    write(tmp_path / "t.json", '{"source": "a paper",\n oops}\n')
    with pytest.raises(ConfigError, match=r"t.json:2: not JSON"):
        read_table(write(tmp_path / "t.csv", "child,test_acc\n0-0-0,0.5\n"), ChainSpace())


def test_a_short_row_stops_a_search_run_with_one_line(tmp_path, cache_dir):
    table = write(tmp_path / "short.csv", "child,test_acc\n0-0-0,0.5\n0-0-1\n")
    proc = run_main("experiment=smoke", "logger=csv", f"hydra.run.dir={tmp_path / 'run'}",
                    f"paths.cache_dir={cache_dir}", f"ground_truth.path={table}", check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"error: ground_truth.path='{table}' is not valid: {table}:3: expected 2 fields" in proc.stderr


def test_missing_table_and_missing_metric(tmp_path):
    with pytest.raises(ConfigError, match="ground_truth.path"):
        read_table(tmp_path / "nope.csv", ChainSpace())
    with pytest.raises(ConfigError, match="ground_truth.metric"):
        read_table(write(tmp_path / "t.csv", "child,val_acc,test_acc\n0-0-0,0.5,0.4\n"), ChainSpace(), "top5")


def test_seed_to_seed_reference_uses_children_every_seed_has(caplog):
    from benchmark.ground_truth import GroundTruth

    rows = [{"child": c, "seed": s, "test_acc": v + 0.01 * s} for s in range(3)
            for c, v in {"a": 0.9, "b": 0.7, "c": 0.5, "d": 0.3}.items()]
    full = GroundTruth(rows).stability()
    gapped = GroundTruth([r for r in rows if not (r["child"] == "d" and r["seed"] == 2)]).stability()
    assert "lack some seed" in caplog.text
    assert gapped["children"] == 3 and gapped["gt_tau"] == pytest.approx(1.0) and gapped["t1r"] == 1
    assert full["children"] == 4 and full["gt_tau"] == pytest.approx(1.0)
    assert GroundTruth(rows).stability(children=["a", "b"])["children"] == 2


def test_trainer_arguments_that_change_training_change_the_cache_key(make_cfg):
    from benchmark.ground_truth import provenance

    default = provenance(make_cfg())["hash"]
    assert provenance(make_cfg("trainer.max_epochs=3", "trainer.log_every_n_steps=1"))["hash"] == default
    assert provenance(make_cfg("+trainer.limit_train_batches=1.0"))["hash"] == default
    assert provenance(make_cfg("+trainer.limit_train_batches=4"))["hash"] != default
    assert provenance(make_cfg("+trainer.gradient_clip_val=1.0"))["hash"] != default


def test_imported_seeds_may_be_written_as_floats_but_must_be_integers(tmp_path):
    from benchmark.ground_truth import read_table
    from benchmark.spaces import ChainSpace

    (tmp_path / "t.csv").write_text("child,test_acc,seed\n0-0-0,0.5,777.0\n0-0-1,0.6,3\n")
    assert read_table(tmp_path / "t.csv", ChainSpace()).seeds == [3, 777]
    (tmp_path / "t.csv").write_text("child,test_acc,seed\n0-0-0,0.5,7.5\n")
    with pytest.raises(ValueError, match=r"t.csv:2: seed '7.5' is not an integer"):
        read_table(tmp_path / "t.csv", ChainSpace())


@pytest.fixture
def built(make_cfg, tmp_path):
    """The config of a whole cached table (9 children, 1 seed) in this test's own cache, with its parts."""
    cfg = make_cfg(*QUICK)
    cfg.paths.cache_dir = str(tmp_path / "cache")
    gt_task.run(cfg)
    return cfg


@pytest.fixture
def trained(monkeypatch):
    """The (seed, child) pairs task=ground_truth trains from now on."""
    pairs = []
    real = gt_task.train_chunk

    def spy(cfg, space, dm, seed, children, progress=None):
        pairs.extend((seed, c) for c in children)
        return real(cfg, space, dm, seed, children, progress)

    monkeypatch.setattr(gt_task, "train_chunk", spy)
    return pairs


def cut(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])


def drop_last_row(path: Path) -> None:
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-1]))


#: On-disk states a kill (or a lost write) leaves in a cache entry: the table and its sidecar are two renames.
HALF_WRITTEN = {
    "table_without_sidecar": lambda folder: (folder / "ground_truth.json").unlink(),
    "sidecar_without_table": lambda folder: (folder / "ground_truth.csv").unlink(),
    "table_cut_short": lambda folder: cut(folder / "ground_truth.csv"),
    "empty_table": lambda folder: (folder / "ground_truth.csv").write_bytes(b""),
    "table_newer_than_its_sidecar": lambda folder: drop_last_row(folder / "ground_truth.csv"),
    "sidecar_cut_short": lambda folder: cut(folder / "ground_truth.json"),
}


@pytest.mark.parametrize("damage", HALF_WRITTEN)
def test_a_half_written_cache_entry_is_never_used_and_is_merged_again(built, trained, damage, caplog):
    whole = find(built, SMALL_SPACE)
    assert whole is not None and len(whole.rows) == 9
    HALF_WRITTEN[damage](cache_folder(built))
    with caplog.at_level(logging.WARNING):
        assert find(built, SMALL_SPACE) is None
    assert damage == "sidecar_without_table" or "without a matching sidecar" in caplog.text
    gt_task.run(built)
    assert trained == []  # merged from the finished parts, nothing retrained
    assert find(built, SMALL_SPACE).rows == whole.rows
    out = Path(built.paths.output_dir)
    assert read_table(out / "ground_truth.csv", SMALL_SPACE).rows == whole.rows
    assert (out / "ground_truth.json").is_file()


def test_the_command_line_repairs_a_table_left_without_its_sidecar(built, tmp_path):
    (cache_folder(built) / "ground_truth.json").unlink()
    proc = run_main("task=ground_truth", *QUICK, f"paths.cache_dir={built.paths.cache_dir}",
                    f"hydra.run.dir={tmp_path / 'again'}")
    assert "0 of 9 (child, seed) pairs to train, 9 already done" in proc.stdout + proc.stderr
    assert len(find(built, SMALL_SPACE).rows) == 9 and (tmp_path / "again" / "ground_truth.json").is_file()


def test_half_written_part_rows_are_trained_again(built, trained):
    folder = cache_folder(built)
    for name in ("ground_truth.csv", "ground_truth.json"):
        (folder / name).unlink()
    part = folder / "part-0-of-1.csv"
    lines = part.read_text().splitlines()
    part.write_text("\n".join([*lines[:-1], lines[-1][:len(lines[-1]) // 2]]))  # the last row cut in the middle
    (folder / "part-1-of-2.csv").write_bytes(b"child,seed,val_acc\n\xb5")  # another shard's, unreadable
    gt_task.run(built)
    assert trained == [(0, SMALL_SPACE.child(lines[-1].split(",")[0]).index)]
    assert len(find(built, SMALL_SPACE).rows) == 9


def test_ground_truth_removes_the_temps_of_killed_writers_only(built):
    folder = cache_folder(built)
    killed = killed_writer(folder / "ground_truth.csv")
    unnamed = folder / ".part-0-of-1.csv.ab12cd34.tmp"  # the name before temps carried their writer's pid
    unnamed.touch()
    os.utime(unnamed, (time.time() - 3600, time.time() - 3600))
    with atomic_path(folder / "part-1-of-2.csv") as live:  # a shard still writing
        gt_task.run(built)
        assert live.exists()
    assert not killed.exists() and not unnamed.exists()
    assert sorted(p.name for p in folder.iterdir()) == [
        "ground_truth.csv", "ground_truth.json", "part-0-of-1.csv", "part-1-of-2.csv", "provenance.json"]


def test_progress_says_children_done_and_time_left(caplog, monkeypatch):
    from types import SimpleNamespace

    clock = iter([0.0, 10.0, 20.0, 60.0])
    monkeypatch.setattr(gt_task.time, "perf_counter", lambda: next(clock))
    progress = gt_task.Progress(total=64, every=30).chunk(seed=2, size=16)  # started at t=0
    trainer = SimpleNamespace(max_epochs=4, current_epoch=0)
    with caplog.at_level(logging.INFO):
        progress.on_train_epoch_end(trainer, None)  # t=10: 4 of 64 done -> 150 s left
        trainer.current_epoch = 1
        progress.on_train_epoch_end(trainer, None)  # t=20: within 30 s of the last line, quiet
        trainer.current_epoch = 3
        progress.on_train_epoch_end(trainer, None)  # t=60: 16 done -> 180 s left
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["ground truth: 4.0 of 64 children trained (seed 2, 16 side by side, epoch 1/4); about 2m30s left",
                     "ground truth: 16.0 of 64 children trained (seed 2, 16 side by side, epoch 4/4); about 3m00s left"]


def test_a_shipped_table_is_found_when_the_cache_has_none(make_cfg, monkeypatch, tmp_path, caplog):
    from benchmark import ground_truth

    cfg = make_cfg(*SMALL)
    cfg.paths.cache_dir = str(tmp_path / "cache")  # the session's cache may hold this table already
    monkeypatch.setattr(ground_truth, "SHIPPED", tmp_path / "tables")
    assert find(cfg, SMALL_SPACE) is None
    rows = [{"child": SMALL_SPACE.name(c), "seed": 0, "val_acc": c / 10, "test_acc": c / 10, "params": 1, "epochs": 1}
            for c in range(9)]
    shipped = tmp_path / "tables" / ground_truth.provenance(cfg)["hash"]
    ground_truth.GroundTruth(rows, "test_acc", ground_truth.provenance(cfg)).save(shipped / "ground_truth.csv")
    found = find(cfg, SMALL_SPACE)
    assert found is not None and found.source == str(shipped / "ground_truth.csv") and len(found.rows) == 9
    # task=ground_truth still recomputes, but says first that a search would not need it.
    quick = make_cfg(*QUICK)
    quick.paths.cache_dir = cfg.paths.cache_dir
    made = tmp_path / "tables" / ground_truth.provenance(quick)["hash"] / "ground_truth.csv"
    ground_truth.GroundTruth(rows, "test_acc", ground_truth.provenance(quick)).save(made)
    with caplog.at_level(logging.INFO):
        gt_task.run(quick)
    assert (f"a 1-seed table for this space, data and recipe ships with the benchmark ({made}): searches rank "
            "against it without this run; training anyway") in caplog.text
    assert find(quick, SMALL_SPACE).source == str(cache_folder(quick) / "ground_truth.csv")  # it trained its own
    # This machine's own table, once made, wins over a shipped one of as many seeds; one of more seeds wins over it.
    cached = [{**r, "test_acc": 1 - r["test_acc"]} for r in rows]
    table = ground_truth.GroundTruth(cached, "test_acc", ground_truth.provenance(cfg))
    table.save(cache_folder(cfg) / "ground_truth.csv")
    assert find(cfg, SMALL_SPACE).source == str(cache_folder(cfg) / "ground_truth.csv")
    ground_truth.GroundTruth(rows + [{**r, "seed": 1} for r in rows], "test_acc",
                             ground_truth.provenance(cfg)).save(shipped / "ground_truth.csv")
    with caplog.at_level(logging.INFO):
        assert find(cfg, SMALL_SPACE).seeds == [0, 1]
    assert (f"the table shipped for this space, data and recipe has more seeds (2) than this machine's "
            f"{cache_folder(cfg) / 'ground_truth.csv'} (1): ranking against the shipped one") in caplog.text
    other = make_cfg(*SMALL, "ground_truth.epochs=2")
    other.paths.cache_dir = cfg.paths.cache_dir
    assert find(other, SMALL_SPACE) is None  # another recipe: no table
