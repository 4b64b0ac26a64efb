"""A small Transformer-encoder space: every layer picks attention, a feed-forward block or a convolution.

In the spirit of the BERT space of *Analyzing and Mitigating Interference in NAS* (Xu et al., ICML 2022), where
children that share an operator but differ elsewhere pull its weights in different directions. Scaled to MNIST-1D:
the input (batch, 1, 40) is read as a 40-step sequence of one feature.
"""
from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from benchmark.errors import is_int, require
from benchmark.spaces.base import MAX_WIDTH, DataShape
from benchmark.spaces.chain import LayeredSpace
from benchmark.spaces.ops.transformer import BLOCK_OPS, Embedding, Head, PreNormResidual

DEFAULT_OPS = ("mha2", "ffn2", "conv3", "conv5")


class TransformerSpace(LayeredSpace):
    """stem -> block[0] -> ... -> block[layers-1] -> head, every block x + op(LayerNorm(x)) on (B, d_model, L).

    A LayeredSpace like ChainSpace (units 'stem', 'layers.<i>.<op>', 'head'), so sharing policies, the prefix-tree
    evaluator and the interference probe work unchanged. The default, 4 ops over 3 layers, gives 4^3 = 64 children: the
    same count as the chain space, so rankings, S-Tau and ground-truth cost compare one to one. Its ops are one of each
    kind - global mixing (mha2), none (ffn2), local mixing (conv3, conv5) - with two conv widths so that some pairs
    of ops differ only slightly. There is no BatchNorm (LayerNorm keeps no running statistics), so BatchNorm
    re-calibration before ranking is a no-op for this space. Sequences only: `check_data` refuses images.
    """

    def __init__(self, layers: int = 3, ops: Sequence[str] = DEFAULT_OPS, d_model: int = 32,
                 stem_kernel: int = 5) -> None:
        super().__init__(layers, ops, BLOCK_OPS)
        require(is_int(d_model) and 1 <= d_model <= MAX_WIDTH, "search_space.d_model", d_model,
                f"an integer from 1 to {MAX_WIDTH:,}")
        for op in self.ops:
            heads = BLOCK_OPS[op][0]
            require(d_model % heads == 0, "search_space.d_model", d_model,
                    f"a multiple of {heads}, the number of heads of {op}")
        require(is_int(stem_kernel) and stem_kernel >= 1 and stem_kernel % 2 == 1, "search_space.stem_kernel",
                stem_kernel, "an odd integer >= 1 (the sequence keeps its length)")
        self.d_model, self.stem_kernel = d_model, stem_kernel

    def check_data(self, shape: DataShape) -> None:
        super().check_data(shape)
        require(self.stem_kernel <= shape.length, "search_space.stem_kernel", self.stem_kernel,
                f"at most the data's length ({shape.length}): a token is a window of the sequence")

    def build_unit(self, unit: str, shape: DataShape) -> nn.Module:
        if unit == "stem":
            return Embedding(shape.channels, self.d_model, shape.length, self.stem_kernel)
        if unit == "head":
            return Head(self.d_model, shape.num_classes)
        _, _, op = unit.split(".")
        return PreNormResidual(self.d_model, BLOCK_OPS[op][1](self.d_model))
