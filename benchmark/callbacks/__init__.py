"""Callbacks: everything that reads the supernet during training and writes files."""
from benchmark.callbacks.checkpoint import EpochCheckpoint
from benchmark.callbacks.interference import InterferenceProbe
from benchmark.callbacks.pruning import Pruning
from benchmark.callbacks.ranking import RankingSnapshot

__all__ = ["EpochCheckpoint", "InterferenceProbe", "Pruning", "RankingSnapshot"]
