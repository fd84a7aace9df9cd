"""Gate reports: every champion/challenger decision, with its figures and reason."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from decayguard.store.schema import gate_reports


def record_gate_report(
    engine: Engine,
    model_name: str,
    version: str,
    *,
    champion_version: str | None,
    passed: bool,
    reason: str,
    report: dict[str, Any],
) -> int:
    """Store one gate decision; returns its id."""
    with engine.begin() as conn:
        new_id = conn.execute(
            gate_reports.insert().returning(gate_reports.c.id),
            {
                "model_name": model_name,
                "version": version,
                "champion_version": champion_version,
                "passed": passed,
                "reason": reason,
                "report": report,
                "created_at": datetime.now(UTC),
            },
        ).scalar_one()
    return int(new_id)


def latest_gate_report(engine: Engine, model_name: str, version: str) -> dict[str, Any] | None:
    """The most recent gate decision on a version, or ``None`` if it was never gated."""
    query = (
        sa.select(gate_reports)
        .where(gate_reports.c.model_name == model_name, gate_reports.c.version == version)
        .order_by(gate_reports.c.id.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return None if row is None else dict(row._mapping)
