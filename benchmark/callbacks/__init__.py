"""Callbacks: everything that reads the supernet during training and writes files."""
from benchmark.callbacks.interference import InterferenceProbe
from benchmark.callbacks.ranking import RankingSnapshot

__all__ = ["InterferenceProbe", "RankingSnapshot"]
