
import pytest
import torch

from benchmark.errors import ConfigError
from benchmark.spaces import ChainSpace, Child, DataShape

SHAPE = DataShape(channels=1, length=40, num_classes=10)


def test_default_space_has_64_children_in_lexicographic_order():
    space = ChainSpace()
    assert space.num_children == 64
    names = [space.name(i) for i in range(64)]
    assert names[0] == "0-0-0" and names[1] == "0-0-1" and names[4] == "0-1-0" and names[63] == "3-3-3"
    assert names == sorted(names)
    # The paper's numbering: child i <-> (i//16, (i//4)%4, i%4).
    assert all(space.arch(i) == (i // 16, (i // 4) % 4, i % 4) for i in range(64))


def test_names_and_indices_round_trip():
    space = ChainSpace(layers=4, ops=["conv3", "maxpool3", "skip"])
    assert space.num_children == 81
    for i, arch in enumerate(space.children()):
        assert space.index(arch) == i
        assert space.arch(i) == arch
        assert space.child(space.name(i)) == space.child(i)
    assert space.describe(space.child("0-1-2-0").index) == "conv3 > maxpool3 > skip > conv3"


def test_hamming_distance():
    space = ChainSpace()
    assert space.hamming((0, 1, 2), (0, 1, 2)) == 0
    assert space.hamming((0, 1, 2), (3, 1, 2)) == 1
    assert space.hamming((0, 1, 2), (1, 2, 3)) == 3
    counts = [sum(space.hamming(a, b) == 1 for b in space.children()) for a in space.children()]
    assert set(counts) == {3 * 3}  # each child has layers * (ops - 1) neighbours
    with pytest.raises(ValueError):
        space.hamming((0, 1), (0, 1, 2))


@pytest.mark.parametrize(
    "kwargs, key",
    [({"layers": 0}, "search_space.layers"), ({"ops": ["conv3", "conv7"]}, "search_space.ops"),
     ({"ops": []}, "search_space.ops"), ({"ops": ["conv3", "conv3"]}, "search_space.ops"),
     ({"channels": 0}, "search_space.channels")],
)
def test_bad_space_config_names_the_key(kwargs, key):
    with pytest.raises(ConfigError) as e:
        ChainSpace(**kwargs)
    assert e.value.key == key and "not valid" in str(e.value)


def test_bad_child_names():
    space = ChainSpace()
    for bad in ["0-0", "0-0-4", "a-b-c"]:
        with pytest.raises(ValueError):
            space.parse(bad)


def test_child_converts_an_index_or_a_name_once():
    space = ChainSpace()
    assert space.child(6) == Child(6, (0, 1, 2), "0-1-2") == space.child("0-1-2")
    assert space.child("00-1-2") == space.child(6)  # the canonical name, whatever the spelling
    for bad in ["0-0", "0-0-4", "a-b-c", 64, -1]:
        with pytest.raises(ConfigError) as e:
            space.child(bad)
        assert e.value.key == "child" and e.value.value == bad and repr(bad) in str(e.value)


def test_standalone_child_shapes_and_units():
    space = ChainSpace()
    for child in ["0-0-0", "3-3-3", "2-1-3"]:
        net = space.build_child(space.child(child).index, SHAPE)
        assert net(torch.randn(5, 1, 40)).shape == (5, 10)
        assert len(net.units) == 5  # stem, three ops, head
    assert space.path((1, 3, 2)) == ["stem", "layers.0.conv5", "layers.1.maxpool3", "layers.2.dilconv3", "head"]
    assert [space.depth(u) for u in space.path((1, 3, 2))] == [0, 1, 2, 3, 4]
    assert len(space.unit_names()) == 2 + 3 * 4
