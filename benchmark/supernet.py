"""The supernet: every unit of the space, in as many copies as the sharing policy asks for.

One implementation serves every sharing degree: a child's forward is the composition of the copies its route names,
where the route is the space's path with each unit resolved to a copy by the policy.
"""
from __future__ import annotations

from typing import Iterator

import torch
from torch import nn

from benchmark.errors import require
from benchmark.sharing import SharingPolicy
from benchmark.spaces import DataShape, SearchSpace

Route = tuple[tuple[str, int], ...]
#: Beyond these a supernet would not fit in memory or take minutes to build (e.g. no sharing on 15,625 NB201 cells).
MAX_COPIES, MAX_PARAMETERS = 50_000, 2 ** 28


class Supernet(nn.Module):
    """Holds unit copies under their dotted unit names: parameter 'layers.0.conv3.2.0.weight' is copy 2 of
    unit 'layers.0.conv3'. Only copies some child uses are allocated."""

    def __init__(self, space: SearchSpace, sharing: SharingPolicy, shape: DataShape) -> None:
        super().__init__()
        space.check_data(shape)
        sharing.bind(space)
        self.space, self.sharing, self.shape = space, sharing, shape
        owners: dict[str, dict[int, int]] = {u: {} for u in space.unit_names()}
        routes = []
        for child, arch in enumerate(space.children()):
            route = []
            for unit in space.path(arch):
                copies = owners[unit]
                route.append((unit, copies.setdefault(sharing.owner(child, unit), len(copies))))
            routes.append(tuple(route))
        self.routes: list[Route] = routes
        _check_size(space, sharing, shape, owners)
        self._units: dict[tuple[str, int], nn.Module] = {}
        for unit, copies in owners.items():
            if not copies:
                continue
            bank = nn.ModuleList(space.build_unit(unit, shape) for _ in copies)
            self._install(unit, bank)
            for copy, module in enumerate(bank):
                self._units[(unit, copy)] = module

    def _install(self, unit: str, bank: nn.ModuleList) -> None:
        *parents, leaf = unit.split(".")
        container: nn.Module = self
        for part in parents:
            if part not in container._modules:
                container.add_module(part, nn.ModuleDict())
            container = container._modules[part]
        container.add_module(leaf, bank)

    @property
    def num_children(self) -> int:
        return len(self.routes)

    def unit(self, unit: str, copy: int) -> nn.Module:
        return self._units[(unit, copy)]

    def child_modules(self, child: int) -> list[nn.Module]:
        return [self._units[key] for key in self.routes[child]]

    def child_parameters(self, child: int) -> Iterator[nn.Parameter]:
        for module in self.child_modules(child):
            yield from module.parameters()

    def forward(self, x: torch.Tensor, child: int, features: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Logits of `child`; with `features`, also append the output of every layer before the head to it."""
        route = self.routes[child]
        return self.space.run(x, lambda k, h: self._units[route[k]](h), features)


def _check_size(space: SearchSpace, sharing: SharingPolicy, shape: DataShape, owners: dict[str, dict[int, int]]) -> None:
    copies = sum(len(c) for c in owners.values())
    with torch.random.fork_rng(devices=[]):  # counting builds units: leave the seeded weight init untouched
        params = sum(len(c) * sum(p.numel() for p in space.build_unit(u, shape).parameters())
                     for u, c in owners.items() if c)
    require(copies <= MAX_COPIES and params <= MAX_PARAMETERS, "sharing", type(sharing).__name__,
            f"a policy that needs at most {MAX_COPIES:,} unit copies and {MAX_PARAMETERS:,} parameters; on this space "
            f"({space.num_children:,} children) it needs {copies:,} copies and {params:,} parameters - share more "
            "(e.g. sharing=partial with fewer groups)")
