"""The code passes the linter (ruff, configured in pyproject.toml), so `pytest` - what CI runs - also lints."""
import subprocess
import sys

from tests.conftest import ROOT


def test_the_code_passes_ruff():
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=ROOT, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
