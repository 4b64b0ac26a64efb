"""Ship a ground-truth table with the benchmark: `python -m experiments.ground_truth.ship RUN_FOLDER`.

RUN_FOLDER is the folder of a finished `task=ground_truth` run. Its table is copied, byte for byte, into
`benchmark/tables/<hash>/` (the hash of its space, data and recipe, as in the cache), where every run with the same
space, data and recipe finds it (benchmark/ground_truth.py, `find`). The sidecar gains `made_with`: the command, the
build, the thread count and the hardware (the run's environment.json), so that a reader knows what the numbers can be
reproduced bit for bit with (same build, same threads) and what only statistically.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import yaml

from benchmark.ground_truth import SHIPPED, TABLE
from benchmark.io import write_json


def ship(run: Path, into: Path = SHIPPED) -> Path:
    sidecar = json.loads((run / TABLE).with_suffix(".json").read_text())
    environment = json.loads((run / "environment.json").read_text())
    overrides = yaml.safe_load((run / ".hydra" / "overrides.yaml").read_text())
    folder = into / sidecar["hash"]
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run / TABLE, folder / TABLE)
    rows = (run / TABLE).read_text().splitlines()[1:]
    seeds = sorted({int(r.split(",")[1]) for r in rows})
    # Where it ran and which shard of it this process trained do not describe the merged table
    given = [o for o in overrides if not o.startswith(("hydra.", "ground_truth.shard=", "ground_truth.num_shards="))]
    if not any(o.startswith("threads=") for o in given):  # the thread count it ran with, as the key that sets it
        given.append(f"threads={environment['threads']}")
    command = " ".join(["python run.py", *given])
    write_json(folder / TABLE.replace(".csv", ".json"),
               {**sidecar, "made_with": {"command": command, "seeds": seeds, "rows": len(rows), **environment}})
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="the folder of a finished task=ground_truth run")
    print(ship(parser.parse_args().run))


if __name__ == "__main__":
    main()
