"""Ground truth: stacked training equals one-by-one training; cache, resume, shards; CSV import with clear errors."""
import logging
from pathlib import Path

import pytest
import torch

from benchmark.data import DigitsDataModule
from benchmark.errors import ConfigError
from benchmark.ground_truth import cache_folder, find, read_table
from benchmark.spaces import ChainSpace, DataShape, NB201Space
from benchmark.stacked import StackedChildren
from benchmark.tasks import ground_truth as gt_task

SMALL = ["data=digits", "search_space.layers=2", "search_space.ops=[conv3,dilconv3,maxpool3]",
         "ground_truth.epochs=1", "logger=none"]


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


def test_cached_resumed_and_sharded(make_cfg, monkeypatch, caplog):
    trained = []
    real = gt_task.train_chunk

    def spy(cfg, space, dm, seed, children):
        trained.extend((seed, c) for c in children)
        return real(cfg, space, dm, seed, children)

    monkeypatch.setattr(gt_task, "train_chunk", spy)
    cfg0 = make_cfg(*SMALL, "gt_seeds=2", "gt_num_shards=2", "gt_shard=0", "ground_truth.chunk=2")
    assert gt_task.run(cfg0) == {}  # half the pairs: not complete yet
    assert len(trained) == 9 and not (cache_folder(cfg0) / "ground_truth.csv").exists()
    # Shard 1 "was killed" after its first chunk: its part file holds 2 rows, which must not be retrained.
    cfg1 = make_cfg(*SMALL, "gt_seeds=2", "gt_num_shards=2", "gt_shard=1", "ground_truth.chunk=2")
    folder = cache_folder(cfg1)
    space = ChainSpace(layers=2, ops=["conv3", "dilconv3", "maxpool3"])
    dm = DigitsDataModule()
    dm.setup()
    first = real(cfg1, space, dm, 0, [1, 3])
    gt_task.write_csv(folder / "part-1-of-2.csv", list(first[0]), [list(r.values()) for r in first])
    trained.clear()
    with caplog.at_level(logging.INFO):
        stability = gt_task.run(cfg1)
    assert sorted(trained) == sorted([(s, c) for s in range(2) for c in range(9)][1::2][2:])
    table = read_table(folder / "ground_truth.csv", space)
    assert table.seeds == [0, 1] and len(table.rows) == 18 and table.provenance["hash"] == folder.name
    assert 0 < stability["seeds"] == 2 and -1 <= stability["s_tau"] <= 1
    assert (Path(cfg1.paths.output_dir) / "ground_truth.csv").exists()
    # A second call with the same config returns at once, training nothing; fewer seeds reuse the table too.
    trained.clear()
    gt_task.run(make_cfg(*SMALL, "gt_seeds=1"))
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


@pytest.mark.parametrize("text, message", [
    ("child,test_acc\n0-0-9,0.5\n", "not a child of this space"),
    ("arch,test_acc\nconv3 > conv3,0.5\n", "not a child of this space"),
    ("child,test_acc\n0-0-0,0.5\n0-0-0,0.6\n", "duplicate row"),
    ("child,test_acc\n0-0-0,nan\n", "finite accuracies"),
    ("child,test_acc\n0-0-0,high\n", "not a number"),
    ("name,test_acc\n0-0-0,0.5\n", "no 'child' or 'arch' column"),
    ("child,test_acc\n", "no rows"),
])
def test_bad_tables_are_clear_errors(tmp_path, text, message):
    with pytest.raises(ValueError, match=message) as e:
        read_table(write(tmp_path / "t.csv", text), ChainSpace())
    assert "t.csv" in str(e.value) or isinstance(e.value, ConfigError)


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
