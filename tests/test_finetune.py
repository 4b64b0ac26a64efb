"""task=finetune through run.py (in this process): every child fine-tuned from a search run's checkpoint, ranked after
each step count, starting from the supernet's own shared-statistics ranking; a killed run continues with the children
it had left."""
import csv

import pytest
import torch

from benchmark.evaluation import evaluate_children
from benchmark.metrics import kendall_tau
from benchmark.tasks.common import build_study
from tests.conftest import run_main


@pytest.fixture(scope="module")
def searched(tmp_path_factory, cache_dir):
    out = tmp_path_factory.mktemp("search")
    run_main("experiment=smoke", "logger=csv", f"paths.cache_dir={cache_dir}", f"hydra.run.dir={out}")
    return out


def _finetune(out, searched, cache_dir, table, *extra):
    return run_main("task=finetune", "experiment=smoke", f"ckpt_path={searched / 'checkpoints' / 'last.ckpt'}",
                    "finetune.steps=[3,0]", f"ground_truth.path={table}", "logger=csv", f"paths.cache_dir={cache_dir}",
                    f"hydra.run.dir={out}", *extra)


def test_finetuning_starts_from_the_shared_weights_and_resumes(tmp_path, cache_dir, searched, make_cfg):
    table = tmp_path / "truth.csv"
    table.write_text("child,test_acc\n" + "".join(f"{a}-{b}-{c},{(a * 16 + b * 4 + c) / 100}\n"
                                                  for a in range(4) for b in range(4) for c in range(4)))
    out = tmp_path / "ft"
    _finetune(out, searched, cache_dir, table)
    rows = list(csv.DictReader(open(out / "finetune.csv")))
    assert [r["steps"] for r in rows] == ["0"] * 64 + ["3"] * 64
    assert [r["rank"] for r in rows] == [str(rank) for rank in range(1, 65)] * 2
    # Step 0: the supernet's children with its shared running statistics, measured on the validation split.
    cfg = make_cfg("experiment=smoke")
    dm, module = build_study(cfg)
    module.load_state_dict(torch.load(searched / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"])
    dm.setup()
    shared = {module.space.name(s.child): s.val_acc
              for s in evaluate_children(module.supernet, range(64), list(dm.val_dataloader()))}
    assert {r["child"]: float(r["val_acc"]) for r in rows[:64]} == pytest.approx(shared, abs=1e-12)
    assert {r["child"]: r["val_acc"] for r in rows[:64]} != {r["child"]: r["val_acc"] for r in rows[64:]}
    summary = list(csv.DictReader(open(out / "finetune_summary.csv")))
    truth = {r["child"]: float(r["test_acc"]) for r in csv.DictReader(open(table))}
    assert [s["steps"] for s in summary] == ["0", "3"]
    for s, ranked in zip(summary, (rows[:64], rows[64:])):  # each step count's ranking judged against the table
        scores = {r["child"]: float(r["val_acc"]) for r in ranked}
        assert float(s["gt_tau"]) == pytest.approx(kendall_tau(scores, truth))
    # Killed after 10 children: the rerun fine-tunes the other 54 and writes the same table.
    whole = (out / "finetune.csv").read_bytes()
    progress = (out / "finetune_progress.csv").read_text().splitlines()
    (out / "finetune_progress.csv").write_text("\n".join(progress[: 1 + 2 * 10]) + "\n")
    (out / "finetune.csv").unlink()
    proc = _finetune(out, searched, cache_dir, table)
    assert "fine-tuning 54 children" in proc.stdout + proc.stderr and "10 already done" in proc.stdout + proc.stderr
    assert (out / "finetune.csv").read_bytes() == whole
    # Other step counts in the same folder would rank some children on other terms: refused, nothing changed.
    proc = run_main("task=finetune", "experiment=smoke", f"ckpt_path={searched / 'checkpoints' / 'last.ckpt'}",
                    "finetune.steps=[0,5]", "logger=csv", f"paths.cache_dir={cache_dir}", f"hydra.run.dir={out}",
                    check=False)
    assert proc.returncode == 2 and "it differs in steps" in proc.stderr
    assert (out / "finetune.csv").read_bytes() == whole
