"""A user's mistake stops the run before training: exit code 2, one line naming the key, the value and what works, no
traceback. The table runs the real `run.py` in this process (a `python run.py` costs ~5 s of imports, too much for
a hundred cases); a few cases run it as a user does."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_forked, run_main

#: (overrides, text the one `error:` line must contain). `{tmp}` is the case's own folder: `{tmp}/file` is a regular
#: file (no folder can be made under it, even by root) and `{tmp}/corrupt` holds a damaged MNIST-1D cache.
CASES = [
    # top level
    ("seed=abc", "error: seed='abc' is not valid: an integer from 0 to 4294967295"),
    ("seed=-1", "error: seed=-1 is not valid"),
    ("seed=99999999999", "error: seed=99999999999 is not valid"),
    ("seed=1.5", "error: seed=1.5 is not valid"),
    ("seed=null", "error: seed=None is not valid"),
    ("resume=maybe", "error: resume='maybe' is not valid: true"),
    ("ckpt_path=123", "error: ckpt_path=123 is not valid: null or the path of a Lightning checkpoint file"),
    ("ckpt_path=/no/such/last.ckpt", "error: ckpt_path='/no/such/last.ckpt'"),
    ("ground_truth.seeds=abc", "error: ground_truth.seeds='abc' is not valid: an integer >= 1"),
    ("task=ground_truth ground_truth.seeds=0", "error: ground_truth.seeds=0"),
    ("ground_truth.num_shards=0", "error: ground_truth.num_shards=0 is not valid"),
    ("task=ground_truth ground_truth.num_shards=4 ground_truth.shard=4", "error: ground_truth.shard=4"),
    ("proxies.names=[synflow,magic]", "error: proxies.names='magic' is not valid: one of ['params'"),
    ("task=proxies proxies.names=magic", "error: proxies.names='magic' is not valid"),
    ("proxies.names=[]", "error: proxies.names=[] is not valid: a non-empty list"),
    ("proxies.names=[synflow,synflow]", "is not valid: a list without repeated proxies"),
    # keys that moved into a group: the new name, before Hydra composes
    ("gt_seeds=10", "error: gt_seeds='10' is not valid: a key that moved: write ground_truth.seeds=10"),
    ("gt_shard=0,1", "error: gt_shard='0,1' is not valid: a key that moved: write ground_truth.shard=0,1"),
    ("proxies=[synflow]", "error: proxies='[synflow]' is not valid: a preset of conf/proxies (all, capacity, "
                          "zero_cost); to name proxies, proxies.names=[params,flops"),
    ("study=''", "error: study='' is not valid"),
    ("tags=abc", "error: tags='abc' is not valid: a list of strings"),
    ("seed=${nope}", "error: seed='${nope}' is not valid: a value whose interpolations resolve"),
    ("data.batch_size=${oc.env:BENCHMARK_NO_SUCH_VARIABLE}", "error: data.batch_size='${oc.env:BENCHMARK_NO_SUCH_"),
    # paths and folders
    ("paths.cache_dir={tmp}/file/cache", "error: paths.cache_dir='{tmp}/file/cache' is not valid: a folder this user "
                                         "can create and write (Not a directory)"),
    ("paths.output_dir={tmp}/file/out", "error: paths.output_dir='{tmp}/file/out' is not valid"),
    ("hydra.run.dir={tmp}/file/run", "error: hydra.run.dir='{tmp}/file/run' is not valid"),
    ("paths.cache_dir={tmp}/corrupt", "{tmp}/corrupt/mnist1d_seed42.npz is damaged (BadZipFile"),
    # data
    ("data.batch_size=0", "error: data.batch_size=0"),
    ("data.batch_size=abc", "error: data.batch_size='abc' is not valid: an integer >= 1"),
    ("data.eval_batch_size=0", "error: data.eval_batch_size=0 is not valid"),
    ("data.val_size=5000", "error: data.val_size=5000"),
    ("data.split_seed=-1", "error: data.split_seed=-1 is not valid: an integer from 0"),
    ("data.generator_seed=abc", "error: data.generator_seed='abc' is not valid"),
    ("data.cache_dir=123", "error: data.cache_dir=123 is not valid: a folder path"),
    ("data=digits data.test_size=0", "error: data.test_size=0"),
    ("data=digits data.test_size=1797", "error: data.test_size=1797"),
    ("data=digits data.val_size=1500", "error: data.val_size=1500 is not valid: fewer than the 1437 training"),
    ("data=cifar10 search_space=nb201 data.root={tmp}/nowhere", "error: data.root='{tmp}/nowhere' is not valid: "
                                                                "looked for the CIFAR-10 python batches"),
    ("data=cifar10 search_space=nb201 data.augment=maybe", "error: data.augment='maybe' is not valid"),
    ("data=cifar10", "error: data='2-D data (3, 32, 32)' is not valid: 1-D sequence data"),
    # search spaces
    ("search_space.layers=0", "error: search_space.layers=0"),
    ("search_space.layers=abc", "error: search_space.layers='abc' is not valid: an integer from 1 to 1,000"),
    ("search_space.layers=40", "error: search_space.layers=40 is not valid: at most 8 layers with 4 ops (4^40 = about "
                               "10^24 children; a supernet enumerates at most 100,000)"),
    ("search_space.layers=1000000000", "error: search_space.layers=1000000000 is not valid"),
    ("search_space.ops=[conv3,conv5,dilconv3,maxpool3,avgpool3,conv1,skip] search_space.layers=6",
     "error: search_space.layers=6 is not valid: at most 5 layers with 7 ops (7^6 = 117,649 children"),
    ("search_space.ops=conv3", "error: search_space.ops='conv3' is not valid: a list of ops in brackets"),
    ("search_space.ops=[]", "error: search_space.ops=[] is not valid: a non-empty list"),
    ("search_space.ops=[conv3,conv9]", "error: search_space.ops='conv9'"),
    ("search_space.ops=[conv3,conv3]", "error: search_space.ops="),
    ("search_space.channels=1000000", "error: search_space.channels=1000000 is not valid"),
    ("search_space.head_pool=100000", "error: search_space.head_pool=100000 is not valid: at most the data's length"),
    ("search_space.affine=maybe", "error: search_space.affine='maybe' is not valid: true or false"),
    ("+search_space.foo=1", "error: search_space.foo=1 is not valid: an argument of benchmark.spaces.ChainSpace"),
    ("search_space._target_=benchmark.spaces.Hexagon", "error: search_space._target_='benchmark.spaces.Hexagon'"),
    ("search_space=transformer search_space.ops=[mha4] search_space.d_model=30",
     "error: search_space.d_model=30 is not valid: a multiple of 4"),
    ("search_space=transformer search_space.stem_kernel=41", "error: search_space.stem_kernel=41 is not valid"),
    ("search_space=nb201 search_space.channels=512", "error: search_space.channels=512 is not valid: an integer "
                                                     "from 1 to 256"),
    ("search_space=nb201 search_space.eval_children=0", "error: search_space.eval_children=0 is not valid"),
    ("search_space=deeper_insights search_space.cells=100000000", "error: search_space.cells=100000000 is not valid"),
    ("search_space=deeper_insights search_space.ops=[none]", "error: search_space.ops='none' is not valid"),
    # sharing and sampling
    ("~sharing", "error: sharing=None is not valid: one of ['full', 'keyword', 'none', 'not_bn', 'not_conv', "
               "'not_dag_edge_3', 'only_conv', 'only_stem_and_conv', 'partial', 'prefix']"),
    ("sharing=partial sharing.groups=0", "error: sharing.groups=0"),
    ("sharing=partial sharing.groups=65", "error: sharing.groups=65"),
    ("sharing=partial sharing.partition=alphabetical", "error: sharing.partition='alphabetical'"),
    ("sharing=partial sharing.seed=abc", "error: sharing.seed='abc' is not valid"),
    ("sharing=prefix sharing.k=4", "error: sharing.k=4"),
    ("sharing=keyword sharing.patterns=[layers.*.conv7]", "error: sharing.patterns='layers.*.conv7'"),
    ("sharing=keyword sharing.patterns=[1]", "error: sharing.patterns=[1] is not valid: a list of globs"),
    ("sharing=keyword sharing.mode=sometimes", "error: sharing.mode='sometimes'"),
    ("sharing=none search_space=nb201", "error: sharing='NoSharing' is not valid"),
    ("sampler.seed=abc", "error: sampler.seed='abc' is not valid"),
    ("sampler=round_robin sampler.order=backwards", "error: sampler.order='backwards'"),
    ("sampler=gradual sampler.decision_weights=[1,1]", "error: sampler.decision_weights="),
    ("sampler=gradual sampler.decision_weights=[1,1,inf]", "error: sampler.decision_weights=[1, 1, inf] is not valid"),
    # the module and its recipe
    ("module.optimizer.lr=-1", "error: module.optimizer.lr=-1 is not valid: a number > 0"),
    ("module.optimizer.lr=abc", "error: module.optimizer.lr='abc' is not valid"),
    ("module.optimizer.momentum=1.5", "error: module.optimizer.momentum=1.5 is not valid: a number in [0, 1)"),
    ("module.optimizer.weight_decay=-1", "error: module.optimizer.weight_decay=-1 is not valid: a number >= 0"),
    ("module.optimizer.weight_decay=abc", "error: module.optimizer.weight_decay='abc' is not valid"),
    ("module.optimizer.momentum=0 +module.optimizer.nesterov=true", "error: module.optimizer.nesterov=True"),
    ("module.optimizer._target_=torch.optim.Adam", "error: module.optimizer.momentum=0.9 is not valid: an argument "
                                                   "of torch.optim.Adam"),
    ("module.optimizer=null", "error: module.optimizer=None is not valid"),
    ("module.scheduler.T_max=0", "error: module.scheduler.T_max=0 is not valid: an integer >= 1"),
    ("module.scheduler.eta_min=-1", "error: module.scheduler.eta_min=-1 is not valid: a number >= 0"),
    ("module.align.distance=l1", "error: module.align.distance='l1'"),
    ("module.align.weight=-1", "error: module.align.weight=-1"),
    ("module.align.weight=abc", "error: module.align.weight='abc' is not valid"),
    ("module.arch_sync=sometimes", "error: module.arch_sync='sometimes'"),
    # ground truth
    ("ground_truth.path=/no/such/table.csv", "error: ground_truth.path='/no/such/table.csv'"),
    ("ground_truth.metric=accuracy", "error: ground_truth.metric='accuracy' is not valid: one of ['test_acc', "),
    ("ground_truth.epochs=0", "error: ground_truth.epochs=0 is not valid"),
    ("task=ground_truth ground_truth.chunk=0", "error: ground_truth.chunk=0"),
    ("ground_truth.optimizer.lr=0", "error: ground_truth.optimizer.lr=0 is not valid"),
    # trainer
    ("trainer.max_epochs=-2", "error: trainer.max_epochs=-2"),
    ("trainer.max_epochs=0", "error: trainer.max_epochs=0"),
    ("trainer.accelerator=tpu", "error: trainer.accelerator='tpu' is not valid: one of ['auto', 'cpu', 'gpu'"),
    ("trainer.limit_train_batches=-1", "error: trainer.limit_train_batches=-1 is not valid: an integer >= 1"),
    ("trainer.limit_train_batches=0", "error: trainer.limit_train_batches=0 is not valid"),
    ("trainer.devices=0", "error: trainer.devices=0 is not valid"),
    ("trainer.deterministic=maybe", "error: trainer.deterministic='maybe' is not valid: true, false or warn"),
    ("trainer=ddp_cpu trainer.devices=0", "error: trainer.devices=0"),
    ("trainer=ddp_cpu trainer.num_nodes=0", "error: trainer.num_nodes=0 is not valid"),
    ("trainer=ddp", "error: trainer="),
    ("+trainer.precision=7", "error: trainer.precision=7 is not valid: one of [64, 32, 16"),
    ("+trainer.accumulate_grad_batches=2", "error: trainer.accumulate_grad_batches=2 is not valid"),
    ("+trainer.gradient_clip_val=1.0", "error: trainer.gradient_clip_val=1.0 is not valid"),
    ("+trainer.sync_batchnorm=true", "error: trainer.sync_batchnorm=True is not valid"),
    ("+trainer.max_epoch=3", "error: trainer.max_epoch=3 is not valid: an argument of pytorch_lightning.Trainer; did "
                             "you mean max_epochs?"),
    ("+trainer.strategy=nope", "strategy=nope' is not valid: Lightning says: You selected an invalid strategy name"),
    # callbacks
    ("callbacks.ranking.top_k=65", "error: callbacks.ranking.top_k=65"),
    ("callbacks.ranking.calib_batches=-1", "error: callbacks.ranking.calib_batches=-1"),
    ("callbacks.ranking.calib_batches=1000", "error: callbacks.ranking.calib_batches=1000 is not valid: at most the "
                                             "number of training batches (25 of 128 examples)"),
    ("callbacks.ranking.block=0", "error: callbacks.ranking.block=0"),
    ("callbacks.ranking.bn=sometimes", "error: callbacks.ranking.bn='sometimes' is not valid: one of ['recalibrate', "
                                       "'shared']"),
    ("callbacks.ranking.calib_batches=0", "error: callbacks.ranking.calib_batches=0 is not valid: an integer >= 1 with "
                                          "bn=recalibrate"),
    ("callbacks.ranking.split=train", "error: callbacks.ranking.split='train' is not valid: one of ['val', 'test']"),
    ("callbacks.ranking.dense_steps=-1", "error: callbacks.ranking.dense_steps=-1 is not valid"),
    ("callbacks.ranking.every_n_epochs=0", "error: callbacks.ranking.every_n_epochs=0 is not valid: an integer >= 1"),
    ("task=prune_search task.every=3 callbacks.ranking.every_n_epochs=2 trainer.max_epochs=10",
     "error: task.every=3 is not valid: a multiple of callbacks.ranking.every_n_epochs=2"),
    ("data.val_size=0", "error: callbacks.ranking.split='val' is not valid: a split with examples (data.val_size=0"),
    ("task=ground_truth data.val_size=0", "error: data.val_size=0 is not valid: an integer >= 1 for "
                                          "task=ground_truth"),
    ("task=finetune", "error: ckpt_path=None is not valid: the supernet checkpoint to fine-tune from"),
    ("task=finetune finetune.steps=[-1] ckpt_path=run.py", "error: finetune.steps=[-1] is not valid"),
    ("task=finetune finetune.steps=5 ckpt_path=run.py", "error: finetune.steps=5 is not valid"),
    ("search_space=deeper_insights search_space.bn_momentum=0", "error: search_space.bn_momentum=0 is not valid"),
    ("search_space=deeper_insights search_space.stem_channels=0", "error: search_space.stem_channels=0 is not valid"),
    ("+callbacks.ranking.topk=3", "error: callbacks.ranking.topk=3 is not valid: an argument of "
                                  "benchmark.callbacks.RankingSnapshot; did you mean top_k?"),
    ("callbacks=with_interference callbacks.interference.every_n_steps=0",
     "error: callbacks.interference.every_n_steps=0"),
    ("callbacks=with_interference search_space=deeper_insights", "error: search_space='DeeperInsightsSpace' is not "
                                                                 "valid: a chain space for the interference probe"),
]
#: Unknown options of a config group keep Hydra's own message, which lists the available ones (exit code 1).
UNKNOWN_OPTIONS = [
    ("search_space=hexagon", "search_space/hexagon"),
    ("sharing=halfway", "sharing/halfway"),
    ("sampler=psychic", "sampler/psychic"),
]


def scratch(folder: Path) -> None:
    """`{tmp}/file` (a regular file) and `{tmp}/corrupt` (an MNIST-1D cache cut off halfway, as a full disk would)."""
    (folder / "file").write_text("")
    buffer = io.BytesIO()
    np.savez(buffer, x=np.zeros((8, 1, 40)), y=np.zeros(8))
    (folder / "corrupt").mkdir()
    (folder / "corrupt" / "mnist1d_seed42.npz").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])


@pytest.mark.parametrize("overrides, message", CASES, ids=[c[0] for c in CASES])
def test_a_bad_value_stops_before_training_with_one_line(tmp_path, cache_dir, overrides, message):
    scratch(tmp_path)
    run_dir = tmp_path / "run"
    proc = run_main("experiment=smoke", "logger=csv", f"hydra.run.dir={run_dir}", f"paths.cache_dir={cache_dir}",
                    *overrides.replace("{tmp}", str(tmp_path)).split(), check=False)
    code, err = proc.returncode, proc.stderr
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and "Traceback" not in err, err[-3000:]
    assert message.replace("{tmp}", str(tmp_path)) in errors[0]
    # Nothing trained, and nothing left behind: the run folder this command created is gone.
    assert not run_dir.exists()


@pytest.mark.parametrize("overrides, message", UNKNOWN_OPTIONS, ids=[c[0] for c in UNKNOWN_OPTIONS])
def test_an_unknown_option_gets_hydras_message(tmp_path, overrides, message):
    proc = run_main("experiment=smoke", f"hydra.run.dir={tmp_path}", overrides, check=False)
    assert proc.returncode == 1 and message in proc.stderr and "Available options" in proc.stderr


@pytest.mark.parametrize("overrides, message", [
    pytest.param("search_space=hexagon", "search_space/hexagon", id="unknown"),
    pytest.param("search_space.layers=40", "error: search_space.layers=40 is not valid: at most 8 layers", id="value"),
    pytest.param("ckpt_path=/no/such/last.ckpt", "error: ckpt_path='/no/such/last.ckpt'", id="checkpoint",
                 marks=pytest.mark.slow),
])
def test_the_command_line_prints_one_line_and_no_traceback(tmp_path, cache_dir, overrides, message):
    """In a process of its own, as a user runs it: Hydra's message for an unknown option, ours for a bad value (the
    `checkpoint` case, checked as `value` is, is slow; CASES holds its message)."""
    proc = run_forked("experiment=smoke", "logger=csv", f"hydra.run.dir={tmp_path}", f"paths.cache_dir={cache_dir}",
                      *overrides.split(), check=False, timeout=120)
    assert proc.returncode != 0 and message in proc.stderr and "Traceback" not in proc.stderr


def test_a_table_for_another_space_is_refused(tmp_path, cache_dir):
    table = tmp_path / "other.csv"
    table.write_text("child,test_acc\n0-0-0-0,0.5\n")
    proc = run_main("experiment=smoke", "logger=csv", f"hydra.run.dir={tmp_path / 'run'}",
                    f"paths.cache_dir={cache_dir}", f"ground_truth.path={table}", check=False)
    assert proc.returncode == 2 and "not a child of this space" in proc.stderr and "Traceback" not in proc.stderr


def test_a_table_covering_fewer_than_two_ranked_children_stops_before_training(tmp_path, cache_dir):
    table = tmp_path / "one.csv"
    table.write_text("child,test_acc\n0-0-0,0.5\n")
    proc = run_main("experiment=smoke", "logger=csv", f"hydra.run.dir={tmp_path / 'run'}",
                    f"paths.cache_dir={cache_dir}", f"ground_truth.path={table}", check=False)
    assert proc.returncode == 2 and "covering 1 of the 64 ranked children" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "run" / "rankings.csv").exists()


@pytest.mark.xdist_group("ddp")  # with tests/test_ddp.py's runs, one at a time
def test_an_error_raised_in_a_spawned_ddp_process_is_one_line_too(tmp_path, cache_dir):
    proc = run_forked("trainer=ddp_cpu", "experiment=smoke", "logger=csv", "callbacks.ranking.top_k=100",
                      f"hydra.run.dir={tmp_path}", f"paths.cache_dir={cache_dir}", check=False, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "error: callbacks.ranking.top_k=100 is not valid: at most the number of ranked children (64)" in proc.stderr


def test_a_failed_config_removes_only_what_it_created(tmp_path, cache_dir):
    """A folder that was there before (a pinned run, a resumed one) is kept; in a sweep, the job folder and the
    sweep folder left without jobs go."""
    pinned = tmp_path / "pinned"
    (pinned / "earlier").mkdir(parents=True)
    proc = run_main("experiment=smoke", "logger=csv", f"hydra.run.dir={pinned}", f"paths.cache_dir={cache_dir}",
                    "sharing=partial", "sharing.groups=999", check=False)
    assert proc.returncode == 2 and (pinned / "earlier").is_dir() and (pinned / ".hydra").is_dir()
    sweep = tmp_path / "sweep"
    proc = run_main("-m", "experiment=smoke", "logger=csv", f"hydra.sweep.dir={sweep}", f"paths.cache_dir={cache_dir}",
                    "sharing=partial", "sharing.groups=999", check=False)
    assert proc.returncode == 2 and "error: sharing.groups=999" in proc.stderr and not sweep.exists()
