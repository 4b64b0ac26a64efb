"""On a CUDA GPU (skipped without one): ranking there agrees with the CPU's, stacked or not, a run trains and ranks
every child, and the CIFAR-10 presets (augmentation on the GPU, cell spaces) run on small CIFAR-format files. GPU
kernels (TF32 convolutions, other reduction orders) round differently, so agreement is up to rounding, not bit for
bit."""
import pytest
import torch

from benchmark.data import MNIST1DDataModule
from benchmark.evaluation import evaluate_children
from benchmark.sharing import FullSharing, PartialSharing
from tests.conftest import run_cli
from tests.test_cifar10 import write_cifar
from tests.test_evaluation import trained_supernet
from tests.test_run import read_rankings, search

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("policy", [FullSharing, lambda: PartialSharing(4, "random")])
def test_gpu_ranking_agrees_with_the_cpu(cache_dir, policy):
    dm = MNIST1DDataModule(cache_dir=cache_dir)
    dm.setup()
    val, calib = list(dm.val_dataloader()), dm.calibration_inputs(2)
    net = trained_supernet(policy(), dm)
    cpu = evaluate_children(net, range(64), val, calib)
    net.cuda()
    val, calib = [(x.cuda(), y.cuda()) for x, y in val], [x.cuda() for x in calib]
    for block in (None, 1):  # the GPU default (64 nodes stacked) and node by node
        gpu = evaluate_children(net, range(64), val, calib, block=block)
        assert max(abs(a.val_acc - b.val_acc) for a, b in zip(cpu, gpu)) <= 3 / len(dm.splits["val"])
        assert max(abs(a.val_loss - b.val_loss) / a.val_loss for a, b in zip(cpu, gpu)) < 1e-2


def test_gpu_run_ranks_every_child_every_epoch(tmp_path, cache_dir):
    rows = read_rankings(search(tmp_path, cache_dir, "trainer=gpu", "trainer.max_epochs=2"))
    assert [sum(r["epoch"] == str(e) for r in rows) for e in (0, 1)] == [64, 64]


PRESETS = [("nb201_cifar10", ["search_space.eval_children=8"], 8),
           ("deeper_insights_cifar10", ["search_space.channels=8", "search_space.stem_channels=8"], 64)]


@pytest.mark.parametrize("experiment, extra, ranked", PRESETS)
def test_gpu_cifar10_presets_augment_train_and_rank(tmp_path, experiment, extra, ranked):
    write_cifar(tmp_path / "data")
    out = tmp_path / "run"
    run_cli(f"experiment={experiment}", f"data.root={tmp_path / 'data'}", "data.val_size=20", "data.batch_size=16",
            "data.eval_batch_size=20", "trainer.max_epochs=2", "callbacks.ranking.calib_batches=1", "logger=csv",
            f"hydra.run.dir={out}", *extra)
    rows = read_rankings(out)
    assert [sum(r["epoch"] == str(e) for r in rows) for e in (0, 1)] == [ranked, ranked]
