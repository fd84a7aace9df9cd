"""Per-arm serving health: requests, failed scorings and scoring latency per model version.

The serving side records three Prometheus metrics, labelled ``model``, ``version`` and
``arm`` (``answered``: the model whose answer the client got; ``silent``: the other model,
scoring the same request beside it in shadow and canary):

- ``decayguard_arm_scorings_total``: scorings attempted (a request the model was asked to
  score, whether it succeeded or not);
- ``decayguard_arm_scoring_errors_total``: scorings that failed with an error of the model
  or the server (input the model refuses is the client's error and is not counted here);
- ``decayguard_arm_scoring_seconds``: a histogram of successful scorings' latency, buckets
  from 0.1 ms to 10 s.

They live in ``prometheus_client``'s default registry, which is what MLServer 1.7.1 serves
on its metrics port (``serving.metrics_port``, path ``/metrics``) when ``parallel_workers``
is 0, as decayguard runs it. (MLServer's own ``mlserver.register``/``mlserver.log`` write
to a separate registry that this MLServer does not expose in that setting.) They are
created on first use, once per process: MLServer re-executes the runtime module at every
load, not this one, and the control plane that only reads them never creates them.

:func:`read_arm_health` scrapes the endpoint and folds both arms of a version into one
:class:`ArmHealth` (the release judge's guardrail on errors and latency).
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from decayguard.errors import ServiceError

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram

ANSWERED = "answered"
SILENT = "silent"
SCORINGS = "decayguard_arm_scorings"
ERRORS = "decayguard_arm_scoring_errors"
LATENCY = "decayguard_arm_scoring_seconds"
LATENCY_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075,
    0.01, 0.015, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
"""Upper bounds in seconds: fine below a few milliseconds, where these models score."""
_LABELS = ("model", "version", "arm")


@dataclass(frozen=True)
class ArmHealth:
    """One model version's serving health since its process loaded it."""

    version: str
    requests: int
    """Requests the version scored (answered or silently)."""
    errors: int
    """Scorings that failed with an error of the model or the server (not client errors)."""
    p99_ms: float | None
    """99th percentile of its scoring latency in milliseconds (``None``: no requests)."""

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class _Metrics:
    scorings: Counter
    errors: Counter
    latency: Histogram


_METRICS: _Metrics | None = None
_LOCK = threading.Lock()


def _metrics() -> _Metrics:
    global _METRICS
    with _LOCK:
        if _METRICS is None:
            from prometheus_client import Counter, Histogram

            _METRICS = _Metrics(
                Counter(SCORINGS, "Scorings attempted per model version and arm", _LABELS),
                Counter(ERRORS, "Scorings failed by a model or server error", _LABELS),
                Histogram(
                    LATENCY,
                    "Latency of successful scorings per model version and arm",
                    _LABELS,
                    buckets=LATENCY_BUCKETS,
                ),
            )
        return _METRICS


class ArmRecorder:
    """Records the scorings of one model version in one arm (label lookups done once)."""

    def __init__(self, model: str, version: str, arm: str) -> None:
        m = _metrics()
        self.model = model
        self.version = version
        self.arm = arm
        self._scorings = m.scorings.labels(model, version, arm)
        self._errors = m.errors.labels(model, version, arm)
        self._latency = m.latency.labels(model, version, arm)

    def scored(self, seconds: float) -> None:
        """A scoring that returned (or refused its input: the client's error)."""
        self._scorings.inc()
        self._latency.observe(seconds)

    def failed(self) -> None:
        """A scoring that failed with an error of the model or the server."""
        self._scorings.inc()
        self._errors.inc()


def read_arm_health(
    metrics_url: str, model_name: str, timeout: float = 5.0
) -> dict[str, ArmHealth]:
    """Scrape ``metrics_url`` (MLServer's ``/metrics``) into health per model version.

    Raises :class:`ServiceError` when the endpoint does not answer.
    """
    try:
        response = httpx.get(metrics_url, timeout=timeout)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise ServiceError(f"cannot read serving metrics from {metrics_url}: {exc}") from exc
    return parse_arm_health(response.text, model_name)


def parse_arm_health(text: str, model_name: str) -> dict[str, ArmHealth]:
    """Prometheus text exposition into :class:`ArmHealth` per version of ``model_name``.

    >>> text = '''
    ... decayguard_arm_scorings_total{model="m",version="1",arm="answered"} 3.0
    ... decayguard_arm_scoring_seconds_bucket{model="m",version="1",arm="answered",le="0.001"} 2.0
    ... decayguard_arm_scoring_seconds_bucket{model="m",version="1",arm="answered",le="0.002"} 3.0
    ... decayguard_arm_scoring_seconds_bucket{model="m",version="1",arm="answered",le="+Inf"} 3.0
    ... '''
    >>> parse_arm_health(text, "m")["1"]
    ArmHealth(version='1', requests=3, errors=0, p99_ms=1.97)
    """
    from prometheus_client.parser import text_string_to_metric_families

    requests: dict[str, float] = defaultdict(float)
    errors: dict[str, float] = defaultdict(float)
    buckets: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    try:
        families = list(text_string_to_metric_families(text))
    except ValueError as exc:
        raise ServiceError(f"unreadable Prometheus metrics: {exc}") from exc
    for family in families:
        for sample in family.samples:
            labels = sample.labels
            if labels.get("model") != model_name or "version" not in labels:
                continue
            version = labels["version"]
            if sample.name == f"{SCORINGS}_total":
                requests[version] += sample.value
            elif sample.name == f"{ERRORS}_total":
                errors[version] += sample.value
            elif sample.name == f"{LATENCY}_bucket":
                buckets[version][float(labels["le"])] += sample.value
    versions = sorted(set(requests) | set(errors) | set(buckets))
    return {
        v: ArmHealth(
            version=v,
            requests=int(requests[v]),
            errors=int(errors[v]),
            p99_ms=_quantile_ms(0.99, buckets.get(v, {})),
        )
        for v in versions
    }


def _quantile_ms(q: float, cumulative: dict[float, float]) -> float | None:
    """Prometheus' ``histogram_quantile``: linear within the bucket the rank falls in."""
    bounds = sorted(cumulative)
    total = cumulative[bounds[-1]] if bounds else 0.0
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for upper in bounds:
        count = cumulative[upper]
        if count >= rank:
            if math.isinf(upper):
                return round(lower * 1000.0, 6)  # beyond the last finite bound: its bound
            inside = count - below
            fraction = (rank - below) / inside if inside > 0 else 1.0
            return round((lower + (upper - lower) * fraction) * 1000.0, 6)
        lower, below = upper, count
    return round(lower * 1000.0, 6)
