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


def test_readme_python_examples_run() -> None:
    from pathlib import Path

    readme = Path(__file__).resolve().parents[1] / "README.md"
    parser = doctest.DocTestParser()
    test = parser.get_doctest(readme.read_text(), {}, "README.md", str(readme), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert test.examples, "the README has Python examples"
    assert runner.failures == 0
