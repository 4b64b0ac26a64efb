"""Sharing is a lookup: which tensors children share, per policy, and what each copy holds."""
import itertools

import pytest
import torch

from benchmark.errors import ConfigError
from benchmark.sharing import FullSharing, KeywordSharing, NoSharing, PartialSharing, PrefixSharing
from benchmark.spaces import ChainSpace, DataShape
from benchmark.supernet import Supernet

SHAPE = DataShape(channels=1, length=40, num_classes=10)
SPACE = ChainSpace()
POLICIES = {
    "full": FullSharing, "none": NoSharing,
    "partial4_similarity": lambda: PartialSharing(4, "similarity"),
    "partial8_random": lambda: PartialSharing(8, "random", seed=3),
    "prefix1": lambda: PrefixSharing(1),
    "keyword_convs": lambda: KeywordSharing(["layers.*.conv*"]),
    "keyword_unshare_head": lambda: KeywordSharing(["head"], mode="unshare"),
}


def tensor_ids(net: Supernet, child: int) -> dict[str, int]:
    """unit -> id of its first parameter or buffer, for the copy serving `child`."""
    ids = {}
    for (unit, copy) in net.routes[child]:
        tensors = list(net.unit(unit, copy).parameters()) + list(net.unit(unit, copy).buffers())
        if tensors:
            ids[unit] = id(tensors[0])
    return ids


@pytest.mark.parametrize("name", POLICIES)
def test_child_view_equals_standalone_parameter_count(name):
    net = Supernet(SPACE, POLICIES[name](), SHAPE)
    for child in range(0, 64, 7):
        standalone = SPACE.build_child(child, SHAPE)
        assert sum(p.numel() for p in net.child_parameters(child)) == sum(p.numel() for p in standalone.parameters())


@pytest.mark.parametrize("name", POLICIES)
def test_children_share_exactly_what_the_policy_says(name):
    policy = POLICIES[name]()
    net = Supernet(SPACE, policy, SHAPE)
    for a, b in itertools.combinations(range(0, 64, 5), 2):
        ia, ib = tensor_ids(net, a), tensor_ids(net, b)
        for unit in ia.keys() & ib.keys():
            same_owner = policy.owner(a, unit) == policy.owner(b, unit)
            assert (ia[unit] == ib[unit]) == same_owner, (name, a, b, unit)


def test_partial_groups_share_within_and_never_across():
    policy = PartialSharing(4, "similarity")
    net = Supernet(SPACE, policy, SHAPE)
    assert [policy.group(c) for c in range(64)] == [c // 16 for c in range(64)]
    for a, b in itertools.combinations(range(64), 2):
        common = tensor_ids(net, a).items() & tensor_ids(net, b).items()
        if policy.group(a) != policy.group(b):
            assert not common
        else:
            shared_units = set(SPACE.path(SPACE.arch(a))) & set(SPACE.path(SPACE.arch(b)))
            assert {u for u, _ in common} == {u for u in shared_units if u in tensor_ids(net, a)}


def test_random_partition_is_balanced_and_seeded():
    p1, p2 = PartialSharing(8, "random", seed=1), PartialSharing(8, "random", seed=1)
    p3 = PartialSharing(8, "random", seed=2)
    for p in (p1, p2, p3):
        p.bind(SPACE)
    g1 = [p1.group(c) for c in range(64)]
    assert g1 == [p2.group(c) for c in range(64)] != [p3.group(c) for c in range(64)]
    assert sorted(g1.count(g) for g in range(8)) == [8] * 8


def test_copies_hold_only_what_their_children_use():
    full = Supernet(SPACE, FullSharing(), SHAPE)
    none = Supernet(SPACE, NoSharing(), SHAPE)
    assert len(none.stem) == 64 and len(none.layers["0"]["conv3"]) == 16 and len(none.head) == 64
    assert len(full.stem) == 1 and len(full.layers["2"]["conv5"]) == 1
    per_child = sum(sum(p.numel() for p in SPACE.build_child(c, SHAPE).parameters()) for c in range(64))
    assert sum(p.numel() for p in none.parameters()) == per_child


@pytest.mark.parametrize(
    "policy, key",
    [(PartialSharing(0), "sharing.groups"), (PartialSharing(65), "sharing.groups"),
     (PrefixSharing(4), "sharing.k"), (PrefixSharing(-1), "sharing.k"),
     (KeywordSharing(["layers.*.conv7"]), "sharing.patterns")],
)
def test_impossible_sharing_fails_before_training(policy, key):
    with pytest.raises(ConfigError) as e:
        Supernet(SPACE, policy, SHAPE)
    assert e.value.key == key


def test_bad_sharing_options():
    with pytest.raises(ConfigError):
        PartialSharing(4, partition="alphabetical")
    with pytest.raises(ConfigError):
        KeywordSharing(["stem"], mode="sometimes")


def test_supernet_initialises_exactly_its_units_in_order():
    """Seeded weights depend only on the units a supernet allocates, in order: nothing else (such as the size check)
    may draw from the RNG first, or every documented result would silently change."""
    space = ChainSpace()
    torch.manual_seed(0)
    net = Supernet(space, PartialSharing(2, "random"), SHAPE)
    copies = {unit: len({c for route in net.routes for u, c in route if u == unit}) for unit in space.unit_names()}
    torch.manual_seed(0)
    for unit in space.unit_names():
        for copy in range(copies[unit]):
            fresh = space.build_unit(unit, SHAPE)
            for p, q in zip(net.unit(unit, copy).parameters(), fresh.parameters()):
                assert torch.equal(p, q), (unit, copy)


def test_a_single_keyword_pattern_may_be_given_as_a_string():
    space = ChainSpace()
    assert [KeywordSharing("stem").owner(c, u) for c in range(64) for u in space.unit_names()] == [
        KeywordSharing(["stem"]).owner(c, u) for c in range(64) for u in space.unit_names()]
