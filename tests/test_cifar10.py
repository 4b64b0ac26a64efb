"""CIFAR-10: the reader on tiny files in the real on-disk format, errors for missing data, and the augmentation."""
from __future__ import annotations

import csv
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from torch import nn

from benchmark.data import CIFAR10DataModule
from benchmark.data.cifar10 import FOLDER, TEST_FILE, TRAIN_FILES, augment
from benchmark.errors import ConfigError

PER_BATCH = 20


def write_cifar(root: Path) -> dict[str, tuple[np.ndarray, list[int]]]:
    """Five training batches and a test batch of PER_BATCH images each, pickled as the real files are, under
    `root/cifar-10-batches-py`. Channels get different ranges (red dark, blue bright) so that per-channel
    normalisation is visible; image 0 of data_batch_1 is a known pattern."""
    rng = np.random.default_rng(0)
    low = np.repeat([0, 100, 200], 1024)
    batches = {name: ((low + rng.integers(0, 56, (PER_BATCH, 3072))).astype(np.uint8),
                      [int(v) for v in rng.integers(0, 10, PER_BATCH)]) for name in (*TRAIN_FILES, TEST_FILE)}
    pattern = batches[TRAIN_FILES[0]][0][0]
    pattern[:1024], pattern[1024:2048], pattern[2048:] = 10, 120, 230  # red, green, blue planes
    pattern[1 * 32 + 2] = 50  # red pixel at row 1, column 2
    folder = root / FOLDER
    folder.mkdir(parents=True)
    for name, (data, labels) in batches.items():
        with open(folder / name, "wb") as f:
            pickle.dump({b"batch_label": name.encode(), b"labels": labels, b"data": data,
                         b"filenames": [f"{name}_{i}.png".encode() for i in range(PER_BATCH)]}, f, protocol=2)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog",
                                      b"horse", b"ship", b"truck"], b"num_cases_per_batch": PER_BATCH,
                     b"num_vis": 3072}, f, protocol=2)
    return batches


def train_labels(batches: dict[str, tuple[np.ndarray, list[int]]]) -> list[int]:
    return [label for name in TRAIN_FILES for label in batches[name][1]]


@pytest.fixture
def cifar(tmp_path: Path) -> tuple[Path, dict[str, tuple[np.ndarray, list[int]]]]:
    return tmp_path / "data", write_cifar(tmp_path / "data")


def test_reads_images_in_chw_order_with_their_labels(cifar):
    root, batches = cifar
    x, y, x_test, y_test = CIFAR10DataModule(root=root).load_arrays()
    assert x.shape == (5 * PER_BATCH, 3, 32, 32) and x_test.shape == (PER_BATCH, 3, 32, 32)
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert y.tolist() == train_labels(batches) and y_test.tolist() == batches[TEST_FILE][1]
    image = np.round(x[0] * 255)
    assert (image[0, 1, 2], image[0, 0, 0], image[0, 2, 1]) == (50, 10, 10)
    assert (image[1] == 120).all() and (image[2] == 230).all()
    assert np.array_equal(np.round(x_test * 255).astype(np.uint8).reshape(PER_BATCH, 3072), batches[TEST_FILE][0])


def test_splits_are_normalised_per_channel_with_training_statistics(cifar):
    root, batches = cifar
    dm = CIFAR10DataModule(root=root / FOLDER, val_size=10)  # root may also be the folder itself
    dm.setup()
    assert dm.split_info() == {"dataset": "CIFAR10DataModule", "split_seed": 0, "train_size": 90, "val_size": 10,
                               "test_size": PER_BATCH}
    x, y = dm.splits["train"].tensors
    assert x.dtype == torch.float32 and y.dtype == torch.long and x.shape[1:] == dm.shape.input_size == (3, 32, 32)
    assert torch.allclose(x.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(x.std(dim=(0, 2, 3), correction=0), torch.ones(3), atol=1e-4)
    labels = torch.cat([y, dm.splits["val"].tensors[1]]).sort().values
    assert labels.tolist() == sorted(train_labels(batches))


def test_root_from_the_environment_or_the_config(cifar, make_cfg, monkeypatch):
    root, _ = cifar
    monkeypatch.setenv("CIFAR10_ROOT", str(root))
    dm = instantiate(make_cfg("data=cifar10", "data.val_size=10").data)
    assert dm.root == str(root) and dm.batch_size == 256 and dm.augment
    dm.setup()
    assert dm.split_info()["train_size"] == 90
    monkeypatch.delenv("CIFAR10_ROOT")
    cfg = make_cfg("data=cifar10", f"data.root={root}", "data.val_size=10", "data.batch_size=16")
    assert cfg.study.startswith("cifar10-")
    dm = instantiate(cfg.data)
    dm.setup()
    assert dm.split_info()["train_size"] == 90
    assert [c.shape for c in dm.calibration_inputs(2)] == [(16, 3, 32, 32)] * 2


def test_missing_data_says_where_it_looked_and_how_to_get_it(tmp_path, make_cfg, monkeypatch):
    monkeypatch.delenv("CIFAR10_ROOT", raising=False)
    dm = instantiate(make_cfg("data=cifar10").data)  # composing and building need no files
    with pytest.raises(ConfigError, match="CIFAR10_ROOT") as unset:
        dm.setup()
    assert "data.root" in str(unset.value) and "cifar-10-python.tar.gz" in str(unset.value)
    with pytest.raises(ConfigError) as missing:
        CIFAR10DataModule(root=tmp_path / "nowhere").setup()
    message = str(missing.value)
    assert str(tmp_path / "nowhere" / FOLDER) in message and "cifar-10-python.tar.gz" in message
    assert "data.root" in message and "CIFAR10_ROOT" in message and "data_batch_1" in message


def test_a_missing_file_is_named(cifar):
    root, _ = cifar
    (root / FOLDER / "data_batch_4").unlink()
    with pytest.raises(ConfigError, match=r"missing data_batch_4; download") as e:
        CIFAR10DataModule(root=root).setup()
    assert str(root / FOLDER) in str(e.value)


@pytest.mark.parametrize("content", [b"not a pickle", pickle.dumps({b"data": np.zeros((3, 3072), np.uint8)})[:-9],
                                     pickle.dumps({b"data": np.zeros((3, 1024), np.uint8), b"labels": [0, 1, 2]}),
                                     pickle.dumps({"data": np.zeros((3, 3072), np.uint8), "labels": [0, 1, 2]})])
def test_a_corrupt_file_is_named(cifar, content):
    root, _ = cifar
    (root / FOLDER / "data_batch_3").write_bytes(content)
    with pytest.raises(ConfigError, match="data_batch_3 is not a readable CIFAR-10 python batch"):
        CIFAR10DataModule(root=root).setup()


def crops(image: torch.Tensor, out: torch.Tensor, padding: int = 4) -> list[tuple[int, int, bool]]:
    """Every (row offset, column offset, flipped) whose crop of the zero-padded `image` equals `out`."""
    padded, found = F.pad(image, (padding,) * 4), []
    for dy in range(2 * padding + 1):
        for dx in range(2 * padding + 1):
            crop = padded[:, dy:dy + 32, dx:dx + 32]
            found += [(dy, dx, flip) for flip, c in ((False, crop), (True, crop.flip(-1))) if torch.equal(c, out)]
    return found


def test_augment_is_a_random_padded_crop_and_flip():
    x = torch.arange(1.0, 3 * 32 * 32 + 1).reshape(1, 3, 32, 32).repeat(64, 1, 1, 1)  # no zero pixel, all distinct
    torch.manual_seed(0)
    out = augment(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    found = [crops(x[i], out[i]) for i in range(len(x))]
    assert all(len(f) == 1 for f in found)
    assert {f[0][2] for f in found} == {False, True}
    assert len({f[0][:2] for f in found}) > 10 and (out == 0).any()  # shifted crops bring in padding zeros
    torch.manual_seed(0)
    assert torch.equal(augment(x), out)
    assert not torch.equal(augment(x), out)


class Recorder(pl.LightningModule):
    """Keeps the inputs each step receives."""

    def __init__(self) -> None:
        super().__init__()
        self.net, self.seen = nn.Linear(3 * 32 * 32, 10), {"train": [], "val": []}

    def training_step(self, batch, _):
        self.seen["train"].append(batch[0])
        return F.cross_entropy(self.net(batch[0].flatten(1)), batch[1])

    def validation_step(self, batch, _):
        self.seen["val"].append(batch[0])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


@pytest.mark.parametrize("augmented", [True, False])
def test_only_training_batches_are_augmented(cifar, augmented):
    root, _ = cifar
    dm = CIFAR10DataModule(root=root, val_size=10, batch_size=30, augment=augmented)
    module = Recorder()
    pl.seed_everything(0)
    pl.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
               enable_model_summary=False).fit(module, datamodule=dm)
    raw = {tuple(r.tolist()) for r in dm.splits["train"].tensors[0].flatten(1)}
    trained = torch.cat(module.seen["train"]).flatten(1)
    changed = sum(tuple(r.tolist()) not in raw for r in trained)  # an augmentation may leave an image as it was
    assert len(trained) == 90 and (changed > 80 if augmented else changed == 0)
    assert len(module.seen["val"]) == 2  # the sanity check and the epoch's validation
    assert all(torch.equal(v, dm.splits["val"].tensors[0]) for v in module.seen["val"])
    batch = dm.splits["train"].tensors
    assert CIFAR10DataModule(root=root).on_after_batch_transfer(batch, 0) is batch  # no trainer: as is


def test_ground_truth_training_is_augmented_too(cifar):
    """task=ground_truth trains from a loader without its datamodule: the module applies the data's transform."""
    from benchmark.spaces import DeeperInsightsSpace
    from benchmark.stacked import StackedChildrenModule, side_by_side

    root, _ = cifar
    dm = CIFAR10DataModule(root=root, val_size=10)
    dm.setup()
    seen = []

    def transform(x):
        seen.append(x)
        return dm.train_transform(x)

    stack = side_by_side(DeeperInsightsSpace(channels=4, stem_channels=4, cells=1), [0, 1], dm.shape, [0, 1])
    module = StackedChildrenModule(stack, lambda params: torch.optim.SGD(params, lr=0.1), transform=transform)
    x, y = dm.splits["train"].tensors
    torch.manual_seed(0)
    assert torch.isfinite(module.loss((x[:8], y[:8])))
    assert len(seen) == 1 and not torch.equal(dm.train_transform(x[:8]), x[:8])


def test_augmentation_pads_black_and_draws_from_its_generator(cifar):
    root, _ = cifar
    dm = CIFAR10DataModule(root=root, val_size=10)
    dm.setup()
    x = dm.splits["train"].tensors[0][:64]
    a = dm.train_transform(x, torch.Generator().manual_seed(3))
    assert torch.equal(a, dm.train_transform(x, torch.Generator().manual_seed(3)))
    black = dm.black.view(1, 3, 1, 1)
    # a raw pixel value of 0 normalised: every padded pixel equals it (some crops show padding at the top row)
    top = a[:, :, 0, :]
    padded = (top == black[:, :, 0]).all(dim=1)
    assert padded.any() and torch.allclose(dm.black, torch.as_tensor(-dm.mean / dm.std).flatten().float())


def test_the_deeper_insights_preset_runs_as_the_authors_did_and_is_judged_by_their_ground_truth(cifar, tmp_path,
                                                                                               cache_dir):
    """On the CPU with small CIFAR-format files and narrow cells: trained on all 100 training images, ranked on the
    test images with shared BatchNorm statistics after each of the last steps, judged against the published table."""
    from tests.conftest import run_main

    out = tmp_path / "run"
    run_main("experiment=deeper_insights_cifar10", "trainer=cpu", f"data.root={cifar[0]}", "data.batch_size=50",
             "search_space.channels=2", "search_space.stem_channels=2", "search_space.cells=1", "trainer.max_epochs=1",
             "callbacks.ranking.dense_steps=2", "logger=csv", f"paths.cache_dir={cache_dir}", f"hydra.run.dir={out}")
    snapshot = json.loads((out / "snapshot.json").read_text())
    assert (snapshot["ranked_on"], snapshot["bn"], snapshot["train_size"], snapshot["val_size"]) == ("test", "shared",
                                                                                                   100, 0)
    rows = list(csv.DictReader(open(out / "rankings.csv")))
    truth = {r["child"]: float(r["gt_acc"]) for r in rows}
    assert len(truth) == 64 and truth["434"] == 0.85161 and truth["111"] == 0.70139
    assert sorted({int(r["step"]) for r in csv.DictReader(open(out / "rankings_dense.csv"))}) == [1, 2]
