"""Partial sharing's step budget: per_group (every group trains as its own supernet for the full schedule, as Deeper
Insights trained them) or fixed (one child per step in all)."""
from functools import partial

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from benchmark.data import MNIST1DDataModule
from benchmark.errors import ConfigError, find_config_error
from benchmark.module import SupernetModule
from benchmark.samplers import PerGroupSampler, RoundRobinSampler, UniformSampler
from benchmark.sharing import PartialSharing
from benchmark.spaces import ChainSpace
from benchmark.supernet import Supernet
from benchmark.tasks.common import build_study


def test_partial_sharing_trains_every_group_for_the_full_schedule_by_default(make_cfg):
    _, module = build_study(make_cfg("sharing=partial"))
    sampler = module.sampler
    assert isinstance(sampler, PerGroupSampler) and len(sampler.samplers) == 4
    groups = module.supernet.sharing.trained_apart()
    steps = [sampler.sample() for _ in range(200)]
    for children in steps:  # one child of every group at every step
        assert [module.supernet.sharing.group(c) for c in children] == [0, 1, 2, 3]
    for g, members in enumerate(groups):  # each group's sampler walks all of its children, and only them
        assert {children[g] for children in steps} == set(members)


def test_fixed_budget_and_one_group_keep_one_sampler(make_cfg):
    _, fixed = build_study(make_cfg("sharing=partial", "sharing.budget=fixed"))
    assert isinstance(fixed.sampler, UniformSampler) and len(fixed.sampler.sample()) == 1
    _, one = build_study(make_cfg("sharing=partial", "sharing.groups=1", "sampler=gradual"))
    assert not isinstance(one.sampler, PerGroupSampler)


@pytest.mark.parametrize(("overrides", "key"), [
    (["sharing.budget=always"], "sharing.budget"),
    (["sampler=gradual"], "sampler"),  # a random walk on the space cannot stay inside a group
    (["sampler=fair", "search_space=nb201"], "sampler"),
])
def test_impossible_budgets_name_the_key(make_cfg, overrides, key):
    with pytest.raises(Exception) as raised:
        build_study(make_cfg("sharing=partial", *overrides))
    error = find_config_error(raised.value)
    assert error is not None and error.key == key
    assert ("sharing.budget=fixed" if key == "sampler" else "per_group") in str(error)


def test_round_robin_groups_visit_each_member_once_per_cycle():
    space = ChainSpace()
    policy = PartialSharing(8, "random")
    policy.bind(space)
    groups = policy.trained_apart()
    sampler = PerGroupSampler(space, [RoundRobinSampler(space, seed=g, order="shuffle_every", children=members)
                                      for g, members in enumerate(groups)])
    steps = [sampler.sample() for _ in range(16)]  # 8 children per group: two cycles
    for g, members in enumerate(groups):
        walked = [children[g] for children in steps]
        assert sorted(walked[:8]) == sorted(members) == sorted(walked[8:])


def test_sampler_state_round_trips_through_a_checkpoint():
    space = ChainSpace()
    policy = PartialSharing(4, "similarity")
    policy.bind(space)

    def make():
        return PerGroupSampler(space, [UniformSampler(space, seed=g, children=members)
                                       for g, members in enumerate(policy.trained_apart())])

    first = make()
    for _ in range(5):
        first.sample()
    state = first.state_dict()
    expected = [first.sample() for _ in range(5)]
    second = make()
    second.load_state_dict(state)
    assert [second.sample() for _ in range(5)] == expected
    with pytest.raises(ConfigError, match="sharing.budget=per_group"):
        make().load_state_dict(UniformSampler(space).state_dict())


def test_each_group_trains_exactly_as_its_own_supernet(cache_dir):
    """Side by side in one run, group g's weights end bit for bit where a supernet of group g alone, trained on the
    same batches with group g's sampler, ends: the groups do not touch each other's weights, momentum or statistics."""
    dm = MNIST1DDataModule(cache_dir=cache_dir, batch_size=32)
    dm.setup()
    x, y = dm.splits["train"].tensors
    batches = [(x[i * 32:(i + 1) * 32], y[i * 32:(i + 1) * 32]) for i in range(6)]
    space = ChainSpace()
    sgd = partial(torch.optim.SGD, lr=0.1, momentum=0.9, weight_decay=1e-3)
    cosine = partial(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=2, eta_min=1e-3)

    def train(sampler_for) -> Supernet:
        torch.manual_seed(0)
        policy = PartialSharing(4, "random")
        net = Supernet(space, policy, dm.shape)
        module = SupernetModule(net, sampler_for(policy.trained_apart()), sgd, cosine)
        pl.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False,
                   limit_val_batches=0).fit(module, DataLoader(batches, batch_size=None))
        return net

    together = train(lambda groups: PerGroupSampler(space, [UniformSampler(space, seed=g, children=members)
                                                            for g, members in enumerate(groups)]))
    state = together.state_dict()
    policy = PartialSharing(4, "random")
    policy.bind(space)
    for g, members in enumerate(policy.trained_apart()):
        alone = train(lambda groups: UniformSampler(space, seed=g, children=groups[g])).state_dict()
        copies = {f"{unit}.{copy}." for child in members for unit, copy in together.routes[child]}
        mine = [k for k in state if any(k.startswith(c) for c in copies)]
        assert len(mine) > 10
        for k in mine:
            assert torch.equal(state[k], alone[k]), (g, k)


def test_report_states_each_variants_sharing_and_budget(tmp_path):
    import yaml

    from benchmark.report import build_report
    from tests.test_report import make_run, scores

    nodes = {"now": {"_target_": "benchmark.sharing.PartialSharing", "groups": 4, "budget": "per_group"},
             "before": {"_target_": "benchmark.sharing.PartialSharing", "groups": 4}}  # made before the option
    for variant, node in nodes.items():
        for seed in range(2):
            folder = make_run(tmp_path / variant / str(seed), seed, [scores(seed)], overrides=[f"+made={variant}"])
            config = yaml.safe_load((folder / ".hydra" / "config.yaml").read_text())
            (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump({**config, "sharing": node}, sort_keys=False))
    build_report([tmp_path], tmp_path / "report", use_wandb=False)
    report = (tmp_path / "report" / "report.md").read_text()
    assert "- made=now: `PartialSharing(groups=4, budget=per_group)`" in report
    assert "- made=before: `PartialSharing(groups=4, budget=fixed)`" in report
