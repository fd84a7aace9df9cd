"""Store ingest and window-read speed, SQLite and PostgreSQL.

Figures:
- ``sqlite_rows_per_s`` / ``postgres_rows_per_s``: prediction rows per second written through
  ``insert_predictions`` in batches of 1,000 (the serving logger's path, idempotency check
  included). Goals: >= 20,000 (SQLite) and >= 10,000 (PostgreSQL) on a 2-core machine.
- ``sqlite_read_1m_s``: reading a 1M-row window into pandas (meta + inputs + outputs).
  Goal: <= 3 s. Baseline in the same run: the layout we did not choose, one JSON document per
  row in a plain table, read and decoded with ``json.loads`` into a DataFrame
  (``baseline_json_read_1m_s``); ``read_speedup`` is their ratio.

Run: ``.venv/bin/python bench/store_ingest.py [--rows 1000000]`` (needs PostgreSQL on
127.0.0.1:5432, trust auth, user postgres; it creates and drops its own database).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from decayguard.store import (
    PredictionRecord,
    create_store_engine,
    insert_predictions,
    read_window,
    upgrade,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 1_000
EMPLOYMENT = ["salaried", "self_employed", "unemployed", "retired"]


def make_batch(start: int, n: int, rng: np.random.Generator) -> list[PredictionRecord]:
    x = rng.normal(size=(n, 5))
    p = rng.random(n)
    emp = rng.integers(0, 4, n)
    return [
        PredictionRecord(
            id=f"r{start + i}",
            ts=T0 + timedelta(seconds=start + i),
            model_name="credit-default",
            model_version="3",
            arm="champion",
            inputs={
                "income": float(x[i, 0]),
                "debt_ratio": float(x[i, 1]),
                "age": float(x[i, 2]),
                "credit_lines": float(x[i, 3]),
                "utilization": float(x[i, 4]),
                "employment": EMPLOYMENT[emp[i]],
            },
            outputs={"proba_0": float(1 - p[i]), "proba_1": float(p[i])},
            prediction="1" if p[i] > 0.5 else "0",
            score=float(p[i]),
            inclusion_prob=0.02,
            review_sampled=False,
            entity_key=str(start + i),
        )
        for i in range(n)
    ]


def ingest_rate(url: str, rows: int, rng: np.random.Generator) -> float:
    engine = create_store_engine(url)
    upgrade(engine)
    batches = [make_batch(s, BATCH, rng) for s in range(0, rows, BATCH)]
    t = time.perf_counter()
    for b in batches:
        insert_predictions(engine, b)
    elapsed = time.perf_counter() - t
    engine.dispose()
    return rows / elapsed


def fill(url: str, rows: int, rng: np.random.Generator) -> None:
    engine = create_store_engine(url)
    upgrade(engine)
    for s in range(0, rows, BATCH * 10):
        insert_predictions(engine, make_batch(s, min(BATCH * 10, rows - s), rng))
    engine.dispose()


def read_seconds(url: str, rows: int) -> float:
    engine = create_store_engine(url)
    t = time.perf_counter()
    window = read_window(engine, "credit-default", T0, T0 + timedelta(seconds=rows))
    frame = pd.concat([window.meta(), window.inputs(), window.outputs()], axis=1)
    elapsed = time.perf_counter() - t
    assert len(frame) == rows, len(frame)
    engine.dispose()
    return elapsed


def baseline_json_read_seconds(path: Path, rows: int, rng: np.random.Generator) -> float:
    """The slow path: one JSON document per row, decoded row by row."""
    con = sqlite3.connect(path)
    con.execute("create table p (id text primary key, ts text, model text, doc text)")
    for s in range(0, rows, BATCH * 10):
        recs = make_batch(s, min(BATCH * 10, rows - s), rng)
        con.executemany(
            "insert into p values (?,?,?,?)",
            [(r.id, r.ts.isoformat(), r.model_name, r.to_json()) for r in recs],
        )
    con.commit()
    t = time.perf_counter()
    cur = con.execute("select doc from p where model = ? order by ts", ("credit-default",))
    records = []
    for (doc,) in cur:
        d = json.loads(doc)
        flat = {k: v for k, v in d.items() if k not in ("inputs", "outputs")}
        flat.update(d["inputs"])
        flat.update(d["outputs"])
        records.append(flat)
    frame = pd.DataFrame.from_records(records)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    elapsed = time.perf_counter() - t
    assert len(frame) == rows
    con.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the read window")
    parser.add_argument("--ingest-rows", type=int, default=100_000)
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    tmp = Path(tempfile.mkdtemp(prefix="dg-bench-store-"))

    sqlite_rate = ingest_rate(f"sqlite:///{tmp}/ingest.db", args.ingest_rows, rng)
    print(f"SQLite ingest:     {sqlite_rate:>10,.0f} rows/s (goal >= 20,000)")

    admin = sa.create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT"
    )
    db = f"dg_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{db}"'))
    try:
        pg_rate = ingest_rate(
            f"postgresql+psycopg://postgres@127.0.0.1:5432/{db}", args.ingest_rows, rng
        )
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()
    print(f"PostgreSQL ingest: {pg_rate:>10,.0f} rows/s (goal >= 10,000)")

    fill(f"sqlite:///{tmp}/read.db", args.rows, rng)
    read_s = read_seconds(f"sqlite:///{tmp}/read.db", args.rows)
    print(f"SQLite read {args.rows:,} rows: {read_s:.2f} s (goal <= 3 s)")
    base_s = baseline_json_read_seconds(tmp / "baseline.db", args.rows, rng)
    print(f"baseline (JSON per row) read: {base_s:.2f} s -> {base_s / read_s:.1f}x faster")
    result = {
        "sqlite_rows_per_s": round(sqlite_rate),
        "postgres_rows_per_s": round(pg_rate),
        "sqlite_read_1m_s": round(read_s, 3),
        "baseline_json_read_1m_s": round(base_s, 3),
        "read_speedup": round(base_s / read_s, 2),
        "rows": args.rows,
    }
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
