"""Can the monitor decide? The project's recent traffic and label delays against its windows.

The defaults (24-hour windows, at least 100 predictions per window) suit a high-traffic
model. A model answering 35 requests a day, or whose labels arrive ten days late, never
reaches a strategy's minimum and its monitor silently decides nothing. :func:`check_readiness`
replays the monitor's counting over the last days of the store — at every hour, how many
predictions, labelled reviews and labels a run would have seen in each window, counting only
the evidence that had arrived by then — and says, per strategy, whether it can decide with
the configured windows and, if not, which keys to change and to what.

``decayguard check`` is the command-line adapter over :func:`check_readiness`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from numpy.typing import NDArray
from sqlalchemy.engine import Engine

from decayguard.config import CONFIG_FILENAME, DecayguardConfig
from decayguard.errors import DecayguardError
from decayguard.store import (
    active_version,
    create_store_engine,
    current_labels,
    ensure_schema,
    read_window,
)
from decayguard.store.reviews import reviewed_sample
from decayguard.watch.baseline import baseline_path
from decayguard.watch.evidence import (
    REQUIRED_SHARE,
    EvidenceCounts,
    EvidenceStream,
    ReplayGrid,
    WindowAdvisor,
    window_ladder,
)

__all__ = [
    "KeyChange",
    "ReadinessReport",
    "StrategyReadiness",
    "check_readiness",
]

SHADOW_ARM = "shadow"  # never answered to a client: not part of realized performance


@dataclass(frozen=True)
class KeyChange:
    """One configuration change that lets a strategy decide."""

    key: str
    current: float
    proposed: float
    why: str
    alternative: bool = False
    """Instead of the change before it, not as well."""

    def __str__(self) -> str:
        return f"{self.key}: {self.current:g} -> {self.proposed:g} ({self.why})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "current": self.current,
            "proposed": self.proposed,
            "why": self.why,
            "alternative": self.alternative,
        }


@dataclass(frozen=True)
class StrategyReadiness:
    """Whether one strategy can decide with the configured window, and what to change."""

    strategy: str
    window_key: str
    window_hours: float
    minimum_key: str
    minimum: int
    can_decide: bool
    now_count: int
    """What a run at the check's time counts in the configured window."""
    share_deciding: float | None
    """Share of the replayed hourly runs that reached the minimum (``None``: too little
    history to replay this window)."""
    summary: str
    changes: tuple[KeyChange, ...] = ()
    notes: tuple[str, ...] = ()
    provisional: bool = False
    """Realized only: the window's label coverage stays below ``feedback.label_maturity``."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "can_decide": self.can_decide,
            "window": {"key": self.window_key, "hours": self.window_hours},
            "minimum": {"key": self.minimum_key, "value": self.minimum},
            "count_now": self.now_count,
            "share_of_runs_deciding": self.share_deciding,
            "provisional": self.provisional,
            "summary": self.summary,
            "changes": [c.to_dict() for c in self.changes],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class ReadinessReport:
    """What ``decayguard check`` found for one project."""

    config_file: str
    model_name: str
    now: datetime
    lookback_days: float
    store: str
    champion_version: str | None
    problems: tuple[str, ...]
    """What stops every strategy (no store, no champion, no baseline)."""
    traffic: dict[str, Any]
    strategies: dict[str, StrategyReadiness] = field(default_factory=dict)

    @property
    def undecided(self) -> list[str]:
        return [s for s, r in self.strategies.items() if not r.can_decide]

    @property
    def ready(self) -> bool:
        return not self.problems and not self.undecided

    @property
    def exit_code(self) -> int:
        """0: every strategy can decide; 1: some cannot (or nothing can run)."""
        return 0 if self.ready else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "config": {"file": self.config_file, "error": None},
            "model_name": self.model_name,
            "now": self.now.isoformat(),
            "lookback_days": self.lookback_days,
            "store": self.store,
            "champion_version": self.champion_version,
            "problems": list(self.problems),
            "traffic": self.traffic,
            "strategies": {s: r.to_dict() for s, r in self.strategies.items()},
            "undecided": self.undecided,
        }


def _duration(hours: float) -> str:
    if hours < 48:
        return f"{hours:.0f} h" if hours >= 1 else f"{hours * 60:.0f} min"
    return f"{hours / 24:.1f} days".replace(".0 days", " days")


def _per_day(n: float) -> str:
    return f"{n:.0f}" if n >= 10 else f"{n:.1f}".replace(".0", "")


def _assess(
    advisor: WindowAdvisor,
    strategy: str,
    stream: EvidenceStream,
    window: tuple[str, float],
    minimum_of: tuple[str, int],
) -> StrategyReadiness:
    (window_key, window_hours), (minimum_key, minimum) = window, minimum_of
    counts = stream.counts
    now_count = counts.count(window_hours, counts.bins)
    share = advisor.share(counts, window_hours, minimum)
    can = share >= REQUIRED_SHARE if share is not None else now_count >= minimum
    delay = ""
    if len(stream.delays_hours) and np.median(stream.delays_hours) >= 1:
        delay = f", arriving about {_duration(float(np.median(stream.delays_hours)))} late"
    summary = (
        f"{now_count} {stream.noun} in the last {_duration(window_hours)} "
        f"({minimum} needed); about {_per_day(stream.per_day)} {stream.noun} a day{delay}"
    )
    if share is not None:
        summary += f"; {share:.0%} of hourly runs in the history reached {minimum}"
    changes: list[KeyChange] = []
    notes: list[str] = []
    if not can:
        proposed = advisor.propose(stream, window_hours, minimum)
        if proposed is None:
            notes.append(f"no {stream.noun} in the history checked: nothing to size a window on")
        else:
            why = f"about {_per_day(stream.per_day)} {stream.noun} a day{delay}; "
            why += f"{minimum} needed per window"
            changes.append(KeyChange(window_key, window_hours, proposed, why))
    return StrategyReadiness(
        strategy,
        window_key,
        window_hours,
        minimum_key,
        minimum,
        can,
        now_count,
        share,
        summary,
        tuple(changes),
        tuple(notes),
    )


def _maturity(
    cfg: DecayguardConfig, labels: EvidenceStream, served: EvidenceCounts, window_hours: float
) -> tuple[bool, list[KeyChange], list[str]]:
    """Whether the realized window reaches ``feedback.label_maturity``, and what to change."""
    maturity = cfg.feedback.label_maturity
    bins = labels.counts.bins

    def coverage(hours: float) -> float | None:
        n = served.count(hours, bins)
        return labels.counts.count(hours, bins) / n if n else None

    now = coverage(window_hours)
    if now is None or now >= maturity:
        return False, [], []
    notes = [f"label coverage of the window is {now:.0%}, below feedback.label_maturity "]
    notes[0] += f"({maturity:g}): its figures stay provisional"
    for hours in window_ladder(bins * served.bin_hours):
        cov = coverage(hours)
        if hours > window_hours and cov is not None and cov >= maturity:
            why = f"a window of {_duration(hours)} reaches {cov:.0%} label coverage"
            return (
                True,
                [KeyChange("monitoring.labels_window_hours", window_hours, hours, why)],
                notes,
            )
    proposed = math.floor(now * 20) / 20
    if proposed > 0:
        why = f"a window of {_duration(window_hours)} reaches {now:.0%} label coverage"
        return True, [KeyChange("feedback.label_maturity", maturity, proposed, why)], notes
    return True, [], notes


def _review_budget(
    cfg: DecayguardConfig, reviews: EvidenceStream, sampled: float, predictions: int
) -> KeyChange | None:
    """A larger review budget, when reviewers keep up with the sample (most of it reviewed)."""
    if not predictions or not sampled or reviews.per_day <= 0:
        return None
    reviewed = len(reviews.delays_hours)
    if reviewed < 0.8 * sampled:
        return None  # the reviewers, not the sample, are the bottleneck
    mon, fb = cfg.monitoring, cfg.feedback
    minimum = mon.min_reviews
    delay = float(np.mean(reviews.delays_hours))
    hours = max(mon.review_window_hours - delay, 1.0)
    needed = 24 * (minimum + 2 * math.sqrt(minimum)) / hours  # reviews a day
    factor = needed / reviews.per_day
    why = (
        f"reviewers keep up with the sample ({reviewed} of {sampled:.0f} sampled reviewed); "
        f"{minimum} reviews per {_duration(mon.review_window_hours)} need about "
        f"{_per_day(needed)} a day"
    )
    if fb.review_per_day is not None:
        proposed = float(math.ceil(fb.review_per_day * factor))
        return KeyChange("feedback.review_per_day", fb.review_per_day, proposed, why, True)
    share = sampled / predictions  # the share actually sampled
    proposed = min(1.0, math.ceil(share * factor * 100) / 100)
    return KeyChange("feedback.review_share", fb.review_share, proposed, why, True)


def _as_ns(values: Any) -> NDArray[Any]:
    series = pd.to_datetime(pd.Series(values), utc=True).dt.tz_localize(None)
    return series.to_numpy(dtype="datetime64[ns]")


def _threshold_problems(cfg: DecayguardConfig) -> list[str]:
    if cfg.performance_thresholds:
        return []
    return [
        f"{cfg.root / CONFIG_FILENAME}: monitoring.performance_thresholds: none in force for a "
        f"{cfg.model.task} model, so no strategy can declare performance decay (see "
        "docs/configuration.md for the metrics it accepts)"
    ]


def _store_problem(cfg: DecayguardConfig) -> str | None:
    url = sa.make_url(cfg.resolved_store_url)
    file = url.database if url.get_backend_name() == "sqlite" else None
    if file and file != ":memory:" and not Path(file).exists():
        return f"no store at {url.database}: run `decayguard store upgrade`, then serve"
    return None


def _champion(cfg: DecayguardConfig, engine: Engine) -> tuple[str | None, list[str]]:
    version = active_version(engine, cfg.model.name)
    if version is None:
        return None, [
            f"model.name: no active champion deployment of {cfg.model.name!r} in the store "
            "(put one in service with decayguard.release.release_champion)"
        ]
    path = baseline_path(cfg.path(cfg.project.state_dir), cfg.model.name, version)
    if not path.exists():
        return version, [f"{path}: no monitoring baseline for version {version}"]
    return version, []


def check_readiness(
    cfg: DecayguardConfig,
    now: datetime | None = None,
    *,
    lookback: timedelta | None = None,
) -> ReadinessReport:
    """Replay the monitor's counting over the store's recent history and judge each window.

    ``now`` (default: the current hour) ends the history; ``lookback`` (default: two weeks,
    or twice the longest configured window) is how far back it goes. Reads the store only.
    """
    mon = cfg.monitoring
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    longest = max(mon.window_hours, mon.review_window_hours, mon.labels_window_hours)
    lookback = lookback or max(timedelta(days=14), timedelta(hours=2 * longest))
    grid = ReplayGrid.covering(now, lookback / timedelta(hours=1))
    report: dict[str, Any] = {
        "config_file": str(cfg.root / CONFIG_FILENAME),
        "model_name": cfg.model.name,
        "now": now,
        "lookback_days": grid.hours / 24,
        "store": cfg.project.store_url,
        "champion_version": None,
        "traffic": {},
    }
    problem = _store_problem(cfg)
    if problem is not None:
        return ReadinessReport(**report, problems=(problem,))
    engine = create_store_engine(cfg.resolved_store_url)
    try:
        report["store"] = engine.url.render_as_string(hide_password=True)
        try:
            ensure_schema(engine)
        except DecayguardError as exc:
            return ReadinessReport(**report, problems=(str(exc),))
        report["champion_version"], problems = _champion(cfg, engine)
        meta = read_window(engine, cfg.model.name, grid.start, now).meta()
        labels = current_labels(engine, cfg.model.name, grid.start, now)
        reviews = reviewed_sample(engine, cfg.model.name, grid.start, now)
    finally:
        engine.dispose()
    strategies, traffic, more = _judge(cfg, grid, meta, labels, reviews)
    report["traffic"] = traffic
    problems = [*_threshold_problems(cfg), *problems, *more]
    return ReadinessReport(**report, problems=tuple(problems), strategies=strategies)


def _judge(
    cfg: DecayguardConfig,
    grid: ReplayGrid,
    meta: pd.DataFrame,
    labels: pd.DataFrame,
    reviews: pd.DataFrame,
) -> tuple[dict[str, StrategyReadiness], dict[str, Any], list[str]]:
    mon = cfg.monitoring
    ts = _as_ns(meta["ts"])
    none = ts[:0]
    first_run, history = grid.history(ts)
    advisor = WindowAdvisor(first_run)

    served = meta["arm"].astype(str).to_numpy() != SHADOW_ARM
    by_id = pd.Series(ts[served], index=meta["prediction_id"].astype(str).to_numpy()[served])
    joined = labels.dropna(subset=["prediction_id"])
    joined = joined[joined["prediction_id"].astype(str).isin(by_id.index)]
    label_ts = by_id.reindex(joined["prediction_id"].astype(str)).to_numpy(dtype="datetime64[ns]")
    reviewed = reviews[reviews["status"] == "labeled"] if len(reviews) else reviews

    proxy = grid.stream("predictions", ts, ts, history)
    review = grid.stream(
        "reviews",
        _as_ns(reviewed["ts"]) if len(reviewed) else none,
        _as_ns(reviewed["reviewed_at"]) if len(reviewed) else none,
        history,
    )
    realized = grid.stream(
        "labels", label_ts, _as_ns(joined["received_at"]) if len(joined) else none, history
    )
    strategies = {
        "proxy": _assess(
            advisor,
            "proxy",
            proxy,
            ("monitoring.window_hours", mon.window_hours),
            ("monitoring.min_window_rows", mon.min_window_rows),
        ),
        "review": _assess(
            advisor,
            "review",
            review,
            ("monitoring.review_window_hours", mon.review_window_hours),
            ("monitoring.min_reviews", mon.min_reviews),
        ),
        "realized": _assess(
            advisor,
            "realized",
            realized,
            ("monitoring.labels_window_hours", mon.labels_window_hours),
            ("monitoring.min_labels", mon.min_labels),
        ),
    }
    budget = _review_budget(cfg, review, float(meta["review_sampled"].astype(bool).sum()), len(ts))
    if budget is not None and not strategies["review"].can_decide:
        judged = strategies["review"]
        strategies["review"] = replace(judged, changes=(*judged.changes, budget))
    judged = strategies["realized"]
    window = judged.changes[0].proposed if judged.changes else mon.labels_window_hours
    served_counts = grid.stream("predictions", ts[served], ts[served], history).counts
    provisional, changes, notes = _maturity(cfg, realized, served_counts, window)
    if provisional:
        strategies["realized"] = replace(
            judged,
            provisional=True,
            changes=judged.changes + tuple(changes),
            notes=judged.notes + tuple(notes),
        )
    traffic = {
        "history_days": round(history / 24, 2),
        "predictions": len(ts),
        "predictions_per_day": round(proxy.per_day, 2),
        "reviews": len(review.delays_hours),
        "reviews_per_day": round(review.per_day, 2),
        "review_delay_hours_median": _quantile(review.delays_hours, 0.5),
        "labels": len(realized.delays_hours),
        "labels_per_day": round(realized.per_day, 2),
        "label_delay_hours_median": _quantile(realized.delays_hours, 0.5),
        "label_delay_hours_p90": _quantile(realized.delays_hours, 0.9),
    }
    problems = []
    if not len(ts):
        problems.append(
            f"no predictions of {cfg.model.name!r} in the "
            f"{_duration(grid.hours)} before {grid.now:%Y-%m-%d %H:%M} UTC: "
            "nothing to check the windows against"
        )
    return strategies, traffic, problems


def _quantile(values: NDArray[np.float64], q: float) -> float | None:
    return round(float(np.quantile(values, q)), 2) if len(values) else None
