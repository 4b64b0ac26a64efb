"""Where a dashboard goes: its specification, the JSON of the library's own model (`View` for the workspace,
`ReportViewspec` for the report, as `save()` would send them), written without a network; and W&B, when asked."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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


def sync_patterns(source: Path) -> list[str]:
    """Shell patterns covering the offline runs under `source`, one per folder depth (`<sweep>/*/wandb/offline-run-*`
    for a sweep)."""
    depths = {len(f.parent.parent.parent.relative_to(source).parts) for f in run_files(source)
              if f.parent.name.startswith("offline-run-")}
    return [str(Path(source, *["*"] * d, "wandb", "offline-run-*")) for d in sorted(depths)]


def how_to_publish(source: str, project: str) -> str:
    """What publishes the dashboard: upload the offline runs under `source`, if any, then build it again for W&B."""
    command = f"python -m benchmark.dashboard {source} --publish"
    patterns = sync_patterns(Path(source)) if Path(source).is_dir() else []
    if not patterns:  # a W&B project, or runs that streamed online: they are on W&B already
        return f"to publish it: {command}"
    return (f"to publish it: wandb sync --entity E --project {project} {' '.join(patterns)}; then {command} "
            f"--entity E --project {project} (E: your W&B entity)")
