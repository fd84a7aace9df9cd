"""Executed examples: the docstring examples of the public modules run as doctests."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["decayguard.config"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
