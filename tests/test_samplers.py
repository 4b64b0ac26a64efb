import pytest
import torch

from benchmark.errors import ConfigError
from benchmark.module import SupernetModule
from benchmark.samplers import FairSampler, GradualSampler, RoundRobinSampler, UniformSampler
from benchmark.sharing import FullSharing
from benchmark.spaces import ChainSpace, DataShape
from benchmark.supernet import Supernet

SPACE = ChainSpace()


def test_uniform_is_seeded_and_covers_the_space():
    a, b, c = UniformSampler(SPACE, seed=0), UniformSampler(SPACE, seed=0), UniformSampler(SPACE, seed=1)
    seq_a = [a.sample()[0] for _ in range(2000)]
    assert seq_a == [b.sample()[0] for _ in range(2000)]
    assert seq_a != [c.sample()[0] for _ in range(2000)]
    counts = torch.bincount(torch.tensor(seq_a), minlength=64)
    assert counts.min() > 10 and counts.max() < 60  # about 31 each


def test_state_round_trips_through_a_checkpoint():
    net = Supernet(SPACE, FullSharing(), DataShape(1, 40, 10))
    module = SupernetModule(net, UniformSampler(SPACE, seed=5), torch.optim.SGD)
    for _ in range(17):
        module.sampler.sample()
    checkpoint = {}
    module.on_save_checkpoint(checkpoint)
    expected = [module.sampler.sample()[0] for _ in range(50)]
    restored = SupernetModule(net, UniformSampler(SPACE, seed=99), torch.optim.SGD)
    restored.on_load_checkpoint(checkpoint)
    assert [restored.sampler.sample()[0] for _ in range(50)] == expected


def draw(sampler, steps):
    return [c for _ in range(steps) for c in sampler.sample()]


def test_round_robin_orders():
    fixed = draw(RoundRobinSampler(SPACE, order="fixed"), 128)
    assert fixed == list(range(64)) * 2
    once = draw(RoundRobinSampler(SPACE, seed=1, order="shuffle_once"), 192)
    assert sorted(once[:64]) == list(range(64)) and once[:64] != list(range(64))
    assert once[:64] == once[64:128] == once[128:]
    assert once[:64] != draw(RoundRobinSampler(SPACE, seed=2, order="shuffle_once"), 64)
    every = draw(RoundRobinSampler(SPACE, seed=1, order="shuffle_every"), 192)
    cycles = [every[i:i + 64] for i in (0, 64, 128)]
    assert all(sorted(c) == list(range(64)) for c in cycles) and cycles[0] != cycles[1] != cycles[2]
    with pytest.raises(ConfigError, match="sampler.order"):
        RoundRobinSampler(SPACE, order="sometimes")


def test_gradual_moves_one_decision_per_step_and_reaches_every_child():
    walk = draw(GradualSampler(SPACE, seed=0), 5000)
    archs = [SPACE.arch(c) for c in walk]
    assert all(SPACE.hamming(a, b) == 1 for a, b in zip(archs, archs[1:]))
    assert set(walk) == set(range(64))
    biased = [SPACE.arch(c) for c in draw(GradualSampler(SPACE, seed=0, decision_weights=[0, 0, 1]), 200)]
    assert len({a[:2] for a in biased}) == 1 and len({a[2] for a in biased}) == 4
    with pytest.raises(ConfigError, match="decision_weights"):
        GradualSampler(SPACE, decision_weights=[1, 1])
    with pytest.raises(ConfigError, match="positive weight on at least one decision"):
        GradualSampler(SPACE, decision_weights=[0, 0, 0])
    with pytest.raises(ConfigError, match="non-negative numbers"):
        GradualSampler(SPACE, decision_weights=["a", 1, 1])


def test_fair_uses_every_op_of_every_layer_once_per_step():
    sampler = FairSampler(SPACE, seed=0)
    seen = set()
    for _ in range(50):
        step = sampler.sample()
        assert len(step) == 4
        for layer in range(3):
            assert sorted(SPACE.arch(c)[layer] for c in step) == [0, 1, 2, 3]
        seen.update(step)
    assert len(seen) > 40
    uneven = ChainSpace(layers=2)
    uneven.choices = [("conv3", "conv5"), ("conv3", "conv5", "skip")]
    with pytest.raises(ConfigError, match="same number of choices"):
        FairSampler(uneven)


@pytest.mark.parametrize("make", [lambda: UniformSampler(SPACE, seed=3),
                                  lambda: RoundRobinSampler(SPACE, seed=3, order="shuffle_every"),
                                  lambda: GradualSampler(SPACE, seed=3), lambda: FairSampler(SPACE, seed=3)])
def test_every_sampler_resumes_exactly_from_its_state(make):
    a = make()
    draw(a, 100)
    state = a.state_dict()
    expected = draw(a, 200)
    b = make()
    b.load_state_dict(state)
    assert draw(b, 200) == expected


def test_for_rank_gives_each_rank_its_own_sequence():
    from benchmark.samplers import RoundRobinSampler, UniformSampler
    from benchmark.spaces import ChainSpace

    space = ChainSpace()

    def draws(sampler, n=130):
        return [sampler.sample()[0] for _ in range(n)]

    for make in (lambda: UniformSampler(space, seed=3), lambda: RoundRobinSampler(space, 3, "shuffle_once"),
                 lambda: RoundRobinSampler(space, 3, "shuffle_every"), lambda: RoundRobinSampler(space, 3, "fixed")):
        fresh, rank0, rank1 = make(), make(), make()
        rank0.for_rank(0)
        rank1.for_rank(1)
        assert draws(rank0) == draws(fresh)  # rank 0 keeps the run's own sequence
        seq0, seq1 = draws(rank0), draws(rank1)
        assert seq0 != seq1
        if getattr(fresh, "order", None) == "fixed":  # rotated: the two ranks never train the same child at once
            assert all(a != b for a, b in zip(seq0, seq1))
    every = RoundRobinSampler(space, 3, "shuffle_every")
    every.for_rank(0)
    cycles = draws(every, 128)
    assert cycles[:64] != cycles[64:] and sorted(cycles[:64]) == sorted(cycles[64:]) == list(range(64))
