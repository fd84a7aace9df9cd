"""One-row scoring cost of the demo champion: LoanFeatureEncoder vs a ColumnTransformer.

Claim (docs/simulator.md, decayguard.sim.training): the serving path scores one row at a
time, and the champion's hand-written encoder makes that several times cheaper than the
equivalent ColumnTransformer(OneHotEncoder, StandardScaler) in front of the same
LogisticRegression. Both pipelines are fitted on the same rows and must agree.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from decayguard.sim import EMPLOYMENT_LEVELS, FEATURE_NAMES, LoanScenario, train_model

NUMERIC = list(FEATURE_NAMES[:5])


def baseline() -> Pipeline:
    encode = ColumnTransformer(
        [
            (
                "employment",
                OneHotEncoder(categories=[list(EMPLOYMENT_LEVELS)], handle_unknown="ignore"),
                ["employment"],
            ),
            ("numeric", StandardScaler(), NUMERIC),
        ]
    )
    return Pipeline([("encode", encode), ("classify", LogisticRegression(max_iter=1000))])


def per_call_ms(model: Pipeline, rows: list, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for row in rows:
            model.predict_proba(row)
        best = min(best, (time.perf_counter() - start) / len(rows) * 1000)
    return best


def main() -> None:
    sim = LoanScenario(seed=7).simulate()
    train = sim.reference_frame()
    ours = train_model(train)
    theirs = baseline().fit(train[list(FEATURE_NAMES)], train["default"])
    live = sim.live_frame()[list(FEATURE_NAMES)]
    rows = [live.iloc[[i]] for i in range(500)]
    np.testing.assert_allclose(
        ours.predict_proba(live), theirs.predict_proba(live), rtol=1e-6, atol=1e-9
    )
    base_ms = per_call_ms(theirs, rows)
    ours_ms = per_call_ms(ours, rows)
    load = os.getloadavg()[0]
    print(f"ColumnTransformer pipeline: {base_ms:.3f} ms per one-row predict_proba")
    print(f"LoanFeatureEncoder pipeline: {ours_ms:.3f} ms per one-row predict_proba")
    print(f"speed-up: {base_ms / ours_ms:.2f}x (load {load:.1f}, {os.cpu_count()} cores)")
    result = {
        "baseline_ms": round(base_ms, 4),
        "encoder_ms": round(ours_ms, 4),
        "ratio": round(base_ms / ours_ms, 2),
        "load_average": round(load, 2),
    }
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
