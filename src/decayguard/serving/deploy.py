"""Putting models into MLServer's model repository, and hot-swapping them.

A deployment is one folder per model name in the models directory::

    models/credit-default/
        model-settings.json              the runtime settings, pins and mode
        artifacts/3-1a2b3c4d5e6f/        an exported model (copied, never edited)
            model.skops
            manifest.json

:func:`deploy_model` copies the exported folders in, writes ``model-settings.json``
atomically and asks the running server to load it again. MLServer loads the new
instance *before* it retires the old one, and the MLServer model version stays
constant (the real version travels in the response parameters), so a swap under
load fails no request.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Literal

import httpx

from decayguard.config import DecayguardConfig
from decayguard.errors import ArtifactError, ConfigError, ServiceError
from decayguard.registry.manifest import ArtifactManifest, sha256_file
from decayguard.serving.settings import (
    EXTRA_KEY,
    RUNTIME_IMPLEMENTATION,
    ArtifactPin,
    FeastLookup,
    ReviewSpec,
    RuntimeSettings,
    parse_runtime_settings,
)

MODEL_SETTINGS = "model-settings.json"
Mode = Literal["champion", "shadow", "canary"]


def models_dir_for(config: DecayguardConfig) -> Path:
    """The project's MLServer model repository folder."""
    configured = config.serving.models_dir
    return config.path(configured or Path(config.project.state_dir) / "models").resolve()


def spool_dir_for(config: DecayguardConfig) -> Path:
    """The project's prediction-log spool folder."""
    configured = config.serving.spool_dir
    return config.path(configured or Path(config.project.state_dir) / "spool").resolve()


def install_artifact(exported: str | Path, models_dir: Path, model_name: str) -> ArtifactPin:
    """Copy an exported model into the repository (verifying its hash) and pin it."""
    source = Path(exported)
    manifest = ArtifactManifest.read(source)
    actual = sha256_file(source / manifest.artifact)
    if actual != manifest.sha256:
        raise ArtifactError(
            f"{source / manifest.artifact}: SHA-256 {actual} does not match its manifest "
            f"({manifest.sha256}); refusing to deploy it"
        )
    safe_version = re.sub(r"[^A-Za-z0-9._-]", "_", manifest.model_version)
    relative = Path("artifacts") / f"{safe_version}-{manifest.sha256[:12]}"
    dest = models_dir / model_name / relative
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=dest.parent))
        shutil.copytree(source, staging, dirs_exist_ok=True)
        os.replace(staging, dest)
    return ArtifactPin(
        path=str(relative),
        sha256=manifest.sha256,
        trusted_types=manifest.trusted_types,
        model_version=manifest.model_version,
    )


def review_spec_for(config: DecayguardConfig) -> ReviewSpec | None:
    """The review-sampling settings the runtime rebuilds its sampler from."""
    fb = config.feedback
    share = fb.review_share
    if fb.review_per_day is not None:
        if fb.expected_daily_predictions is None:
            raise ConfigError(
                "feedback.expected_daily_predictions: needed to turn feedback.review_per_day "
                "into a sampling share"
            )
        share = min(1.0, fb.review_per_day / fb.expected_daily_predictions)
    if share <= 0:
        return None
    return ReviewSpec(
        strategy=fb.review_strategy,
        share=share,
        decision_threshold=fb.decision_threshold,
        uncertainty_floor=fb.uncertainty_floor,
    )


def feast_lookup_for(config: DecayguardConfig) -> FeastLookup | None:
    """Online feature lookup settings, when the project has what it takes."""
    if not config.serving.online_features:
        return None
    if config.model.entity_key is None or config.features.feature_service is None:
        return None
    return FeastLookup(
        url=config.features.server_url, feature_service=config.features.feature_service
    )


def write_model_settings(models_dir: Path, model_name: str, settings: RuntimeSettings) -> Path:
    """Write ``model-settings.json`` atomically (a reader never sees half a file)."""
    folder = models_dir / model_name
    folder.mkdir(parents=True, exist_ok=True)
    body = {
        "name": model_name,
        "implementation": RUNTIME_IMPLEMENTATION,
        "parameters": {"extra": {EXTRA_KEY: settings.model_dump(mode="json")}},
    }
    path = folder / MODEL_SETTINGS
    tmp = folder / (MODEL_SETTINGS + ".tmp")
    tmp.write_text(json.dumps(body, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def read_deployment(models_dir: Path, model_name: str) -> RuntimeSettings | None:
    """The current deployment of a model, or ``None`` if it has none."""
    path = models_dir / model_name / MODEL_SETTINGS
    if not path.exists():
        return None
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from exc
    return parse_runtime_settings(body.get("parameters", {}).get("extra"), str(path))


def load_into_server(server_url: str, model_name: str, timeout: float = 120.0) -> None:
    """Ask a running MLServer to (re)load a model from its repository folder."""
    url = f"{server_url.rstrip('/')}/v2/repository/models/{model_name}/load"
    try:
        response = httpx.post(url, timeout=timeout)
    except httpx.HTTPError as exc:
        raise ServiceError(f"MLServer at {server_url} is unreachable: {exc}") from exc
    if response.status_code != 200:
        try:
            detail = response.json().get("error", response.text)
        except ValueError:
            detail = response.text
        raise ServiceError(f"MLServer refused to load {model_name!r}: {detail}")


def serving_state(server_url: str, model_name: str, timeout: float = 5.0) -> dict[str, Any] | None:
    """What a running server really serves for ``model_name``, from its model metadata.

    ``{"champion_version": "7", "challenger_version": "8" | None, "mode": "canary",
    "canary_share": 0.1}``; ``None`` when the server does not answer, does not have the
    model loaded, or serves it with another runtime.
    """
    url = f"{server_url.rstrip('/')}/v2/models/{model_name}"
    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    params = body.get("parameters") if isinstance(body, dict) else None
    state = params.get(EXTRA_KEY) if isinstance(params, dict) else None
    if not isinstance(state, dict) or "champion_version" not in state:
        return None
    return {
        "champion_version": state["champion_version"],
        "challenger_version": state.get("challenger_version"),
        "mode": state.get("mode"),
        "canary_share": float(state.get("canary_share") or 0.0),
    }


def deploy_model(
    config: DecayguardConfig,
    champion: str | Path,
    *,
    challenger: str | Path | None = None,
    mode: Mode = "champion",
    canary_share: float | None = None,
    server_url: str | None = None,
    models_dir: Path | None = None,
) -> RuntimeSettings:
    """Deploy (or hot-swap) exported model folders as the project's model.

    ``champion`` and ``challenger`` are folders written by
    :func:`decayguard.registry.export_model`. With ``server_url`` the running server
    loads the new settings at once; a load that fails (for example an artifact whose
    hash does not match) raises :class:`ServiceError` and the server keeps serving the
    previous deployment.
    """
    models_dir = models_dir or models_dir_for(config)
    name = config.model.name
    champion_pin = install_artifact(champion, models_dir, name)
    challenger_pin = install_artifact(challenger, models_dir, name) if challenger else None
    serving = config.serving
    settings = RuntimeSettings(
        champion=champion_pin,
        challenger=challenger_pin,
        mode=mode,
        canary_share=config.release.canary_share if canary_share is None else canary_share,
        store_url=config.resolved_store_url,
        spool_dir=str(spool_dir_for(config)),
        log_batch_size=serving.log_batch_size,
        log_flush_seconds=serving.log_flush_seconds,
        entity_key=config.model.entity_key,
        feast=feast_lookup_for(config),
        review=review_spec_for(config),
        trust_event_time=config.serving.trust_event_time,
    )
    path = models_dir / name / MODEL_SETTINGS
    previous = path.read_bytes() if path.exists() else None
    write_model_settings(models_dir, name, settings)
    if server_url is not None:
        try:
            load_into_server(server_url, name)
        except ServiceError:
            # The server kept the old instance (or none): make the file say so too.
            if previous is not None:
                _restore(path, previous)
            else:
                path.unlink()
            raise
    return settings


def _restore(path: Path, content: bytes) -> None:
    tmp = path.with_suffix(".restore")
    tmp.write_bytes(content)
    os.replace(tmp, path)
