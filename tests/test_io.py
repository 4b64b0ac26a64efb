"""Atomic outputs: the temporary files of killed writers are removed on the next start, those of live writers never."""
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmark.io import atomic_path, remove_stale_temps, write_csv

ROOT = Path(__file__).resolve().parents[1]
WRITER = """import os, sys
from benchmark.io import atomic_path
with atomic_path(sys.argv[1]) as tmp:
    print(tmp, flush=True)
    {then}
"""


def killed_writer(target: Path) -> Path:
    """The temporary file a writer SIGKILLed inside `atomic_path(target)` leaves behind."""
    proc = subprocess.run([sys.executable, "-c", WRITER.format(then="os.kill(os.getpid(), 9)"), str(target)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    return Path(proc.stdout.strip())


def test_a_killed_writer_leaves_a_temp_that_the_next_start_removes(tmp_path):
    temp = killed_writer(tmp_path / "t.csv")
    assert temp.parent == tmp_path and temp.stat().st_size == 0 and not (tmp_path / "t.csv").exists()
    write_csv(tmp_path / "kept.csv", ["a"], [[1]])
    assert remove_stale_temps(tmp_path) == [temp]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.csv"]


def test_the_temp_of_a_writer_still_running_stays(tmp_path):
    """A parallel shard writing into the same folder is left alone, and its rename still lands."""
    writer = subprocess.Popen([sys.executable, "-c", WRITER.format(then="open(tmp, 'w').write(sys.stdin.read())"),
                               str(tmp_path / "t.csv")], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    temp = Path(writer.stdout.readline().strip())
    try:
        assert temp.exists() and remove_stale_temps(tmp_path) == [] and temp.exists()
    finally:
        writer.communicate("done", timeout=60)
    assert writer.returncode == 0 and (tmp_path / "t.csv").read_text() == "done" and not temp.exists()
    with atomic_path(tmp_path / "u.csv") as mine:  # this process's own write in progress
        assert remove_stale_temps(tmp_path) == [] and mine.exists()


def test_temps_whose_writer_cannot_be_asked_are_removed_once_old(tmp_path):
    """Another host's temp (a cache folder shared by cluster jobs) or one named before names carried the pid."""
    other_host = tmp_path / f".t.csv.another-host.{os.getpid()}.ab12cd34.tmp"
    unnamed = tmp_path / ".t.csv.ab12cd34.tmp"
    not_ours = [tmp_path / ".t.tmp", tmp_path / "t.csv.ab12cd34.tmp", tmp_path / "t.csv"]
    for path in (other_host, unnamed, *not_ours):
        path.touch()
    assert remove_stale_temps(tmp_path) == []
    hour_ago = time.time() - 3600
    for path in (other_host, unnamed, *not_ours):
        os.utime(path, (hour_ago, hour_ago))
    assert sorted(remove_stale_temps(tmp_path)) == sorted([other_host, unnamed])
    assert all(path.exists() for path in not_ours)
    assert remove_stale_temps(tmp_path / "nowhere") == []
