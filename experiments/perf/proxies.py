"""Training-free proxies: seconds to score all children of the default space, per proxy, and FreeFlow on all 15,625
NAS-Bench-201 cells."""
from __future__ import annotations

import time

from benchmark.proxies import PROXIES, freeflow, score_children
from experiments.perf.recipe import Recipe
from experiments.perf.spaces import IMAGES


def proxy_speed(recipe: Recipe) -> dict[str, float]:
    dm, space = recipe.data, recipe.space()
    x, y = dm.splits["val"].tensors
    out = {}
    for proxy in PROXIES:
        start = time.perf_counter()
        score_children(space, range(space.num_children), dm.shape, [proxy], (x[:128], y[:128]))
        out[proxy] = time.perf_counter() - start
    nb201 = recipe.but("search_space=nb201").space()
    start = time.perf_counter()
    freeflow(nb201, IMAGES)
    out["freeflow_nb201_all_15625"] = time.perf_counter() - start
    return out
