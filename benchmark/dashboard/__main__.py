"""A study's W&B dashboards: a workspace and a Report, generated from what its runs logged.

`python -m benchmark.dashboard SOURCE` reads the W&B runs of SOURCE - a folder holding them (a sweep, with its
report's runs in report/wandb) or a W&B project `entity/project` - and builds, with wandb-workspaces:

  - a workspace of those runs grouped by study (their W&B group), with sections for ranking quality, stability,
    training, interference and proxies;
  - a Report laid out like the paper: the variance table, the per-epoch plots, the variants side by side with the
    ground truth's ceiling and the random floor, the final rankings.

Every panel reads a key some run logged (benchmark/dashboard/catalogue.py lists them). The specification - the
library's own model of both, as JSON - is written to --out (default: SOURCE/report/dashboard, beside the report)
without a network. With --publish, or WANDB_MODE=online in the environment, both are saved to W&B under --entity
(default: your key's) and --project (default: the runs' project) and their URLs printed; the runs must be there
first (`wandb sync` an offline study's runs, as the command says).
"""
from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path

from benchmark.dashboard import produce, study_name
from benchmark.dashboard.logged import DashboardError, from_folders, from_project
from benchmark.dashboard.publish import PublishError, online

PROJECT = re.compile(r"^[\w.-]+/[\w.-]+$")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmark.dashboard", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="a folder holding W&B runs (a sweep) or a W&B project entity/project")
    parser.add_argument("--out", type=Path, help="where the specification goes (default: SOURCE/report/dashboard; "
                                                 "for a W&B project ./dashboard/<entity>/<project>)")
    parser.add_argument("--name", help="the study's name in titles (default: the folder's or the project's name)")
    parser.add_argument("--publish", action="store_true", help="save the workspace and report to W&B (also when "
                                                               "WANDB_MODE=online)")
    parser.add_argument("--entity", default="", help="W&B entity to save to (default: the one of your key)")
    parser.add_argument("--project", default="", help="W&B project to save to (default: the runs' project)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    folder = Path(args.source)
    try:
        if folder.is_dir():
            runs, name, out = from_folders([folder]), study_name(folder), args.out or folder / "report" / "dashboard"
        elif PROJECT.match(args.source):
            runs, name = from_project(args.source), args.source.split("/")[1]
            out = args.out or Path("dashboard", *args.source.split("/"))
        else:
            raise DashboardError(f"source {args.source!r} is neither a folder nor a W&B project: give a sweep folder "
                                 "(e.g. multirun/<sweep>) or entity/project")
        for line in produce(runs, args.source, args.name or name, out, args.entity, args.project,
                            to_wandb=args.publish or online()):
            print(line)
    except DashboardError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2)  # a usage error, as argparse reports its own
    except PublishError as e:
        print(f"error: {e}; the specification is in {out}", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
