"""Which model version serves in which role: the deployments table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from decayguard.store.events import audit
from decayguard.store.schema import deployments


def record_deployment(
    engine: Engine,
    model_name: str,
    model_version: str,
    *,
    role: str = "champion",
    mode: str = "champion",
    traffic_share: float | None = None,
    artifact_uri: str | None = None,
    artifact_sha256: str | None = None,
    actor: str = "decayguard",
) -> int:
    """Make ``model_version`` the active one in ``role``; the previous one is ended."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            deployments.update()
            .where(
                deployments.c.model_name == model_name,
                deployments.c.role == role,
                deployments.c.status == "active",
            )
            .values(status="ended", ended_at=now)
        )
        new_id = conn.execute(
            deployments.insert().returning(deployments.c.id),
            {
                "model_name": model_name,
                "model_version": model_version,
                "role": role,
                "mode": mode,
                "traffic_share": traffic_share,
                "artifact_uri": artifact_uri,
                "artifact_sha256": artifact_sha256,
                "status": "active",
                "created_at": now,
            },
        ).scalar_one()
    audit(
        engine,
        "deployment.activated",
        actor=actor,
        model_name=model_name,
        details={"version": model_version, "role": role, "mode": mode, "sha256": artifact_sha256},
    )
    return int(new_id)


def _active(engine: Engine, model_name: str, role: str, column: sa.Column[Any]) -> Any:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(column)
            .where(
                deployments.c.model_name == model_name,
                deployments.c.role == role,
                deployments.c.status == "active",
            )
            .order_by(deployments.c.id.desc())
            .limit(1)
        ).scalar()


def active_version(engine: Engine, model_name: str, role: str = "champion") -> str | None:
    """The model version active in ``role``, or ``None``."""
    version: str | None = _active(engine, model_name, role, deployments.c.model_version)
    return version


def active_artifact_uri(engine: Engine, model_name: str, role: str = "champion") -> str | None:
    """Where the version active in ``role`` was exported (its manifest names its classes),
    or ``None``: none active, or none recorded."""
    uri: str | None = _active(engine, model_name, role, deployments.c.artifact_uri)
    return uri


def active_artifact_sha256(engine: Engine, model_name: str, role: str = "champion") -> str | None:
    """The pinned SHA-256 of the artifact active in ``role``, or ``None``."""
    sha: str | None = _active(engine, model_name, role, deployments.c.artifact_sha256)
    return sha


def active_deployment(
    engine: Engine, model_name: str, role: str = "champion"
) -> dict[str, Any] | None:
    """The active deployment row in ``role`` (version, mode, traffic share, artifact), or
    ``None``."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(deployments)
            .where(
                deployments.c.model_name == model_name,
                deployments.c.role == role,
                deployments.c.status == "active",
            )
            .order_by(deployments.c.id.desc())
            .limit(1)
        ).first()
    return None if row is None else dict(row._mapping)


def end_deployment(engine: Engine, model_name: str, role: str, *, actor: str = "release") -> int:
    """End the active deployment in ``role`` (a challenger leaving live traffic)."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        ended = conn.execute(
            deployments.update()
            .where(
                deployments.c.model_name == model_name,
                deployments.c.role == role,
                deployments.c.status == "active",
            )
            .values(status="ended", ended_at=now)
        ).rowcount
    if ended:
        audit(
            engine, "deployment.ended", actor=actor, model_name=model_name, details={"role": role}
        )
    return int(ended or 0)
