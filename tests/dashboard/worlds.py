"""The stores the dashboard tests draw: a synthetic one of 90 days of hourly points for 30
features (written as metric points directly), and a real demo project monitored for weeks
with human reviews and a challenger promoted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from decayguard.release.stages import Action, Stage
from decayguard.sim.retrain_world import RetrainWorld, build_retrain_world
from decayguard.store import ReviewRecord, record_review, write_metric_points
from decayguard.store.events import MetricPoint
from decayguard.store.releases import Move, apply_moves, get_release, register_release
from decayguard.store.schema import alerts, predictions
from decayguard.watch.run import monitor_once

SYNTHETIC_MODEL = "synthetic-90d"
SYNTHETIC_START = datetime(2026, 7, 1, tzinfo=UTC)
SYNTHETIC_HOURS = 90 * 24
SYNTHETIC_FEATURES = 30


def synthetic_points(
    hours: int = SYNTHETIC_HOURS, features: int = SYNTHETIC_FEATURES, seed: int = 3
) -> list[MetricPoint]:
    """Hourly points like the monitor's: per feature ``drift.ks``, ``drift.jensen_shannon``
    and ``drift.psi`` (10 features drift from day 60), per prediction output the same, and
    the model-level estimates, realized figures and decay decisions (accuracy falls from
    day 60 and crosses the 0.8 threshold)."""
    rng = np.random.default_rng(seed)
    out: list[MetricPoint] = []
    names = [f"f{i:02d}" for i in range(features)]
    for h in range(hours):
        end = SYNTHETIC_START + timedelta(hours=h + 1)
        start = end - timedelta(hours=24)
        day = h / 24
        shift = max(0.0, (day - 60) / 30)
        for i, name in enumerate(names):
            drifting = i < 10 and shift > 0
            js = float(abs(rng.normal(0.04 + (0.25 * shift if drifting else 0), 0.01)))
            ks = float(abs(rng.normal(0.03 + (0.3 * shift if drifting else 0), 0.01)))
            flag = drifting and ks > 0.1
            common = {
                "model_name": SYNTHETIC_MODEL,
                "window_start": start,
                "window_end": end,
                "strategy": "proxy",
                "feature": name,
                "model_version": "1",
                "n": 500,
            }
            reason = f"drifted: ks effect {ks:.3f}" if flag else f"not drifted: ks {ks:.3f}"
            out += [
                MetricPoint(metric="drift.ks", value=ks, flagged=flag, reason=reason, **common),
                MetricPoint(metric="drift.jensen_shannon", value=js, **common),
                MetricPoint(metric="drift.psi", value=js * 2, **common),
            ]
        acc = 0.9 - 0.15 * shift + float(rng.normal(0, 0.01))
        common = {
            "model_name": SYNTHETIC_MODEL,
            "window_start": start,
            "window_end": end,
            "model_version": "1",
            "n": 500,
        }
        for strategy, metric, value, width in (
            ("proxy", "estimated.accuracy", acc + 0.02, 0.03),
            ("proxy", "estimated.f1", acc - 0.05, 0.04),
            ("proxy", "estimated.roc_auc", acc + 0.05, 0.02),
            ("review", "reviewed.accuracy", acc + float(rng.normal(0, 0.02)), 0.08),
            ("realized", "realized.accuracy", acc, 0.02),
            ("realized", "realized.f1", acc - 0.06, 0.03),
            ("proxy", "multivariate.pca_error", 1 + shift * 0.3, 0.0),
        ):
            out.append(
                MetricPoint(
                    strategy=strategy,
                    metric=metric,
                    value=value,
                    lower=value - width,
                    upper=value + width,
                    **common,
                )
            )
        for strategy, value in (("proxy", acc + 0.02), ("realized", acc)):
            decayed = value + 0.02 < 0.8
            out.append(
                MetricPoint(
                    strategy=strategy,
                    metric="decay.accuracy",
                    value=value,
                    lower=value - 0.02,
                    upper=value + 0.02,
                    flagged=decayed,
                    coverage=0.9 if strategy == "realized" else None,
                    reason=("decayed" if decayed else "not decayed") + f": accuracy {value:.4f}",
                    **common,
                )
            )
    return out


def write_synthetic(engine: Engine) -> int:
    """The points, a release history (champion 1, challenger 2 promoted on day 75) and the
    incidents the monitor would have opened (rows written as the alert tracker does)."""
    points = synthetic_points()
    for i in range(0, len(points), 20_000):
        write_metric_points(engine, points[i : i + 20_000])
    day = lambda n: SYNTHETIC_START + timedelta(days=n)  # noqa: E731
    m = SYNTHETIC_MODEL
    for v, when in (("1", day(0)), ("2", day(70))):
        register_release(engine, m, v, artifact_uri=f"/a/{v}", artifact_sha256=v * 64, now=when)
    apply_moves(engine, m, [Move("1", Action.DEPLOY)], actor="demo", reason="first", now=day(0))
    apply_moves(
        engine,
        m,
        [Move("2", Action.START_CANARY, traffic_share=0.1)],
        actor="judge",
        reason="gate passed",
        now=day(72),
    )
    apply_moves(
        engine,
        m,
        [Move("1", Action.SUPERSEDE), Move("2", Action.PROMOTE)],
        actor="judge",
        reason="canary better",
        now=day(75),
    )
    incidents = [
        ("feature_drift", "warning", "resolved", day(61), day(80), "features drifted: f00"),
        ("decay.realized", "critical", "open", day(78), None, "accuracy below 0.8"),
    ]
    with engine.begin() as conn:
        for rule, severity, status, opened, resolved, message in incidents:
            conn.execute(
                alerts.insert().values(
                    model_name=m,
                    rule=rule,
                    fingerprint=f"{m}/{rule}",
                    severity=severity,
                    status=status,
                    message=message,
                    opened_at=opened,
                    last_seen_at=resolved or day(90),
                    resolved_at=resolved,
                )
            )
    return len(points)


@dataclass(frozen=True)
class DemoProject:
    world: RetrainWorld
    promoted_at: datetime
    reviews: int


def build_demo_project(folder: Path) -> DemoProject:
    """A real project (the simulator's world, champion 1), sampled predictions reviewed by a
    person who answers with the truth, the monitor run every 12 simulated hours, then a
    challenger version 2 taken through shadow and canary to champion (its transitions at
    simulated times, after the monitoring)."""
    world = build_retrain_world(folder, until_day=26)
    cfg = world.cfg
    from decayguard.store import create_store_engine

    engine = create_store_engine(cfg.resolved_store_url)
    start = pd.Timestamp(world.sim.scenario.deployment_time).to_pydatetime()
    try:
        truth = world.sim.labels_due(start, world.now + timedelta(days=60))
        truth = truth.iloc[::8]
        ids = [str(p) for p in truth["prediction_id"]]
        with engine.begin() as conn:
            conn.execute(
                predictions.update().where(predictions.c.id.in_(ids)).values(review_sampled=True)
            )
            times = dict(
                conn.execute(
                    sa.select(predictions.c.id, predictions.c.ts).where(predictions.c.id.in_(ids))
                ).all()
            )
        reviewed = 0
        for k, row in enumerate(truth.itertuples()):
            pid = str(row.prediction_id)
            if pid not in times or k % 5 == 4:  # a fifth stays pending
                continue
            when = times[pid] + timedelta(hours=3)
            if when >= world.now:
                continue
            status = "skipped" if k % 11 == 0 else "labeled"
            record_review(
                engine,
                ReviewRecord(
                    pid,
                    cfg.model.name,
                    "reviewer@example.test",
                    status,
                    value=str(row.value) if status == "labeled" else None,
                    created_at=when,
                ),
            )
            reviewed += 1
        now = start + timedelta(days=1)
        while now <= world.now:
            monitor_once(cfg, now)
            now += timedelta(hours=12)
        champion = get_release(engine, cfg.model.name, "1")
        assert champion is not None
        t0 = world.now - timedelta(days=6)
        register_release(
            engine,
            cfg.model.name,
            "2",
            artifact_uri=champion.artifact_uri + "-v2",
            artifact_sha256="2" * 64,
            parent_version="1",
            actor="retrain",
            reason="retrained on decay: accuracy below 0.8",
            now=t0,
        )
        steps = [
            (
                [Move("2", Action.VALIDATE, Stage.REGISTERED)],
                "gate passed: Δaccuracy +0.12",
                "gate",
                1,
            ),
            ([Move("2", Action.START_SHADOW, Stage.VALIDATED)], "shadow trial starts", "judge", 2),
            (
                [Move("2", Action.START_CANARY, Stage.SHADOW, traffic_share=0.1)],
                "shadow looks no worse",
                "judge",
                3,
            ),
            (
                [
                    Move("1", Action.SUPERSEDE, Stage.CHAMPION),
                    Move("2", Action.PROMOTE, Stage.CANARY),
                ],
                "canary better: Δ0-1 loss -0.2 [-0.29, -0.11]",
                "judge",
                5,
            ),
        ]
        for moves, reason, actor, day in steps:
            apply_moves(
                engine,
                cfg.model.name,
                moves,
                actor=actor,
                reason=reason,
                now=t0 + timedelta(days=day),
            )
    finally:
        engine.dispose()
    return DemoProject(world, t0 + timedelta(days=5), reviewed)
