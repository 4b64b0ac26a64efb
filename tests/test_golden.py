"""Refactors change no result: a short default search (seed 0, 2 epochs of 5 steps, one thread) must rank every child
as the committed `tests/data/golden_rankings.csv` says - the same children, ranks and accuracies, losses to 1e-5
(the last digits may move with the CPU's vector instructions). A change that is meant to change results regenerates
the file (`python -m tests.test_golden`) and says so in its commit."""
import csv
import shutil
import sys
from pathlib import Path

import pytest

from benchmark.tasks import search

GOLDEN = Path(__file__).parent / "data" / "golden_rankings.csv"
OVERRIDES = ("seed=0", "trainer.max_epochs=2", "+trainer.limit_train_batches=5", "callbacks.ranking.calib_batches=1",
             "logger=csv", "threads=1")


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _run(make_cfg) -> Path:
    cfg = make_cfg(*OVERRIDES)
    search.run(cfg)
    return Path(cfg.paths.output_dir) / "rankings.csv"


def test_the_default_search_ranks_as_committed(make_cfg):
    got, want = _rows(_run(make_cfg)), _rows(GOLDEN)
    assert [(r["epoch"], r["child"], r["rank"], r["val_acc"]) for r in got] == \
        [(r["epoch"], r["child"], r["rank"], r["val_acc"]) for r in want]
    assert [float(r["val_loss"]) for r in got] == pytest.approx([float(r["val_loss"]) for r in want], abs=1e-5)


if __name__ == "__main__":  # regenerate: python -m tests.test_golden
    import tempfile

    from tests.conftest import ROOT  # noqa: F401  (sets WANDB_MODE)
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    with tempfile.TemporaryDirectory() as tmp, initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("config", overrides=list(OVERRIDES), return_hydra_config=True)
        with open_dict(cfg):
            cfg.hydra.runtime.output_dir = cfg.paths.output_dir = tmp
            cfg.hydra.runtime.cwd = str(ROOT)
        HydraConfig.instance().set_config(cfg)
        with open_dict(cfg):
            del cfg["hydra"]
        search.run(cfg)
        shutil.copy(Path(tmp) / "rankings.csv", GOLDEN)
    print(f"wrote {GOLDEN}", file=sys.stderr)
