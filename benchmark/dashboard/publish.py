"""Where a dashboard goes: its specification, the JSON of the library's own model (`View` for the workspace,
`ReportViewspec` for the report, as `save()` would send them), written without a network; and W&B, when asked."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from benchmark.dashboard.logged import run_files
from benchmark.io import write_json

FILES = ("workspace.json", "report.json")


class PublishError(RuntimeError):
    """W&B refused or could not be reached; the specification is written all the same."""


def specification(view: Any) -> dict[str, Any]:
    """A workspace's or report's model as JSON data, the way `save()` serialises it (aliases, no nulls)."""
    return view._to_model().model_dump(mode="json", by_alias=True, exclude_none=True)


def write_specification(out: Path, workspace: Any, report: Any) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / name for name in FILES]
    for path, view in zip(paths, (workspace, report)):
        write_json(path, specification(view))
    return paths


def online() -> bool:
    """Whether the environment asks for W&B online (`WANDB_MODE=online`), as the runs' loggers read it."""
    return os.environ.get("WANDB_MODE") == "online"


def default_entity() -> str:
    """The entity of the W&B key in use (needs the network and a key)."""
    import wandb

    try:
        return wandb.Api().default_entity
    except Exception as e:  # noqa: BLE001 - no key, no network: W&B's own errors vary
        raise PublishError(f"no W&B entity to save to ({type(e).__name__}: {e}): `wandb login` (or WANDB_API_KEY), "
                           "or pass --entity") from e


def save(workspace: Any, report: Any) -> list[str]:
    """Save both to W&B; their URLs."""
    try:
        workspace.save()
        report.save()
        return [workspace.url, report.url]
    except Exception as e:  # noqa: BLE001 - the network, the key, a project that is not there
        raise PublishError(f"W&B did not save the dashboard ({type(e).__name__}: {e}); are the runs synced to "
                           f"{workspace.entity}/{workspace.project}?") from e


def default_out(sources: Sequence[str]) -> Path:
    """Where the specification goes unless told: beside the first folder's report (a W&B project's: ./dashboard)."""
    first = Path(sources[0])
    return first / "report" / "dashboard" if first.is_dir() else Path("dashboard", *sources[0].split("/"))


def default_name(sources: Sequence[str]) -> str:
    """The study's name unless told: its first folder's (the sweep's, also when given its report folder), or the
    W&B project's."""
    first = Path(sources[0])
    if not first.is_dir():
        return sources[0].split("/")[-1]
    first = first.resolve()
    return first.parent.name if first.name == "report" else first.name


def sync_patterns(source: Path) -> list[str]:
    """Shell patterns covering the offline runs under `source`, one per folder depth (`<sweep>/*/wandb/offline-run-*`
    for a sweep)."""
    depths = {len(f.parent.parent.parent.relative_to(source).parts) for f in run_files(source)
              if f.parent.name.startswith("offline-run-")}
    return [str(Path(source, *["*"] * d, "wandb", "offline-run-*")) for d in sorted(depths)]


def sync_command(sources: Sequence[str], entity: str, project: str) -> str:
    """`wandb sync` of the offline runs under the folders in `sources` into `entity`/`project` ('' if none)."""
    patterns = [p for source in sources if Path(source).is_dir() for p in sync_patterns(Path(source))]
    return f"wandb sync --entity {entity} --project {project} {' '.join(patterns)}" if patterns else ""


def unsynced(sources: Sequence[str]) -> int:
    """How many offline runs under the folders in `sources` `wandb sync` has not uploaded (it leaves a `.synced` file
    beside each run file it has)."""
    return sum(1 for source in sources if Path(source).is_dir() for f in run_files(Path(source))
               if f.parent.name.startswith("offline-run-") and not f.with_name(f.name + ".synced").exists())


def how_to_publish(sources: Sequence[str], out: Path, name: str, project: str) -> str:
    """What publishes the dashboard: upload the offline runs under `sources`, if any, then the command that built it,
    with --publish."""
    command = " ".join(["python -m benchmark.dashboard", *sources,
                        *(["--out", str(out)] if out != default_out(sources) else []),
                        *(["--name", name] if name != default_name(sources) else []), "--publish"])
    sync = sync_command(sources, "E", project)
    if not sync:  # a W&B project, or runs that streamed online: they are on W&B already
        return f"to publish it: {command}"
    return f"to publish it: {sync}; then {command} --entity E --project {project} (E: your W&B entity)"
