"""The curated public API and the executed docstring examples."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import decayguard.monitoring as monitoring


def test_all_is_sorted_and_exactly_the_public_names() -> None:
    # isort-style, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions
    order = sorted(
        monitoring.__all__, key=lambda n: (0 if n.isupper() else 1 if n[0].isupper() else 2, n)
    )
    assert monitoring.__all__ == order
    public = {name for name in vars(monitoring) if not name.startswith("_")}
    modules = {m.name for m in pkgutil.iter_modules(monitoring.__path__)}
    assert set(monitoring.__all__) == public - modules


@pytest.mark.parametrize(
    "module", sorted(m.name for m in pkgutil.iter_modules(monitoring.__path__))
)
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"decayguard.monitoring.{module}"))
    assert result.failed == 0


def test_monitoring_errors_are_decayguard_errors() -> None:
    from decayguard.errors import DecayguardError

    assert issubclass(monitoring.MonitoringError, DecayguardError)
    assert issubclass(monitoring.ProfileError, ValueError)
    assert issubclass(monitoring.SchemaMismatchError, KeyError)
