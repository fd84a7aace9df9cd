"""Both arms on every request, without a server: routing, silent rows and their pairing,
per-arm metrics, and the prediction log's ``paired_id`` (spool lines, store, windows)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY, generate_latest

from decayguard.errors import ServiceError
from decayguard.registry import ArtifactManifest, ExportedModel, load_model
from decayguard.serving.arm_metrics import (
    ArmHealth,
    ArmRecorder,
    parse_arm_health,
    read_arm_health,
)
from decayguard.serving.logger import PredictionLogger
from decayguard.serving.routing import CHALLENGER, CHAMPION, Canary, ChampionOnly, Route, Shadow
from decayguard.serving.service import PredictionService
from decayguard.serving.settings import ArtifactPin, RuntimeSettings
from decayguard.serving.spool import decode_record, encode_record
from decayguard.serving.validation import TensorInput
from decayguard.store import create_store_engine, insert_predictions, read_window, upgrade
from decayguard.store.predictions import PredictionRecord, records_to_arrow
from decayguard.store.schema import prediction_batches

from .conftest import Artifacts
from .helpers import NUMERIC

# --- routing -------------------------------------------------------------------------


def test_shadow_and_canary_have_the_other_arm_score_silently() -> None:
    assert Shadow().route("k") == Route(CHAMPION, shadow=True)
    assert Shadow().route("k").silent == CHALLENGER
    assert ChampionOnly().route("k").silent is None
    canary = Canary(share=0.3)
    routes = [canary.route(f"applicant-{i}") for i in range(2000)]
    assert all(r.shadow for r in routes)
    assert {(r.answer, r.silent) for r in routes} == {
        (CHAMPION, CHALLENGER),
        (CHALLENGER, CHAMPION),
    }
    assert routes == [canary.route(f"applicant-{i}") for i in range(2000)]  # sticky


# --- the service, with an in-memory logger ------------------------------------------


class ListLogger(PredictionLogger):
    """Keeps logged rows in a list (no spool, no shipper)."""

    def __init__(self) -> None:  # deliberately not PredictionLogger's
        self.rows: list[PredictionRecord] = []

    def log(self, records: Sequence[PredictionRecord]) -> None:
        self.rows.extend(records)

    def close(self, timeout: float | None = None) -> bool:
        return True


def _model(folder: Path) -> ExportedModel:
    return load_model(folder, sha256=ArtifactManifest.read(folder).sha256)


def _pin(folder: Path) -> ArtifactPin:
    return ArtifactPin(path=str(folder), sha256=ArtifactManifest.read(folder).sha256)


def _service(
    artifacts: Artifacts, name: str, mode: str, share: float = 0.5, challenger: Any = None
) -> tuple[PredictionService, ListLogger]:
    settings = RuntimeSettings(
        champion=_pin(artifacts.v1),
        challenger=_pin(artifacts.v2),
        mode=mode,  # type: ignore[arg-type]
        canary_share=share,
        store_url="sqlite://",
        spool_dir="unused",
        entity_key="applicant_id",
    )
    logger = ListLogger()
    service = PredictionService(
        name, settings, _model(artifacts.v1), challenger or _model(artifacts.v2), logger
    )
    return service, logger


def _tensors(artifacts: Artifacts, rows: list[int], key: int | None = None) -> list[TensorInput]:
    frame = artifacts.frame.iloc[rows]
    n = len(rows)
    out = [TensorInput(c, "FP64", [n], frame[c].astype(float).tolist()) for c in NUMERIC]
    out.append(TensorInput("employment", "BYTES", [n], frame["employment"].tolist()))
    if key is not None:
        out.append(TensorInput("applicant_id", "INT64", [n], [key] * n))
    return out


def _predict(service: PredictionService, rid: str, tensors: list[TensorInput]) -> Any:
    return asyncio.run(service.predict(rid, tensors))


def _health(model: str) -> dict[str, ArmHealth]:
    return parse_arm_health(generate_latest(REGISTRY).decode(), model)


def test_shadow_rows_are_paired_with_the_answered_rows(artifacts: Artifacts) -> None:
    service, logger = _service(artifacts, "unit-shadow", "shadow")
    answer = _predict(service, "req-1", _tensors(artifacts, [0, 1, 2]))
    assert (answer.arm, answer.model_version) == ("champion", "1")
    by_id = {r.id: r for r in logger.rows}
    assert set(by_id) == {"req-1.0", "req-1.1", "req-1.2"} | {f"req-1.{i}:shadow" for i in range(3)}
    for i in range(3):
        answered, silent = by_id[f"req-1.{i}"], by_id[f"req-1.{i}:shadow"]
        assert (answered.arm, answered.model_version, answered.paired_id) == ("champion", "1", None)
        assert (silent.arm, silent.model_version, silent.paired_id) == ("shadow", "2", answered.id)
        assert (silent.inclusion_prob, silent.review_sampled) == (0.0, False)
        assert silent.inputs == answered.inputs
    health = _health("unit-shadow")
    assert (health["1"].requests, health["2"].requests) == (1, 1)
    assert health["1"].p99_ms is not None
    assert health["1"].p99_ms > 0


def test_canary_scores_every_request_with_both_versions(artifacts: Artifacts) -> None:
    service, logger = _service(artifacts, "unit-canary", "canary", share=0.5)
    canary = Canary(0.5)
    for key in range(30):
        answer = _predict(service, f"c-{key}", _tensors(artifacts, [key], key=key))
        expected = canary.route(str(key)).answer
        assert answer.arm == expected
        assert answer.model_version == ("2" if expected == CHALLENGER else "1")
    by_id = {r.id: r for r in logger.rows}
    assert len(by_id) == 60
    answered_by = []
    for key in range(30):
        answered, silent = by_id[f"c-{key}"], by_id[f"c-{key}:shadow"]
        answered_by.append(answered.arm)
        assert {answered.model_version, silent.model_version} == {"1", "2"}
        assert silent.arm == "shadow"
        assert silent.paired_id == answered.id
        assert silent.entity_key == answered.entity_key == str(key)
        assert silent.inclusion_prob == 0.0
    assert {"champion", "challenger"} == set(answered_by)
    health = _health("unit-canary")
    assert (health["1"].requests, health["2"].requests) == (30, 30)
    assert (health["1"].errors, health["2"].errors) == (0, 0)


class _Broken:
    """A model whose scoring raises like a bug would (not an input problem)."""

    def __init__(self, real: ExportedModel) -> None:
        self.manifest = real.manifest
        self.folder = real.folder
        self.model = self

    def predict_scores(self, frame: Any) -> Any:
        raise RuntimeError("the model is broken")

    def score_columns(self, scores: Any) -> Any:  # pragma: no cover - never reached
        raise AssertionError


def test_a_failing_silent_model_never_fails_the_request(artifacts: Artifacts) -> None:
    broken = _Broken(_model(artifacts.v2))
    service, logger = _service(artifacts, "unit-broken", "shadow", challenger=broken)
    answer = _predict(service, "b-1", _tensors(artifacts, [4]))
    assert (answer.arm, answer.model_version) == ("champion", "1")
    assert [r.id for r in logger.rows] == ["b-1"]
    health = _health("unit-broken")
    assert (health["2"].requests, health["2"].errors, health["2"].p99_ms) == (1, 1, None)
    assert health["2"].error_rate == 1.0
    assert (health["1"].requests, health["1"].errors) == (1, 0)


def test_a_failing_answering_model_is_counted_as_its_error(artifacts: Artifacts) -> None:
    broken = _Broken(_model(artifacts.v2))
    service, logger = _service(artifacts, "unit-broken-canary", "canary", 1.0, challenger=broken)
    with pytest.raises(RuntimeError, match="broken"):
        _predict(service, "b-2", _tensors(artifacts, [4], key=9))
    assert logger.rows == []
    assert _health("unit-broken-canary")["2"].errors == 1


def test_state_reports_what_the_instance_serves(artifacts: Artifacts) -> None:
    canary, _ = _service(artifacts, "unit-state", "canary", share=0.25)
    assert canary.state() == {
        "champion_version": "1",
        "challenger_version": "2",
        "mode": "canary",
        "canary_share": 0.25,
    }
    shadow, _ = _service(artifacts, "unit-state", "shadow", share=0.25)
    assert shadow.state()["canary_share"] == 0.0
    alone, _ = _service(artifacts, "unit-state", "champion")
    assert alone.state() == {
        "champion_version": "1",
        "challenger_version": None,
        "mode": "champion",
        "canary_share": 0.0,
    }


# --- metrics parsing -----------------------------------------------------------------


def test_p99_is_interpolated_within_its_bucket_like_histogram_quantile() -> None:
    lines = []
    for arm, counts in (("answered", (90, 99, 100)), ("silent", (0, 0, 100))):
        for le, c in zip(("0.001", "0.002", "+Inf"), counts, strict=True):
            lines.append(
                f'decayguard_arm_scoring_seconds_bucket{{model="m",version="7",arm="{arm}",'
                f'le="{le}"}} {c}'
            )
        lines.append(f'decayguard_arm_scorings_total{{model="m",version="7",arm="{arm}"}} 100')
    lines.append('decayguard_arm_scoring_errors_total{model="m",version="7",arm="silent"} 4')
    lines.append('decayguard_arm_scorings_total{model="other",version="7",arm="silent"} 50')
    health = parse_arm_health("\n".join(lines) + "\n", "m")
    # 200 scorings: 90 below 1 ms, 99 below 2 ms, the rest beyond: rank 198 is past 2 ms.
    assert health == {"7": ArmHealth("7", requests=200, errors=4, p99_ms=2.0)}
    one = parse_arm_health("\n".join(lines[:3]) + "\n", "m")["7"]
    assert one.p99_ms == pytest.approx(1.0 + (99 - 90) / 9)  # rank 99 at the top of bucket 2
    assert parse_arm_health("", "m") == {}


def test_recorders_of_one_label_set_share_their_series() -> None:
    ArmRecorder("unit-shared", "3", "answered").scored(0.0004)
    ArmRecorder("unit-shared", "3", "answered").scored(0.0004)
    health = _health("unit-shared")["3"]
    assert (health.requests, health.errors) == (2, 0)
    assert health.p99_ms is not None
    assert 0.25 < health.p99_ms <= 0.5


def test_an_unreachable_metrics_endpoint_is_a_service_error() -> None:
    with pytest.raises(ServiceError, match="cannot read serving metrics"):
        read_arm_health("http://127.0.0.1:1/metrics", "m", timeout=0.5)


# --- paired_id in the log ------------------------------------------------------------

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def _record(i: int, **kw: Any) -> PredictionRecord:
    fields: dict[str, Any] = {
        "id": f"p-{i}",
        "ts": T0 + timedelta(seconds=i),
        "model_name": "m",
        "model_version": "1",
        "arm": "champion",
        "inputs": {"x": float(i)},
    }
    return PredictionRecord(**{**fields, **kw})


def test_a_spool_line_without_paired_id_still_parses() -> None:
    old = (
        b'{"id":"old-1","ts":"2026-05-01T00:00:00+00:00","model_name":"m","model_version":"1",'
        b'"arm":"shadow","inputs":{"x":1.0},"outputs":{},"prediction":"0","score":0.2,'
        b'"inclusion_prob":0.0,"review_sampled":false,"entity_key":null}\n'
    )
    record = decode_record(old)
    assert (record.id, record.arm, record.paired_id) == ("old-1", "shadow", None)
    assert PredictionRecord.from_json(old).paired_id is None
    paired = _record(1, arm="shadow", paired_id="p-0")
    assert decode_record(encode_record(paired)) == paired
    assert PredictionRecord.from_json(paired.to_json()) == paired


def test_paired_id_is_stored_and_in_the_window_meta_old_batches_give_null(
    tmp_path: Path,
) -> None:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    try:
        # A batch logged before paired_id existed: its Arrow payload has no such column.
        insert_predictions(engine, [_record(0), _record(1)])
        old_payload = records_to_arrow([_record(0), _record(1)]).drop_columns(["paired_id"])
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, old_payload.schema) as writer:
            writer.write_table(old_payload)
        with engine.begin() as conn:
            conn.execute(sa.update(prediction_batches).values(payload=sink.getvalue().to_pybytes()))
        only_old = read_window(engine, "m", T0, T0 + timedelta(days=1)).meta()
        assert only_old["paired_id"].isna().all()

        insert_predictions(
            engine, [_record(2), _record(3, arm="shadow", paired_id="p-2")]
        )  # fmt: skip
        with engine.connect() as conn:
            narrow = dict(conn.execute(sa.text("SELECT id, paired_id FROM predictions")).all())
        assert narrow == {"p-0": None, "p-1": None, "p-2": None, "p-3": "p-2"}
        meta = read_window(engine, "m", T0, T0 + timedelta(days=1)).meta()
        assert meta["prediction_id"].tolist() == ["p-0", "p-1", "p-2", "p-3"]
        assert meta["paired_id"].isna().tolist() == [True, True, True, False]
        assert meta["paired_id"].iloc[3] == "p-2"
    finally:
        engine.dispose()
