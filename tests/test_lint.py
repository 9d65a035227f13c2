"""The Python of the project passes ruff with the configuration in pyproject.toml ([tool.ruff])."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def ruff() -> list[str]:
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if exe is None:
        pytest.fail("ruff is not installed: scripts/setup.sh --test installs the test extra (make test does)")
    return [exe]


def test_ruff_is_clean():
    r = subprocess.run([*ruff(), "check", "--no-cache", str(ROOT)], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_ruff_would_catch_a_problem(tmp_path):
    """The check can fail: the same configuration on a file with an unused import and an undefined name."""
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n\n\ndef f():\n    return undefined_name\n")
    r = subprocess.run([*ruff(), "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"), str(bad)],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 1 and "F401" in r.stdout and "F821" in r.stdout
