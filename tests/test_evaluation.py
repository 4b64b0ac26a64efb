"""Ranking children with shared weights: the prefix tree equals child-by-child evaluation, and leaves no trace."""
import copy

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from benchmark.callbacks.ranking import rank_children
from benchmark.data import MNIST1DDataModule
from benchmark.evaluation import ChildScore, evaluate_child_by_child, evaluate_children
from benchmark.sharing import FullSharing, NoSharing, PartialSharing, PrefixSharing
from benchmark.spaces import ChainSpace
from benchmark.supernet import Supernet


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    dm = MNIST1DDataModule(cache_dir=tmp_path_factory.mktemp("c"), batch_size=64, eval_batch_size=300)
    dm.setup()
    return list(dm.val_dataloader()), dm.calibration_inputs(3), dm


def trained_supernet(policy, dm, steps=30):
    """A supernet whose BN statistics are stale (trained on random children), so calibration matters."""
    pl.seed_everything(0)
    space = ChainSpace()
    net = Supernet(space, policy, dm.shape)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    g = torch.Generator().manual_seed(0)
    for step, (x, y) in enumerate(dm.train_dataloader()):
        if step == steps:
            break
        opt.zero_grad()
        F.cross_entropy(net(x, int(torch.randint(64, (1,), generator=g))), y).backward()
        opt.step()
    return net


@pytest.mark.parametrize("policy", [FullSharing, lambda: PartialSharing(4, "random"), lambda: PrefixSharing(1)])
@pytest.mark.parametrize("calibrate", [True, False])
def test_prefix_tree_equals_child_by_child(data, policy, calibrate):
    val, calib, dm = data
    net = trained_supernet(policy(), dm)
    calib = calib if calibrate else []
    children = list(range(64))
    fast = evaluate_children(net, children, val, calib)
    slow = evaluate_child_by_child(net, children, val, calib)
    assert [s.child for s in fast] == children
    for f, s in zip(fast, slow):
        assert f.val_acc == s.val_acc
        assert f.val_loss == pytest.approx(s.val_loss, rel=1e-5)
    assert len({s.val_acc for s in fast}) > 10  # children really differ


def test_calibration_changes_the_ranking_and_leaves_the_supernet_untouched(data):
    val, calib, dm = data
    net = trained_supernet(FullSharing(), dm)
    net.train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    momenta = [m.momentum for m in net.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    stale = evaluate_children(net, range(64), val)
    fresh = evaluate_children(net, range(64), val, calib)
    assert [s.val_acc for s in stale] != [s.val_acc for s in fresh]
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert momenta == [m.momentum for m in net.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert all(m.training for m in net.modules())


def test_subset_of_children(data):
    val, calib, dm = data
    net = trained_supernet(FullSharing(), dm, steps=5)
    some = [5, 17, 63]
    by_child = {s.child: s for s in evaluate_children(net, range(64), val, calib)}
    for s in evaluate_children(net, some, val, calib):
        assert s.val_acc == by_child[s.child].val_acc


def test_rank_order_and_ties():
    scores = [ChildScore(0, 0.5, 1.0), ChildScore(1, 0.7, 2.0), ChildScore(2, 0.5, 0.9), ChildScore(3, 0.5, 0.9)]
    assert [s.child for s in rank_children(scores)] == [1, 2, 3, 0]


def test_prefix_tree_shares_every_common_prefix():
    """Default space, full sharing: 1 stem, 4 + 16 + 64 ops and 64 heads = 149 unit calls instead of 64 x 5 = 320."""
    from benchmark.evaluation import _prefix_tree
    from benchmark.spaces import DataShape

    def count(nodes):
        return sum(1 + count(list(n.children.values())) for n in nodes)

    shape = DataShape(1, 40, 10)
    assert count(_prefix_tree(Supernet(ChainSpace(), FullSharing(), shape), range(64))) == 149
    assert count(_prefix_tree(Supernet(ChainSpace(), PartialSharing(64, "random"), shape), range(64))) == 320


@pytest.mark.parametrize("block, calls", [(1, 149), (4, 1 + 4 + 16 + 64 + 16), (64, 14)])
def test_stacking_merges_the_nodes_that_share_a_unit(block, calls):
    """Unit calls of one ranking pass over one batch: node by node, the tree's 149; with all 64 nodes of a depth
    together, one call per distinct unit and depth (stem, 4 ops at each of 3 depths, head: 14). Blocks of 4 hold four
    siblings (different ops), so only their 4 heads merge: 16 head calls instead of 64."""
    from benchmark.spaces import DataShape

    torch.manual_seed(0)
    net = Supernet(ChainSpace(), FullSharing(), DataShape(1, 40, 10))
    called = []
    for module in net._units.values():
        module.register_forward_pre_hook(lambda m, args: called.append(m))
    evaluate_children(net, range(64), [(torch.randn(8, 1, 40), torch.randint(10, (8,)))], block=block)
    assert len(called) == calls


@pytest.mark.parametrize("policy", [FullSharing, lambda: PartialSharing(4, "random"), lambda: PrefixSharing(1),
                                    NoSharing])
@pytest.mark.parametrize("calibrate", [True, False])
def test_stacked_nodes_equal_node_by_node_bit_for_bit(data, policy, calibrate):
    """Stacking the nodes of one depth (the GPU default) computes exactly what node-by-node evaluation does."""
    val, calib, dm = data
    net = trained_supernet(policy(), dm, steps=10)
    calib = calib if calibrate else []
    one = evaluate_children(net, range(64), val, calib, block=1)
    for block in (3, 64):
        assert evaluate_children(net, range(64), val, calib, block=block) == one


def test_transformer_stacked_equals_node_by_node(data):
    from benchmark.spaces import TransformerSpace

    val, calib, dm = data
    pl.seed_everything(0)
    net = Supernet(TransformerSpace(), FullSharing(), dm.shape)
    assert evaluate_children(net, range(64), val, calib, block=64) == evaluate_children(net, range(64), val, calib,
                                                                                         block=1)


@pytest.mark.parametrize("kwargs", [{}, {"affine": False}, {"track_running_stats": False}, {"momentum": 0.3}])
def test_per_node_batchnorm_is_separate_batchnorms(kwargs):
    """m nodes' inputs stacked along the batch through one BatchNorm = m BatchNorms, each calibrated on its own node
    (cumulative average) and then measured with its own statistics."""
    from benchmark.evaluation import _PerNodeBatchNorm

    torch.manual_seed(0)
    m, bn = 3, torch.nn.BatchNorm1d(4, **kwargs)
    if bn.weight is not None:
        torch.nn.init.normal_(bn.weight), torch.nn.init.normal_(bn.bias)
    batches = [[torch.randn(5, 4, 7) * (i + 1) + i for i in range(m)] for _ in range(2)]  # per batch, per node
    copies = [copy.deepcopy(bn) for _ in range(m)]
    expected = []
    for i, c in enumerate(copies):
        c.reset_running_stats()
        c.momentum = None
        c.train()
        expected.append([c(b[i]) for b in batches])
    bn.train()
    with _PerNodeBatchNorm([bn], m, True, [None] * m) as per_node:
        for j, b in enumerate(batches):
            per_node.step()
            assert torch.equal(bn(torch.cat(b)), torch.cat([e[j] for e in expected]))
    stats = [per_node.node_stats(i) for i in range(m)]
    for c, s in zip(copies, stats):
        if c.running_mean is None:
            assert s == [None]
        else:
            assert torch.equal(s[0][0], c.running_mean) and torch.equal(s[0][1], c.running_var)
        c.eval()
    bn.eval()
    with _PerNodeBatchNorm([bn], m, False, stats):
        x = [torch.randn(6, 4, 7) for _ in range(m)]
        assert torch.equal(bn(torch.cat(x)), torch.cat([c(xi) for c, xi in zip(copies, x)]))
    assert "forward" not in bn.__dict__  # the module is itself again
