"""Exported artifacts: round trips, the SHA-256 pin, no unpickling, schema checks."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from decayguard.config import FeatureSpec
from decayguard.errors import ArtifactError
from decayguard.registry import ArtifactManifest, export_model, infer_features, load_model

from .conftest import Artifacts
from .helpers import SCHEMA, applicants, sklearn_pipeline


def test_sklearn_pipeline_round_trips_through_skops(tmp_path: Path) -> None:
    frame, label = applicants(400, seed=3)
    pipe = sklearn_pipeline().fit(frame, label)
    manifest = export_model(
        pipe, tmp_path / "m", model_name="credit-default", model_version="7", reference=frame
    )
    assert manifest.flavor == "sklearn-skops"
    assert (tmp_path / "m" / "model.skops").exists()
    assert manifest.classes == ["0", "1"]
    assert manifest.positive_class == "1"
    assert manifest.features == SCHEMA  # inferred from the reference frame
    assert len(manifest.reference_scores) == 400
    loaded = load_model(tmp_path / "m", sha256=manifest.sha256)
    np.testing.assert_allclose(loaded.model.predict_scores(frame), pipe.predict_proba(frame))


def test_lightgbm_classifier_with_categories_round_trips_as_model_text(tmp_path: Path) -> None:
    frame, label = applicants(600, seed=4)
    cat = frame.assign(employment=frame.employment.astype("category"))
    gbm = lgb.LGBMClassifier(n_estimators=20, verbose=-1).fit(cat, label)
    manifest = export_model(gbm, tmp_path / "g", model_name="m", model_version="1", features=SCHEMA)
    assert manifest.flavor == "lightgbm-text"
    assert (tmp_path / "g" / "model.lgb.txt").read_text().startswith("tree")
    loaded = load_model(tmp_path / "g", sha256=manifest.sha256)
    # The serving runtime hands over plain strings; the flavor restores the categories.
    np.testing.assert_allclose(loaded.model.predict_scores(frame), gbm.predict_proba(cat))


def test_raw_lightgbm_booster_needs_no_wrapper(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    y = (x.a + x.b > 0).astype(int)
    booster = lgb.train(
        {"objective": "binary", "verbose": -1}, lgb.Dataset(x, y), num_boost_round=10
    )
    manifest = export_model(booster, tmp_path / "b", model_name="m", model_version="1", reference=x)
    assert (manifest.task, manifest.classes) == ("binary", ["0", "1"])
    scores = load_model(tmp_path / "b", sha256=manifest.sha256).model.predict_scores(x)
    np.testing.assert_allclose(scores[:, 1], booster.predict(x))


def test_regression_models_export_too(tmp_path: Path) -> None:
    x = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0]})
    reg = LinearRegression().fit(x, [1.0, 3.0, 5.0, 7.0])
    manifest = export_model(reg, tmp_path / "r", model_name="m", model_version="1", reference=x)
    assert manifest.task == "regression"
    loaded = load_model(tmp_path / "r", sha256=manifest.sha256)
    np.testing.assert_allclose(loaded.model.predict_scores(x), [1.0, 3.0, 5.0, 7.0])


def test_a_pickle_swapped_in_is_refused_before_it_is_read(
    tmp_path: Path, artifacts: Artifacts
) -> None:
    folder = tmp_path / "m"
    import shutil

    shutil.copytree(artifacts.v1, folder)
    pinned = ArtifactManifest.read(folder).sha256
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (Path.touch, (marker,))

    (folder / "model.skops").write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(ArtifactError, match="does not match the pinned"):
        load_model(folder, sha256=pinned)
    assert not marker.exists()


def test_a_manifest_pointing_elsewhere_is_refused(tmp_path: Path, artifacts: Artifacts) -> None:
    import shutil

    folder = tmp_path / "m"
    shutil.copytree(artifacts.v1, folder)
    pinned = ArtifactManifest.read(folder).sha256
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["sha256"] = "f" * 64
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="not the artifact that was deployed"):
        load_model(folder, sha256=pinned)


def double(x: np.ndarray) -> np.ndarray:
    """A user function inside a pipeline: a type skops does not trust by default."""
    return x * 2


def test_types_beyond_skops_defaults_load_only_when_pinned_as_trusted(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    x = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0]})
    pipe = make_pipeline(FunctionTransformer(double), LogisticRegression()).fit(x, [0, 0, 1, 1])
    manifest = export_model(pipe, tmp_path / "f", model_name="m", model_version="1", reference=x)
    assert manifest.trusted_types == [f"{__name__}.double"]
    with pytest.raises(ArtifactError, match="skops"):
        load_model(tmp_path / "f", sha256=manifest.sha256, trusted_types=[])
    loaded = load_model(tmp_path / "f", sha256=manifest.sha256)
    np.testing.assert_allclose(loaded.model.predict_scores(x), pipe.predict_proba(x))


def test_schema_must_match_the_fitted_columns(tmp_path: Path) -> None:
    frame, label = applicants(200, seed=5)
    pipe = sklearn_pipeline().fit(frame, label)
    wrong = [FeatureSpec(name="age"), *SCHEMA[:2]]
    with pytest.raises(ArtifactError, match="fitted on columns"):
        export_model(pipe, tmp_path / "x", model_name="m", model_version="1", features=wrong)


def test_export_refuses_to_overwrite_and_needs_a_schema(tmp_path: Path) -> None:
    x = pd.DataFrame({"a": [0.0, 1.0]})
    reg = LinearRegression().fit(x, [0.0, 1.0])
    export_model(reg, tmp_path / "r", model_name="m", model_version="1", reference=x)
    with pytest.raises(ArtifactError, match="already exists"):
        export_model(reg, tmp_path / "r", model_name="m", model_version="2", reference=x)
    with pytest.raises(ArtifactError, match="input schema"):
        export_model(reg, tmp_path / "s", model_name="m", model_version="1")


def test_infer_features_reads_dtypes_and_nulls() -> None:
    frame = pd.DataFrame({"f": [1.0, None], "i": [1, 2], "c": ["a", "b"], "b": [True, False]})
    assert infer_features(frame) == [
        FeatureSpec(name="f", dtype="float", nullable=True),
        FeatureSpec(name="i", dtype="int"),
        FeatureSpec(name="c", dtype="category"),
        FeatureSpec(name="b", dtype="bool"),
    ]
