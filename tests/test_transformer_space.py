"""search_space=transformer: names, shapes, bad values, the config and a training smoke (the isolation invariant is
in test_invariants.py, with the other spaces)."""

import pytest
import torch
import torch.nn.functional as F

from benchmark.data import MNIST1DDataModule
from benchmark.errors import ConfigError
from benchmark.samplers import UniformSampler
from benchmark.sharing import FullSharing
from benchmark.spaces import DataShape, TransformerSpace
from benchmark.spaces.ops.transformer import BLOCK_OPS
from benchmark.supernet import Supernet
from benchmark.tasks.common import build_study

SHAPE = DataShape(channels=1, length=40, num_classes=10)


def test_number_of_children_and_names_round_trip():
    space = TransformerSpace()
    assert space.num_children == 4 ** 3
    assert TransformerSpace(layers=2, ops=["mha4", "ffn4", "conv7"]).num_children == 9
    for i, arch in enumerate(space.children()):
        assert space.index(arch) == i and space.arch(i) == arch
        assert space.child(space.name(i)) == space.child(i)
        assert space.parse_ops(space.describe(i)) == arch
    assert space.describe(space.index((0, 1, 3))) == "mha2 > ffn2 > conv5"
    assert space.path((0, 1, 3)) == ["stem", "layers.0.mha2", "layers.1.ffn2", "layers.2.conv5", "head"]
    assert [space.depth(u) for u in space.path((0, 1, 3))] == [0, 1, 2, 3, 4]


def test_every_unit_keeps_the_sequence_shape():
    space = TransformerSpace(layers=1, ops=sorted(BLOCK_OPS), d_model=16)
    x = space.build_unit("stem", SHAPE)(torch.randn(3, 1, 40))
    assert x.shape == (3, 16, 40)
    for unit in space.unit_names()[1:-1]:
        assert space.build_unit(unit, SHAPE)(x).shape == (3, 16, 40), unit
    assert space.build_unit("head", SHAPE)(x).shape == (3, 10)


def test_no_batchnorm_anywhere():
    """BN re-calibration before ranking is a no-op for this space, as its docstring says."""
    net = Supernet(TransformerSpace(), FullSharing(), SHAPE)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in net.modules())


def test_standalone_child_and_supernet_forward_every_child():
    space = TransformerSpace()
    x = torch.randn(5, 1, 40)
    for child in [0, 63, 36]:  # (0, 0, 0), (3, 3, 3), (2, 1, 0)
        assert space.build_child(child, SHAPE)(x).shape == (5, 10)
    net = Supernet(space, FullSharing(), SHAPE)
    with torch.no_grad():
        for child in range(space.num_children):
            out = net(x, child)
            assert out.shape == (5, 10) and torch.isfinite(out).all()


@pytest.mark.parametrize("kwargs, key", [
    ({"ops": ["mha2", "mha3"]}, "search_space.ops"), ({"ops": []}, "search_space.ops"),
    ({"ops": ["ffn2", "ffn2"]}, "search_space.ops"), ({"layers": 0}, "search_space.layers"),
    ({"d_model": 30, "ops": ["mha4", "ffn2"]}, "search_space.d_model"),
    ({"stem_kernel": 4}, "search_space.stem_kernel"),
])
def test_bad_values_name_the_key(kwargs, key):
    with pytest.raises(ConfigError) as e:
        TransformerSpace(**kwargs)
    assert e.value.key == key and "not valid" in str(e.value)


def test_images_are_refused():
    images = DataShape(channels=1, length=8, num_classes=10, height=8)
    space = TransformerSpace()
    for build in (lambda: Supernet(space, FullSharing(), images), lambda: space.build_child(0, images)):
        with pytest.raises(ConfigError) as e:
            build()
        assert e.value.key == "data" and "1-D" in str(e.value)


def test_config_composes_and_instantiates(make_cfg):
    cfg = make_cfg("search_space=transformer")
    assert cfg.study == "mnist1d-transformer-full-uniform"
    _, module = build_study(cfg)
    assert isinstance(module.supernet.space, TransformerSpace) and module.supernet.num_children == 64
    _, module = build_study(make_cfg("search_space=transformer", "search_space.ops=[mha4,conv7]",
                                     "search_space.layers=2", "search_space.d_model=16"))
    assert module.supernet.num_children == 4


def test_a_few_uniform_steps_lower_the_loss(cache_dir):
    torch.manual_seed(0)
    dm = MNIST1DDataModule(cache_dir=cache_dir, batch_size=128)
    dm.setup()
    space = TransformerSpace()
    net = Supernet(space, FullSharing(), dm.shape)
    sampler = UniformSampler(space, seed=0)
    x_val, y_val = next(iter(dm.val_dataloader()))

    @torch.no_grad()
    def mean_loss() -> float:  # over every child, on held-out examples
        return sum(float(F.cross_entropy(net(x_val, c), y_val)) for c in range(space.num_children)) / space.num_children

    start = mean_loss()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    for x, y in dm.train_dataloader():  # one epoch: 25 steps
        (child,) = sampler.sample()
        optimizer.zero_grad()
        F.cross_entropy(net(x, child), y).backward()
        optimizer.step()
    assert mean_loss() < start - 0.1
