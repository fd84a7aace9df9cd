"""``/api/v1/releases``: which version serves, which is on trial, the history, and a person's
promote and rollback (a thin adapter over :mod:`decayguard.release.run`).

Reads follow ``api.protect_reads``; promote and rollback need the token, like every write.
A move the version's stage does not allow (:class:`~decayguard.release.IllegalTransition`)
is a 409 naming ``version``. The actor recorded for a person's move is ``api:`` and a short
fingerprint of the token that authorised it (never the token).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from decayguard.api.auth import ReadAccess, WriteAccess
from decayguard.api.deps import ConfigDep
from decayguard.config import DecayguardConfig

router = APIRouter(prefix="/api/v1/releases", tags=["releases"])

VERSION_PATTERN = r"^[A-Za-z0-9_.+-]{1,100}$"
"""A registry version as the store holds it (MLflow's are numbers)."""


class ReleaseOut(BaseModel):
    """One model version as a release: its stage and since when."""

    model_name: str
    version: str
    stage: str
    artifact_uri: str
    artifact_sha256: str
    parent_version: str | None
    traffic_share: float | None
    """The canary's share of the traffic (``None`` outside canary)."""
    created_at: datetime
    stage_since: datetime
    trial_started_at: datetime | None


class StatusOut(BaseModel):
    """The champion, the candidate (on trial or waiting), the evidence of the latest
    automatic step, and how many transitions still wait for their side effects."""

    model_name: str
    champion: ReleaseOut | None
    candidate: ReleaseOut | None
    last_advance: dict[str, Any] | None
    unapplied: int


class TransitionOut(BaseModel):
    """One move of one version: who decided, why, on what evidence, and when it was
    applied (``None``: its side effects are not known to be done)."""

    id: int
    """The transition's id (what an outcome's ``recovered`` lists)."""
    version: str
    from_stage: str | None
    to_stage: str
    action: str
    actor: str
    reason: str
    evidence: dict[str, Any] | None = None
    created_at: datetime
    applied_at: datetime | None = None


class StepOut(BaseModel):
    version: str
    action: str
    from_stage: str | None
    to_stage: str
    reason: str
    actor: str


class OutcomeOut(BaseModel):
    """What the call did: the steps made, and the champion and candidate after it."""

    model_name: str
    now: datetime
    champion: str | None
    candidate: str | None
    stage: str | None
    steps: list[StepOut]
    recovered: list[int]
    verdict: dict[str, Any] | None
    guard: dict[str, Any] | None
    message: str


class DecisionIn(BaseModel):
    """A person's promote or rollback: which version (default: the candidate; for a
    rollback with no candidate, the champion) and why, which is required and audited."""

    model_config = ConfigDict(extra="forbid")

    version: str | None = Field(default=None, pattern=VERSION_PATTERN)
    reason: str = Field(min_length=1, max_length=1000)

    @field_validator("reason")
    @classmethod
    def _says_something(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("contains a NUL character")
        if not value.strip():
            raise ValueError("must say why (blank)")
        return value.strip()


def api_actor(config: DecayguardConfig) -> str:
    """``api:`` and the first 8 hex digits of the SHA-256 of the token that authorised the
    call: which token decided, without the token."""
    token = config.api.token
    if not token:
        return "api:token"
    return f"api:{hashlib.sha256(token.encode()).hexdigest()[:8]}"


@router.get(
    "/status",
    dependencies=[ReadAccess],
    response_model=StatusOut,
    summary="The champion and the version on trial",
)
def get_status(config: ConfigDep) -> dict[str, Any]:
    """Which version is champion, which is the candidate and in which stage since when, the
    latest automatic step's evidence, and the count of transitions not yet applied."""
    from decayguard.release.manual import release_status

    return release_status(config).to_dict()


@router.get(
    "/history",
    dependencies=[ReadAccess],
    response_model=list[TransitionOut],
    summary="Every release transition, oldest first",
)
def get_history(
    config: ConfigDep,
    version: Annotated[
        str | None,
        Query(pattern=VERSION_PATTERN, description="Only this version's transitions."),
    ] = None,
) -> list[dict[str, Any]]:
    """Which version served when, why, and who decided: every transition of the model (or
    of one ``version``), oldest first."""
    from decayguard.release.manual import release_history

    return release_history(config, version)


@router.post(
    "/promote",
    dependencies=[WriteAccess],
    response_model=OutcomeOut,
    summary="Promote the candidate (or a version) to champion now",
)
def post_promote(decision: DecisionIn, config: ConfigDep) -> dict[str, Any]:
    """A person's promotion, audited with the reason. 409 (naming ``version``) when the
    version's stage does not allow it, for example when there is no candidate."""
    from decayguard.release.manual import promote

    outcome = promote(config, decision.version, reason=decision.reason, actor=api_actor(config))
    return outcome.to_dict()


@router.post(
    "/rollback",
    dependencies=[WriteAccess],
    response_model=OutcomeOut,
    summary="Take the candidate off live traffic, or restore the previous champion",
)
def post_rollback(decision: DecisionIn, config: ConfigDep) -> dict[str, Any]:
    """A person's rollback, audited with the reason: the candidate leaves live traffic; with
    no candidate (or ``version`` = the champion) the previous champion serves again. 409
    (naming ``version``) when the version's stage does not allow it."""
    from decayguard.release.manual import rollback

    outcome = rollback(config, decision.version, reason=decision.reason, actor=api_actor(config))
    return outcome.to_dict()
