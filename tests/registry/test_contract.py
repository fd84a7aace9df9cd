"""The ModelRegistry contract, run on the in-memory twin and on MLflow (SQLite)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from decayguard.errors import ArtifactError
from decayguard.registry import load_model
from decayguard.registry.interface import (
    CHALLENGER_ALIAS,
    CHAMPION_ALIAS,
    TAG_STATUS,
    TAG_TRIGGER,
    Exporter,
    ModelRegistry,
    RunRecord,
)
from tests.registry.conftest import MODEL

Make = Callable[[], Exporter]
Run = Callable[[str], RunRecord]


def test_empty_registry(registry: ModelRegistry) -> None:
    assert registry.versions(MODEL) == []
    assert registry.by_alias(MODEL, CHAMPION_ALIAS) is None
    registry.delete_alias(MODEL, CHAMPION_ALIAS)  # no error when nothing is set
    with pytest.raises(ArtifactError, match="no registered version"):
        registry.get(MODEL, "1")


def test_register_versions_and_move_aliases(
    registry: ModelRegistry, make_exporter: Make, run_record: Run
) -> None:
    first = registry.register(MODEL, make_exporter(), run_record("drift"), alias=CHAMPION_ALIAS)
    assert (first.version, first.aliases, first.status) == ("1", (CHAMPION_ALIAS,), "ready")
    assert first.trigger == "drift"
    assert first.lineage_hash == "ab" * 32
    assert first.sha256 is not None
    assert len(first.sha256) == 64
    assert first.params == {"C": "1.0", "penalty": "l2", "max_iter": "100", "note": "None"}
    assert first.metrics == {"accuracy": 0.9, "roc_auc": 0.95}
    assert first.run_id

    second = registry.register(
        MODEL, make_exporter(), run_record("schedule"), alias=CHALLENGER_ALIAS
    )
    assert (second.version, second.aliases, second.trigger) == (
        "2",
        (CHALLENGER_ALIAS,),
        "schedule",
    )
    assert second.run_id != first.run_id
    assert second.created_at >= first.created_at

    registry.set_alias(MODEL, CHAMPION_ALIAS, "2")  # the champion moves
    champion = registry.by_alias(MODEL, CHAMPION_ALIAS)
    assert champion is not None
    assert champion.version == "2"
    assert champion.aliases == (CHALLENGER_ALIAS, CHAMPION_ALIAS)
    assert registry.get(MODEL, "1").aliases == ()

    listed = registry.versions(MODEL)
    assert [v.version for v in listed] == ["1", "2"]
    assert [v.aliases for v in listed] == [(), (CHALLENGER_ALIAS, CHAMPION_ALIAS)]
    assert [v.tags[TAG_TRIGGER] for v in listed] == ["drift", "schedule"]
    assert listed[0].metrics == {"accuracy": 0.9, "roc_auc": 0.95}
    assert listed[1].params["penalty"] == "l2"

    registry.delete_alias(MODEL, CHALLENGER_ALIAS)
    registry.delete_alias(MODEL, CHALLENGER_ALIAS)
    assert registry.by_alias(MODEL, CHALLENGER_ALIAS) is None
    assert registry.get(MODEL, "2").aliases == (CHAMPION_ALIAS,)

    with pytest.raises(ArtifactError):
        registry.set_alias(MODEL, CHAMPION_ALIAS, "9")
    with pytest.raises(ArtifactError):
        registry.get(MODEL, "not-a-number")


def test_failing_exporter_tags_failed_and_sets_no_alias(
    registry: ModelRegistry, make_exporter: Make, run_record: Run
) -> None:
    registry.register(MODEL, make_exporter(), run_record("drift"), alias=CHALLENGER_ALIAS)
    boom = ArtifactError("the export broke")

    def failing(version: str) -> Path:
        raise boom

    with pytest.raises(ArtifactError) as caught:
        registry.register(MODEL, failing, run_record("schedule"), alias=CHALLENGER_ALIAS)
    assert caught.value is boom  # the exporter's own error, unchanged

    def crashing(version: str) -> Path:
        raise RuntimeError("bug in the exporter")

    with pytest.raises(RuntimeError, match="bug in the exporter"):
        registry.register(MODEL, crashing, run_record("manual"), alias=CHALLENGER_ALIAS)

    statuses = [(v.version, v.status, v.aliases) for v in registry.versions(MODEL)]
    assert statuses == [
        ("1", "ready", (CHALLENGER_ALIAS,)),
        ("2", "failed", ()),
        ("3", "failed", ()),
    ]
    assert registry.get(MODEL, "2").tags[TAG_STATUS] == "failed"
    challenger = registry.by_alias(MODEL, CHALLENGER_ALIAS)
    assert challenger is not None
    assert challenger.version == "1"
    assert registry.lineage(MODEL, "2") == {}


def test_download_loads_with_the_pinned_hash(
    registry: ModelRegistry, make_exporter: Make, run_record: Run, tmp_path: Path
) -> None:
    registry.register(MODEL, make_exporter(), run_record("drift"), alias=None)
    record = registry.register(MODEL, make_exporter(), run_record("schedule"), alias=None)
    assert record.sha256 is not None
    dest = tmp_path / "downloads" / "v2"
    folder = registry.download(MODEL, record.version, dest)
    assert folder == dest
    assert (folder / "manifest.json").is_file()
    exported = load_model(folder, sha256=record.sha256)
    assert exported.manifest.model_version == "2"
    assert exported.manifest.model_name == MODEL
    assert registry.download(MODEL, "2", dest) == dest  # an existing folder is replaced
    with pytest.raises(ArtifactError):
        registry.download(MODEL, "7", tmp_path / "nothing")


def test_lineage_round_trip(registry: ModelRegistry, make_exporter: Make, run_record: Run) -> None:
    registry.register(MODEL, make_exporter(), run_record("drift"), alias=None)
    assert registry.lineage(MODEL, "1") == {
        "trigger": "drift",
        "rows": 60,
        "window": ["2026-01-01", "x"],
    }
    with pytest.raises(ArtifactError):
        registry.lineage(MODEL, "5")


def test_version_tags_and_reports_attach_to_the_version(
    registry: ModelRegistry, make_exporter: Make, run_record: Run
) -> None:
    record = registry.register(MODEL, make_exporter(), run_record("drift"), alias=None)
    registry.set_version_tag(MODEL, record.version, "gate", "failed")
    registry.log_report(
        MODEL,
        record.version,
        "gate.json",
        {"passed": False, "reason": "worse"},
        {"gate_delta": -0.03},
    )
    again = registry.get(MODEL, record.version)
    assert again.tags["gate"] == "failed"
    assert again.metrics["gate_delta"] == pytest.approx(-0.03)
    assert again.metrics["accuracy"] == pytest.approx(0.9)  # earlier metrics stay
    with pytest.raises(ArtifactError):
        registry.set_version_tag(MODEL, "9", "gate", "passed")
