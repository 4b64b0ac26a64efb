"""A user's mistake stops the run before training, non-zero, with one line naming the key, the value and what works."""
import re
from pathlib import Path

import pytest
from hydra.utils import get_method

from benchmark.errors import find_config_error
from tests.conftest import run_cli

# (overrides, text the message must contain); Hydra's own messages for unknown options.
CASES = [
    ("search_space=hexagon", "search_space/hexagon"),
    ("sharing=halfway", "sharing/halfway"),
    ("sampler=psychic", "sampler/psychic"),
    ("search_space.layers=0", "error: search_space.layers=0"),
    ("search_space.ops=[conv3,conv9]", "error: search_space.ops='conv9'"),
    ("search_space.ops=[conv3,conv3]", "error: search_space.ops="),
    ("sharing=partial sharing.groups=0", "error: sharing.groups=0"),
    ("sharing=partial sharing.groups=65", "error: sharing.groups=65"),
    ("sharing=partial sharing.partition=alphabetical", "error: sharing.partition='alphabetical'"),
    ("sharing=prefix sharing.k=4", "error: sharing.k=4"),
    ("sharing=keyword sharing.patterns=[layers.*.conv7]", "error: sharing.patterns='layers.*.conv7'"),
    ("sharing=keyword sharing.mode=sometimes", "error: sharing.mode='sometimes'"),
    ("sampler=round_robin sampler.order=backwards", "error: sampler.order='backwards'"),
    ("sampler=gradual sampler.decision_weights=[1,1]", "error: sampler.decision_weights="),
    ("callbacks.ranking.top_k=65", "error: callbacks.ranking.top_k=65"),
    ("callbacks.ranking.calib_batches=-1", "error: callbacks.ranking.calib_batches=-1"),
    ("callbacks.ranking.block=0", "error: callbacks.ranking.block=0"),
    ("trainer.max_epochs=-2", "error: trainer.max_epochs=-2"),
    ("trainer.max_epochs=0", "error: trainer.max_epochs=0"),
    ("data.batch_size=0", "error: data.batch_size=0"),
    ("data.val_size=5000", "error: data.val_size=5000"),
    ("module.align.distance=l1", "error: module.align.distance='l1'"),
    ("module.align.weight=-1", "error: module.align.weight=-1"),
    ("module.arch_sync=sometimes", "error: module.arch_sync='sometimes'"),
    ("ground_truth.path=/no/such/table.csv", "error: ground_truth.path='/no/such/table.csv'"),
    ("ckpt_path=/no/such/last.ckpt", "error: ckpt_path='/no/such/last.ckpt'"),
    ("trainer=ddp", "error: trainer="),
    ("trainer=ddp_cpu trainer.devices=0", "error: trainer="),
    ("callbacks=with_interference callbacks.interference.every_n_steps=0",
     "error: callbacks.interference.every_n_steps=0"),
    ("task=ground_truth gt_seeds=0", "error: gt_seeds=0"),
    ("task=ground_truth gt_num_shards=4 gt_shard=4", "error: gt_shard=4"),
    ("task=ground_truth ground_truth.chunk=0", "error: ground_truth.chunk=0"),
    ("data=digits data.test_size=0", "error: data.test_size=0"),
    ("data=digits data.test_size=1797", "error: data.test_size=1797"),
]


UNKNOWN = {"search_space=hexagon", "sharing=halfway", "sampler=psychic"}


@pytest.mark.parametrize("overrides, message", CASES, ids=[c[0] for c in CASES])
def test_bad_config_fails_early_and_clearly(make_cfg, overrides, message):
    """In process, for speed: the error `run.py` would print, and nothing written."""
    if overrides in UNKNOWN:
        with pytest.raises(Exception, match=re.escape(message)):
            make_cfg("experiment=smoke", "logger=csv", *overrides.split())
        return
    cfg = make_cfg("experiment=smoke", "logger=csv", *overrides.split())
    with pytest.raises(Exception) as raised:
        get_method(cfg.task.fn)(cfg)
    error = find_config_error(raised.value)
    assert error is not None, f"not a ConfigError: {raised.value!r}"
    assert message in f"error: {error}"
    out = Path(cfg.paths.output_dir)
    assert not (out / "rankings.csv").exists() and not (out / "checkpoints").exists()


@pytest.mark.parametrize("overrides, message", [CASES[0], CASES[3], CASES[25]], ids=["unknown", "value", "trainer"])
def test_the_command_line_prints_one_line_and_no_traceback(tmp_path, cache_dir, overrides, message):
    proc = run_cli("experiment=smoke", "logger=csv", f"hydra.run.dir={tmp_path}", f"paths.cache_dir={cache_dir}",
                   *overrides.split(), check=False, timeout=120)
    assert proc.returncode != 0 and message in proc.stderr and "Traceback" not in proc.stderr


def test_a_table_for_another_space_is_refused(tmp_path, cache_dir):
    table = tmp_path / "other.csv"
    table.write_text("child,test_acc\n0-0-0-0,0.5\n")
    proc = run_cli("experiment=smoke", "logger=csv", f"hydra.run.dir={tmp_path / 'run'}",
                   f"paths.cache_dir={cache_dir}", f"ground_truth.path={table}", check=False)
    assert proc.returncode == 2 and "not a child of this space" in proc.stderr and "Traceback" not in proc.stderr


def test_a_table_covering_fewer_than_two_ranked_children_stops_before_training(tmp_path, cache_dir):
    table = tmp_path / "one.csv"
    table.write_text("child,test_acc\n0-0-0,0.5\n")
    proc = run_cli("experiment=smoke", "logger=csv", f"hydra.run.dir={tmp_path / 'run'}",
                   f"paths.cache_dir={cache_dir}", f"ground_truth.path={table}", check=False)
    assert proc.returncode == 2 and "covering 1 of the 64 ranked children" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "run" / "rankings.csv").exists()


def test_an_error_raised_in_a_spawned_ddp_process_is_one_line_too(tmp_path, cache_dir):
    proc = run_cli("trainer=ddp_cpu", "experiment=smoke", "logger=csv", "callbacks.ranking.top_k=100",
                   f"hydra.run.dir={tmp_path}", f"paths.cache_dir={cache_dir}", check=False, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "error: callbacks.ranking.top_k=100 is not valid: at most the number of ranked children (64)" in proc.stderr
