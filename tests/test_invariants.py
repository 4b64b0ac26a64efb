"""Invariant 1: a training step on child c changes no parameter and no BatchNorm buffer that c does not use."""
from functools import partial
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch.utils.data import DataLoader

from benchmark.data import MNIST1DDataModule
from benchmark.module import SupernetModule
from benchmark.samplers import Sampler
from benchmark.sharing import FullSharing, KeywordSharing, NoSharing, PartialSharing, PrefixSharing
from benchmark.spaces import ChainSpace, DeeperInsightsSpace, NB201Space, TransformerSpace
from benchmark.supernet import Supernet


class ScriptedSampler(Sampler):
    """Plays a fixed list of children, one per step."""

    def __init__(self, space, script):
        super().__init__(space)
        self.script, self.step = list(script), 0

    def sample(self):
        child = self.script[self.step % len(self.script)]
        self.step += 1
        return [child]


class StateRecorder(pl.Callback):
    def __init__(self):
        self.states = []

    def on_train_start(self, trainer, pl_module):
        self.states.append({k: v.detach().clone() for k, v in pl_module.supernet.state_dict().items()})

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.states.append({k: v.detach().clone() for k, v in pl_module.supernet.state_dict().items()})


def preset(name):
    """A sharing preset from conf/sharing/ (Deeper Insights' tensor-level keyword policies)."""
    path = Path(__file__).resolve().parents[1] / "conf" / "sharing" / f"{name}.yaml"
    return lambda: instantiate(OmegaConf.load(path))


POLICIES = [FullSharing, NoSharing, lambda: PartialSharing(4, "random"), lambda: PrefixSharing(2),
            lambda: KeywordSharing(["stem", "*conv*"], mode="unshare")]
# Child 0 uses the first op everywhere; then children that never use it on the first decision - momentum and weight
# decay would move that op if its gradient were zero instead of None.
SCRIPT_64 = [0, 63, 42, 21, 0, 53, 22]
CASES = [(ChainSpace, policy, SCRIPT_64) for policy in POLICIES] + [
    (lambda: DeeperInsightsSpace(channels=8, stem_channels=8, cells=2), policy, SCRIPT_64) for policy in POLICIES] + [
    (lambda: NB201Space(channels=4, cells_per_stage=1), policy, [0, 15624, 7000, 0, 3125, 12000, 1])
    for policy in POLICIES[:1] + POLICIES[2:3]] + [  # per-child copies of 15,625 cells are refused (too large)
    (TransformerSpace, policy, SCRIPT_64) for policy in (FullSharing, lambda: PrefixSharing(1))] + [
    # Tensor-level sharing: tied tensors appear under several copies' keys; a step may move those of the child's.
    (ChainSpace, preset(name), SCRIPT_64) for name in ("not_bn", "only_conv")] + [
    (lambda: DeeperInsightsSpace(channels=8, stem_channels=8, cells=2), preset(name), SCRIPT_64)
    for name in ("not_bn", "not_conv", "only_stem_and_conv", "not_dag_edge_3")]


@pytest.mark.parametrize(("space_factory", "policy", "script"), CASES)
def test_step_changes_only_the_sampled_childs_weights(space_factory, policy, script, cache_dir):
    pl.seed_everything(0)
    dm = MNIST1DDataModule(cache_dir=cache_dir, batch_size=64)
    space = space_factory()
    net = Supernet(space, policy(), dm.shape)
    module = SupernetModule(net, ScriptedSampler(space, script),
                            partial(torch.optim.SGD, lr=0.1, momentum=0.9, weight_decay=1e-2))
    recorder = StateRecorder()
    pl.Trainer(max_epochs=1, limit_train_batches=len(script), accelerator="cpu", logger=False,
               enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
               limit_val_batches=0, callbacks=[recorder]).fit(module, datamodule=dm)
    assert len(recorder.states) == len(script) + 1
    for step, child in enumerate(script):
        used = {f"{unit}.{copy}." for unit, copy in net.routes[child]}
        before, after = recorder.states[step], recorder.states[step + 1]
        moved = {k for k in before if not torch.equal(before[k], after[k])}
        assert moved, "the sampled child must train"
        # What c uses: its copies' keys, and other copies' keys of tensors tied to them (tensor-level sharing).
        stray = moved - net.child_state_keys(child)
        assert not stray, f"step {step} on child {child} moved {sorted(stray)[:5]}"
        # Everything of the child that has weights moved (BN buffers too).
        assert all(any(k.startswith(p) for k in moved) for p in used
                   if any(k.startswith(p) for k in before))


@pytest.mark.parametrize("distance", ["mse", "cosine"])
def test_alignment_moves_only_the_sampled_child_and_changes_training(distance, cache_dir):
    def train(weight):
        pl.seed_everything(0)
        dm = MNIST1DDataModule(cache_dir=cache_dir, batch_size=64)
        space = ChainSpace()
        net = Supernet(space, FullSharing(), dm.shape)
        module = SupernetModule(net, ScriptedSampler(space, [0, 5, 10]), partial(torch.optim.SGD, lr=0.1, momentum=0.9),
                                align={"weight": weight, "distance": distance})
        module.anchor = 63  # maxpool3 everywhere: shares only stem and head with the script's children
        recorder = StateRecorder()
        pl.Trainer(max_epochs=1, limit_train_batches=3, accelerator="cpu", logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False,
                   callbacks=[recorder]).fit(module, datamodule=dm)
        return net, recorder.states

    net, states = train(1.0)
    for step, child in enumerate([0, 5, 10]):
        used = {f"{unit}.{copy}." for unit, copy in net.routes[child]}
        moved = {k for k in states[step] if not torch.equal(states[step][k], states[step + 1][k])}
        assert moved and all(any(k.startswith(p) for p in used) for k in moved), (step, sorted(moved)[:4])
    _, plain = train(0.0)
    assert not torch.equal(states[-1]["stem.0.0.weight"], plain[-1]["stem.0.0.weight"])


def test_module_trains_exactly_like_a_plain_pytorch_loop(cache_dir):
    """The LightningModule (hand-optimised steps, per-epoch logging and schedule) moves the weights bit for bit as
    a minimal loop doing the same sampling, forward, backward, SGD step and cosine schedule on the same batches."""
    dm = MNIST1DDataModule(cache_dir=cache_dir, batch_size=64)
    dm.setup()
    x, y = dm.splits["train"].tensors
    batches = [(x[i * 64:(i + 1) * 64], y[i * 64:(i + 1) * 64]) for i in range(4)]
    script = [0, 63, 42, 21]
    space = ChainSpace()
    sgd = partial(torch.optim.SGD, lr=0.1, momentum=0.9, weight_decay=1e-3)
    cosine = partial(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=2, eta_min=1e-3)

    torch.manual_seed(0)
    net = Supernet(space, FullSharing(), dm.shape)
    module = SupernetModule(net, ScriptedSampler(space, script), sgd, cosine)
    pl.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
               enable_model_summary=False, limit_val_batches=0).fit(module, DataLoader(batches, batch_size=None))

    torch.manual_seed(0)
    plain = Supernet(space, FullSharing(), dm.shape)
    optimizer = sgd(plain.parameters())
    scheduler = cosine(optimizer)
    for _ in range(2):
        for (xb, yb), child in zip(batches, script):
            optimizer.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(plain(xb, child), yb).backward()
            optimizer.step()
        scheduler.step()
    for (name, a), b in zip(net.state_dict().items(), plain.state_dict().values()):
        assert torch.equal(a, b), name
