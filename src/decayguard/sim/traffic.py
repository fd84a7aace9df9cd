"""Replaying simulated applicants through a real Open Inference Protocol (V2) endpoint.

The request shape is a contract with the serving runtime; it is documented in
``docs/simulator.md``. One row per request (the online path)::

    >>> from datetime import UTC, datetime
    >>> row = {"income": 52000.0, "debt_ratio": 0.31, "age": 40.0, "credit_lines": 4.0,
    ...        "utilization": 0.27, "employment": "salaried"}
    >>> body = to_v2_request(row, "loan-s7-0000001", datetime(2026, 10, 12, 9, 30, tzinfo=UTC),
    ...                      entity_key=1000001)
    >>> body["id"]
    'loan-s7-0000001'
    >>> body["parameters"]
    {'content_type': 'pd', 'event_time': '2026-10-12T09:30:00+00:00'}
    >>> body["inputs"][0]
    {'name': 'income', 'datatype': 'FP64', 'shape': [1, 1], 'data': [52000.0]}
    >>> body["inputs"][5]  # doctest: +NORMALIZE_WHITESPACE
    {'name': 'employment', 'datatype': 'BYTES', 'shape': [1, 1], 'data': ['salaried'],
     'parameters': {'content_type': 'str'}}
    >>> body["inputs"][6]
    {'name': 'applicant_id', 'datatype': 'INT64', 'shape': [1, 1], 'data': [1000001]}
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pandas as pd

from decayguard.errors import InputValidationError
from decayguard.sim.population import CATEGORICAL_FEATURES, ENTITY_KEY, FEATURE_NAMES

_RETRY_STATUS = frozenset({502, 503, 504})


def _iso(value: datetime | pd.Timestamp) -> str:
    ts = pd.Timestamp(value)
    if ts.tzinfo is None:
        raise InputValidationError("event_time", "must be timezone-aware")
    return ts.tz_convert("UTC").isoformat()


def _column(name: str, values: Sequence[Any]) -> dict[str, Any]:
    n = len(values)
    if name in CATEGORICAL_FEATURES:
        data = []
        for v in values:
            if not isinstance(v, str) or not v:
                raise InputValidationError(name, f"expected a non-empty string, got {v!r}")
            data.append(v)
        return {
            "name": name,
            "datatype": "BYTES",
            "shape": [n, 1],
            "data": data,
            "parameters": {"content_type": "str"},
        }
    numbers = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise InputValidationError(name, f"expected a finite number, got {v!r}")
        numbers.append(float(v))
    return {"name": name, "datatype": "FP64", "shape": [n, 1], "data": numbers}


def _outputs(outputs: Sequence[str]) -> dict[str, Any]:
    return {"outputs": [{"name": o} for o in outputs]} if outputs else {}


def _entity_column(values: Sequence[Any]) -> dict[str, Any]:
    keys = [_plain(v) for v in values]
    if all(isinstance(k, int) and not isinstance(k, bool) for k in keys):
        return {"name": ENTITY_KEY, "datatype": "INT64", "shape": [len(keys), 1], "data": keys}
    if all(isinstance(k, str) and k for k in keys):
        return {
            "name": ENTITY_KEY,
            "datatype": "BYTES",
            "shape": [len(keys), 1],
            "data": keys,
            "parameters": {"content_type": "str"},
        }
    raise InputValidationError(ENTITY_KEY, f"entity keys must be integers or strings: {keys[:3]}")


def to_v2_request(
    row: Mapping[str, Any],
    request_id: str,
    event_time: datetime | pd.Timestamp | None,
    *,
    entity_key: int | str | None = None,
    outputs: Sequence[str] = (),
) -> dict[str, Any]:
    """The V2 inference request (a JSON-ready dict) scoring one applicant.

    ``request_id`` becomes the request ``id``, which the serving runtime logs as
    the prediction id; ``event_time`` (simulated time) goes into the request
    ``parameters``; ``entity_key`` is sent as one more input, ``applicant_id``
    (the runtime logs it, and could look missing features up with it).
    ``content_type: "pd"`` lets MLServer decode the inputs as one DataFrame with a
    column per input. ``outputs`` optionally names the outputs to return (for the
    built-in sklearn runtime: ``"predict"``, ``"predict_proba"``). A missing or
    malformed feature raises :class:`~decayguard.errors.InputValidationError`
    naming it.
    """
    missing = [f for f in FEATURE_NAMES if f not in row]
    if missing:
        raise InputValidationError(missing[0], "feature missing from the row")
    parameters: dict[str, Any] = {"content_type": "pd"}
    if event_time is not None:
        parameters["event_time"] = _iso(event_time)
    inputs = [_column(f, [_plain(row[f])]) for f in FEATURE_NAMES]
    if entity_key is not None:
        inputs.append(_entity_column([entity_key]))
    return {"id": request_id, "parameters": parameters, "inputs": inputs, **_outputs(outputs)}


def batch_request_id(first_request_id: str, n_rows: int) -> str:
    """The id of a batch request: ``batch-<first row's id>-<rows>``.

    >>> batch_request_id("loan-s7-0000100", 32)
    'batch-loan-s7-0000100-32'
    """
    return f"batch-{first_request_id}-{n_rows}"


def to_v2_batch_request(
    rows: pd.DataFrame, request_id: str, *, outputs: Sequence[str] = ()
) -> dict[str, Any]:
    """One V2 request scoring several simulated rows (``request_id``, ``applicant_id``,
    ``event_timestamp`` and the features, as in :attr:`Simulation.frame`).

    Inputs have shape ``[n, 1]``, ``applicant_id`` included. Per-row identity that
    is not an input travels in list parameters, one element per row:
    ``prediction_ids`` (the simulator's request ids) and ``event_times``.
    """
    if rows.empty:
        raise InputValidationError("inputs", "a batch needs at least one row")
    missing = [c for c in ("request_id", ENTITY_KEY, "event_timestamp") if c not in rows]
    missing += [f for f in FEATURE_NAMES if f not in rows]
    if missing:
        raise InputValidationError(missing[0], "column missing from the batch")
    return {
        "id": request_id,
        "parameters": {
            "content_type": "pd",
            "prediction_ids": [str(v) for v in rows["request_id"]],
            "event_times": [_iso(t) for t in rows["event_timestamp"]],
        },
        "inputs": [
            *(_column(f, [_plain(v) for v in rows[f]]) for f in FEATURE_NAMES),
            _entity_column(list(rows[ENTITY_KEY])),
        ],
        **_outputs(outputs),
    }


def _plain(value: Any) -> Any:
    """numpy scalars to Python scalars (``json`` cannot encode ``numpy.float64`` as-is)."""
    return value.item() if hasattr(value, "item") else value


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What happened to one replayed row."""

    request_id: str
    """The simulator's id of the row."""
    status_code: int
    """HTTP status; 0 when no answer came (connection error, timeout)."""
    prediction: Any = None
    """The row's value in the ``predict`` output (else in the first output)."""
    prediction_id: str | None = None
    """The id the endpoint gave the row's prediction: its ``prediction_id`` output when it
    has one (the decayguard runtime: the request id, ``<id>.<i>`` in a batch), else the
    request id of a one-row request."""
    outputs: dict[str, Any] = field(default_factory=dict)
    """The row's value in every output, by output name."""
    model_version: str | None = None
    """The model version from the response parameters (else its ``model_version``)."""
    arm: str | None = None
    """Which model answered (``champion``/``challenger``), when the endpoint says."""
    error: str | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        """A 2xx answer that could be read."""
        return 200 <= self.status_code < 300 and self.error is None


_REPORT_COLUMNS = (
    "request_id",
    "status_code",
    "prediction",
    "prediction_id",
    "model_version",
    "arm",
    "error",
    "attempts",
)


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """The outcome of a replay: one result per row, in the order they were given."""

    results: list[ReplayResult]
    elapsed_seconds: float

    @property
    def sent(self) -> int:
        return len(self.results)

    @property
    def failures(self) -> int:
        return sum(not r.ok for r in self.results)

    @property
    def rows_per_second(self) -> float:
        return self.sent / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    def to_frame(self) -> pd.DataFrame:
        """One row per replayed row: ``request_id``, ``status_code``, ``prediction``,
        ``prediction_id``, ``model_version``, ``arm``, ``error``, ``attempts``."""
        return pd.DataFrame(
            [tuple(getattr(r, c) for c in _REPORT_COLUMNS) for r in self.results],
            columns=list(_REPORT_COLUMNS),
        )


def _row_slice(data: list[Any], i: int, n: int) -> Any:
    """Row ``i`` of a flattened output tensor whose first dimension is ``n``."""
    width = max(len(data) // n, 1)
    chunk = data[i * width : (i + 1) * width]
    return chunk[0] if width == 1 else chunk


def _results(
    body: dict[str, Any], request_id: str, ids: list[str], status: int, attempts: int
) -> list[ReplayResult]:
    outputs = body.get("outputs") or []
    params = body.get("parameters") or {}
    version = params.get("model_version", body.get("model_version"))
    arm = params.get("arm")
    results = []
    for i, row_id in enumerate(ids):
        values = {o["name"]: _row_slice(list(o.get("data", [])), i, len(ids)) for o in outputs}
        prediction = values.get("predict", next(iter(values.values()), None))
        logged = values.get("prediction_id", request_id if len(ids) == 1 else None)
        results.append(
            ReplayResult(
                row_id,
                status,
                prediction=prediction,
                prediction_id=None if logged is None else str(logged),
                outputs=values,
                model_version=None if version is None else str(version),
                arm=None if arm is None else str(arm),
                attempts=attempts,
            )
        )
    return results


async def replay_traffic_async(
    endpoint_url: str,
    model_name: str,
    requests: pd.DataFrame,
    *,
    concurrency: int = 8,
    batch_size: int = 1,
    outputs: Sequence[str] = (),
    timeout: float = 10.0,
    retries: int = 2,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ReplayReport:
    """Async form of :func:`replay_traffic` (same arguments)."""
    if concurrency < 1 or batch_size < 1 or retries < 0:
        raise ValueError("concurrency and batch_size must be >= 1, retries >= 0")
    url = f"{endpoint_url.rstrip('/')}/v2/models/{model_name}/infer"
    bodies: list[tuple[list[str], dict[str, Any]]] = []
    for start in range(0, len(requests), batch_size):
        chunk = requests.iloc[start : start + batch_size]
        ids = [str(v) for v in chunk["request_id"]]
        if batch_size == 1:
            row = chunk.iloc[0]
            body = to_v2_request(
                {str(k): v for k, v in row.items()},
                ids[0],
                row["event_timestamp"],
                entity_key=_plain(row[ENTITY_KEY]) if ENTITY_KEY in row else None,
                outputs=outputs,
            )
        else:
            body = to_v2_batch_request(chunk, batch_request_id(ids[0], len(ids)), outputs=outputs)
        bodies.append((ids, body))

    results: list[list[ReplayResult]] = [[] for _ in bodies]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(len(bodies)):
        queue.put_nowait(index)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def send(client: httpx.AsyncClient, index: int) -> list[ReplayResult]:
        ids, body = bodies[index]
        error, status = "", 0
        for attempt in range(1, retries + 2):
            try:
                response = await client.post(url, json=body)
            except httpx.HTTPError as exc:
                error, status = f"{type(exc).__name__}: {exc}", 0
            else:
                status = response.status_code
                if response.is_success:
                    try:
                        answer = response.json()
                    except ValueError:
                        error = f"not a JSON answer: {response.text[:200]!r}"
                        break
                    return _results(answer, body["id"], ids, status, attempt)
                error = response.text[:300]
                if status not in _RETRY_STATUS:
                    break
            if attempt <= retries:
                await asyncio.sleep(0.05 * 2**attempt)
        return [ReplayResult(rid, status, error=error, attempts=attempt) for rid in ids]

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            index = queue.get_nowait()
            results[index] = await send(client, index)

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=timeout, limits=limits, transport=transport) as client:
        await asyncio.gather(*(worker(client) for _ in range(min(concurrency, len(bodies)))))
    elapsed = time.perf_counter() - started
    return ReplayReport([r for batch in results for r in batch], elapsed)


def replay_traffic(
    endpoint_url: str,
    model_name: str,
    requests: pd.DataFrame,
    *,
    concurrency: int = 8,
    batch_size: int = 1,
    outputs: Sequence[str] = (),
    timeout: float = 10.0,
    retries: int = 2,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ReplayReport:
    """Send simulated rows to ``{endpoint_url}/v2/models/{model_name}/infer`` as fast as the
    endpoint answers, ``concurrency`` requests in flight, and report every row's outcome.

    ``requests`` is a slice of :attr:`Simulation.frame` (``request_id``,
    ``applicant_id``, ``event_timestamp`` and the features). With ``batch_size=1``
    each row is one request built by :func:`to_v2_request`; larger batches use
    :func:`to_v2_batch_request`. Connection errors and 502/503/504 answers are
    retried ``retries`` times with the *same* request id, so a retried row is
    logged once by an endpoint that logs idempotently by id; other errors are
    recorded, not raised. Cannot be called from a running event loop: await
    :func:`replay_traffic_async` there.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError(
            "replay_traffic() was called inside a running event loop; "
            "await replay_traffic_async() there instead"
        )
    return asyncio.run(
        replay_traffic_async(
            endpoint_url,
            model_name,
            requests,
            concurrency=concurrency,
            batch_size=batch_size,
            outputs=outputs,
            timeout=timeout,
            retries=retries,
            transport=transport,
        )
    )
