"""Checks of the composed config that no class of ours owns (seeds, resume, optimizer, schedule, trainer, paths, the
arguments a `_target_` takes), run before anything is built, so that a user's mistake fails at once with one line
naming the key, the value and what works. Values a class of ours owns (a space's layers, a data module's sizes, the
ranking's options) are checked in that class when it is built, still before training."""
from __future__ import annotations

import difflib
import inspect
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

from hydra.utils import get_object
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from benchmark import CONF
from benchmark.errors import ConfigError, is_int, is_number, require, require_seed
from benchmark.ground_truth import ACCURACY_COLUMNS
from benchmark.proxies import PROXIES
from benchmark.threads import check as check_threads

#: A check of one value and, when it fails, what would work.
Rule = tuple[Callable[[Any], bool], str]
#: Groups every task builds from; without one (`~sharing` drops it) nothing can be built.
GROUPS = ("data", "search_space", "sharing", "sampler", "module", "ground_truth", "proxies", "trainer", "paths")
#: Top-level keys that moved into a group: a command written for them gets the new name, not Hydra's "not in struct".
MOVED = {"gt_seeds": "ground_truth.seeds", "gt_shard": "ground_truth.shard", "gt_num_shards": "ground_truth.num_shards"}
#: What `lookup` returns for a key the config does not have (None is a value a user can give).
ABSENT = object()
#: Seeds of classes that take them as they come (the top-level `seed` is interpolated into most of them).
SEEDS = ("sampler.seed", "sharing.seed", "callbacks.interference.seed")
#: What Lightning can run on here; "tpu" needs torch_xla, which the benchmark does not install.
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps")
PRECISIONS = (64, 32, 16, "64", "32", "16", "bf16", "64-true", "32-true", "16-true", "16-mixed", "bf16-true",
              "bf16-mixed")
#: Tables a task=ground_truth run writes hold these accuracies; an imported table (ground_truth.path) may name others.
OWN_METRICS = ("test_acc", "val_acc")


def _count(low: int) -> Rule:
    """An integer (not a bool, not a float) of at least `low`."""
    return (lambda v: is_int(v) and v >= low), f"an integer >= {low}"


def _flag() -> Rule:
    """A YAML boolean: `maybe` or 1 would be truthy to Lightning and mean something nobody asked for."""
    return (lambda v: isinstance(v, bool)), "true or false"


def _batches(low: int) -> Rule:
    """Lightning's limit_*_batches: a number of batches or a fraction of them (none at all only where `low` is 0)."""
    def ok(v: Any) -> bool:
        fraction = isinstance(v, float) and (v > 0 if low else v >= 0) and v <= 1
        return v is None or (is_int(v) and v >= low) or fraction

    return ok, f"an integer >= {low} (batches) or a fraction in {'(0' if low else '[0'}, 1]"


TRAINER: dict[str, Rule] = {
    "max_epochs": _count(1),
    "accelerator": ((lambda v: v in ACCELERATORS), f"one of {list(ACCELERATORS)} (trainer=cpu, gpu, ddp_cpu or ddp "
                                                   "set it together with devices and strategy)"),
    "devices": ((lambda v: v in ("auto", -1) or (is_int(v) and v >= 1)
                 or (isinstance(v, list) and len(v) > 0 and all(is_int(d) and d >= 0 for d in v))),
                "an integer >= 1, -1 or auto (every device), or a list of device indices"),
    "num_nodes": _count(1),
    "precision": ((lambda v: v in PRECISIONS), f"one of {list(PRECISIONS)}"),
    "limit_train_batches": _batches(1),
    "limit_val_batches": _batches(0),
    "limit_test_batches": _batches(0),
    "overfit_batches": ((lambda v: (is_int(v) and v >= 0) or (isinstance(v, float) and 0 <= v <= 1)),
                        "0 (off), an integer >= 1 (batches) or a fraction in [0, 1]"),
    "max_steps": ((lambda v: is_int(v) and (v == -1 or v >= 1)), "-1 (no limit) or an integer >= 1"),
    "min_epochs": ((lambda v: v is None or (is_int(v) and v >= 0)), "null or an integer >= 0"),
    "min_steps": ((lambda v: v is None or (is_int(v) and v >= 0)), "null or an integer >= 0"),
    "log_every_n_steps": _count(1),
    "num_sanity_val_steps": ((lambda v: is_int(v) and v >= -1), "an integer >= 0, or -1 for every batch"),
    "accumulate_grad_batches": ((lambda v: is_int(v) and v == 1),
                                "1: the modules step their optimizers by hand, which Lightning cannot accumulate"),
    "gradient_clip_val": ((lambda v: v is None or (is_number(v) and v == 0)),
                          "null: the modules step their optimizers by hand, and Lightning clips only its own steps"),
    "deterministic": ((lambda v: v is None or isinstance(v, bool) or v == "warn"), "true, false or warn"),
    "sync_batchnorm": ((lambda v: v is False),
                       "false: BatchNorm statistics belong to the children that use each copy, not to all ranks"),
    "enable_checkpointing": ((lambda v: v is True), "true: resuming needs the checkpoint every epoch writes "
                                                     "(callbacks.checkpoint)"),
    "enable_progress_bar": _flag(),
    "enable_model_summary": _flag(),
    "benchmark": ((lambda v: v is None or isinstance(v, bool)), "null, true or false"),
    "default_root_dir": ((lambda v: isinstance(v, str) and v != ""), "a folder path"),
}
OPTIMIZER: dict[str, Rule] = {
    "lr": ((lambda v: is_number(v) and v > 0), "a number > 0"),
    "momentum": ((lambda v: is_number(v) and 0 <= v < 1), "a number in [0, 1)"),
    "dampening": ((lambda v: is_number(v) and 0 <= v <= 1), "a number in [0, 1]"),
    "weight_decay": ((lambda v: is_number(v) and v >= 0), "a number >= 0 (0 turns it off)"),
    "nesterov": _flag(),
    "eps": ((lambda v: is_number(v) and v > 0), "a number > 0"),
}
SCHEDULER: dict[str, Rule] = {
    "T_max": ((lambda v: is_int(v) and v >= 1), "an integer >= 1 (epochs of the cosine; by default the run's)"),
    "eta_min": ((lambda v: is_number(v) and v >= 0), "a number >= 0"),
}
GROUND_TRUTH: dict[str, Rule] = {
    "seeds": _count(1),
    "epochs": _count(1),
    "chunk": ((lambda v: is_int(v) and v >= 1), "an integer >= 1 (children trained side by side)"),
    "path": ((lambda v: v is None or (isinstance(v, str) and v != "")), "null or the path of a CSV table"),
}


def validate(cfg: DictConfig) -> None:
    """Raise ConfigError for the first value that cannot work. Top-level keys come first, then the trainer and the
    ground-truth recipe, whose epochs the schedules interpolate: `trainer.max_epochs=0` is named as itself, not as
    the `T_max` it feeds."""
    c = resolved(cfg)
    for group in GROUPS:
        options = sorted(p.stem for p in (CONF / group).glob("*.yaml"))
        require(isinstance(c.get(group), dict), group, c.get(group), f"one of {options}")
    check_top_level(c)
    check_rules(c["trainer"], "trainer", TRAINER)
    check_rules(c["ground_truth"], "ground_truth", GROUND_TRUTH)
    check_metric(c["ground_truth"])
    check_shards(c["ground_truth"])
    check_proxies(lookup(c, "proxies.names", None))
    for group in ("module", "ground_truth"):
        check_recipe(c[group], group)
    finetune = lookup(c, "finetune.optimizer", None)
    if isinstance(finetune, dict):  # null lr / weight_decay: the checkpoint's rate, the supernet's decay
        check_rules({k: v for k, v in finetune.items() if not (k in ("lr", "weight_decay") and v is None)},
                    "finetune.optimizer", OPTIMIZER)
    check_components(c)
    check_arguments(c)
    for key in ("paths.cache_dir", "paths.output_dir"):
        check_folder(key, lookup(c, key, None))


def resolved(cfg: DictConfig) -> dict[str, Any]:
    """The config as plain data, or a ConfigError naming a value whose interpolation does not resolve (`seed=${nope}`,
    `${oc.env:UNSET}`). `study` and `tags` go last: they spell out the overrides, so they would take the blame."""
    plain: dict[str, Any] = {}
    for key in sorted(cfg, key=lambda k: k in ("study", "tags")):
        try:
            node = cfg[key]
            plain[key] = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node
        except OmegaConfBaseException as e:
            where = e.full_key or key
            raise ConfigError(where, lookup(OmegaConf.to_container(cfg), where, None),
                              f"a value whose interpolations resolve ({str(e).splitlines()[0]})") from e
    return plain


def lookup(c: dict[str, Any], key: str, default: Any = ABSENT) -> Any:
    """The value at a dotted key of a plain config, or `default` where any part of it is missing."""
    for part in key.split("."):
        if not isinstance(c, dict) or part not in c:
            return default
        c = c[part]
    return c


def check_rules(node: dict[str, Any] | None, prefix: str, rules: dict[str, Rule]) -> None:
    """Apply the rules whose keys the node has (an optimizer or a trainer need not set every argument)."""
    if node is None:
        return
    for key, (ok, allowed) in rules.items():
        if key in node:
            require(ok(node[key]), f"{prefix}.{key}", node[key], allowed)


def check_top_level(c: dict[str, Any]) -> None:
    """Keys of conf/config.yaml itself, whatever the task: a value this task ignores is still a mistake, one the
    user would meet again with the task that reads it."""
    require_seed("seed", c.get("seed"))
    check_threads(c.get("threads", "auto"))
    require(isinstance(c.get("resume"), bool), "resume", c.get("resume"),
            "true (continue from this run folder's last checkpoint) or false")
    ckpt = c.get("ckpt_path")
    require(ckpt is None or (isinstance(ckpt, str) and ckpt != ""), "ckpt_path", ckpt,
            "null or the path of a Lightning checkpoint file")
    require(isinstance(c.get("study"), str) and c["study"] != "", "study", c.get("study"),
            "a non-empty name (the W&B group of the study's runs)")
    neutral = c.get("neutral")
    require(isinstance(neutral, list) and all(isinstance(g, str) and g for g in neutral), "neutral", neutral,
            "a list of globs on override keys whose values change no result, e.g. [seed, logger, logger.*]")
    tags = c.get("tags")
    require(tags is None or (isinstance(tags, list) and all(isinstance(t, str) for t in tags)), "tags", tags,
            "a list of strings, e.g. tags=[baseline,v2]")


def check_shards(recipe: dict[str, Any]) -> None:
    """task=ground_truth's seeds and this job's shard of the (seed, child) pairs."""
    shards = recipe.get("num_shards")
    require(is_int(shards) and shards >= 1, "ground_truth.num_shards", shards, "an integer >= 1")
    require(is_int(recipe.get("shard")) and 0 <= recipe["shard"] < shards, "ground_truth.shard", recipe.get("shard"),
            f"an integer in [0, {shards}) (ground_truth.num_shards={shards})")


def check_moved(overrides: Sequence[str]) -> None:
    """Before Hydra composes: a moved key names its new place; `proxies=<list or proxy>` (a list before the proxies
    group existed) names the group's presets and `proxies.names`."""
    presets = sorted(p.stem for p in (CONF / "proxies").glob("*.yaml"))
    for override in overrides:
        key, _, value = override.lstrip("+~").partition("=")
        if key in MOVED:
            raise ConfigError(key, value, f"a key that moved: write {MOVED[key]}={value}")
        if key == "proxies" and value and not set(value.split(",")) <= set(presets):
            raise ConfigError(key, value, f"a preset of conf/proxies ({', '.join(presets)}); to name proxies, "
                                          f"proxies.names=[{','.join(PROXIES)}]")


def check_proxies(proxies: Any) -> None:
    """`proxies.names=synflow` is one proxy (task=proxies reads it so); a list names each at most once."""
    names = [proxies] if isinstance(proxies, str) else proxies
    key = "proxies.names"
    require(isinstance(names, list) and len(names) > 0, key, proxies, f"a non-empty list of {list(PROXIES)}")
    for name in names:
        require(isinstance(name, str) and name in PROXIES, key, name, f"one of {list(PROXIES)}")
    require(len(set(names)) == len(names), key, names, "a list without repeated proxies")


def check_metric(recipe: dict[str, Any]) -> None:
    """The column that is the truth: any column of an imported table, one of ours otherwise."""
    metric = recipe.get("metric")
    if recipe.get("path") is None:
        require(metric in OWN_METRICS, "ground_truth.metric", metric,
                f"one of {list(OWN_METRICS)} (the accuracies task=ground_truth measures)")
    else:
        require(isinstance(metric, str) and metric != "", "ground_truth.metric", metric,
                f"a column of ground_truth.path, e.g. one of {list(ACCURACY_COLUMNS)}")


def check_recipe(node: dict[str, Any], prefix: str) -> None:
    """A training recipe (`module` or `ground_truth`): an optimizer to build, and an optional schedule."""
    optimizer, scheduler = node.get("optimizer"), node.get("scheduler")
    require(isinstance(optimizer, dict) and "_target_" in optimizer, f"{prefix}.optimizer", optimizer,
            "an optimizer with a _target_, e.g. torch.optim.SGD")
    check_rules(optimizer, f"{prefix}.optimizer", OPTIMIZER)
    if optimizer.get("nesterov"):
        require(optimizer.get("momentum", 0) > 0 and optimizer.get("dampening", 0) == 0,
                f"{prefix}.optimizer.nesterov", True, "false, unless momentum > 0 and dampening = 0 (torch's SGD)")
    require(scheduler is None or (isinstance(scheduler, dict) and "_target_" in scheduler), f"{prefix}.scheduler",
            scheduler, "null (a constant rate) or a schedule with a _target_")
    check_rules(scheduler, f"{prefix}.scheduler", SCHEDULER)


def check_components(c: dict[str, Any]) -> None:
    """Values of classes that take them unchecked: seeds, the MAGIC-A weight, sampler weights, sharing globs."""
    for key in SEEDS:
        if lookup(c, key) is not ABSENT:
            require_seed(key, lookup(c, key))
    weight = lookup(c, "module.align.weight", 0.0)
    require(is_number(weight) and weight >= 0, "module.align.weight", weight, "a number >= 0 (0 turns alignment off)")
    weights = lookup(c, "sampler.decision_weights", None)
    require(weights is None or (isinstance(weights, list) and all(is_number(w) for w in weights)),
            "sampler.decision_weights", weights, "null or a list of finite numbers >= 0, one per decision")
    patterns = lookup(c, "sharing.patterns", [])
    patterns = [patterns] if isinstance(patterns, str) else patterns
    require(isinstance(patterns, list) and all(isinstance(p, str) for p in patterns), "sharing.patterns", patterns,
            "a list of globs on unit names, e.g. [stem,'layers.*.conv*']")


def arguments(target: Any) -> set[str] | None:
    """The keyword arguments `target` accepts (for a class, along its `**kwargs` chain); None when any will do."""
    functions = [cls.__init__ for cls in target.__mro__] if isinstance(target, type) else [target]
    names: set[str] = set()
    for function in functions:
        try:
            params = inspect.signature(function).parameters.values()
        except (TypeError, ValueError):  # a builtin without a signature
            return None
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)} - {"self"}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return names
    return None


def check_arguments(node: Any, prefix: str = "") -> None:
    """Every `_target_` must be importable and take the keys its node sets (`+trainer.max_epoch=3`, or an optimizer
    swapped for one without `momentum`, would fail inside instantiate with a traceback)."""
    if not isinstance(node, dict):
        return
    if "_target_" in node:
        key = f"{prefix}_target_"
        try:
            target = get_object(node["_target_"])
        except Exception as e:  # ImportError, AttributeError, ValueError: all mean "no such object"
            raise ConfigError(key, node["_target_"], "an importable class or function") from e
        accepted = arguments(target)
        for name, value in node.items():
            if accepted is None or name.startswith("_") or name in accepted:
                continue
            close = difflib.get_close_matches(name, accepted, n=1)
            hint = f"; did you mean {close[0]}?" if close else f": one of {sorted(accepted)}"
            raise ConfigError(f"{prefix}{name}", value, f"an argument of {node['_target_']}{hint}")
    for name, value in node.items():
        check_arguments(value, f"{prefix}{name}.")


def check_folder(key: str, folder: Any) -> None:
    """A folder the run will write to must be one this user can create and write, checked by doing so."""
    require(isinstance(folder, str) and folder != "", key, folder, "a folder path")
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as e:
        raise ConfigError(key, folder, f"a folder this user can create and write ({e.strerror or e})") from e
