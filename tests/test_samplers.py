import torch

from benchmark.module import SupernetModule
from benchmark.samplers import UniformSampler
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
