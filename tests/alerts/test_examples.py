"""The alert modules' docstring examples run (tests/test_doctests.py covers the config)."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", ["decayguard.alerts.backoff", "decayguard.alerts.links"])
def test_the_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
