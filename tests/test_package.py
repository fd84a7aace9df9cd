"""The public API: curated, sorted, complete; and the package stays light to import."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import decayguard

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_PACKAGES = [
    "decayguard",
    "decayguard.alerts",
    "decayguard.features",
    "decayguard.feedback",
    "decayguard.monitoring",
    "decayguard.registry",
    "decayguard.serving",
    "decayguard.sim",
    "decayguard.store",
    "decayguard.watch",
]


def isort_style(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps ``__all__`` in: CONSTANTS, then Classes, then functions."""
    if name.isupper() and len(name) > 1:
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


@pytest.mark.parametrize("name", PUBLIC_PACKAGES)
def test_all_is_sorted_complete_and_importable(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert exported in (sorted(exported), sorted(exported, key=isort_style)), (
        f"{name}.__all__ is not sorted"
    )
    assert len(set(exported)) == len(exported)
    for attr in exported:
        assert hasattr(module, attr), f"{name}.{attr} is in __all__ but missing"
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and not isinstance(v, type(sys))  # submodules are not members
        and callable(v)
        and getattr(v, "__module__", "").startswith("decayguard")
    }
    assert public <= set(exported), f"{name} has public names missing from __all__: " + str(
        sorted(public - set(exported))
    )


def test_version_matches_the_distribution() -> None:
    from importlib.metadata import version

    assert decayguard.__version__ == version("decayguard")


def test_importing_the_core_pulls_in_no_control_plane_framework() -> None:
    code = (
        "import sys, decayguard, decayguard.store, decayguard.config;"
        "bad=[m for m in ('prefect','feast','mlflow','fastapi') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_serving_env_imports_the_store_without_prefect_feast_or_mlflow() -> None:
    python = ROOT / ".venv-serve" / "bin" / "python"
    code = (
        "import importlib.util as u, decayguard.store;"
        "print([m for m in ('prefect','feast','mlflow') if u.find_spec(m)])"
    )
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
