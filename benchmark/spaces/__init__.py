"""Search spaces: enumeration, child names, Hamming distance and network builders (their ops in `ops/`)."""
from benchmark.shape import DataShape
from benchmark.spaces.base import Arch, Child, SearchSpace
from benchmark.spaces.cells import CellSpace
from benchmark.spaces.chain import ChainSpace, LayeredSpace
from benchmark.spaces.deeper_insights import DeeperInsightsSpace
from benchmark.spaces.nb201 import NB201Space
from benchmark.spaces.transformer import TransformerSpace

__all__ = ["Arch", "CellSpace", "ChainSpace", "Child", "DataShape", "DeeperInsightsSpace", "LayeredSpace", "NB201Space",
           "SearchSpace", "TransformerSpace"]
