"""The Transformer space's blocks on (batch, d_model, length) or, inside a residual, (batch, length, d_model)."""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


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
