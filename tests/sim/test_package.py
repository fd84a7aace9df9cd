"""decayguard.sim: a curated API, runnable examples, and importable in the serving env."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import decayguard.sim

ROOT = Path(__file__).resolve().parents[2]
MODULES = [
    "decayguard.sim",
    "decayguard.sim.labels",
    "decayguard.sim.population",
    "decayguard.sim.reviewer",
    "decayguard.sim.targets",
    "decayguard.sim.traffic",
]


def test_all_is_sorted_and_complete() -> None:
    exported = decayguard.sim.__all__
    assert exported == sorted(exported)
    public = {
        name
        for name, value in vars(decayguard.sim).items()
        if not name.startswith("_") and not isinstance(value, type(sys))
    }
    assert public == set(exported)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize("venv", [".venv", ".venv-serve"])
def test_importing_the_simulator_pulls_in_no_control_plane_framework(venv: str) -> None:
    code = (
        "import sys, decayguard.sim;"
        "print(','.join(m for m in ('prefect', 'feast', 'mlflow', 'fastapi') if m in sys.modules))"
    )
    python = ROOT / venv / "bin" / "python"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
