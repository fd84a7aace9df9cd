"""Which form a model gets its input in, and that both forms give the same answer."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from decayguard.config import FeatureSpec
from decayguard.registry import ArtifactManifest, export_model, load_model
from decayguard.serving.inputs import ArrayInput, FrameInput, input_builder_for
from decayguard.serving.spool import decode_record, encode_record
from decayguard.store.predictions import PredictionRecord

from .conftest import Artifacts
from .helpers import applicants


def test_an_all_float_model_fitted_on_a_frame_gets_matrices_with_the_same_answers(
    tmp_path: Path,
) -> None:
    frame, label = applicants(300, seed=9)
    numeric = frame[["income", "debt_ratio", "age"]]
    model = LogisticRegression(max_iter=300).fit(numeric, label)
    manifest = export_model(
        model, tmp_path / "m", model_name="m", model_version="1", reference=numeric
    )
    exported = load_model(tmp_path / "m", sha256=manifest.sha256)
    builder = input_builder_for(exported)
    assert isinstance(builder, ArrayInput)
    columns = {c: numeric[c].tolist() for c in numeric.columns}
    with warnings.catch_warnings(record=True) as caught:  # the filters in force, recorded
        scores = exported.model.predict_scores(builder.build(manifest.features, columns))
    assert caught == []  # scikit-learn's feature-name warning does not reach the logs
    np.testing.assert_allclose(scores, model.predict_proba(numeric))


def test_a_model_with_string_features_gets_a_frame(artifacts: Artifacts) -> None:
    exported = load_model(artifacts.v1, sha256=ArtifactManifest.read(artifacts.v1).sha256)
    assert isinstance(input_builder_for(exported), FrameInput)


def test_frames_carry_the_schema_dtypes() -> None:
    features = [
        FeatureSpec(name="f"),
        FeatureSpec(name="i", dtype="int"),
        FeatureSpec(name="n", dtype="int", nullable=True),
        FeatureSpec(name="c", dtype="category"),
        FeatureSpec(name="b", dtype="bool"),
    ]
    frame = FrameInput().build(
        features, {"f": [1.0], "i": [2], "n": [None], "c": ["x"], "b": [True]}
    )
    assert list(frame.columns) == ["f", "i", "n", "c", "b"]
    assert [str(t) for t in frame.dtypes] == ["float64", "int64", "float64", "object", "bool"]
    assert pd.isna(frame.loc[0, "n"])


def test_spool_lines_round_trip_and_match_the_store_format() -> None:
    from datetime import UTC, datetime

    record = PredictionRecord(
        id="r-1",
        ts=datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
        model_name="m",
        model_version="3",
        arm="shadow",
        inputs={"x": np.float64(1.5), "c": "a", "missing": None},
        outputs={"proba_1": 0.25},
        prediction="0",
        score=0.25,
        inclusion_prob=0.0,
        entity_key="42",
    )
    line = encode_record(record)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert decode_record(line) == decode_record(record.to_json().encode())
    assert decode_record(line).inputs == {"x": 1.5, "c": "a", "missing": None}
