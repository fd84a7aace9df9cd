"""Exporting a fitted model to a hash-pinned folder, and loading it back safely.

>>> import tempfile, pathlib
>>> import pandas as pd
>>> from sklearn.linear_model import LogisticRegression
>>> X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
>>> clf = LogisticRegression().fit(X, ["0", "0", "1", "1"])
>>> folder = pathlib.Path(tempfile.mkdtemp()) / "m"
>>> manifest = export_model(clf, folder, model_name="demo", model_version="1", reference=X)
>>> manifest.flavor, manifest.task, manifest.classes
('sklearn-skops', 'binary', ['0', '1'])
>>> exported = load_model(folder, sha256=manifest.sha256)
>>> exported.model.predict_scores(X).shape
(4, 2)
>>> with open(folder / "model.skops", "ab") as fh:  # tamper with the artifact
...     _ = fh.write(b"x")
>>> load_model(folder, sha256=manifest.sha256)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
decayguard.errors.ArtifactError: .../model.skops: SHA-256 ... does not match the pinned ...
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from decayguard.config import FeatureSpec
from decayguard.errors import ArtifactError
from decayguard.registry.flavors import FLAVORS, LoadedModel, flavor_for
from decayguard.registry.manifest import ArtifactManifest, sha256_file

REFERENCE_SAMPLE = 2000
"""Most reference predictions kept in a manifest (for review-sampling budgets)."""


def infer_features(frame: pd.DataFrame) -> list[FeatureSpec]:
    """An input schema from a training or reference frame's columns and dtypes."""
    specs = []
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_bool_dtype(col):
            dtype = "bool"
        elif pd.api.types.is_integer_dtype(col):
            dtype = "int"
        elif pd.api.types.is_numeric_dtype(col):
            dtype = "float"
        else:
            dtype = "category"
        specs.append(FeatureSpec(name=str(name), dtype=dtype, nullable=bool(col.isna().any())))
    return specs


def _infer_task(estimator: Any, classes: Sequence[str] | None) -> str:
    booster_objective = _booster_objective(estimator)
    if booster_objective is not None:
        if booster_objective.startswith("binary"):
            return "binary"
        if booster_objective.startswith(("multiclass", "softmax", "multiclassova")):
            return "multiclass"
        return "regression"
    if not hasattr(estimator, "predict_proba"):
        return "regression"
    return "binary" if classes is not None and len(classes) == 2 else "multiclass"


def _booster_objective(estimator: Any) -> str | None:
    """The objective of a raw LightGBM booster, read from its model text."""
    try:
        import lightgbm as lgb
    except ImportError:  # pragma: no cover
        return None
    if not isinstance(estimator, lgb.Booster):
        return None
    for line in estimator.model_to_string().splitlines():
        if line.startswith("objective="):
            return line.split("=", 1)[1].strip()
    return "regression"


def _declared_names(estimator: Any) -> list[str] | None:
    names = getattr(estimator, "feature_names_in_", None)
    if names is None and hasattr(estimator, "feature_name"):
        names = estimator.feature_name()
    return None if names is None else [str(n) for n in names]


@dataclass(frozen=True)
class ExportedModel:
    """A verified, deserialized model and its manifest."""

    manifest: ArtifactManifest
    model: LoadedModel
    folder: Path

    def score_columns(self, scores: np.ndarray) -> tuple[list[str | None], list[float | None]]:
        """Predicted labels and the score (positive-class probability, top probability or
        the regression value) for a matrix from :meth:`LoadedModel.predict_scores`."""
        m = self.manifest
        if m.task == "regression":
            values = [float(v) for v in scores]
            return [repr(v) for v in values], list[float | None](values)
        best = scores.argmax(axis=1)
        labels: list[str | None] = [m.classes[i] for i in best]
        if m.task == "binary" and m.positive_class is not None:
            pos = m.classes.index(m.positive_class)
            return labels, [float(s) for s in scores[:, pos]]
        return labels, [float(s) for s in scores.max(axis=1)]


def export_model(
    estimator: Any,
    folder: str | Path,
    *,
    model_name: str,
    model_version: str,
    features: Sequence[FeatureSpec] | None = None,
    reference: pd.DataFrame | None = None,
    classes: Sequence[str] | None = None,
    positive_class: str | None = None,
    overwrite: bool = False,
) -> ArtifactManifest:
    """Write ``estimator`` to ``folder`` as an artifact file plus ``manifest.json``.

    ``features`` is the input schema (inferred from ``reference`` when omitted).
    ``reference`` (for example the validation inputs) is scored with the *reloaded*
    artifact, which proves the export round-trips, and a sample of those scores is kept
    for review-sampling budgets. ``classes`` is needed only for raw LightGBM boosters.
    """
    folder = Path(folder)
    if folder.exists():
        if not overwrite:
            raise ArtifactError(f"{folder} already exists (pass overwrite=True to replace it)")
        shutil.rmtree(folder)
    if features is None:
        if reference is None:
            raise ArtifactError("export_model needs the input schema: features or reference")
        features = infer_features(reference)
    features = list(features)
    flavor = flavor_for(estimator)
    inferred = flavor.infer_classes(estimator)
    class_list = [str(c) for c in (classes if classes is not None else inferred or [])]
    task = _infer_task(estimator, class_list or None)
    if task != "regression" and not class_list:
        n = 2 if task == "binary" else 0
        if n == 0:
            raise ArtifactError("a multiclass booster needs its class labels: pass classes=")
        class_list = ["0", "1"]
    if task == "binary":
        positive_class = positive_class if positive_class is not None else class_list[-1]
        if positive_class not in class_list:
            raise ArtifactError(f"positive class {positive_class!r} is not one of {class_list}")
    declared = _declared_names(estimator if flavor.name != "lightgbm-text" else _lgb(estimator))
    names = [f.name for f in features]
    if declared is not None and not _generic_names(declared) and declared != names:
        raise ArtifactError(f"the model was fitted on columns {declared}, the schema says {names}")
    folder.mkdir(parents=True)
    artifact = folder / flavor.filename
    trusted = flavor.write(estimator, artifact)
    manifest = ArtifactManifest(
        model_name=model_name,
        model_version=str(model_version),
        flavor=flavor.name,
        artifact=flavor.filename,
        sha256=sha256_file(artifact),
        task=task,  # type: ignore[arg-type]
        features=features,
        classes=class_list,
        positive_class=positive_class if task == "binary" else None,
        trusted_types=trusted,
    )
    manifest.write(folder)
    if reference is not None:
        manifest = _with_reference(folder, manifest, reference)
        manifest.write(folder)
    return manifest


def _lgb(estimator: Any) -> Any:
    return getattr(estimator, "booster_", estimator)


def _generic_names(names: Sequence[str]) -> bool:
    """LightGBM names unnamed columns Column_0, Column_1...: nothing to compare then."""
    return all(n == f"Column_{i}" for i, n in enumerate(names))


def _with_reference(
    folder: Path, manifest: ArtifactManifest, reference: pd.DataFrame
) -> ArtifactManifest:
    exported = load_model(folder, sha256=manifest.sha256)
    frame = reference[manifest.feature_names]
    if len(frame) > REFERENCE_SAMPLE:
        frame = frame.sample(REFERENCE_SAMPLE, random_state=0)
    labels, scores = exported.score_columns(exported.model.predict_scores(frame))
    return manifest.model_copy(
        update={
            "reference_scores": [float(s) for s in scores if s is not None],
            "reference_classes": [str(c) for c in labels],
        }
    )


def load_model(
    folder: str | Path,
    *,
    sha256: str,
    trusted_types: Sequence[str] | None = None,
) -> ExportedModel:
    """Verify an exported model against its pinned SHA-256, then deserialize it.

    The file is read once; those exact bytes are hashed and, only if they match
    ``sha256``, deserialized (no window for the file to change in between).
    ``trusted_types`` defaults to the manifest's list.
    """
    folder = Path(folder)
    manifest = ArtifactManifest.read(folder)
    path = folder / manifest.artifact
    if manifest.sha256 != sha256:
        raise ArtifactError(
            f"{folder}: the manifest's SHA-256 {manifest.sha256} differs from the pinned "
            f"{sha256}; this is not the artifact that was deployed"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ArtifactError(f"cannot read model artifact {path}: {exc}") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ArtifactError(
            f"{path}: SHA-256 {actual} does not match the pinned {sha256}; refusing to load it"
        )
    try:
        flavor = FLAVORS[manifest.flavor]
    except KeyError as exc:
        raise ArtifactError(f"{folder}: unknown artifact flavor {manifest.flavor!r}") from exc
    model = flavor.read(
        data,
        trusted_types=manifest.trusted_types if trusted_types is None else trusted_types,
        features=manifest.features,
        task=manifest.task,
    )
    return ExportedModel(manifest=manifest, model=model, folder=folder)
