"""Interference figures from the probe's records (interference.csv): computed where the probe runs (its end-of-run
line, W&B) and where reports aggregate runs, so both read the same numbers."""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from benchmark.records import INTERFERENCE_HEADER


def summarize(rows: list[tuple[Any, ...]] | list[dict[str, Any]]) -> dict[str, float]:
    """Mean gradient cosine per d, and Spearman correlations of gradient similarity with d and with input/output
    similarity, over all pairs and over pairs at layers >= 1 (at layer 0 both children see the stem's output, so input
    and output similarity are 1 by construction there)."""
    if rows and isinstance(rows[0], dict):
        rows = [tuple(r[k] for k in INTERFERENCE_HEADER) for r in rows]
    if len(rows) < 3:
        return {}
    layer, d, g, i, o = (np.array([float(r[k]) for r in rows]) for k in (1, 5, 6, 7, 8))
    out = {"probes": float(len(rows))}
    def spearman(x: np.ndarray, y: np.ndarray) -> float:  # undefined (nan) when either side is constant
        return float(stats.spearmanr(x, y).statistic) if np.ptp(x) > 0 and np.ptp(y) > 0 else float("nan")

    for name, x in (("d", d), ("input_cos", i), ("output_cos", o)):
        out[f"spearman_{name}_vs_grad_cos"] = spearman(x, g)
    deep = layer >= 1
    if deep.sum() >= 3:
        for name, x in (("input_cos", i), ("output_cos", o)):
            out[f"spearman_{name}_vs_grad_cos_layers_ge1"] = spearman(x[deep], g[deep])
    for k in sorted(set(d.tolist())):
        out[f"grad_cos_mean_d{int(k)}"] = float(g[d == k].mean())
    return out
