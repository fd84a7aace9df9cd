"""Serving benchmark: the decayguard runtime (with durable logging) against MLServer's own
``mlserver-sklearn`` runtime (no logging), plus hot swaps, a store outage and ``kill -9``.

Same run, same MLServer process, same fitted scikit-learn pipeline (scaled numerics +
one-hot ``employment`` + logistic regression), same single-row V2 request body:

- (a) ``mlserver_sklearn.SKLearnModel`` serving the pipeline from ``model.joblib``;
- (b) ``decayguard.serving.runtime.DecayguardRuntime`` serving the same pipeline from its
  hash-pinned skops export, validating the input, sampling for review and logging every
  prediction (write-ahead spool + batched writes to PostgreSQL).

Figures (goals in brackets):
- ``throughput_ratio`` = req/s of (b) / req/s of (a), wrk with 8 connections  [>= 0.8]
- ``p50_overhead_ms`` = p50 latency of (b) - (a), one connection, sequential  [<= 0.5]
- ``swap_failures``: failed requests over 5 hot swaps under 4 concurrent wrk clients  [0]
- ``store_outage_lost``: answered predictions missing from the store after it was down for
  30 s under load and came back  [0]
- ``kill9_lost``: predictions answered before ``kill -9`` of the server, under load, missing
  from the store after a restart replays the spool  [0]
The machine is shared, so (a) and (b) run as short back-to-back *pairs* in alternating order
and the figures are medians over the pairs (a pair shares the neighbours' load). The server's
own CPU time per answered request (all its threads and the log shipper's) is reported too:
``cpu_throughput_ratio`` = CPU ms/request of (a) / of (b), the capacity ratio on a dedicated
core, and ``cpu_overhead_ms_per_request``, which is insensitive to the neighbours' load.

Prerequisites: ``apt-get update && apt-get install -y wrk``; PostgreSQL on 127.0.0.1:5432
(trust auth, user postgres; the bench creates and drops its own database); the serving
environment ``.venv-serve`` next to ``.venv``.

Run: ``.venv/bin/python bench/serving.py [--seconds 10] [--rounds 3]`` (about 4 minutes).
Ends with exactly one ``RESULT {json}`` line.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import joblib
import numpy as np
import pandas as pd
import sqlalchemy as sa
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from decayguard.config import (
    DecayguardConfig,
    FeatureSpec,
    ModelConfig,
    ProjectConfig,
    ServingConfig,
)
from decayguard.registry import export_model
from decayguard.serving import ServingProcess, deploy_model
from decayguard.serving.shipper import read_status
from decayguard.store import create_store_engine, upgrade
from decayguard.store.schema import predictions

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
NUMERIC = ["income", "debt_ratio", "age", "credit_lines", "utilization"]
EMPLOYMENT = ["salaried", "self_employed", "unemployed", "retired"]
MODEL = "credit-default"
BASELINE = "sklearn-baseline"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fit_model(kind: str) -> tuple[Any, pd.DataFrame]:
    """``pipeline``: the demo's encoder + scaler + logistic regression (about 3 ms per call
    here). ``linear``: a logistic regression on the five numeric features (about 0.2 ms), so
    that the runtimes' own costs are not hidden under the model's."""
    rng = np.random.default_rng(7)
    n = 5000
    frame = pd.DataFrame(
        {
            "income": rng.lognormal(10.5, 0.4, n),
            "debt_ratio": rng.uniform(0, 1, n),
            "age": rng.uniform(21, 75, n),
            "credit_lines": rng.integers(0, 12, n).astype(float),
            "utilization": rng.beta(2, 3, n),
            "employment": rng.choice(EMPLOYMENT, n),
        }
    )
    logit = 3 * frame.debt_ratio + 2 * frame.utilization - 2.5
    label = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int).astype(str)
    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["employment"]),
        ]
    )
    if kind == "linear":
        frame = frame[NUMERIC]
        return LogisticRegression(max_iter=500).fit(frame, label), frame
    pipe = Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=500))]).fit(frame, label)
    return pipe, frame


def request_body(row: pd.Series) -> dict[str, Any]:
    inputs = [
        {"name": n, "datatype": "FP64", "shape": [1], "data": [float(row[n])]} for n in NUMERIC
    ]
    if "employment" in row:
        inputs.append(
            {"name": "employment", "datatype": "BYTES", "shape": [1], "data": [row["employment"]]}
        )
    # content_type "pd": the sklearn runtime decodes the named inputs into a DataFrame (the
    # pipeline needs column names); the decayguard runtime ignores it.
    return {"parameters": {"content_type": "pd"}, "inputs": inputs}


# --- wrk -------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(
    url: str, body: dict[str, Any], seconds: float, connections: int, folder: Path
) -> dict[str, float]:
    script = folder / f"post-{uuid.uuid4().hex[:6]}.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [[{json.dumps(body)}]]\n"
    )
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (
        sum(int(g) for g in sock.groups()) if sock else 0
    )
    assert p50 is not None, out
    return {
        "rps": rps,
        "p50_ms": float(p50.group(1)) * _UNITS[p50.group(2)],
        "requests": total,
        "errors": errors,
    }


def group_cpu_seconds(pgid: int, extra_pids: tuple[int, ...] = ()) -> float:
    """User + system CPU time of every process in a process group (all their threads),
    plus the processes ``extra_pids`` (the log shipper runs in a session of its own)."""
    import os

    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid or int(entry) in extra_pids:  # field 5 is the pgrp
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def measured(
    pgid: int,
    url: str,
    body: dict[str, Any],
    seconds: float,
    connections: int,
    folder: Path,
    extra_pids: tuple[int, ...] = (),
) -> dict[str, float]:
    """A wrk run plus the server's CPU time per answered request (shipper included)."""
    before = group_cpu_seconds(pgid, extra_pids)
    result = wrk(url, body, seconds, connections, folder)
    used = group_cpu_seconds(pgid, extra_pids) - before
    result["cpu_ms_per_request"] = 1e3 * used / max(1, result["requests"])
    return result


def interleaved_latencies(
    urls: dict[str, str], bodies: dict[str, dict[str, Any]], n: int
) -> tuple[list[float], list[float]]:
    """Sequential requests alternating (a), (b), (b), (a)...: both see the same moments of
    the neighbours' load, so their latency difference is the runtimes' own. Milliseconds."""
    content = {k: json.dumps(b).encode() for k, b in bodies.items()}
    headers = {"content-type": "application/json"}
    lat: dict[str, list[float]] = {"a": [], "b": []}
    with httpx.Client(timeout=10) as client:
        for i in range(n):
            for k in ("a", "b") if i % 2 == 0 else ("b", "a"):
                start = time.perf_counter()
                response = client.post(urls[k], content=content[k], headers=headers)
                lat[k].append(1e3 * (time.perf_counter() - start))
                assert response.status_code == 200, response.text
    return lat["a"], lat["b"]


# --- store -----------------------------------------------------------------------------


def create_database() -> tuple[str, str]:
    name = f"dg_bench_serving_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    engine = create_store_engine(url)
    upgrade(engine)
    engine.dispose()
    return name, url


def drop_database(name: str) -> None:
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def set_reachable(name: str, reachable: bool) -> None:
    """A real outage for the server: PostgreSQL refuses its connections."""
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            sa.text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {str(reachable).lower()}')
        )
        if not reachable:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :d AND pid <> pg_backend_pid()"
                ),
                {"d": name},
            )
    admin.dispose()


def missing_ids(url: str, ids: list[str]) -> set[str]:
    engine = create_store_engine(url)
    found: set[str] = set()
    with engine.connect() as conn:
        for i in range(0, len(ids), 1000):
            chunk = ids[i : i + 1000]
            found.update(
                r[0]
                for r in conn.execute(
                    sa.select(predictions.c.id).where(predictions.c.id.in_(chunk))
                )
            )
    engine.dispose()
    return set(ids) - found


def wait_missing(url: str, ids: list[str], timeout: float) -> set[str]:
    deadline = time.monotonic() + timeout
    missing = missing_ids(url, ids)
    while missing and time.monotonic() < deadline:
        time.sleep(0.5)
        missing = missing_ids(url, sorted(missing))
    return missing


# --- load with id accounting ----------------------------------------------------------------


class IdLoad:
    """Client threads sending requests with their own ids, recording the answered ones."""

    def __init__(self, url: str, body: dict[str, Any], clients: int = 4) -> None:
        self.url, self.body, self.clients = url, body, clients
        self.answered: list[str] = []
        self.failed = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, args=(i,)) for i in range(clients)]

    def _loop(self, worker: int) -> None:
        with httpx.Client(timeout=10) as client:
            n = 0
            while not self._stop.is_set():
                rid = f"b{worker}-{n}-{uuid.uuid4().hex[:8]}"
                n += 1
                try:
                    response = client.post(self.url, json={**self.body, "id": rid})
                except httpx.HTTPError:
                    self.failed += 1
                    time.sleep(0.05)
                    continue
                if response.status_code == 200:
                    self.answered.append(rid)
                else:
                    self.failed += 1

    def __enter__(self) -> IdLoad:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()


# --- the run ---------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per throughput run")
    parser.add_argument("--rounds", type=int, default=9, help="alternating (a)/(b) pairs")
    parser.add_argument("--outage-seconds", type=float, default=30.0)
    parser.add_argument(
        "--model", choices=["linear", "pipeline"], default="linear", help=fit_model.__doc__
    )
    parser.add_argument("--latency-requests", type=int, default=1500, help="per runtime")
    parser.add_argument("--skip-faults", action="store_true", help="throughput and latency only")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit(
            "bench/serving.py needs wrk (a Python client saturates before MLServer does):\n"
            "    apt-get update && apt-get install -y wrk"
        )
    root = Path(tempfile.mkdtemp(prefix="dg-bench-serving-"))
    db_name, store_url = create_database()
    server: ServingProcess | None = None
    try:
        pipe, frame = fit_model(args.model)
        config = DecayguardConfig(
            project=ProjectConfig(store_url=store_url),
            model=ModelConfig(name=MODEL, entity_key="applicant_id"),
            serving=ServingConfig(
                http_port=free_port(), grpc_port=free_port(), metrics_port=free_port()
            ),
            root=root,
        )
        schema = [FeatureSpec(name=n) for n in NUMERIC]
        if args.model == "pipeline":
            schema.append(FeatureSpec(name="employment", dtype="category"))
        v1 = root / "export-v1"
        v2 = root / "export-v2"
        common: dict[str, Any] = {"model_name": MODEL, "features": schema, "reference": frame}
        export_model(pipe, v1, model_version="1", **common)
        export_model(pipe, v2, model_version="2", **common)
        deploy_model(config, v1)
        baseline_dir = root / ".decayguard" / "models" / BASELINE
        baseline_dir.mkdir(parents=True)
        baseline_model = pipe
        if args.model == "linear":
            # (a) gets its fastest request format: one [1, 5] FP64 tensor decoded by NumpyCodec
            # (no pandas). Same fitted coefficients; only the column names are dropped so
            # that scikit-learn takes a bare array without a warning.
            import copy

            baseline_model = copy.deepcopy(pipe)
            del baseline_model.feature_names_in_
        joblib.dump(baseline_model, baseline_dir / "model.joblib")
        (baseline_dir / "model-settings.json").write_text(
            json.dumps(
                {
                    "name": BASELINE,
                    "implementation": "mlserver_sklearn.SKLearnModel",
                    "parameters": {"uri": "./model.joblib"},
                }
            )
        )
        server = ServingProcess.from_config(config)
        server.log_path = root / "mlserver.log"
        server.start().wait_ready(120)
        body = request_body(frame.iloc[0])
        bodies = {"a": body, "b": body}
        if args.model == "linear":
            row = [float(frame.iloc[0][n]) for n in NUMERIC]
            # The same body for both: one [1, 5] FP64 tensor, the layout NumpyCodec clients
            # send and (a) decodes fastest (no pandas).
            matrix = {"name": "input-0", "datatype": "FP64", "shape": [1, 5], "data": row}
            bodies = {"a": {"inputs": [matrix]}, "b": {"inputs": [matrix]}}
        urls = {
            "a": f"{server.url}/v2/models/{BASELINE}/infer",
            "b": f"{server.url}/v2/models/{MODEL}/infer",
        }
        answers = {k: httpx.post(u, json=bodies[k], timeout=10) for k, u in urls.items()}
        for k, r in answers.items():
            assert r.status_code == 200, (k, r.text)
        same = {o["name"]: o["data"] for o in answers["a"].json()["outputs"]}["predict"][0]
        ours = {o["name"]: o["data"] for o in answers["b"].json()["outputs"]}["predict"][0]
        assert str(same) == str(ours), ("the two runtimes disagree", same, ours)

        # Warm-up, then short alternating pairs: on a shared machine the load of other
        # processes drifts, and a paired design cancels what both members of a pair share.
        for k, u in urls.items():
            wrk(u, bodies[k], 3, 8, root)
        pgid = server.pid
        assert pgid is not None
        assert server.spool_dir is not None
        shipper_status = read_status(server.spool_dir) or {}
        shipper_pid = shipper_status.get("pid")
        assert isinstance(shipper_pid, int), "the prediction log shipper did not start"
        ratios: list[float] = []
        cpu: dict[str, list[float]] = {"a": [], "b": []}
        rps: dict[str, list[float]] = {"a": [], "b": []}
        for r in range(args.rounds):
            pair: dict[str, dict[str, float]] = {}
            for k in ("a", "b") if r % 2 == 0 else ("b", "a"):
                pair[k] = measured(pgid, urls[k], bodies[k], args.seconds, 8, root, (shipper_pid,))
                rps[k].append(pair[k]["rps"])
                cpu[k].append(pair[k]["cpu_ms_per_request"])
            ratios.append(pair["b"]["rps"] / pair["a"]["rps"])
            print(
                f"pair {r + 1:2d}: (a) {pair['a']['rps']:6.0f} req/s, "
                f"{pair['a']['cpu_ms_per_request']:.3f} CPU ms/req | "
                f"(b) {pair['b']['rps']:6.0f} req/s, {pair['b']['cpu_ms_per_request']:.3f} "
                f"CPU ms/req | ratio {ratios[-1]:.2f}",
                flush=True,
            )
        med = statistics.median
        throughput_ratio = med(ratios)
        cpu_a, cpu_b = med(cpu["a"]), med(cpu["b"])
        lat_a, lat_b = interleaved_latencies(urls, bodies, args.latency_requests)
        p50_a, p50_b = med(lat_a), med(lat_b)
        p50_overhead = p50_b - p50_a
        print(
            f"(a) mlserver-sklearn, no logging : median {med(rps['a']):6.0f} req/s, "
            f"server CPU {cpu_a:.3f} ms/request, p50 {p50_a:.3f} ms"
        )
        print(
            f"(b) decayguard, logging on       : median {med(rps['b']):6.0f} req/s, "
            f"server CPU {cpu_b:.3f} ms/request, p50 {p50_b:.3f} ms"
        )
        print(
            f"throughput ratio (b)/(a), median of {args.rounds} pairs: {throughput_ratio:.3f}; "
            f"p50 overhead (interleaved sequential requests): {p50_overhead:+.3f} ms"
        )
        print(
            f"CPU-normalised (capacity of a dedicated core): ratio {cpu_a / cpu_b:.3f}, "
            f"extra CPU per request {cpu_b - cpu_a:+.3f} ms"
        )
        summary: dict[str, Any] = {
            "model": args.model,
            "throughput_ratio": round(throughput_ratio, 3),
            "p50_overhead_ms": round(p50_overhead, 3),
            "cpu_throughput_ratio": round(cpu_a / cpu_b, 3),
            "cpu_overhead_ms_per_request": round(cpu_b - cpu_a, 3),
            "rps_sklearn_runtime": round(med(rps["a"])),
            "rps_decayguard": round(med(rps["b"])),
            "p50_ms_sklearn_runtime": round(p50_a, 3),
            "p50_ms_decayguard": round(p50_b, 3),
        }
        if args.skip_faults:
            print("RESULT " + json.dumps(summary))
            return

        # Hot swaps under 4 concurrent clients.
        result: dict[str, dict[str, float]] = {}
        swap_seconds = 12.0
        runner = threading.Thread(
            target=lambda: result.update(swap=wrk(urls["b"], body, swap_seconds, 4, root))
        )
        runner.start()
        time.sleep(1.5)
        for i in range(5):
            deploy_model(config, v2 if i % 2 == 0 else v1, server_url=server.url)
            time.sleep(1.0)
        runner.join()
        swap = result["swap"]
        print(
            f"hot swap: 5 swaps under 4 clients, {swap['requests']:.0f} requests, "
            f"{swap['errors']:.0f} failed"
        )

        # The store down for 30 s under load.
        with IdLoad(urls["b"], body) as load:
            time.sleep(2)
            set_reachable(db_name, False)
            try:
                time.sleep(args.outage_seconds)
            finally:
                set_reachable(db_name, True)
            time.sleep(3)
        if not load.answered or load.failed:
            sys.exit(f"store outage phase: {len(load.answered)} answered, {load.failed} failed")
        outage_missing = wait_missing(store_url, load.answered, timeout=120)
        print(
            f"store outage {args.outage_seconds:.0f} s: {len(load.answered)} answered, "
            f"{load.failed} failed, {len(outage_missing)} missing from the store after recovery"
        )

        # kill -9 under load, then a restart replays the spool.
        with IdLoad(urls["b"], body) as crash_load:
            time.sleep(3)
            server.kill()
        answered = list(crash_load.answered)
        if not answered:
            sys.exit("kill -9 phase: nothing was answered before the kill")
        not_yet = len(missing_ids(store_url, answered))
        server = ServingProcess.from_config(config)
        server.log_path = root / "mlserver-restart.log"
        server.start().wait_ready(120)
        kill_missing = wait_missing(store_url, answered, timeout=120)
        print(
            f"kill -9 of MLServer and its shipper: {len(answered)} answered before the kill, "
            f"{not_yet} of them not yet in the store at the kill, "
            f"{len(kill_missing)} missing after the restart's replay"
        )
        summary.update(
            {
                "swap_failures": int(swap["errors"]),
                "swap_requests": int(swap["requests"]),
                "store_outage_lost": len(outage_missing),
                "store_outage_answered": len(load.answered),
                "store_outage_failed_requests": load.failed,
                "kill9_lost": len(kill_missing),
                "kill9_answered": len(answered),
                "kill9_unshipped_at_kill": not_yet,
            }
        )
        print("RESULT " + json.dumps(summary))
    finally:
        if server is not None:
            server.stop()
        drop_database(db_name)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
