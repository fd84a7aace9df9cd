"""The docstring examples of the serving and registry modules run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "decayguard.registry.export",
    "decayguard.serving.arm_metrics",
    "decayguard.serving.routing",
    "decayguard.serving.validation",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
