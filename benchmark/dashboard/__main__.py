"""A study's W&B dashboards: a workspace and a Report, generated from what its runs logged.

`python -m benchmark.dashboard SOURCE...` reads the W&B runs of SOURCE - folders holding them (a sweep, with its
report's runs in report/wandb; a study spread over sweeps: each, and its report's folder) or a W&B project
`entity/project` - and builds, with wandb-workspaces:

  - a workspace of those runs grouped by study (their W&B group), with sections for ranking quality, stability,
    training, interference and proxies;
  - a Report laid out like the paper: the variance table, the per-epoch plots, the variants side by side with the
    ground truth's ceiling and the random floor, the final rankings.

Every panel reads a key some run logged (benchmark/dashboard/catalogue.py lists them). The specification - the
library's own model of both, as JSON - is written to --out (default: beside the first folder's report,
SOURCE/report/dashboard) without a network; a report writes it itself, with the command that publishes it. With
--publish, or WANDB_MODE=online in the environment, both are saved to W&B under --entity (default: your key's) and
--project (default: the runs' project) and their URLs printed; the runs must be there first (`wandb sync` an offline
study's runs, as the command says).
"""
from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path

from benchmark.dashboard import produce
from benchmark.dashboard.logged import DashboardError, LoggedRun, from_folders, from_project
from benchmark.dashboard.publish import PublishError, default_name, default_out, online

PROJECT = re.compile(r"^[\w.-]+/[\w.-]+$")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmark.dashboard", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sources", nargs="+", help="folders holding W&B runs (a sweep; several for a study spread "
                                                   "over sweeps, with its report's folder), or one W&B project "
                                                   "entity/project")
    parser.add_argument("--out", type=Path, help="where the specification goes (default: SOURCE/report/dashboard for "
                                                 "the first folder; for a W&B project ./dashboard/<entity>/<project>)")
    parser.add_argument("--name", help="the study's name in titles (default: the first folder's or the project's)")
    parser.add_argument("--publish", action="store_true", help="save the workspace and report to W&B (also when "
                                                               "WANDB_MODE=online)")
    parser.add_argument("--entity", default="", help="W&B entity to save to (default: the one of your key)")
    parser.add_argument("--project", default="", help="W&B project to save to (default: the runs' project)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = args.out or default_out(args.sources)
    try:
        for line in produce(_runs(args.sources), args.sources, args.name or default_name(args.sources), out,
                            args.entity, args.project, to_wandb=args.publish or online()):
            print(line)
    except DashboardError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2)  # a usage error, as argparse reports its own
    except PublishError as e:
        print(f"error: {e}; the specification is in {out}", file=sys.stderr)
        raise SystemExit(1)


def _runs(sources: list[str]) -> list[LoggedRun]:
    """The runs of folders, or of one W&B project; anything else is refused, naming it."""
    if all(Path(s).is_dir() for s in sources):
        return from_folders([Path(s) for s in sources])
    if len(sources) == 1 and PROJECT.match(sources[0]):
        return from_project(sources[0])
    bad = next((s for s in sources if not Path(s).is_dir()), sources[0])
    raise DashboardError(f"source {bad!r} is neither a folder nor a W&B project: give sweep folders (e.g. "
                         "multirun/<sweep>) or one entity/project")


if __name__ == "__main__":
    main()
