"""docs/configuration.md is generated from the config's field docstrings and kept current."""

from __future__ import annotations

import doctest
import subprocess
import sys
from pathlib import Path

import pytest

import decayguard.config_reference as reference
from decayguard.config import DecayguardConfig
from decayguard.config_reference import (
    REGENERATE_COMMAND,
    config_keys,
    config_reference,
    undocumented_keys,
)
from decayguard.task_metrics import THRESHOLD_METRICS

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_the_committed_reference_is_current() -> None:
    assert DOC.read_text() == config_reference(), (
        f"docs/configuration.md is stale: regenerate it with `{REGENERATE_COMMAND}`"
    )


def test_every_section_and_key_has_a_docstring() -> None:
    missing = undocumented_keys()
    assert not missing, (
        f"config fields without a docstring (write one under the field in "
        f"src/decayguard/config.py, then run `{REGENERATE_COMMAND}`): {', '.join(missing)}"
    )


def test_every_key_of_every_section_is_listed_with_type_default_and_meaning() -> None:
    text = config_reference()
    keys = {k.key for k in config_keys()}
    for section, info in DecayguardConfig.model_fields.items():
        if info.exclude:
            continue
        assert f"## `{section}`" in text
        model = info.annotation
        assert isinstance(model, type)
        for name in model.model_fields:
            assert f"{section}.{name}" in keys
            assert f"| `{section}.{name}` |" in text
    assert "| `model.features[].dtype` | one of `float`, `int`, `category`, `bool` |" in text
    assert "| `monitoring.window_hours` | float, > 0 | `24.0` | Length of the window" in text
    assert "root" not in {k.key.split(".")[-1] for k in config_keys()}


def test_the_thresholds_table_lists_each_tasks_metrics_and_defaults() -> None:
    text = config_reference()
    for task, metrics in THRESHOLD_METRICS.items():
        (row,) = [line for line in text.splitlines() if line.startswith(f"| `{task}` |")]
        for metric in metrics:
            assert f"`{metric}`" in row
    assert "`accuracy: 0.75`" in text
    (regression,) = [line for line in text.splitlines() if line.startswith("| `regression` |")]
    assert regression.endswith("| none |")
    assert "`mae` (lower is better)" in regression


def test_the_reference_ignores_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    before = config_reference()
    monkeypatch.setenv("DECAYGUARD_MONITORING__PERFORMANCE_THRESHOLDS", '{"f1": 0.5}')
    monkeypatch.setenv("DECAYGUARD_MONITORING__WINDOW_HOURS", "3")
    assert config_reference() == before


def test_the_regenerate_command_prints_plain_markdown_to_a_pipe(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "decayguard.config_reference"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env={"COLUMNS": "40", "FORCE_COLOR": "1", "PATH": ""},
    )
    assert out.stdout == config_reference()
    assert "\x1b[" not in out.stdout


def test_the_module_examples_run() -> None:
    result = doctest.testmod(reference, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
