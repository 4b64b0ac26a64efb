"""Atomic file output: a killed run leaves the old file or the new one, never half of one.

A write goes to a temporary file beside its target, named `.<target>.<host>.<pid>.<random>.tmp`, and is renamed onto
the target when complete. A writer killed before the rename leaves its temporary file behind; `remove_stale_temps`
removes those whose writer is dead and leaves those of live writers (e.g. a parallel shard) alone.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import socket
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

#: A temporary file whose writer cannot be checked (another host's, or one named before names carried the pid) is
#: stale once it is this old: writing one of our files takes seconds, not minutes.
STALE_AFTER_S = 10 * 60

_TEMP = re.compile(r"\..+\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>\d+)\.[a-z0-9_]{8}\.tmp")
_OLD_TEMP = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _host() -> str:
    """This machine's name as one token of a temporary file's name (no dots, which separate the tokens)."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{_host()}.{os.getpid()}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600: give the file the mode a plain open() would
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _is_stale(temp: Path) -> bool:
    """Whether `temp` is an `atomic_path` temporary file whose writer is gone: on this host, its pid is not running;
    otherwise (another host's, or an old name without a pid) it is older than STALE_AFTER_S."""
    match = _TEMP.fullmatch(temp.name)
    if match and match["host"] == _host():
        return not _alive(int(match["pid"]))
    return bool(match or _OLD_TEMP.fullmatch(temp.name)) and time.time() - temp.stat().st_mtime > STALE_AFTER_S


def remove_stale_temps(folder: Path) -> list[Path]:
    """Remove the temporary files that killed writers left directly in `folder` (not in its subfolders); those of
    writers still running, here or on another host sharing the folder, stay. Returns the files removed."""
    removed = []
    for temp in sorted(Path(folder).glob(".*.tmp")):
        try:
            if _is_stale(temp):
                temp.unlink()
                removed.append(temp)
        except FileNotFoundError:  # renamed by its writer or removed by another process meanwhile
            continue
    return removed


def write_csv(path: str | os.PathLike, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Write a CSV atomically; returns the SHA-256 of its bytes, for a manifest that vouches for this very file."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)
        return hashlib.sha256(tmp.read_bytes()).hexdigest()


def write_json(path: str | os.PathLike, data: Any) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
