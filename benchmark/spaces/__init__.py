"""Search spaces: enumeration, child names, Hamming distance and network builders."""
from benchmark.spaces.base import Arch, DataShape, SearchSpace
from benchmark.spaces.cells import CellSpace, DeeperInsightsSpace, NB201Space
from benchmark.spaces.chain import ChainSpace, LayeredSpace
from benchmark.spaces.transformer import TransformerSpace

__all__ = ["Arch", "CellSpace", "ChainSpace", "DataShape", "DeeperInsightsSpace", "LayeredSpace", "NB201Space", "SearchSpace", "TransformerSpace"]
