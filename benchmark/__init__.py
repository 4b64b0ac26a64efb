"""A benchmark for weight sharing in neural architecture search.

The package follows one data flow: a search space enumerates children, a sharing policy decides which copy of each
weight a child uses, a sampler picks the child of every training step, the supernet module trains, and callbacks
snapshot the ranking of every child after every epoch.
"""

import benchmark.variants  # noqa: E402,F401  (registers ${variant:...}, which conf/config.yaml's `study` uses)
