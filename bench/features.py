"""Benchmark the feature store: a 100k-label training set, and online lookups of one entity.

Builds a throwaway decayguard project (``decayguard init``'s scaffold, a seeded offline source
of 10,000 applicants with 5 dated snapshots each), applies it with ``feast apply`` and
materializes it into the SQLite online store. Then measures, each against its baseline in the
same run:

- historical retrieval for 100,000 label rows: ``FeatureRepo.training_set`` (point-in-time
  join, label re-join, canonical SHA-256, saved dataset) vs Feast's bare
  ``get_historical_features(...).to_df()``;
- online lookup of one entity in process: ``FeatureRepo.online_features`` vs Feast's bare
  ``FeatureStore.get_online_features``;
- the same lookup through ``feast serve`` with ``OnlineFeatureClient`` (keep-alive HTTP).

Usage: ``.venv/bin/python bench/features.py [--labels 100000] [--lookups 2000]``.
Ends with one ``RESULT {json}`` line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

os.environ.setdefault("FEAST_USAGE", "False")
os.environ.setdefault("DO_NOT_TRACK", "1")

from decayguard.config import load_config
from decayguard.features import FeatureRepo, FeatureServer, OnlineFeatureClient
from decayguard.features.scaffold import example_source_frame
from decayguard.scaffold import scaffold_project

SERVICE = "credit_default_v1"


def build_project(folder: Path, applicants: int) -> FeatureRepo:
    scaffold_project(folder)
    cfg = load_config(folder)
    source = example_source_frame(cfg, applicants=applicants, snapshots=5)
    source.to_parquet(folder / "data" / "applicant_features.parquet", index=False)
    repo = FeatureRepo.from_config(cfg)
    repo.apply()
    repo.materialize()
    return repo


def make_labels(rows: int, applicants: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    now = pd.Timestamp.now(tz="UTC")
    return pd.DataFrame(
        {
            "applicant_id": rng.integers(1, applicants + 1, rows),
            "event_timestamp": now - pd.to_timedelta(rng.uniform(0, 120, rows), unit="D"),
            "default": rng.choice(["0", "1"], rows, p=[0.9, 0.1]),
        }
    )


def timed(action: Callable[[], object], repeats: int) -> list[float]:
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        seconds.append(time.perf_counter() - start)
    return seconds


def percentiles_ms(samples: list[float]) -> tuple[float, float]:
    p50, p99 = np.percentile(np.array(samples) * 1000.0, [50, 99])
    return float(p50), float(p99)


def bench_historical(repo: FeatureRepo, labels: pd.DataFrame, repeats: int) -> dict[str, float]:
    store, service = repo.store, repo.service(SERVICE)

    def bare() -> pd.DataFrame:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Discarding nonzero nanoseconds")
            return store.get_historical_features(entity_df=labels, features=service).to_df()

    bare_rows = len(bare())  # warm-up, and how many label rows Feast alone returns
    bare_s = statistics.median(timed(bare, repeats))
    ours_s = statistics.median(timed(lambda: repo.training_set(labels), repeats))
    print(f"historical retrieval, {len(labels):,} labels (median of {repeats}):")
    print(f"  Feast get_historical_features().to_df()  {bare_s:7.2f} s  ({bare_rows:,} rows back)")
    print(
        f"  FeatureRepo.training_set (+lineage, saved) {ours_s:7.2f} s  ({len(labels):,} rows)"
        f"  ratio {ours_s / bare_s:.2f}x"
    )
    return {"historical_100k_s": ours_s, "historical_bare_feast_s": bare_s,
            "bare_feast_rows": bare_rows}  # fmt: skip


def bench_online(repo: FeatureRepo, applicants: int, lookups: int) -> dict[str, float]:
    rng = np.random.default_rng(2)
    ids = [int(i) for i in rng.integers(1, applicants + 1, lookups)]
    store, service = repo.store, repo.service(SERVICE, cached=True)
    repo.online_features([{"applicant_id": ids[0]}])  # warm-up
    bare = [
        t
        for i in ids
        for t in timed(
            lambda i=i: store.get_online_features(
                features=service, entity_rows=[{"applicant_id": i}]
            ).to_dict(),
            1,
        )
    ]
    ours = [
        t for i in ids for t in timed(lambda i=i: repo.online_features([{"applicant_id": i}]), 1)
    ]
    bare_p50, bare_p99 = percentiles_ms(bare)
    p50, p99 = percentiles_ms(ours)
    print(f"online lookup of one entity, in process ({lookups:,} lookups, SQLite):")
    print(f"  Feast get_online_features      p50 {bare_p50:6.2f} ms  p99 {bare_p99:6.2f} ms")
    print(
        f"  FeatureRepo.online_features    p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
        f"  ratio p50 {p50 / bare_p50:.2f}x"
    )
    return {"online_p50_ms": p50, "online_p99_ms": p99,
            "online_bare_p50_ms": bare_p50, "online_bare_p99_ms": bare_p99}  # fmt: skip


def bench_http(repo: FeatureRepo, applicants: int, lookups: int, in_process_p50: float) -> dict:
    rng = np.random.default_rng(3)
    ids = [int(i) for i in rng.integers(1, applicants + 1, lookups)]
    with (
        FeatureServer(repo.path, port=0) as server,
        OnlineFeatureClient(server.url) as client,
        httpx.Client(base_url=server.url, trust_env=False) as raw,
    ):
        for i in ids[:50]:  # warm-up
            client.get(SERVICE, {"applicant_id": [i]})

        def bare_post(i: int) -> None:
            body = {"feature_service": SERVICE, "entities": {"applicant_id": [i]}}
            raw.post("/get-online-features", json=body).raise_for_status()

        # Interleaved, so both see the same machine load.
        bare, ours = [], []
        for i in ids:
            bare += timed(lambda i=i: bare_post(i), 1)
            ours += timed(lambda i=i: client.get(SERVICE, {"applicant_id": [i]}), 1)
    bare_p50, bare_p99 = percentiles_ms(bare)
    p50, p99 = percentiles_ms(ours)
    print(f"online lookup of one entity through feast serve ({lookups:,} lookups, keep-alive):")
    print(f"  bare httpx POST (no parsing)   p50 {bare_p50:6.2f} ms  p99 {bare_p99:6.2f} ms")
    print(
        f"  OnlineFeatureClient.get        p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
        f"  ratio p50 {p50 / bare_p50:.2f}x; vs in process {p50 / in_process_p50:.1f}x"
    )
    return {"http_p50_ms": p50, "http_p99_ms": p99,
            "http_bare_p50_ms": bare_p50, "http_bare_p99_ms": bare_p99}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=100_000)
    parser.add_argument("--applicants", type=int, default=10_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-features-") as tmp:
        started = time.perf_counter()
        repo = build_project(Path(tmp) / "credit", args.applicants)
        setup_s = time.perf_counter() - started
        print(f"project scaffolded, applied and materialized in {setup_s:.1f} s")
        labels = make_labels(args.labels, args.applicants)
        result: dict[str, float] = {}
        result |= bench_historical(repo, labels, args.repeats)
        result |= bench_online(repo, args.applicants, args.lookups)
        result |= bench_http(repo, args.applicants, args.lookups, result["online_p50_ms"])
    rounded = {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}
    print("RESULT " + json.dumps({"labels": args.labels, "lookups": args.lookups, **rounded}))


if __name__ == "__main__":
    main()
