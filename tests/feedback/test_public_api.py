"""The curated public API of decayguard.feedback and decayguard.api does not drift."""

from __future__ import annotations

import doctest
import importlib

import pytest

import decayguard.api
import decayguard.feedback


def test_feedback_exports_are_sorted_resolvable_and_lazy() -> None:
    names = decayguard.feedback.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
    assert set(names) == set(decayguard.feedback._EXPORTS)
    for name in names:
        value = getattr(decayguard.feedback, name)
        module = importlib.import_module(decayguard.feedback._EXPORTS[name])
        assert value is getattr(module, name)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        decayguard.feedback.nope  # noqa: B018


def test_api_exports_the_app_factory() -> None:
    assert decayguard.api.__all__ == ["create_app"]
    assert callable(decayguard.api.create_app)


@pytest.mark.parametrize(
    "module",
    [
        "decayguard.feedback.sampling",
        "decayguard.feedback.estimates",
        "decayguard.feedback.labels",
        "decayguard.api.pages",
    ],
)
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
