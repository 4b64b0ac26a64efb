"""Memory of every sharing degree on the default space: parameters allocated, and the peak tensor memory of training
(parameters, buffers, momentum, gradients, saved activations), counted rather than sampled from the process, so that
the figures are exact and not drowned by the interpreter's own footprint."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from benchmark.sharing import FullSharing, KeywordSharing, NoSharing, PartialSharing, PrefixSharing
from benchmark.supernet import Supernet
from experiments.perf.recipe import Recipe


def sharing_memory(recipe: Recipe) -> list[dict[str, float]]:
    """Parameters and buffers each sharing degree allocates for the default space (copies only where used)."""
    policies = {"full": FullSharing(), "partial m=4 similarity": PartialSharing(4, "similarity"),
                "partial m=16 random": PartialSharing(16, "random"), "prefix k=0": PrefixSharing(0),
                "prefix k=2": PrefixSharing(2), "keyword convs shared": KeywordSharing(["stem", "layers.*.conv*"]),
                "none": NoSharing()}
    rows = []
    for name, policy in policies.items():
        net = Supernet(recipe.space(), policy, recipe.shape)
        rows.append({"policy": name, "parameters": sum(p.numel() for p in net.parameters()),
                     "bytes": sum(t.numel() * t.element_size() for t in [*net.parameters(), *net.buffers()]),
                     "copies": len({copy for route in net.routes for copy in route})})  # every copy is on a route
    return rows


def training_memory(recipe: Recipe, steps: int = 8) -> dict[str, dict[str, int]]:
    """Peak tensor memory of training each sharing degree on the default space, in bytes, by kind: parameters and
    buffers the supernet allocates, SGD momentum (for every copy trained so far), the gradients of one step, and the
    activations saved for its backward (unique storages, counted as autograd saves them)."""
    shape = recipe.shape
    x, y = torch.randn(128, *shape.input_size), torch.randint(shape.num_classes, (128,))
    policies = {"full": FullSharing(), "partial m=4": PartialSharing(4), "partial m=16": PartialSharing(16),
                "prefix k=2": PrefixSharing(2), "none": NoSharing()}
    out = {}
    for name, policy in policies.items():
        torch.manual_seed(recipe.cfg.seed)
        space = recipe.space()
        net = Supernet(space, policy, shape)
        optimizer = recipe.optimizer(params=net.parameters())
        sampler = recipe.sampler(space)
        saved: dict[int, int] = {}

        def pack(t: torch.Tensor) -> torch.Tensor:
            storage = t.untyped_storage()
            saved[storage.data_ptr()] = storage.nbytes()
            return t

        grads = 0
        for _ in range(steps):
            optimizer.zero_grad(set_to_none=True)
            saved.clear()
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                loss = F.cross_entropy(net(x, sampler.sample()[0]), y)
            loss.backward()
            grads = max(grads, sum(p.grad.nbytes for p in net.parameters() if p.grad is not None))
            optimizer.step()
        params = sum(p.nbytes for p in net.parameters())
        buffers = sum(b.nbytes for b in net.buffers())
        momentum = sum(st["momentum_buffer"].nbytes for st in optimizer.state.values() if "momentum_buffer" in st)
        activations = sum(saved.values())
        out[name] = {"parameters": params, "buffers": buffers, "momentum": momentum, "gradients": grads,
                     "activations": activations, "peak": params + buffers + momentum + grads + activations}
    return out
