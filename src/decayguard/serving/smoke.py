"""The smoke test of a challenger on the running MLServer (TFX calls it the infra blessing).

:func:`smoke_test` loads the challenger's exported artifact into the running server under
a scratch name (``<model>--smoke``) and, for a fair comparison on the same server at the
same moment, the serving champion's artifact under another (``<model>--smoke-champion``).
It replays a sample of recently logged real requests against both, one row per request,
in the same order, and checks that

* every challenger answer is valid: HTTP 200 and the champion's output schema (the same
  output names, datatypes and per-row shapes as the champion's answer to the same
  request; class probabilities that sum to 1; predicted classes among the champion's;
  finite regression values);
* the challenger's p99 latency (client-side wall time) is within ``gate.max_latency_ms``
  and within ``gate.max_latency_ratio`` times the champion's p99.

Both scratch models are unloaded and their folders removed afterwards, whatever happened.
Scratch deployments are written with ``log_predictions: false``: the runtime logs
nothing for them and samples nothing for review (a smoke test's requests are not
traffic). An artifact that fails to load, errors or is too slow fails the test; only an
unreachable server or store raises (:class:`~decayguard.errors.ServiceError`,
:class:`~decayguard.errors.StoreError`): that is no verdict on the challenger.
"""

from __future__ import annotations

import math
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from decayguard.config import DecayguardConfig, FeatureSpec, GateConfig
from decayguard.errors import DecayguardError, ServiceError, StoreError
from decayguard.registry.manifest import ArtifactManifest
from decayguard.serving.deploy import (
    install_artifact,
    models_dir_for,
    read_deployment,
    spool_dir_for,
    write_model_settings,
)
from decayguard.serving.settings import RuntimeSettings
from decayguard.store.deployments import active_artifact_sha256, active_artifact_uri
from decayguard.store.engine import create_store_engine
from decayguard.store.predictions import answered_times, read_window

CHALLENGER_SUFFIX = "--smoke"
CHAMPION_SUFFIX = "--smoke-champion"
WARMUP_REQUESTS = 5
"""Requests sent to each scratch model before timing starts (not counted)."""
MAX_ERROR_MESSAGES = 5
_LOAD_TIMEOUT_SECONDS = 120.0
_PROBA_TOLERANCE = 1e-6
_NOT_OUTPUTS = frozenset({"prediction_id"})
"""Outputs that carry identity, not a prediction (their values are not compared)."""


@dataclass(frozen=True)
class SmokeResult:
    """What the smoke test of one challenger found."""

    passed: bool
    reason: str
    """Why it failed, or a one-line summary when it passed."""
    n_requests: int
    """Requests replayed against each model (warm-up excluded)."""
    n_errors: int = 0
    """Challenger answers that were errors or invalid."""
    errors: list[str] = field(default_factory=list)
    """The first few error messages."""
    champion_p99_ms: float | None = None
    challenger_p99_ms: float | None = None
    ratio: float | None = None
    """Challenger p99 over champion p99."""
    champion_p50_ms: float | None = None
    challenger_p50_ms: float | None = None
    """Medians, for reading the p99s (on a few hundred requests the p99 is a tail sample)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for the gate report and the audit log)."""
        return asdict(self)


def smoke_test(
    cfg: DecayguardConfig,
    challenger_folder: Path,
    *,
    server_url: str,
    requests: pd.DataFrame | None = None,
    engine: Engine | None = None,
) -> SmokeResult:
    """Smoke-test an exported challenger on the running MLServer at ``server_url``.

    ``requests`` (one row per request, a column per feature) replaces the
    ``gate.smoke_requests`` most recent answered predictions in the store. ``engine`` is
    the store (default: the project's). Raises :class:`ServiceError` only when the
    server is unreachable and :class:`StoreError` when the store is; every other problem
    is a failed result naming it.
    """
    own_engine = engine is None
    store = create_store_engine(cfg.resolved_store_url) if engine is None else engine
    try:
        return _run(cfg, Path(challenger_folder), server_url.rstrip("/"), requests, store)
    finally:
        if own_engine:
            store.dispose()


def _run(
    cfg: DecayguardConfig,
    challenger_folder: Path,
    server_url: str,
    requests: pd.DataFrame | None,
    engine: Engine,
) -> SmokeResult:
    name = cfg.model.name
    try:
        rows = (
            recent_requests(engine, name, cfg.gate.smoke_requests) if requests is None else requests
        )
        champion_folder = serving_champion_folder(engine, models_dir_for(cfg), name)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read {name!r}'s requests and deployment: {exc}") from exc
    except DecayguardError as exc:
        return SmokeResult(False, f"no champion to compare with: {exc}", 0)
    try:
        bodies = request_bodies(rows, cfg.model.features)
    except DecayguardError as exc:
        return SmokeResult(False, f"cannot build the smoke requests: {exc}", 0)
    if not bodies:
        return SmokeResult(False, f"no logged requests of {name!r} to replay", 0)
    models_dir = models_dir_for(cfg)
    champion_name, challenger_name = name + CHAMPION_SUFFIX, name + CHALLENGER_SUFFIX
    with httpx.Client(timeout=30.0) as client:
        try:
            problem = _load(cfg, client, champion_folder, champion_name, server_url)
            if problem:
                reason = f"the champion's artifact failed to load: {problem}"
                return SmokeResult(False, reason, len(bodies))
            problem = _load(cfg, client, challenger_folder, challenger_name, server_url)
            if problem:
                return SmokeResult(False, f"the challenger failed to load: {problem}", len(bodies))
            classes = ArtifactManifest.read(champion_folder).classes or None
            names = (champion_name, challenger_name)
            return _replay(cfg, client, server_url, names, bodies, classes)
        finally:
            try:
                _unload(client, server_url, challenger_name)
                _unload(client, server_url, champion_name)
            finally:
                for scratch in (challenger_name, champion_name):
                    shutil.rmtree(models_dir / scratch, ignore_errors=True)


def recent_requests(engine: Engine, model_name: str, n: int) -> pd.DataFrame:
    """The inputs of the ``n`` most recent answered (not shadow) predictions, oldest first."""
    end = datetime.now(UTC) + timedelta(minutes=1)
    times = answered_times(engine, model_name, None, end)
    if times.empty:
        return pd.DataFrame()
    start = times.sort_values().iloc[max(0, len(times) - n)].to_pydatetime()
    window = read_window(engine, model_name, start, end).without_arm("shadow")
    order = window.meta()["ts"].to_numpy().argsort(kind="stable")[-n:]
    return window.inputs().iloc[order].reset_index(drop=True)


def request_bodies(rows: pd.DataFrame, features: Sequence[FeatureSpec]) -> list[dict[str, Any]]:
    """One V2 request body per row, an input per feature (the decayguard runtime's format)."""
    missing = [f.name for f in features if f.name not in rows.columns]
    if missing and not rows.empty:
        raise ServiceError(f"the smoke requests lack the feature columns {missing}")
    run = uuid.uuid4().hex[:8]
    bodies = []
    for i, row in enumerate(rows[[f.name for f in features]].itertuples(index=False)):
        inputs = [_tensor(spec, value) for spec, value in zip(features, row, strict=True)]
        bodies.append({"id": f"smoke-{run}-{i}", "inputs": inputs})
    return bodies


_DATATYPES = {"float": "FP64", "int": "INT64", "category": "BYTES", "bool": "BOOL"}


def _tensor(spec: FeatureSpec, value: Any) -> dict[str, Any]:
    plain = value.item() if hasattr(value, "item") else value
    if plain is None or (isinstance(plain, float) and math.isnan(plain)):
        plain = None
    elif spec.dtype == "float":
        plain = float(plain)
    elif spec.dtype == "int":
        plain = int(plain)
    elif spec.dtype == "bool":
        plain = bool(plain)
    else:
        plain = str(plain)
    return {"name": spec.name, "datatype": _DATATYPES[spec.dtype], "shape": [1], "data": [plain]}


def serving_champion_folder(engine: Engine, models_dir: Path, model_name: str) -> Path:
    """The exported folder of the serving champion: the store's active deployment, else
    the one pinned in the model repository's ``model-settings.json``."""
    uri = active_artifact_uri(engine, model_name)
    if uri is not None:
        folder = Path(uri.removeprefix("file://"))
        pinned = active_artifact_sha256(engine, model_name)
        try:
            sha = ArtifactManifest.read(folder).sha256
        except DecayguardError as exc:
            raise ServiceError(f"the active deployment's artifact {folder}: {exc}") from exc
        if pinned is not None and sha != pinned:
            raise ServiceError(
                f"{folder}: its manifest says SHA-256 {sha}, the active deployment {pinned}"
            )
        return folder
    served = read_deployment(models_dir, model_name)
    if served is None:
        raise ServiceError(f"{model_name!r} has no active deployment and no model-settings.json")
    return served.resolve(served.champion.path, models_dir / model_name)


def _load(
    cfg: DecayguardConfig, client: httpx.Client, folder: Path, scratch: str, server_url: str
) -> str | None:
    """Install ``folder`` as the scratch model and load it; what went wrong, or ``None``."""
    models_dir = models_dir_for(cfg)
    shutil.rmtree(models_dir / scratch, ignore_errors=True)  # a crashed run's leftovers
    try:
        pin = install_artifact(folder, models_dir, scratch)
        settings = RuntimeSettings(
            champion=pin,
            store_url=cfg.resolved_store_url,
            spool_dir=str(spool_dir_for(cfg)),
            entity_key=cfg.model.entity_key,
            log_predictions=False,
        )
        write_model_settings(models_dir, scratch, settings)
    except (DecayguardError, OSError) as exc:
        return f"cannot be installed: {exc}"
    url = f"{server_url}/v2/repository/models/{scratch}/load"
    try:
        response = client.post(url, timeout=_LOAD_TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        raise ServiceError(f"MLServer at {server_url} is unreachable: {exc}") from exc
    if response.status_code != 200:
        return f"MLServer refused it (HTTP {response.status_code}): {_error_text(response)}"
    return None


def _unload(client: httpx.Client, server_url: str, scratch: str) -> None:
    try:
        response = client.post(f"{server_url}/v2/repository/models/{scratch}/unload")
    except httpx.HTTPError as exc:
        raise ServiceError(f"MLServer at {server_url} is unreachable: {exc}") from exc
    # 404/400: it never loaded (a failed load), which is what unloading wants anyway.
    del response


def _send(
    client: httpx.Client, url: str, body: dict[str, Any]
) -> tuple[float, httpx.Response | None]:
    """One request's wall time in ms and its answer (``None``: it timed out)."""
    started = time.perf_counter()
    try:
        response = client.post(url, json=body)
    except httpx.TimeoutException:
        return (time.perf_counter() - started) * 1000.0, None
    except httpx.HTTPError as exc:
        raise ServiceError(f"MLServer at {url} is unreachable: {exc}") from exc
    return (time.perf_counter() - started) * 1000.0, response


def _replay(
    cfg: DecayguardConfig,
    client: httpx.Client,
    server_url: str,
    names: tuple[str, str],
    bodies: list[dict[str, Any]],
    classes: list[str] | None,
) -> SmokeResult:
    champion_url, challenger_url = (f"{server_url}/v2/models/{m}/infer" for m in names)
    for body in bodies[:WARMUP_REQUESTS]:
        _send(client, champion_url, body)
        _send(client, challenger_url, body)
    champion_ms: list[float] = []
    challenger_ms: list[float] = []
    errors: list[str] = []
    for i, body in enumerate(bodies):
        ms, champion_answer = _send(client, champion_url, body)
        if champion_answer is not None:
            champion_ms.append(ms)
        ms, answer = _send(client, challenger_url, body)
        if answer is None:
            errors.append(f"request {i}: timed out after {ms:.0f} ms")
            continue
        challenger_ms.append(ms)
        problem = answer_problem(answer, champion_answer, classes)
        if problem:
            errors.append(f"request {i}: {problem}")
    return judge(cfg.gate, len(bodies), errors, champion_ms, challenger_ms)


def judge(
    gate: GateConfig,
    n_requests: int,
    errors: list[str],
    champion_ms: list[float],
    challenger_ms: list[float],
) -> SmokeResult:
    """The verdict on one replay: no invalid answer, and the challenger's p99 within
    ``gate.max_latency_ms`` and ``gate.max_latency_ratio`` times the champion's."""
    champion_p99, challenger_p99 = _percentile(champion_ms, 99), _percentile(challenger_ms, 99)
    ratio = (
        challenger_p99 / champion_p99
        if challenger_p99 is not None and champion_p99 is not None and champion_p99 > 0
        else None
    )
    figures: dict[str, Any] = {
        "n_requests": n_requests,
        "n_errors": len(errors),
        "errors": errors[:MAX_ERROR_MESSAGES],
        "champion_p99_ms": champion_p99,
        "challenger_p99_ms": challenger_p99,
        "ratio": ratio,
        "champion_p50_ms": _percentile(champion_ms, 50),
        "challenger_p50_ms": _percentile(challenger_ms, 50),
    }
    n = n_requests
    if errors:
        return SmokeResult(False, f"{len(errors)} of {n} answers invalid: {errors[0]}", **figures)
    if challenger_p99 is None or champion_p99 is None:
        return SmokeResult(False, "no latency was measured", **figures)
    if challenger_p99 > gate.max_latency_ms:
        return SmokeResult(
            False,
            f"latency: p99 {challenger_p99:.2f} ms exceeds gate.max_latency_ms "
            f"{gate.max_latency_ms:g} ms",
            **figures,
        )
    if ratio is not None and ratio > gate.max_latency_ratio:
        return SmokeResult(
            False,
            f"latency: p99 {challenger_p99:.2f} ms is {ratio:.2f}x the champion's "
            f"{champion_p99:.2f} ms (gate.max_latency_ratio {gate.max_latency_ratio:g})",
            **figures,
        )
    return SmokeResult(
        True,
        f"{n} requests answered validly; p99 {challenger_p99:.2f} ms "
        f"(champion {champion_p99:.2f} ms)",
        **figures,
    )


def _percentile(latencies_ms: list[float], q: float) -> float | None:
    return float(np.percentile(latencies_ms, q)) if latencies_ms else None


def answer_problem(
    answer: httpx.Response, champion: httpx.Response | None, classes: list[str] | None
) -> str | None:
    """What makes the challenger's ``answer`` invalid against the champion's answer to the
    same request (and the champion's ``classes``, for classifiers), or ``None``."""
    if answer.status_code != 200:
        return f"HTTP {answer.status_code}: {_error_text(answer)}"
    if champion is None or champion.status_code != 200:
        return None  # nothing to compare with: the champion failed this request too
    try:
        body = answer.json()
        ours, theirs = _outputs(body), _outputs(champion.json())
    except (ValueError, KeyError, TypeError) as exc:
        return f"not a V2 inference response: {exc!r}"
    if set(ours) != set(theirs):
        return f"output schema: outputs {sorted(ours)} differ from the champion's {sorted(theirs)}"
    for output, (datatype, shape, data) in ours.items():
        want_type, want_shape, _ = theirs[output]
        if datatype != want_type or shape != want_shape:
            return (
                f"output schema: {output!r} is {datatype}{shape}, "
                f"the champion's is {want_type}{want_shape}"
            )
        finite = all(isinstance(v, int | float) and math.isfinite(v) for v in data)
        if output not in _NOT_OUTPUTS and datatype.startswith("FP") and not finite:
            return f"output {output!r} has non-finite values: {data[:4]}"
    return None if classes is None else _class_problem(ours, body, classes)


def _class_problem(
    ours: dict[str, tuple[str, list[int], list[Any]]], body: Any, classes: list[str]
) -> str | None:
    if "predict" in ours:
        strange = [c for c in ours["predict"][2] if c not in classes]
        if strange:
            return f"predicted classes {strange} are not among the champion's {classes}"
    if "score" in ours and not all(0.0 <= v <= 1.0 for v in ours["score"][2]):
        return f"scores {ours['score'][2][:4]} are not probabilities"
    if "predict_proba" in ours:
        _, shape, data = ours["predict_proba"]
        sums = np.asarray(data, dtype=float).reshape(shape).sum(axis=1)
        if not np.allclose(sums, 1.0, atol=_PROBA_TOLERANCE):
            return f"class probabilities sum to {sums.tolist()}, not 1"
        order = (body.get("parameters") or {}).get("classes")
        if order is not None and sorted(order) != sorted(classes):
            return f"output schema: classes {order} differ from the champion's {classes}"
    return None


def _outputs(body: Any) -> dict[str, tuple[str, list[int], list[Any]]]:
    return {
        o["name"]: (str(o["datatype"]), list(o["shape"]), list(o["data"])) for o in body["outputs"]
    }


def _error_text(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.text))[:300]
    except ValueError:
        return response.text[:300]
