"""Every option of every config group composes (as `run.py` sees it) and instantiates."""

import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import get_method, instantiate

from benchmark import CONF
from benchmark.callbacks import InterferenceProbe, RankingSnapshot
from benchmark.loggers import EpochWandbLogger, ResumableCSVLogger
from benchmark.module import SupernetModule
from benchmark.tasks.common import build_study, build_trainer, instantiate_all



SPACE_SIZES = {"chain": 4 ** 3, "deeper_insights": 4 ** 3, "nb201": 5 ** 6}
# Options that build only beside another group's option: images need a 2-D space (the default chain is 1-D).
NEEDS = {"cifar10": ["search_space=deeper_insights"], "not_dag_edge_3": ["search_space=deeper_insights"]}


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def test_default_config(make_cfg):
    cfg = make_cfg()
    assert cfg.task.name == "search" and cfg.seed == 0
    assert cfg.study == "mnist1d-chain-full-uniform"
    assert cfg.trainer.max_epochs == 40
    datamodule, module = build_study(cfg)
    assert module.supernet.num_children == 64
    assert datamodule.shape.length == 40


@pytest.mark.parametrize("group", ["search_space", "sharing", "sampler", "data"])
def test_every_study_option_builds(make_cfg, group):
    for option in options(group):
        cfg = make_cfg(f"{group}={option}", *NEEDS.get(option, []))
        datamodule, module = build_study(cfg)
        size = SPACE_SIZES.get(option, 64) if group == "search_space" else 64
        assert module.supernet.num_children == size
        assert module.sampler.sample()[0] in range(module.supernet.num_children)


LOGGERS = {"none": [], "csv": [ResumableCSVLogger], "wandb": [EpochWandbLogger],
           "default": [ResumableCSVLogger, EpochWandbLogger]}


@pytest.mark.parametrize("option", options("logger"))
def test_every_logger_option_instantiates(make_cfg, option):
    loggers = instantiate_all(make_cfg(f"logger={option}").get("logger")).values()
    assert [type(logger) for logger in loggers] == LOGGERS[option]


#: (accelerator, devices, strategy) of each trainer option.
TRAINERS = {"default": ("cpu", 1, None), "cpu": ("cpu", 1, None), "gpu": ("gpu", 1, None),
            "ddp_cpu": ("cpu", 2, "ddp_spawn_find_unused_parameters_true"),
            "ddp": ("gpu", 2, "ddp_spawn_find_unused_parameters_true")}


@pytest.mark.parametrize("option", options("trainer"))
def test_every_trainer_option_composes(make_cfg, option):
    cfg = make_cfg(f"trainer={option}", "trainer.max_epochs=2", "logger=csv")
    t = cfg.trainer
    assert (t.accelerator, t.devices, t.get("strategy")) == TRAINERS[option]
    if t.accelerator == "cpu":  # a GPU option builds only beside a GPU (tests/test_gpu.py)
        trainer = build_trainer(cfg)
        assert isinstance(trainer, pl.Trainer) and trainer.max_epochs == 2 and trainer.num_devices == t.devices


def test_every_task_names_its_function(make_cfg):
    for option in options("task"):
        cfg = make_cfg(f"task={option}")
        assert callable(get_method(cfg.task.fn)) and cfg.task.name == option


def test_every_callbacks_option_ranks_and_adds_what_it_says(make_cfg):
    assert options("callbacks") == ["default", "with_interference"]
    plain = [type(c) for c in instantiate_all(make_cfg("callbacks=default").callbacks).values()]
    probed = [type(c) for c in instantiate_all(make_cfg("callbacks=with_interference").callbacks).values()]
    assert RankingSnapshot in plain and InterferenceProbe not in plain
    assert len(probed) == len(plain) + 1 and set(probed) == {*plain, InterferenceProbe}


def test_the_module_and_ground_truth_recipes_build(make_cfg):
    cfg = make_cfg("module=supernet", "ground_truth=default", "ground_truth.epochs=7")
    assert isinstance(build_study(cfg)[1], SupernetModule)
    optimizer = instantiate(cfg.ground_truth.optimizer)([torch.nn.Parameter(torch.zeros(1))])
    scheduler = instantiate(cfg.ground_truth.scheduler)(optimizer)
    assert isinstance(optimizer, torch.optim.SGD) and optimizer.defaults["lr"] == cfg.ground_truth.optimizer.lr
    assert scheduler.T_max == 7  # the schedule spans the recipe's epochs


def test_experiment_presets_change_what_they_say(make_cfg):
    smoke = make_cfg("experiment=smoke")
    assert smoke.trainer.max_epochs == 1 and smoke.callbacks.ranking.calib_batches == 1
    magic = make_cfg("experiment=magic")
    assert magic.sampler._target_.endswith("GradualSampler") and magic.module.align.weight > 0
    probe = make_cfg("experiment=interference")
    assert probe.callbacks.interference._target_.endswith("InterferenceProbe") and "ranking" in probe.callbacks
    di = make_cfg("experiment=deeper_insights_cifar10")
    assert (di.data._target_.endswith("CIFAR10DataModule") and di.search_space._target_.endswith("DeeperInsightsSpace")
            and di.sampler.order == "fixed" and di.trainer.accelerator == "gpu" and di.trainer.max_epochs == 200
            and di.module.optimizer.lr == 0.025 and di.module.scheduler.T_max == 200 and di.ground_truth.seeds == 10
            and di.study == "cifar10-deeper_insights-full-round_robin-experiment=deeper_insights_cifar10")
    assert (di.data.val_size == 0 and di.callbacks.ranking.split == "test" and di.callbacks.ranking.bn == "shared"
            and di.callbacks.ranking.dense_steps == 128 and di.module.optimizer.weight_decay == 1e-3
            and di.search_space.bn_momentum == 0.4 and di.ground_truth.path.endswith(
                "benchmark/published/deeper_insights_cifar10_ground_truth.csv"))
    nb = make_cfg("experiment=nb201_cifar10")
    assert (nb.search_space._target_.endswith("NB201Space") and nb.module.optimizer.nesterov
            and nb.module.optimizer.weight_decay == 5e-4 and nb.data.batch_size == 256)
    assert set(options("experiment")) == {"smoke", "magic", "interference", "deeper_insights_cifar10",
                                          "nb201_cifar10"}


@pytest.mark.parametrize("launcher, target", [("joblib", "JoblibLauncher"), ("submitit_slurm", "SlurmLauncher"),
                                              ("submitit_local", "LocalLauncher")])
def test_cluster_launchers_compose(launcher, target):
    """Parallel seeds on one machine (joblib) and on SLURM (submitit) are Hydra launcher plugins."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=[f"hydra/launcher={launcher}"], return_hydra_config=True)
    assert cfg.hydra.launcher._target_.endswith(target)
    GlobalHydra.instance().clear()


@pytest.mark.slow
def test_joblib_runs_seeds_in_parallel(tmp_path, cache_dir):
    from tests.conftest import run_cli

    sweep = tmp_path / "sweep"
    run_cli("-m", "seed=0,1", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "experiment=smoke",
            "trainer.limit_train_batches=2", "logger=csv", f"paths.cache_dir={cache_dir}", f"hydra.sweep.dir={sweep}")
    assert (sweep / "0" / "rankings.csv").exists() and (sweep / "1" / "rankings.csv").exists()
    assert (sweep / "report" / "report.md").exists()
