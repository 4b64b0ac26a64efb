"""Tables that papers published, shipped as package data with their provenance (README.md and JSON sidecars here)."""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
#: Deeper Insights (Zhang et al., 2020): every child of their 64-child space trained alone on CIFAR-10, 10 seeds.
DEEPER_INSIGHTS_GROUND_TRUTH = HERE / "deeper_insights_cifar10_ground_truth.csv"
#: One fully shared supernet of that paper: every child's test accuracy after each of the last 128 mini-batches.
DEEPER_INSIGHTS_SUPERNET_LAST128 = HERE / "deeper_insights_cifar10_supernet_last128.csv"
