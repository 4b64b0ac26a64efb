"""DDP on the CPU (2 processes, gloo) through run.py: same child on every rank, nothing stray moves, and the
distributed ranking equals a single-process ranking of the same weights. Each run spawns two fresh worker processes
(~10 s on two cores; `run_forked` spares only the launching one its imports): a sweep, per-rank sampling, per-group
budgets and divergence under DDP are marked slow."""
import csv
import json

import pytest
import torch

from benchmark.evaluation import evaluate_children
from benchmark.callbacks.ranking import rank_children
from benchmark.tasks.common import build_study
from tests.conftest import run_forked

# One DDP run at a time on one xdist worker: two at once could be handed the same free port for their store.
pytestmark = pytest.mark.xdist_group("ddp")
DDP = ["trainer=ddp_cpu", "experiment=smoke", "trainer.limit_train_batches=4", "trainer.max_epochs=2", "logger=csv"]


def test_two_process_run(tmp_path, cache_dir, make_cfg):
    out = tmp_path / "run"
    run_forked(*DDP, f"paths.cache_dir={cache_dir}", f"hydra.run.dir={out}",
            "+callbacks.steps._target_=tests.helpers.RecordSteps", f"+callbacks.steps.output_dir={out}")
    ranks = [json.loads((out / f"steps_rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["world"] == 2
    # 2 epochs x 4 batches per rank
    assert ranks[0]["children"] == ranks[1]["children"] and len(ranks[0]["children"]) == 2 * 4
    assert ranks[0]["stray"] == []
    # Rank 1 receives rank 0's BatchNorm statistics at every forward (DDP's broadcast_buffers): those may move; its
    # parameters never do.
    assert all(k.endswith(("running_mean", "running_var", "num_batches_tracked")) for k in ranks[1]["stray"])
    assert json.loads((out / "status.json").read_text())["status"] == "completed"
    assert not list(tmp_path.glob("**/train_ddp_process_*"))  # no extra output folders
    # The ranking written at the last epoch equals a single-process ranking of the checkpointed weights.
    with open(out / "rankings.csv") as f:
        last = [r for r in csv.DictReader(f) if r["epoch"] == "1"]
    cfg = make_cfg("experiment=smoke")
    dm, module = build_study(cfg)
    checkpoint = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)
    module.load_state_dict(checkpoint["state_dict"])
    dm.setup()
    scores = rank_children(evaluate_children(module.supernet, range(64), list(dm.val_dataloader()),
                                             dm.calibration_inputs(cfg.callbacks.ranking.calib_batches)))
    assert [module.space.name(s.child) for s in scores] == [r["child"] for r in last]
    assert [s.val_acc for s in scores] == [float(r["val_acc"]) for r in last]


@pytest.mark.slow
def test_two_process_multirun(tmp_path, cache_dir):
    """A sweep of DDP runs, its folders and report (fast: test_two_process_run for DDP, and the sweep of
    tests/test_cell_spaces.py::test_nb201_study_end_to_end_with_a_published_table)."""
    sweep = tmp_path / "sweep"
    run_forked("-m", "seed=0,1", *DDP, f"paths.cache_dir={cache_dir}", f"hydra.sweep.dir={sweep}")
    assert sorted(p.name for p in sweep.iterdir()) == [".lock", "0", "1", "multirun.yaml", "report"]
    for job in ("0", "1"):
        assert json.loads((sweep / job / "status.json").read_text())["status"] == "completed"
    label = "experiment=smoke trainer=ddp_cpu"
    assert f"| {label} | 2 |" in (sweep / "report" / "report.md").read_text()


@pytest.mark.slow
def test_per_rank_sampling_gives_each_rank_its_own_children_also_after_resume(tmp_path, cache_dir):
    """module.arch_sync=per_rank under DDP, resumed (fast: the per-rank sequences of
    tests/test_samplers.py::test_for_rank_gives_each_rank_its_own_sequence and the resumes of
    tests/test_reliability.py)."""
    out = tmp_path / "run"
    common = [*DDP, f"paths.cache_dir={cache_dir}", f"hydra.run.dir={out}", "module.arch_sync=per_rank",
              "sampler=round_robin", "sampler.order=shuffle_once",
              "+callbacks.steps._target_=tests.helpers.RecordSteps", f"+callbacks.steps.output_dir={out}"]
    run_forked(*common)
    before = [json.loads((out / f"steps_rank{r}.json").read_text())["children"] for r in (0, 1)]
    assert before[0] != before[1]
    states = torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["sampler_per_rank"]
    assert len(states) == 2 and states[0]["cycle"] != states[1]["cycle"]
    run_forked(*[o for o in common if not o.startswith("trainer.max_epochs")], "trainer.max_epochs=3", "resume=true")
    after = [json.loads((out / f"steps_rank{r}.json").read_text())["children"] for r in (0, 1)]
    assert len(after[0]) == 4 and after[0] != after[1]  # a resume does not collapse the ranks onto rank 0's sampler
    for rank in (0, 1):  # and each rank continues its own cycle: no child repeats within the first 64 steps
        assert len({c for step in before[rank] + after[rank] for c in step}) == 12


def test_a_relaunched_ddp_run_shares_its_folder_with_its_own_ranks(tmp_path, cache_dir):
    """trainer.strategy=ddp_find_unused_parameters_true re-runs run.py for rank 1 in rank 0's folder: the folder lock
    lets it in (another process would be refused)."""
    out = tmp_path / "run"
    run_forked(*DDP, "trainer.strategy=ddp_find_unused_parameters_true", f"paths.cache_dir={cache_dir}",
            f"hydra.run.dir={out}", timeout=300)
    assert json.loads((out / "status.json").read_text())["status"] == "completed"
    assert len((out / "rankings.csv").read_text().splitlines()) == 1 + 2 * 64


@pytest.mark.slow
def test_divergence_in_a_spawned_ddp_process_exits_3(tmp_path, cache_dir):
    """A worker's divergence reaches the command line as exit code 3 (fast: divergence in
    tests/test_reliability.py::test_divergence_stops_the_run_keeps_snapshots_and_the_report_skips_it, the way out of a
    spawned worker in tests/test_bad_configs.py::test_an_error_raised_in_a_spawned_ddp_process_is_one_line_too)."""
    out = tmp_path / "run"
    proc = run_forked(*DDP, f"paths.cache_dir={cache_dir}", f"hydra.run.dir={out}", "trainer.max_epochs=3",
                   "+callbacks.poison._target_=tests.helpers.PoisonAt", "+callbacks.poison.step=6", check=False,
                   timeout=300)
    assert proc.returncode == 3 and "error: diverged: training loss is nan" in proc.stderr
    assert json.loads((out / "status.json").read_text())["status"] == "diverged"


@pytest.mark.slow
def test_per_group_budget_under_ddp_trains_one_child_of_every_group_on_both_ranks(tmp_path, cache_dir):
    """Under DDP the groups' losses go back in one backward pass (DDP reduces once per forward): every step still
    trains one child of each group, the same on both ranks, and nothing outside them moves (fast:
    test_two_process_run for DDP, tests/test_budget.py::test_each_group_trains_exactly_as_its_own_supernet for the
    groups)."""
    out = tmp_path / "run"
    run_forked(*DDP, "sharing=partial", f"paths.cache_dir={cache_dir}", f"hydra.run.dir={out}",
            "+callbacks.steps._target_=tests.helpers.RecordSteps", f"+callbacks.steps.output_dir={out}")
    ranks = [json.loads((out / f"steps_rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["children"] == ranks[1]["children"] and len(ranks[0]["children"]) == 2 * 4
    assert all(sorted(c // 16 for c in step) == [0, 1, 2, 3] for step in ranks[0]["children"])  # similarity blocks
    assert ranks[0]["stray"] == []
    assert json.loads((out / "status.json").read_text())["status"] == "completed"
