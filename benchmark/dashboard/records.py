"""The records of a W&B run file (`run-<id>.wandb`), read without a network or W&B's service: what an offline run
logged is known before it is synced, so a dashboard can be built and checked against it.

The file is W&B's LevelDB-style log: a 7-byte header (`:W&B`, a 2-byte magic, a version byte), then 32 KiB blocks of
chunks, each a 7-byte header (CRC-32, length, type) and its bytes; a record is one FULL chunk or FIRST, MIDDLE..., LAST.
A block's tail too short for a chunk header, or a chunk of type 0, is padding. A file still being written may end
inside a record: the records up to there are returned."""
from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

MAGIC = b":W&B"
FILE_HEADER = 7
BLOCK = 32 * 1024
CHUNK = struct.Struct("<IHB")  # CRC-32, length, type
PADDING, FULL, FIRST, MIDDLE, LAST = 0, 1, 2, 3, 4


def read_records(path: Path) -> list[Any]:
    """The protobuf records (`wandb_internal_pb2.Record`) of one `.wandb` file, in order."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise ValueError(f"{path} is not a W&B run file (it does not start with {MAGIC!r})")
    records, pending, pos = [], b"", FILE_HEADER
    while pos + CHUNK.size <= len(data):
        room = BLOCK - pos % BLOCK
        if room < CHUNK.size:
            pos += room
            continue
        _, length, kind = CHUNK.unpack_from(data, pos)
        if kind == PADDING:
            pos += room
            continue
        start, pos = pos + CHUNK.size, pos + CHUNK.size + length
        if kind not in (FULL, FIRST, MIDDLE, LAST) or pos > len(data):
            break  # a chunk cut short: the end of what has been written
        pending = (b"" if kind in (FULL, FIRST) else pending) + data[start:pos]
        if kind in (FULL, LAST):
            record = pb.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records
