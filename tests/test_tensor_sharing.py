"""Tensor-level sharing: Deeper Insights' keyword policies (not_bn, not_conv, only_conv, only_stem_and_conv,
not_dag_edge_3) select the tensors the authors' code selects, tied tensors are one object everywhere they appear
(training, BatchNorm statistics, dtype moves, checkpoints), and rankings equal child-by-child evaluation."""
import io
import itertools
import re
from collections import Counter
from functools import partial
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch.utils.data import DataLoader

from benchmark.errors import ConfigError
from benchmark.evaluation import evaluate_child_by_child, evaluate_children
from benchmark.module import SupernetModule
from benchmark.samplers import UniformSampler
from benchmark.sharing import FullSharing, KeywordSharing, TensorRef
from benchmark.spaces import ChainSpace, DataShape, DeeperInsightsSpace
from benchmark.supernet import Supernet, _tensors

ROOT = Path(__file__).resolve().parents[1]
SHAPE = DataShape(channels=1, length=40, num_classes=10)
CIFAR = DataShape(channels=3, length=32, num_classes=10, height=32)
PRESETS = ["not_bn", "not_conv", "only_conv", "only_stem_and_conv", "not_dag_edge_3"]
CHAIN_PRESETS = PRESETS[:4]  # the chain has no cell edges


def preset(name: str) -> KeywordSharing:
    return instantiate(OmegaConf.load(ROOT / "conf" / "sharing" / f"{name}.yaml"))


def small_di() -> DeeperInsightsSpace:
    return DeeperInsightsSpace(channels=4, stem_channels=4, cells=2)


def per_child_tensors(policy: KeywordSharing, space, shape) -> set[str]:
    """Names of the tensors the policy gives every child its own of (owner != the shared owner 0)."""
    tensors = _tensors(space, shape)
    policy.bind(space)
    if policy.tensor_level:
        policy.bind_tensors({u: [t.ref for t in ts] for u, ts in tensors.items()})
    return {t.ref.name for u, ts in tensors.items() for t in ts if policy.tensor_owner(5, u, t.ref.name) != 0}


# -- what the authors' code selects ------------------------------------------------------------------------------------
# Their network (models/search_cnn.py, search_cells.py, ops.py @2a7f852) with our names: stem.{0,2} convs and
# stem.{1,3} affine BatchNorms; cells.<c>.pre = ReLU-conv(.1)-BN(.2); ops: max_pool_3x3 = pool, BN(.1);
# dil_conv_5x5 = ReLU, depthwise(.1), pointwise(.2), BN(.3); sep_conv = that twice (.1 .2 .3, .5 .6 .7).
BN_STATS = re.compile(r".*\.(running_mean|running_var|num_batches_tracked)$")
CONV = re.compile(r"^stem\.[02]\.weight$|^cells\.\d+\.pre\.1\.weight$"
                  r"|^cells\.\d+\.e\d\d\.(sep_conv_\dx\d\.[1256]|dil_conv_5x5\.[12])\.weight$")
STEM_AFFINE = {"stem.1.weight", "stem.1.bias", "stem.3.weight", "stem.3.bias"}


def authors_per_child(name: str, names: list[str]) -> set[str]:
    """Their keyword lists (experiments/final/partial_sharing/name/*.yml), transcribed to our tensor names."""
    bn = {n for n in names if BN_STATS.match(n)} | STEM_AFFINE
    conv = {n for n in names if CONV.match(n)}
    every = set(names)
    return {"not_bn": bn, "not_conv": conv, "only_conv": every - conv,
            "only_stem_and_conv": every - conv - {n for n in names if n.startswith("stem.")},
            "not_dag_edge_3": {n for n in names if re.match(r"^cells\.\d+\.e12\.", n)}}[name]


def test_the_authors_network_has_their_tensors():
    """Their full supernet's state_dict (alphas aside) holds 366 tensors; so does our space's set of units."""
    refs = [t for ts in _tensors(DeeperInsightsSpace(), CIFAR).values() for t in ts]
    kinds = Counter((t.ref.module, t.attr) for t in refs)
    assert kinds == {("Conv2d", "weight"): 126, ("BatchNorm2d", "running_mean"): 78,
                     ("BatchNorm2d", "running_var"): 78, ("BatchNorm2d", "num_batches_tracked"): 78,
                     ("BatchNorm2d", "weight"): 2, ("BatchNorm2d", "bias"): 2, ("Linear", "weight"): 1,
                     ("Linear", "bias"): 1}
    convs = {t.ref.name for t in refs if t.ref.module == "Conv2d"}
    assert convs == {t.ref.name for t in refs if CONV.match(t.ref.name)}


@pytest.mark.parametrize("name, count", [("not_bn", 238), ("not_conv", 126), ("only_conv", 240),
                                         ("only_stem_and_conv", 230), ("not_dag_edge_3", 112)])
def test_presets_select_exactly_the_authors_tensors(name, count):
    """Counts as their generate_unshared_mask gives on their network (4 cells, 2 nodes), and the same names."""
    space = DeeperInsightsSpace()
    names = [t.ref.name for ts in _tensors(space, CIFAR).values() for t in ts]
    ours = per_child_tensors(preset(name), space, CIFAR)
    assert len(ours) == count
    assert ours == authors_per_child(name, names)


def test_tensor_patterns():
    bn = TensorRef("cells.0.e01.sep_conv_3x3.3.running_mean", "BatchNorm2d")
    conv = TensorRef("stem.0.weight", "Conv2d")
    assert KeywordSharing.selects("BatchNorm*:*", bn) and not KeywordSharing.selects("BatchNorm*:*", conv)
    assert KeywordSharing.selects("*.running_*", bn) and KeywordSharing.selects("stem", conv)
    assert KeywordSharing.selects("cells.*.e01", bn) and not KeywordSharing.selects("cells.*.e12", bn)
    assert KeywordSharing.selects("Conv2d:stem.0", conv) and not KeywordSharing.selects("Conv1d:stem", conv)
    assert not KeywordSharing.selects("stem.0.w", conv)  # a prefix ends at a dot


def test_tensor_patterns_must_match_and_unit_mode_is_unchanged():
    with pytest.raises(ConfigError) as e:
        Supernet(ChainSpace(), KeywordSharing(["Linear:stem"], match="tensor"), SHAPE)
    assert e.value.key == "sharing.patterns" and "Linear:stem" in str(e.value)
    with pytest.raises(ConfigError) as e:
        Supernet(ChainSpace(), preset("not_dag_edge_3"), SHAPE)  # the chain has no edge 1 -> 2
    assert e.value.key == "sharing.patterns"
    with pytest.raises(ConfigError) as e:
        KeywordSharing(["stem"], match="module")
    assert e.value.key == "sharing.match"
    space = ChainSpace()
    old, new = KeywordSharing(["stem", "layers.*.conv*"]), KeywordSharing(["stem", "layers.*.conv*"], match="unit")
    assert not new.tensor_level and [old.owner(c, u) for c in range(64) for u in space.unit_names()] == [
        new.owner(c, u) for c in range(64) for u in space.unit_names()]


# -- ownership and ties ------------------------------------------------------------------------------------------------
CASES = [(ChainSpace, SHAPE, name) for name in CHAIN_PRESETS] + [(small_di, SHAPE, name) for name in PRESETS]


def ids(net: Supernet, child: int, unit: str) -> list[int]:
    copy = dict(net.routes[child])[unit]
    module = net.unit(unit, copy)
    return [id(t) for t in itertools.chain(module.parameters(), module.buffers())]


@pytest.mark.parametrize("space_factory, shape, name", CASES)
def test_tensors_are_one_object_exactly_when_their_owners_are_equal(space_factory, shape, name):
    space, policy = space_factory(), preset(name)
    net = Supernet(space, policy, shape)
    refs = {u: [t.ref.name for t in ts] for u, ts in _tensors(space, shape).items()}
    for a, b in itertools.combinations(range(0, 64, 9), 2):
        for unit in set(space.path(space.arch(a))) & set(space.path(space.arch(b))):
            if not refs[unit]:
                continue
            same = [x == y for x, y in zip(ids(net, a, unit), ids(net, b, unit))]
            owners = [policy.tensor_owner(a, unit, t) == policy.tensor_owner(b, unit, t) for t in refs[unit]]
            module = net.unit(unit, 0)
            order = [n for n, _ in module.named_parameters()] + [n for n, _ in module.named_buffers()]
            expected = dict(zip([t[len(unit) + 1:] for t in refs[unit]], owners))
            assert same == [expected[n] for n in order], (name, a, b, unit)
    for child in range(0, 64, 13):  # every child still sees a whole network of its own shape
        standalone = space.build_child(child, shape)
        assert sum(p.numel() for p in net.child_parameters(child)) == sum(p.numel() for p in standalone.parameters())
    # parameters() lists a tied tensor once: as many parameters as distinct (tensor, owner) pairs
    distinct = {(t, policy.tensor_owner(c, u, t)) for c in range(64) for u in space.path(space.arch(c))
                for t in refs[u]}
    numel = {t.ref.name: t.numel for ts in _tensors(space, shape).values() for t in ts if t.is_parameter}
    assert sum(p.numel() for p in net.parameters()) == sum(numel.get(t, 0) for t, _ in distinct)


def test_not_bn_step_on_one_child_moves_anothers_convs_but_not_its_statistics():
    torch.manual_seed(0)
    net = Supernet(ChainSpace(), preset("not_bn"), SHAPE)
    a, b = 0, 1  # differ only in the last layer: stem, layers 0 and 1 in common
    before = {k: v.clone() for k, v in net.state_dict().items()}
    keys_b = {k for k in net.child_state_keys(b)}
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    net.train()
    F.cross_entropy(net(torch.randn(16, 1, 40), a), torch.randint(10, (16,))).backward()
    opt.step()
    moved = {k for k, v in net.state_dict().items() if not torch.equal(v, before[k])}
    copy_b = dict(net.routes[b])
    own_b = {k for k in keys_b if any(k.startswith(f"{u}.{c}.") for u, c in copy_b.items())}
    for unit in ("stem", "layers.0.conv3", "layers.1.conv3"):
        assert f"{unit}.{copy_b[unit]}.0.weight" in moved  # b's convolution: the tensor a trained
        assert not any(k.startswith(f"{unit}.{copy_b[unit]}.1.running") for k in moved)  # b's statistics untouched
        assert any(k.startswith(f"{unit}.{dict(net.routes[a])[unit]}.1.running") for k in moved)  # a's moved
    assert moved <= net.child_state_keys(a)
    assert moved & own_b and all(".running" not in k and "num_batches" not in k for k in moved & own_b)


def test_tied_statistics_stay_tied_in_training_and_dtype_moves():
    """not_conv shares BatchNorm statistics between copies that differ in their convolutions: a forward in training
    mode updates them in place, so every copy sees the update; .double() (which replaces buffers module by module)
    and .float() keep them one object."""
    torch.manual_seed(0)
    net = Supernet(ChainSpace(), preset("not_conv"), SHAPE)
    groups = net.tied_keys()
    assert any(k.endswith("running_mean") for g in groups for k in g)
    assert not any(k.endswith(".0.weight") for g in groups for k in g)  # convolutions are per child

    def one_object():
        state = net.state_dict(keep_vars=True)
        return all(len({id(state[k]) for k in g}) == 1 for g in groups)

    net.double()
    assert one_object() and net.stem[0][1].running_mean.dtype == torch.float64
    net.float()
    assert one_object()
    net.train()
    net(torch.randn(8, 1, 40), 0)
    state = net.state_dict()
    mean = [g for g in groups if g[0].startswith("stem.") and g[0].endswith("running_mean")][0]
    assert len(mean) == 64 and all(torch.equal(state[k], state[mean[0]]) for k in mean)
    assert not torch.equal(state[mean[0]], torch.zeros_like(state[mean[0]]))


# -- checkpoints -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["not_bn", "only_conv"])
def test_state_dict_round_trip_keeps_ties(name):
    torch.manual_seed(0)
    net = Supernet(small_di(), preset(name), SHAPE)
    net.train()
    net(torch.randn(8, 1, 40), 3)
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    torch.manual_seed(1)
    other = Supernet(small_di(), preset(name), SHAPE)
    other.load_state_dict(torch.load(io.BytesIO(buffer.getvalue()), weights_only=True))
    for (k, v), w in zip(net.state_dict().items(), other.state_dict().values()):
        assert torch.equal(v, w), k
    assert other.tied_keys() == net.tied_keys() and net.tied_keys()
    state = other.state_dict(keep_vars=True)
    assert all(len({id(state[k]) for k in g}) == 1 for g in other.tied_keys())
    with torch.no_grad():
        next(iter(other.parameters())).add_(1.0)  # a tied parameter: every key holding it moves
    first, moved = other.tied_keys()[0], other.state_dict()
    assert all(torch.equal(moved[k], moved[first[0]]) for k in first)


def test_resumed_training_equals_uninterrupted(tmp_path):
    """Lightning checkpoint (weights, momentum, sampler): one epoch, save, resume for the second on a freshly built
    supernet of another seed = two epochs at once, bit for bit, with the ties intact."""
    batches = [(torch.randn(16, 1, 40, generator=torch.Generator().manual_seed(i)),
                torch.randint(10, (16,), generator=torch.Generator().manual_seed(i))) for i in range(4)]
    sgd = partial(torch.optim.SGD, lr=0.1, momentum=0.9, weight_decay=1e-3)
    trainer = partial(pl.Trainer, accelerator="cpu", logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)

    def module(seed):
        torch.manual_seed(seed)
        space = ChainSpace()
        return SupernetModule(Supernet(space, preset("not_bn"), SHAPE), UniformSampler(space, seed=0), sgd)

    straight = module(0)
    trainer(max_epochs=2).fit(straight, DataLoader(batches, batch_size=None))
    first = module(0)
    t = trainer(max_epochs=1)
    t.fit(first, DataLoader(batches, batch_size=None))
    t.save_checkpoint(tmp_path / "epoch1.ckpt")
    resumed = module(7)
    trainer(max_epochs=2).fit(resumed, DataLoader(batches, batch_size=None), ckpt_path=tmp_path / "epoch1.ckpt")
    for (k, v), w in zip(straight.supernet.state_dict().items(), resumed.supernet.state_dict().values()):
        assert torch.equal(v, w), k
    state = resumed.supernet.state_dict(keep_vars=True)
    assert all(len({id(state[k]) for k in g}) == 1 for g in resumed.supernet.tied_keys())


# -- rankings ----------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def batches():
    g = torch.Generator().manual_seed(0)
    val = [(torch.randn(40, 1, 40, generator=g), torch.randint(10, (40,), generator=g))]
    return val, [torch.randn(32, 1, 40, generator=g)]


@pytest.mark.parametrize("name, calibrate", [(name, True) for name in CHAIN_PRESETS] + [("not_bn", False)])
def test_ranking_equals_child_by_child(batches, name, calibrate):
    val, calib = batches
    torch.manual_seed(0)
    net = Supernet(ChainSpace(channels=8), preset(name), SHAPE)
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    g = torch.Generator().manual_seed(1)
    for _ in range(12):  # stale, child-specific statistics and weights
        opt.zero_grad()
        x = torch.randn(32, 1, 40, generator=g)
        child = int(torch.randint(64, (1,), generator=g))
        F.cross_entropy(net(x, child), torch.randint(10, (32,), generator=g)).backward()
        opt.step()
    calib = calib if calibrate else []
    before = {k: v.clone() for k, v in net.state_dict().items()}
    slow = evaluate_child_by_child(net, range(64), val, calib)
    for block in (1, 64):
        fast = evaluate_children(net, range(64), val, calib, block=block)
        assert [f.val_acc for f in fast] == [s.val_acc for s in slow]
        assert [f.val_loss for f in fast] == pytest.approx([s.val_loss for s in slow], rel=1e-5)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert len({s.val_loss for s in slow}) > 10


def test_tensor_level_full_sharing_is_full_sharing():
    """KeywordSharing(['*'], match='tensor') ties nothing and allocates what FullSharing does, weights included."""
    torch.manual_seed(0)
    full = Supernet(ChainSpace(), FullSharing(), SHAPE)
    torch.manual_seed(0)
    everything = Supernet(ChainSpace(), KeywordSharing(["*"], match="tensor"), SHAPE)
    assert not everything.tied_keys()
    shapes = {k: v.shape for k, v in full.state_dict().items()}
    assert {k: v.shape for k, v in everything.state_dict().items()} == shapes
    # maxpool3 has no tensors: one copy either way
    assert all(torch.equal(v, full.state_dict()[k]) for k, v in everything.state_dict().items())


def test_presets_compose_on_the_authors_space(make_cfg):
    for name in PRESETS:
        cfg = make_cfg(f"sharing={name}", "search_space=deeper_insights", "search_space.channels=4",
                       "search_space.stem_channels=4", "search_space.cells=1")
        net = Supernet(instantiate(cfg.search_space), instantiate(cfg.sharing), SHAPE)
        assert net.num_children == 64


def test_per_child_copies_start_from_one_initial_value():
    """As the authors' code saves every child's unshared tensors from the one initial network."""
    from benchmark.data import DigitsDataModule
    from benchmark.sharing import KeywordSharing
    from benchmark.spaces import ChainSpace
    from benchmark.supernet import Supernet

    dm = DigitsDataModule()
    net = Supernet(ChainSpace(layers=2, ops=["conv3", "maxpool3"]),
                   KeywordSharing(["Conv*:*"], mode="unshare", match="tensor"), dm.shape)  # convs per child
    state = net.state_dict(keep_vars=True)
    convs = [k for k in state if k.startswith("layers.1.conv3.") and k.endswith(".0.weight")]
    assert len({id(state[k]) for k in convs}) == len(convs) >= 2  # one tensor per child
    assert all(torch.equal(state[convs[0]], state[k]) for k in convs)  # all from the same initial value
