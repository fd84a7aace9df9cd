"""release_champion: export, baseline from the exported artifact, model settings, deployment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from decayguard.config import load_config
from decayguard.errors import InputValidationError
from decayguard.registry import sha256_file
from decayguard.release import release_champion
from decayguard.sim import FEATURE_NAMES, LoanScenario, train_model
from decayguard.store import active_version, create_store_engine, read_audit
from decayguard.watch import load_baseline
from decayguard.watch.run import check_ready


@pytest.fixture(scope="module")
def history():  # type: ignore[no-untyped-def]
    return LoanScenario(seed=11, requests_per_day=300).simulate().reference_frame()


def _project(root: Path) -> Path:
    numeric = [f for f in FEATURE_NAMES if f != "employment"]
    root.mkdir(parents=True, exist_ok=True)
    (root / "decayguard.yaml").write_text(
        yaml.safe_dump(
            {
                "model": {
                    "name": "credit-default",
                    "target": "default",
                    "features": [{"name": f} for f in numeric]
                    + [{"name": "employment", "dtype": "category"}],
                }
            }
        )
    )
    return root


def test_release_puts_a_version_in_service_and_under_watch(tmp_path: Path, history) -> None:  # type: ignore[no-untyped-def]
    cfg = load_config(_project(tmp_path / "p"))
    cut = int(len(history) * 0.7)
    model = train_model(history.iloc[:cut])
    release = release_champion(cfg, model, history.iloc[cut:], version="7", drift_reference=history)
    assert release.sha256 == sha256_file(next(release.artifact_folder.glob("model.*")))
    assert 0.8 < (release.reference_accuracy or 0) <= 1.0
    baseline = load_baseline(cfg.path(".decayguard"), "credit-default", "7")
    assert baseline.features.n_rows_ == len(history)
    assert baseline.estimator is not None
    settings = cfg.path(".decayguard/models/credit-default/model-settings.json")
    block = json.loads(settings.read_text())["parameters"]["extra"]["decayguard"]
    assert block["champion"]["sha256"] == release.sha256
    engine = create_store_engine(cfg.resolved_store_url)
    assert active_version(engine, "credit-default") == "7"
    assert read_audit(engine, "credit-default")[-1]["action"] == "deployment.activated"
    engine.dispose()
    check_ready(cfg)  # the monitor finds the champion and its baseline


def test_release_without_the_label_column_names_it(tmp_path: Path, history) -> None:  # type: ignore[no-untyped-def]
    cfg = load_config(_project(tmp_path / "p"))
    model = train_model(history)
    with pytest.raises(InputValidationError, match="'default'"):
        release_champion(cfg, model, history.drop(columns=["default"]), version="1")
