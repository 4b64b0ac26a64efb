"""A benchmark for weight sharing in neural architecture search.

The package follows one data flow: a search space enumerates children, a sharing policy decides which copy of each
weight a child uses, a sampler picks the child of every training step, the supernet module trains, and callbacks
snapshot the ranking of every child after every epoch.
"""

from pathlib import Path

#: The Hydra configs (conf/ beside the package): defined before the import below, which reads it.
CONF = Path(__file__).resolve().parents[1] / "conf"

import benchmark.variants  # noqa: E402,F401  (registers ${variant:...}, which conf/config.yaml's `study` uses)
