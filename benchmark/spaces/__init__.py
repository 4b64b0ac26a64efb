"""Search spaces: enumeration, child names, Hamming distance and network builders."""
from benchmark.spaces.base import Arch, DataShape, SearchSpace
from benchmark.spaces.chain import ChainSpace

__all__ = ["Arch", "ChainSpace", "DataShape", "SearchSpace"]
