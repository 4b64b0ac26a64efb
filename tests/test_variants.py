"""Study names: runs that differ only in seed share one (one W&B group); any other ranked-changing override is
another study, named by that override, and the report recovers the same name from a run folder."""
from hydra.utils import instantiate

from benchmark.variants import MAX_SUFFIX, study_suffix, variant_overrides


def test_only_seed_logging_and_resume_overrides_keep_the_study():
    assert study_suffix(["seed=3", "logger=csv", "paths.cache_dir=/c", "resume=true", "trainer.accelerator=gpu",
                         "callbacks=with_interference", "sharing=partial", "task=search",
                         "callbacks.ranking.block=64", "callbacks.ranking.top_k=3"]) == ""
    assert study_suffix(["sharing=partial", "sharing.groups=8", "seed=1", "+trainer.devices=2"]) == \
        "-sharing.groups=8,trainer.devices=2"
    assert variant_overrides(["~callbacks.interference", "sharing.groups=8"]) == {"sharing.groups": "8"}


def test_a_long_variant_is_shortened_to_a_stable_hash():
    long = [f"module.optimizer.key{i}=0.0{i}" for i in range(10)] + ["search_space.ops=[conv3,conv5,skip,maxpool3]"]
    suffix = study_suffix(long)
    assert len(suffix) <= MAX_SUFFIX + 1 and suffix == study_suffix(list(reversed(long)))
    assert suffix != study_suffix(long[:-1])


def test_the_configs_neutral_keys_decide_and_a_run_can_extend_them(make_cfg):
    assert make_cfg("callbacks.ranking.top_k=3", "ground_truth.shard=1", "seed=5").study == "mnist1d-chain-full-uniform"
    assert make_cfg("callbacks.ranking.every_n_epochs=5").study == \
        "mnist1d-chain-full-uniform-callbacks.ranking.every_n_epochs=5"
    assert variant_overrides(["module.optimizer.lr=0.1", "seed=1"], ["seed", "module.*"]) == {}


def test_wandb_group_names_the_variant(make_cfg):
    plain = make_cfg("seed=2")
    assert plain.study == "mnist1d-chain-full-uniform"
    cfg = make_cfg("sharing=partial", "sharing.groups=8", "seed=2")
    assert cfg.study == "mnist1d-chain-partial-uniform-sharing.groups=8"
    logger = instantiate(cfg.logger.wandb)
    assert logger._wandb_init["group"] == cfg.study
