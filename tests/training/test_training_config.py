"""The training and registry sections of decayguard.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from decayguard.config import load_config
from decayguard.errors import ConfigError


def test_a_bad_cron_schedule_names_the_key_and_the_file(tmp_path: Path) -> None:
    (tmp_path / "decayguard.yaml").write_text("training:\n  schedule: '61 * * * *'\n")
    with pytest.raises(ConfigError, match=r"decayguard\.yaml: training\.schedule: .*cron"):
        load_config(tmp_path)


def test_training_defaults_retrain_on_decay_only(tmp_path: Path) -> None:
    cfg = load_config(tmp_path)
    assert cfg.training.schedule is None
    assert cfg.training.on_decay
    assert cfg.registry.tracking_uri is None
    (tmp_path / "decayguard.yaml").write_text("training:\n  schedule: '0 3 * * 1'\n")
    assert load_config(tmp_path).training.schedule == "0 3 * * 1"
