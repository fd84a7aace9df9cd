"""``python -m decayguard.training.worker JOB.json``: one call of the user's training function.

Runs in its own process (see :mod:`decayguard.training.fitting`) so that a function that hangs
can be stopped, and one that crashes the interpreter takes nothing else down. It reads the
training set the parent wrote, calls the function, exports what it returns with decayguard's
hash-pinned export, checks that the reloaded export scores the model's features, and writes
``result.json``: ``{"ok": true, ...}`` or ``{"ok": false, "stage": ..., "error": ...}``.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import pandas as pd


def _fail(result_path: Path, stage: str, error: str) -> int:
    result_path.write_text(json.dumps({"ok": False, "stage": stage, "error": error}))
    return 1


def run(job_path: Path) -> int:
    job: dict[str, Any] = json.loads(job_path.read_text())
    result_path = Path(job["result"])
    from decayguard.config import load_config
    from decayguard.errors import ConfigError
    from decayguard.registry import export_model, load_model
    from decayguard.training.contract import TrainingMetadata, TrainingSet, load_train_function

    cfg = load_config(Path(job["project"]))
    spec = str(cfg.model.train_function)
    try:
        function = load_train_function(spec, cfg.root, source=str(cfg.root / "decayguard.yaml"))
    except ConfigError as exc:
        return _fail(result_path, "import", str(exc))
    frame = pd.read_parquet(job["training_set"])
    names = [f.name for f in cfg.model.features]
    weights = frame[job["weight_column"]] if job["weight_column"] in frame.columns else None
    training = TrainingSet(
        features=frame[names],
        labels=frame[job["label_column"]].rename("label"),
        sample_weight=None if weights is None else weights.rename("sample_weight"),
        metadata=TrainingMetadata(**job["metadata"]),
    )
    started = time.perf_counter()
    try:
        model = function(training)
    except Exception as exc:
        traceback.print_exc()
        return _fail(result_path, "fit", f"raised {type(exc).__name__}: {exc}")
    fit_seconds = time.perf_counter() - started
    if model is None:
        return _fail(result_path, "fit", "returned None; it must return the fitted model")
    started = time.perf_counter()
    folder = Path(job["folder"])
    try:
        manifest = export_model(
            model,
            folder,
            model_name=cfg.model.name,
            model_version=job["version"],
            features=cfg.model.features,
            reference=training.features.head(2000),
            positive_class=cfg.model.positive_class if cfg.model.task == "binary" else None,
            overwrite=True,
        )
    except Exception as exc:
        traceback.print_exc()
        return _fail(
            result_path,
            "export",
            f"returned a {type(model).__name__} that cannot be exported or does not accept the "
            f"model's features ({', '.join(names)}): {type(exc).__name__}: {exc}",
        )
    if manifest.task != cfg.model.task:
        return _fail(
            result_path,
            "export",
            f"returned a {manifest.task} model, but model.task is {cfg.model.task!r}",
        )
    try:
        load_model(folder, sha256=manifest.sha256).model.predict_scores(training.features.head(50))
    except Exception as exc:
        traceback.print_exc()
        return _fail(
            result_path,
            "check",
            f"its exported model does not score the model's features: {type(exc).__name__}: {exc}",
        )
    result_path.write_text(
        json.dumps(
            {
                "ok": True,
                "fit_seconds": fit_seconds,
                "export_seconds": time.perf_counter() - started,
                "sha256": manifest.sha256,
                "model_type": f"{type(model).__module__}.{type(model).__qualname__}",
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1])))
