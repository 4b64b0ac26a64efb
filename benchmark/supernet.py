"""The supernet: every unit of the space, in as many copies as the sharing policy asks for.

One implementation serves every sharing degree: a child's forward is the composition of the copies its route names,
where the route is the space's path with each unit resolved to a copy by the policy.

Under a tensor-level policy a unit gets one copy per distinct tuple of its tensors' owners, and a tensor whose owner is
the same in several copies is one object registered in all of them (tied): parameters() lists it once, so the
optimizer holds one state for it; state_dict() lists it under every copy's key, and loading copies into it in place,
so ties survive checkpoints. BatchNorm updates its statistics in place, so tied statistics stay tied in training; a
device or dtype move (`.to()`, `.double()`) re-ties what it would otherwise split (`_apply`).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Hashable, Iterator

import torch
from torch import nn

from benchmark.errors import require
from benchmark.sharing import SharingPolicy, TensorRef
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
        # Tensor-level policies see every unit's tensors; built with the RNG forked, so seeded weights stay the same.
        tensors = _tensors(space, shape) if sharing.tensor_level else {}
        if sharing.tensor_level:
            sharing.bind_tensors({u: [t.ref for t in ts] for u, ts in tensors.items()})
        names = {u: [t.ref.name for t in ts] for u, ts in tensors.items()}
        # Copy key: the unit's owner, or under a tensor-level policy the tuple of its tensors' owners.
        owners: dict[str, dict[Hashable, int]] = {u: {} for u in space.unit_names()}
        routes = []
        for child, arch in enumerate(space.children()):
            route = []
            for unit in space.path(arch):
                copies = owners[unit]
                key = sharing.tensor_owners(child, unit, names[unit]) if tensors else sharing.owner(child, unit)
                route.append((unit, copies.setdefault(key, len(copies))))
            routes.append(tuple(route))
        self.routes: list[Route] = routes
        _check_size(space, sharing, shape, owners, tensors)
        self._units: dict[tuple[str, int], nn.Module] = {}
        self._ties: list[list[tuple[nn.Module, str, bool]]] = []  # (holder module, attribute, is parameter) per tie
        for unit, copies in owners.items():
            if not copies:
                continue
            bank = nn.ModuleList(space.build_unit(unit, shape) for _ in copies)
            if tensors:  # one supernet whose per-child tensors all start from its one initial value (the authors')
                for module in bank[1:]:
                    module.load_state_dict(bank[0].state_dict())
                self._tie(bank, list(copies), tensors[unit])
            self._install(unit, bank)
            for copy, module in enumerate(bank):
                self._units[(unit, copy)] = module

    def _tie(self, bank: nn.ModuleList, keys: list[tuple[int, ...]], tensors: list["_Tensor"]) -> None:
        """Make copies whose keys give tensor i the same owner hold one tensor object: the first such copy's."""
        for i, t in enumerate(tensors):
            holders: dict[int, list[nn.Module]] = {}
            for key, module in zip(keys, bank):
                holders.setdefault(key[i], []).append(module.get_submodule(t.path))
            for group in holders.values():
                if len(group) > 1:
                    tie = [(m, t.attr, t.is_parameter) for m in group]
                    self._ties.append(tie)
                    _retie(tie)

    def _apply(self, fn, recurse: bool = True):  # type: ignore[override]
        # nn.Module._apply replaces every buffer (and, on some conversions, every parameter) module by module, which
        # would give each copy its own converted tensor: point the tied ones back at one.
        super()._apply(fn, recurse)
        for tie in self._ties:
            _retie(tie)
        return self

    def tied_keys(self) -> list[list[str]]:
        """Groups of state_dict keys that name one tensor object (two or more each), in state_dict order."""
        groups: dict[int, list[str]] = {}
        for key, value in self.state_dict(keep_vars=True).items():
            groups.setdefault(id(value), []).append(key)
        return [keys for keys in groups.values() if len(keys) > 1]

    def child_state_keys(self, child: int) -> set[str]:
        """Every state_dict key whose tensor `child` uses: the keys of its copies and, where a tensor is tied, the keys
        of the other copies holding it. A step on `child` may change only these."""
        used = {id(t) for m in self.child_modules(child) for t in itertools.chain(m.parameters(), m.buffers())}
        return {k for k, v in self.state_dict(keep_vars=True).items() if id(v) in used}

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


@dataclass(frozen=True)
class _Tensor:
    """One tensor of a unit: what the policy sees (`ref`) and where it lives (submodule path, attribute)."""

    ref: TensorRef
    path: str
    attr: str
    is_parameter: bool
    numel: int


def _tensors(space: SearchSpace, shape: DataShape) -> dict[str, list[_Tensor]]:
    """Every unit's parameters and buffers in module order ('<unit>.<path>', state_dict order with non-persistent
    buffers too), from one throwaway build of each unit with the RNG forked."""
    out = {}
    with torch.random.fork_rng(devices=[]):
        for unit in space.unit_names():
            out[unit] = [
                _Tensor(TensorRef(f"{unit}.{path}.{attr}" if path else f"{unit}.{attr}", type(module).__name__),
                        path, attr, is_parameter, tensor.numel())
                for path, module in space.build_unit(unit, shape).named_modules()
                for is_parameter, members in ((True, module._parameters), (False, module._buffers))
                for attr, tensor in members.items() if tensor is not None]
    return out


def _retie(tie: list[tuple[nn.Module, str, bool]]) -> None:
    first, attr, is_parameter = tie[0]
    tensor = (first._parameters if is_parameter else first._buffers)[attr]
    for module, _, _ in tie[1:]:
        (module._parameters if is_parameter else module._buffers)[attr] = tensor


def _check_size(space: SearchSpace, sharing: SharingPolicy, shape: DataShape, owners: dict[str, dict[Hashable, int]],
                tensors: dict[str, list[_Tensor]]) -> None:
    """Refuse a policy that needs too many copies or parameters; tied parameters count once."""
    copies = sum(len(c) for c in owners.values())
    if tensors:  # one parameter per distinct owner of it
        params = sum(t.numel * len({key[i] for key in c}) for u, c in owners.items() if c
                     for i, t in enumerate(tensors[u]) if t.is_parameter)
    else:
        with torch.random.fork_rng(devices=[]):  # counting builds units: leave the seeded weight init untouched
            params = sum(len(c) * sum(p.numel() for p in space.build_unit(u, shape).parameters())
                         for u, c in owners.items() if c)
    require(copies <= MAX_COPIES and params <= MAX_PARAMETERS, "sharing", type(sharing).__name__,
            f"a policy that needs at most {MAX_COPIES:,} unit copies and {MAX_PARAMETERS:,} parameters; on this space "
            f"({space.num_children:,} children) it needs {copies:,} copies and {params:,} parameters - share more "
            "(e.g. sharing=partial with fewer groups)")
