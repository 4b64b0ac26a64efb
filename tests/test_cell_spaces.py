"""Cell spaces: NAS-Bench-201 (arch strings, published parameter counts) and Deeper Insights (names 111 ... 444)."""
import math

import pytest
import torch

from benchmark.errors import ConfigError
from benchmark.evaluation import evaluate_children
from benchmark.proxies import freeflow
from benchmark.sharing import FullSharing, NoSharing, PrefixSharing
from benchmark.spaces import DataShape, DeeperInsightsSpace, NB201Space
from benchmark.stacked import ChildList, side_by_side
from benchmark.supernet import Supernet

CIFAR = DataShape(channels=3, length=32, num_classes=10, height=32)
SEQ = DataShape(channels=1, length=40, num_classes=10)


def nb201(op: str) -> str:
    return f"|{op}~0|+|{op}~0|{op}~1|+|{op}~0|{op}~1|{op}~2|"


@pytest.mark.parametrize(("arch", "params"), [
    # Derived by hand from the skeleton (stem 464, reduction blocks 14,464 + 57,600, head 128 + 650 = 73,306) plus
    # 6 edges x 5 cells per stage of C*C*k*k + 2C for C = 16, 32, 64; they equal NAS-Bench-201's published counts.
    (nb201("none"), 73_306),
    (nb201("skip_connect"), 73_306),
    (nb201("avg_pool_3x3"), 73_306),
    (nb201("nor_conv_1x1"), 73_306 + 30 * (16 * 16 + 32 + 32 * 32 + 64 + 64 * 64 + 128)),
    (nb201("nor_conv_3x3"), 1_531_546),
    ("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|",
     73_306 + 2 * 5 * (16 * 16 * 9 + 32 + 32 * 32 * 9 + 64 + 64 * 64 * 9 + 128)),
])
def test_nb201_parameter_counts_equal_the_published_benchmark(arch, params):
    space = NB201Space()
    net = space.build_child(space.child(arch).index, CIFAR)
    assert sum(p.numel() for p in net.parameters()) == params
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_nb201_arch_strings_round_trip_and_errors():
    space = NB201Space()
    assert space.num_children == 15_625 and len(space.decisions) == 6
    assert space.name(0) == nb201("none") and space.name(15_624) == nb201("avg_pool_3x3")
    for i in [0, 1, 777, 9_999, 15_624]:
        assert space.child(space.name(i)).index == i
    arch = space.parse("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|")
    assert arch == (3, 0, 1, 4, 2, 0)
    for bad, why in [(nb201("conv"), "op 'conv'"), ("|none~0|+|none~0|none~1|", "expected 3"),
                     ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "read from node 0"),
                     ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 has 1 inputs")]:
        with pytest.raises(ValueError, match=why):
            space.parse(bad)


def test_nb201_ranks_a_fixed_sample_independent_of_the_run_seed():
    space = NB201Space(eval_children=50)
    torch.manual_seed(1)
    first = space.ranked_children()
    torch.manual_seed(2)
    assert first == NB201Space(eval_children=50).ranked_children() == sorted(set(first)) and len(first) == 50
    assert NB201Space(eval_children=50, eval_seed=1).ranked_children() != first
    assert NB201Space(eval_children=None).ranked_children() == list(range(15_625))
    with pytest.raises(ConfigError, match="eval_children"):
        NB201Space(eval_children=0)


def test_deeper_insights_names_follow_the_paper():
    space = DeeperInsightsSpace()
    assert space.num_children == 64
    for i in range(64):
        assert space.name(i) == f"{i // 16 + 1}{(i // 4) % 4 + 1}{i % 4 + 1}"
        assert space.child(space.name(i)).index == i
    assert space.describe(space.child("142").index) == "max_pool_3x3 > dil_conv_5x5 > sep_conv_3x3"
    for bad in ["051", "1111", "11", "abc"]:
        with pytest.raises(ValueError):
            space.parse(bad)


@pytest.mark.parametrize("shape", [CIFAR, SEQ], ids=["2d", "1d"])
def test_deeper_insights_builds_for_images_and_sequences(shape):
    space = DeeperInsightsSpace()
    net = space.build_child(space.child("234").index, shape)
    assert net(torch.randn(2, *shape.input_size)).shape == (2, 10)
    # stem; 4 cells, each a ReLU-1x1 conv-BN input and 3 edges; GAP + FC
    assert len(net.path) == 1 + 4 * (1 + 3) + 1 and net.path[:3] == ["stem", "cells.0.pre", "cells.0.e01.sep_conv_3x3"]
    norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert [m.affine for m in norms[:2]] == [True, True] and not any(m.affine for m in norms[2:])  # only the stem's
    assert {m.momentum for m in norms} == {0.4}
    assert not any(isinstance(m, torch.nn.ReLU) for m in net.units[0].modules())  # no ReLU in the stem


def _params(modules) -> int:
    return sum(p.numel() for m in modules for p in m.parameters())


def test_deeper_insights_parameter_counts_are_the_authors():
    """Their code (search_cnn.py, search_cells.py, ops.py at 2a7f852) on CIFAR-10: a fixed part of 24,858 parameters
    (stem 1,296 + 96 + 20,736 + 96; cell inputs 48*16 + 3 * 32*16; head 32*10 + 10) plus, per cell, the chosen ops:
    max_pool_3x3 0, sep_conv_3x3 2 * (16*9 + 16*16) = 800, sep_conv_5x5 2 * (16*25 + 256) = 1,312, dil_conv_5x5
    16*25 + 256 = 656."""
    space = DeeperInsightsSpace()
    per_op = {"max_pool_3x3": 0, "sep_conv_3x3": 800, "sep_conv_5x5": 1312, "dil_conv_5x5": 656}
    for child in range(64):
        units = [space.build_unit(u, CIFAR) for u in space.path(space.arch(child))]
        expected = 24_858 + 4 * sum(per_op[space.ops[d]] for d in space.arch(child))
        assert _params(units) == expected, space.name(child)
    counts = {n: _params(space.build_unit(u, CIFAR) for u in space.path(space.parse(n))) for n in ("111", "434", "444")}
    assert counts == {"111": 24_858, "434": 35_354, "444": 32_730}


@pytest.mark.parametrize("space", [DeeperInsightsSpace(channels=8, stem_channels=8, cells=2),
                                   NB201Space(channels=4, cells_per_stage=1)],
                         ids=["deeper_insights", "nb201"])
def test_supernet_child_computes_the_standalone_child(space):
    """With the supernet's weights copied in, a standalone child is the supernet's child: the DAG is wired alike."""
    torch.manual_seed(0)
    net = Supernet(space, FullSharing(), SEQ).eval()
    x = torch.randn(3, 1, 40)
    for child in [0, space.num_children // 3, space.num_children - 1]:
        alone = space.build_child(child, SEQ).eval()
        for module, key in zip(alone.units, net.routes[child]):
            module.load_state_dict(net.unit(*key).state_dict())
        torch.testing.assert_close(alone(x), net(x, child))


def test_cell_depths_and_prefix_sharing():
    space = NB201Space(cells_per_stage=2)
    assert space.num_layers == 6
    assert [space.depth(u) for u in ("stem", "cells.0.e01.none", "reduce.0", "cells.2.e12.none", "head")] == \
        [0, 1, 3, 3, 7]
    small = DeeperInsightsSpace(channels=4, stem_channels=4)
    net = Supernet(small, PrefixSharing(2), SEQ)

    def copies(unit):
        return len({copy for route in net.routes for u, copy in route if u == unit})

    assert copies("cells.1.pre") == 1 and copies("cells.2.pre") == 64  # a cell's input belongs to the cell
    with pytest.raises(ConfigError, match="sharing.k"):
        Supernet(small, PrefixSharing(5), SEQ)


def test_refuses_a_supernet_too_large_to_build():
    with pytest.raises(ConfigError, match="sharing=partial"):
        Supernet(NB201Space(), NoSharing(), SEQ)


def test_ranking_a_cell_space_preserves_the_supernet_and_is_deterministic():
    torch.manual_seed(0)
    space = NB201Space(channels=4, cells_per_stage=1, eval_children=6)
    net = Supernet(space, FullSharing(), SEQ)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    val = [(torch.randn(20, 1, 40), torch.randint(10, (20,)))]
    calib = [torch.randn(16, 1, 40)]
    first = evaluate_children(net, space.ranked_children(), val, calib)
    assert first == evaluate_children(net, space.ranked_children(), val, calib)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_freeflow_scores_every_nb201_cell_without_nans():
    space = NB201Space()
    scores = freeflow(space, CIFAR)
    assert len(scores) == 15_625 and not any(math.isnan(s) for s in scores.values())
    score = lambda op: scores[space.child(nb201(op)).index]  # noqa: E731
    none, conv = score("none"), score("nor_conv_3x3")
    assert conv > none


def test_cell_children_train_side_by_side_as_a_list():
    space = DeeperInsightsSpace(channels=4, stem_channels=4, cells=1)
    stack = side_by_side(space, [0, 5], SEQ, [10, 11])
    assert isinstance(stack, ChildList)
    torch.manual_seed(11)
    alone = space.build_child(5, SEQ)
    x = torch.randn(4, 1, 40)
    torch.testing.assert_close(stack(x)[:, 1], alone(x))


NB201_SMALL = ["search_space=nb201", "search_space.channels=4", "search_space.cells_per_stage=1",
               "search_space.eval_children=6"]


def test_nb201_study_end_to_end_with_a_published_table(tmp_path, cache_dir):
    """As a user runs it: a 2-seed sweep ranking the fixed sample of cells against an imported table of arch strings,
    the report over it, and (in this process) the proxies judged against the same table."""
    from tests.conftest import run_forked, run_main

    space = NB201Space(eval_children=6)
    names = [space.name(c) for c in space.ranked_children()]
    table = tmp_path / "nb201.csv"
    others = [space.name(c) for c in range(0, 15_625, 700) if space.name(c) not in names]  # better, not ranked
    table.write_text("arch,accuracy\n" + "".join(f"{n},{0.9 - i / 100}\n" for i, n in enumerate(names))
                     + "".join(f"{n},0.99\n" for n in others))
    common = [*NB201_SMALL, f"ground_truth.path={table}", f"paths.cache_dir={cache_dir}", "logger=csv"]
    run_forked("-m", "seed=0,1", "experiment=smoke", "trainer.limit_train_batches=2", "callbacks.ranking.top_k=3",
               f"hydra.sweep.dir={tmp_path / 'sweep'}", *common)
    for seed in (0, 1):
        rows = (tmp_path / "sweep" / str(seed) / "rankings.csv").read_text().splitlines()
        assert rows[0].startswith("epoch,step,child,val_acc,val_loss,rank,gt_acc,gt_rank") and len(rows) == 1 + 6
        assert {r.split(",")[2] for r in rows[1:]} == set(names)
        # judged among the ranked cells only, though the table holds better ones
        assert sorted(int(r.split(",")[-1]) for r in rows[1:]) == [1, 2, 3, 4, 5, 6]
    report = (tmp_path / "sweep" / "report" / "report.md").read_text()
    assert "with 15625 children, ranking a fixed sample of 6" in report
    assert "| experiment=smoke search_space=nb201 | 2 |" in report
    run_main("task=proxies", "proxies.names=[params,synflow,freeflow,nwot]", f"hydra.run.dir={tmp_path / 'proxies'}",
             *common)
    summary = (tmp_path / "proxies" / "proxies_summary.csv").read_text().splitlines()
    assert sorted(r.split(",")[0] for r in summary[1:]) == ["freeflow", "nwot", "params", "synflow"]


def test_deeper_insights_ground_truth_trains_children_one_by_one_in_a_list(tmp_path, cache_dir):
    from tests.conftest import run_main

    run_main("task=ground_truth", "search_space=deeper_insights", "search_space.channels=4",
             "search_space.stem_channels=4", "search_space.cells=1", "ground_truth.seeds=1", "ground_truth.epochs=1",
             "ground_truth.chunk=32", "+trainer.limit_train_batches=2", "logger=none",
             f"paths.cache_dir={tmp_path / 'cache'}", f"data.cache_dir={cache_dir}", f"hydra.run.dir={tmp_path / 'gt'}")
    rows = (tmp_path / "gt" / "ground_truth.csv").read_text().splitlines()
    assert len(rows) == 1 + 64 and {r.split(",")[0] for r in rows[1:]} == {
        f"{a}{b}{c}" for a in "1234" for b in "1234" for c in "1234"}
