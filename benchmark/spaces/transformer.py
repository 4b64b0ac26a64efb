"""A small Transformer-encoder space: every layer picks attention, a feed-forward block or a convolution.

In the spirit of the BERT space of *Analyzing and Mitigating Interference in NAS* (Xu et al., ICML 2022), where
children that share an operator but differ elsewhere pull its weights in different directions. Scaled to MNIST-1D:
the input (batch, 1, 40) is read as a 40-step sequence of one feature.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.errors import is_int, require
from benchmark.spaces.base import MAX_WIDTH, DataShape
from benchmark.spaces.chain import LayeredSpace

DEFAULT_OPS = ("mha2", "ffn2", "conv3", "conv5")


class Embedding(nn.Module):
    """Token embedding plus a learned positional embedding (attention and feed-forward blocks are blind to position,
    and MNIST-1D digits are positional templates). A token is a window of `kernel` samples ('same' padding): one
    sample is too little for attention to match on (kernel 1 is a pure per-position embedding)."""

    def __init__(self, channels: int, d_model: int, length: int, kernel: int) -> None:
        super().__init__()
        self.proj = nn.Conv1d(channels, d_model, kernel, padding=kernel // 2)
        self.pos = nn.Parameter(0.02 * torch.randn(d_model, length))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x) + self.pos


class SelfAttention(nn.Module):
    """Multi-head self-attention on (B, L, C)."""

    def __init__(self, d_model: int, heads: int) -> None:
        super().__init__()
        self.mha = nn.MultiheadAttention(d_model, heads, batch_first=True)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.mha(h, h, h, need_weights=False)[0]


class SepConv(nn.Module):
    """Depthwise-separable convolution on (B, L, C): depthwise (kernel k, 'same' padding), GELU, pointwise."""

    def __init__(self, d_model: int, kernel: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv1d(d_model, d_model, kernel, padding=kernel // 2, groups=d_model)
        self.pointwise = nn.Conv1d(d_model, d_model, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.pointwise(F.gelu(self.depthwise(h.transpose(1, 2)))).transpose(1, 2)


class PreNormResidual(nn.Module):
    """x + f(LayerNorm(x)) on the (B, C, L) layout the other units use; f sees (B, L, C)."""

    def __init__(self, d_model: int, body: nn.Module) -> None:
        super().__init__()
        self.norm, self.body = nn.LayerNorm(d_model), body

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(self.norm(x.transpose(1, 2))).transpose(1, 2)


class Head(nn.Module):
    """Final LayerNorm (pre-norm blocks leave the residual stream unnormalised), mean over positions, linear."""

    def __init__(self, d_model: int, num_classes: int) -> None:
        super().__init__()
        self.norm, self.linear = nn.LayerNorm(d_model), nn.Linear(d_model, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.norm(x.transpose(1, 2)).mean(1))


#: op name -> (heads an attention op needs d_model to divide, or 1; factory from d_model).
BLOCK_OPS: dict[str, tuple[int, Callable[[int], nn.Module]]] = {
    **{f"mha{h}": (h, lambda d, h=h: SelfAttention(d, h)) for h in (1, 2, 4, 8)},
    **{f"ffn{r}": (1, lambda d, r=r: nn.Sequential(nn.Linear(d, r * d), nn.GELU(), nn.Linear(r * d, d)))
       for r in (1, 2, 4)},
    **{f"conv{k}": (1, lambda d, k=k: SepConv(d, k)) for k in (3, 5, 7)},
}


class TransformerSpace(LayeredSpace):
    """stem -> block[0] -> ... -> block[layers-1] -> head, every block x + op(LayerNorm(x)) on (B, d_model, L).

    A LayeredSpace like ChainSpace (units 'stem', 'layers.<i>.<op>', 'head'), so sharing policies, the prefix-tree
    evaluator and the interference probe work unchanged. The default, 4 ops over 3 layers, gives 4^3 = 64 children: the same
    count as the chain space, so rankings, S-Tau and ground-truth cost compare one to one. Its ops are one of each
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
