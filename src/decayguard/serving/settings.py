"""The decayguard runtime's settings, as written into MLServer's ``model-settings.json``.

They live under ``parameters.extra.decayguard``. :func:`decayguard.serving.deploy.deploy_model`
writes them; the runtime reads them at every load (a hot swap rewrites the file and
asks MLServer to load the model again)::

    {
      "name": "credit-default",
      "implementation": "decayguard.serving.runtime.DecayguardRuntime",
      "parameters": {"extra": {"decayguard": {
        "champion": {"path": "artifacts/3-1a2b3c4d", "sha256": "1a2b...", "trusted_types": [...]},
        "challenger": null, "mode": "champion", "canary_share": 0.1,
        "store_url": "sqlite:////srv/project/.decayguard/store.db",
        "spool_dir": "/srv/project/.decayguard/spool", ...}}}
    }
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from decayguard.errors import ConfigError

EXTRA_KEY = "decayguard"
RUNTIME_IMPLEMENTATION = "decayguard.serving.runtime.DecayguardRuntime"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class ArtifactPin(_Strict):
    """An exported model folder and the SHA-256 its artifact must have."""

    path: str
    """Exported model folder (relative paths are relative to model-settings.json)."""
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """Pinned SHA-256 of the artifact file; checked before anything is deserialized."""
    trusted_types: list[str] = Field(default_factory=list)
    """Types the skops loader may instantiate beyond its defaults (computed at export)."""
    model_version: str | None = None
    """The model version, for readers of this file (the manifest is authoritative)."""


class FeastLookup(_Strict):
    """Where online features come from when a request carries entity keys."""

    url: str
    """Base URL of ``feast serve``."""
    feature_service: str | None = None
    """Feature service to read (or give ``feature_refs``)."""
    feature_refs: list[str] = Field(default_factory=list)
    """Feature references ``view:feature`` (used when there is no feature service)."""
    timeout_seconds: float = Field(default=2.0, gt=0)
    """Timeout of one lookup."""


class ReviewSpec(_Strict):
    """Review sampling, rebuilt in the serving process from these plain values."""

    strategy: Literal["uniform", "stratified", "uncertainty"] = "uncertainty"
    """Strategy name (see :mod:`decayguard.feedback.sampling`)."""
    share: float = Field(default=0.02, ge=0, le=1)
    """Expected share of predictions sampled for review."""
    decision_threshold: float = Field(default=0.5, gt=0, lt=1)
    """Threshold the uncertainty strategy centres on."""
    uncertainty_floor: float = Field(default=0.1, gt=0, le=1)
    """Lowest relative weight of the uncertainty strategy."""


class RuntimeSettings(_Strict):
    """Everything the runtime needs beyond MLServer's own model settings."""

    champion: ArtifactPin
    """The model answering by default."""
    challenger: ArtifactPin | None = None
    """The candidate model, for shadow and canary modes."""
    mode: Literal["champion", "shadow", "canary"] = "champion"
    """Routing mode."""
    canary_share: float = Field(default=0.1, ge=0, le=1)
    """Share of traffic the challenger answers in canary mode."""
    store_url: str
    """SQLAlchemy URL of the decayguard store the prediction log is written to."""
    spool_dir: str
    """Folder of the prediction log's write-ahead spool (one server per folder)."""
    log_batch_size: int = Field(default=500, ge=1)
    """Rows per store write."""
    log_flush_seconds: float = Field(default=0.5, gt=0)
    """Longest wait before a partial batch is written."""
    entity_key: str | None = None
    """Name of the entity key input (canary stickiness, Feast lookups, label joins)."""
    feast: FeastLookup | None = None
    """Online feature lookup; ``None`` means requests must carry every feature."""
    review: ReviewSpec | None = None
    """Review sampling; ``None`` disables it (inclusion probability 0)."""
    trust_event_time: bool = False
    """Log predictions at the request's ``parameters.event_time`` when it carries one
    (replays, backfills, the simulator) instead of the time they were served."""
    log_predictions: bool = True
    """Log every prediction to the store and sample reviews. ``False`` makes a scratch
    deployment (the gate's smoke test): its requests are not traffic, so nothing is
    spooled, stored or sampled for review, and no shipper is started for it."""

    @model_validator(mode="after")
    def _challenger_for_mode(self) -> RuntimeSettings:
        if self.mode != "champion" and self.challenger is None:
            raise ValueError(f"mode {self.mode!r} needs a challenger")
        return self

    def resolve(self, path: str, base: Path) -> Path:
        p = Path(path)
        return p if p.is_absolute() else (base / p)


def parse_runtime_settings(extra: dict[str, Any] | None, source: str) -> RuntimeSettings:
    """Read the ``decayguard`` block of ``parameters.extra``; errors name the key and file."""
    block = (extra or {}).get(EXTRA_KEY)
    if block is None:
        raise ConfigError(f"{source}: parameters.extra.{EXTRA_KEY} is missing")
    try:
        return RuntimeSettings.model_validate(block)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            lines.append(f"{source}: parameters.extra.{EXTRA_KEY}.{key}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from exc
