"""DataShape: what a network needs to know about its data, in a module of its own so that data modules and search
spaces both use it without importing each other."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DataShape:
    """What a network needs to know about its data: input channels, sequence length (image width), number of
    classes, and for images their height. 1-D data is (channels, length); images are (channels, height, length)."""

    channels: int
    length: int
    num_classes: int
    height: int | None = None

    @property
    def dims(self) -> int:
        """1 for sequences, 2 for images: which Conv/BatchNorm/pooling a space builds."""
        return 1 if self.height is None else 2

    @property
    def input_size(self) -> tuple[int, ...]:
        """One example's tensor shape."""
        return (self.channels, self.length) if self.height is None else (self.channels, self.height, self.length)
