"""Benchmark: label-free performance estimation, ours against NannyML's on the same data.

Regression world (DLE): a price-like target from two numeric features (one with 5% missing
values), a string feature ``region`` (6 values) and a pandas-category feature ``channel``
(3 values). The error's spread grows with ``|x1|``, with the region and on the web channel; the
monitored model misses a ``sin(3 x2)`` term, so its bias depends on ``x2`` too. Reference:
10,000 rows. Analysis: 20 chunks of 1,000 rows; chunks 10-19 are covariate-shifted (``x1``
moves and widens, the noisy regions and the web channel become common).

Binary world (CBPE): a miscalibrated score ``sigmoid(1.2 x + 0.3)`` with labels drawn from
``sigmoid(1.5 x)``; the second half of the chunks has ``x ~ N(0.7, 0.8)`` instead of
``N(0, 1)``.

Per chunk the error is ``|estimated - realized|``; the figures are means over the chunks of each
half (unshifted, shifted) and over both, averaged over ``--seeds`` worlds. Ours runs in this
process; NannyML runs in its own virtual environment, which this script makes under
``bench/out/peers/`` (gitignored) with pip from PyPI on first use, and is called through a
subprocess that reads and writes Parquet files. Its usage logging is disabled
(``NML_DISABLE_USAGE_LOGGING=1``). Ends with one ``RESULT {json}`` line.

Run: ``.venv/bin/python bench/estimation_peers.py`` (about 2 minutes, plus ~2 minutes for the
first NannyML install).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from decayguard.monitoring import ConfidenceBasedEstimator, DirectLossEstimator

PEERS = Path(__file__).resolve().parent / "out" / "peers"
# 0.13.1 imports statsmodels without declaring it, and predates pandas 3 (string arrays)
NANNYML = ("nannyml==0.13.1", "statsmodels", "pyarrow", "pandas<3")
CHUNK, N_CHUNKS, N_REFERENCE = 1000, 20, 10_000
FEATURES = ["x1", "x2", "region", "channel"]
REGIONS = np.array(["north", "south", "east", "west", "centre", "islands"])
REGION_EFFECT = np.array([0.0, 1.0, -0.5, 0.5, 2.0, -1.0])
REGION_NOISE = np.array([0.2, 0.3, 0.5, 0.8, 1.2, 1.8])
CHANNELS = np.array(["app", "web", "store"])

PEER_SCRIPT = """
import json, sys
import pandas as pd
import nannyml as nml

folder = sys.argv[1]
chunk = int(sys.argv[2])
out = {}


def read(name):  # NannyML 0.13.1 cannot reshape Arrow-backed strings: plain objects
    frame = pd.read_parquet(f"{folder}/{name}.parquet")
    for column in frame.columns:
        if pd.api.types.is_string_dtype(frame[column].dtype):
            frame[column] = frame[column].astype(object)
    return frame


reference, analysis = read("reg_reference"), read("reg_analysis")
features = json.loads(sys.argv[3])
dle = nml.DLE(feature_column_names=features, y_pred="y_pred", y_true="y_true",
              metrics=["mae", "rmse"], chunk_size=chunk)
dle.fit(reference)
frame = dle.estimate(analysis).filter(period="analysis").to_df()
out["mae"] = frame[("mae", "value")].tolist()
out["rmse"] = frame[("rmse", "value")].tolist()
reference, analysis = read("clf_reference"), read("clf_analysis")
cbpe = nml.CBPE(y_pred_proba="y_pred_proba", y_pred="y_pred", y_true="y_true",
                problem_type="classification_binary", metrics=["roc_auc"], chunk_size=chunk)
cbpe.fit(reference)
frame = cbpe.estimate(analysis).filter(period="analysis").to_df()
out["roc_auc"] = frame[("roc_auc", "value")].tolist()
json.dump(out, open(f"{folder}/nannyml.json", "w"))
"""


def peer_python() -> Path:
    """The NannyML environment's interpreter, made on first use."""
    venv = PEERS / "venv"
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if not stamp.exists():
        print(f"making the NannyML environment in {venv} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, *NANNYML], check=True)
        stamp.write_text(" ".join(NANNYML) + "\n")
    return python


def regression_world(rows: int, rng: np.random.Generator, shifted: bool) -> pd.DataFrame:
    x1 = rng.normal(0.8, 1.3, rows) if shifted else rng.normal(0.0, 1.0, rows)
    region_p = np.array([1, 1, 2, 3, 4, 5] if shifted else [5, 4, 3, 2, 1, 1], dtype=float)
    channel_p = np.array([1, 3, 1] if shifted else [3, 1, 2], dtype=float)
    x2 = rng.uniform(0, 1, rows)
    region = rng.choice(len(REGIONS), rows, p=region_p / region_p.sum())
    channel = rng.choice(len(CHANNELS), rows, p=channel_p / channel_p.sum())
    spread = 0.3 + 0.4 * np.abs(x1) + REGION_NOISE[region] + 0.5 * (channel == 1)
    y_true = 2 * x1 + np.sin(3 * x2) + REGION_EFFECT[region] + rng.normal(0, spread)
    y_pred = 2 * x1 + REGION_EFFECT[region] + 0.6  # misses sin(3 x2)
    x2[rng.random(rows) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "x1": x1,
            "x2": x2,
            "region": REGIONS[region].astype(object),
            "channel": pd.Categorical(CHANNELS[channel], categories=list(CHANNELS)),
            "y_pred": y_pred,
            "y_true": y_true,
        }
    )


def classification_world(rows: int, rng: np.random.Generator, shifted: bool) -> pd.DataFrame:
    x = rng.normal(0.7, 0.8, rows) if shifted else rng.normal(0.0, 1.0, rows)
    score = 1 / (1 + np.exp(-(1.2 * x + 0.3)))
    y_true = (rng.random(rows) < 1 / (1 + np.exp(-1.5 * x))).astype(int)
    return pd.DataFrame(
        {"y_pred_proba": score, "y_pred": (score >= 0.5).astype(int), "y_true": y_true}
    )


def analysis(world: object, rng: np.random.Generator) -> pd.DataFrame:
    make = world  # a callable (rows, rng, shifted) -> frame
    frames = [make(CHUNK, rng, i >= N_CHUNKS // 2) for i in range(N_CHUNKS)]  # type: ignore[operator]
    return pd.concat(frames, ignore_index=True)


def realized(frame: pd.DataFrame) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"mae": [], "rmse": [], "roc_auc": []}
    for start in range(0, len(frame), CHUNK):
        part = frame.iloc[start : start + CHUNK]
        if "region" in part:
            error = part["y_pred"] - part["y_true"]
            out["mae"].append(float(np.mean(np.abs(error))))
            out["rmse"].append(float(np.sqrt(np.mean(error**2))))
        else:
            out["roc_auc"].append(float(roc_auc_score(part["y_true"], part["y_pred_proba"])))
    return {k: v for k, v in out.items() if v}


def ours(
    reg_ref: pd.DataFrame, reg: pd.DataFrame, clf_ref: pd.DataFrame, clf: pd.DataFrame, seed: int
) -> tuple[dict[str, list[float]], float]:
    started = time.perf_counter()
    dle = DirectLossEstimator(seed=seed).fit(
        reg_ref[FEATURES], reg_ref["y_true"], reg_ref["y_pred"]
    )
    fit_seconds = time.perf_counter() - started
    out: dict[str, list[float]] = {"mae": [], "rmse": [], "roc_auc": []}
    for start in range(0, len(reg), CHUNK):
        part = reg.iloc[start : start + CHUNK]
        report = dle.estimate(part[FEATURES], part["y_pred"])
        out["mae"].append(report["mae"].value)
        out["rmse"].append(report["rmse"].value)
    cbpe = ConfidenceBasedEstimator(seed=seed).fit(clf_ref["y_true"], clf_ref["y_pred_proba"])
    for start in range(0, len(clf), CHUNK):
        part = clf.iloc[start : start + CHUNK]
        out["roc_auc"].append(cbpe.estimate(part["y_pred_proba"])["roc_auc"].value)
    return out, fit_seconds


def nannyml(
    python: Path, reg_ref: pd.DataFrame, reg: pd.DataFrame, clf_ref: pd.DataFrame, clf: pd.DataFrame
) -> tuple[dict[str, list[float]], float]:
    with tempfile.TemporaryDirectory(prefix="peers-") as folder:
        for name, frame in (
            ("reg_reference", reg_ref),
            ("reg_analysis", reg.drop(columns="y_true")),
            ("clf_reference", clf_ref),
            ("clf_analysis", clf.drop(columns="y_true")),
        ):
            frame.to_parquet(f"{folder}/{name}.parquet")
        env = {**os.environ, "NML_DISABLE_USAGE_LOGGING": "1", "OMP_NUM_THREADS": "1"}
        started = time.perf_counter()
        run = subprocess.run(
            [str(python), "-c", PEER_SCRIPT, folder, str(CHUNK), json.dumps(FEATURES)],
            env=env,
            capture_output=True,
            text=True,
        )
        if run.returncode:  # LightGBM's chatter stays out of the figures unless it failed
            raise SystemExit(f"NannyML failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
        seconds = time.perf_counter() - started
        return json.loads(Path(folder, "nannyml.json").read_text()), seconds


def errors(estimated: list[float], truth: list[float]) -> dict[str, float]:
    e = np.abs(np.asarray(estimated) - np.asarray(truth))
    if e.size != N_CHUNKS:
        raise SystemExit(f"expected {N_CHUNKS} chunks, got {e.size}")
    half = N_CHUNKS // 2
    return {
        "all": float(e.mean()),
        "unshifted": float(e[:half].mean()),
        "shifted": float(e[half:].mean()),
    }


def dle_coverage(worlds: int, chunks: int) -> dict[str, float]:
    """Share of 95% DLE intervals holding the realized MAE / RMSE, per half, over ``worlds``
    reference fits (the loss model's own error varies between fits, not between chunks)."""
    hits: dict[str, list[bool]] = {}
    for world in range(worlds):
        rng = np.random.default_rng(1000 + world)
        reference = regression_world(N_REFERENCE, rng, shifted=False)
        dle = DirectLossEstimator(seed=world).fit(
            reference[FEATURES], reference["y_true"], reference["y_pred"]
        )
        for shifted in (False, True):
            for _ in range(chunks):
                part = regression_world(CHUNK, rng, shifted)
                report = dle.estimate(part[FEATURES], part["y_pred"])
                truth = realized(part)
                for metric in ("mae", "rmse"):
                    key = f"dle_{metric}_coverage_{'shifted' if shifted else 'unshifted'}"
                    est = report[metric]
                    hits.setdefault(key, []).append(est.lower <= truth[metric][0] <= est.upper)
    return {key: float(np.mean(v)) for key, v in hits.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5, help="worlds to average over")
    parser.add_argument(
        "--coverage-worlds", type=int, default=20, help="reference fits for DLE coverage"
    )
    parser.add_argument("--coverage-chunks", type=int, default=50, help="chunks per half")
    args = parser.parse_args()
    python = peer_python()
    table: dict[tuple[str, str], list[dict[str, float]]] = {}
    timings: dict[str, list[float]] = {"ours_dle_fit": [], "nannyml_total": []}
    for seed in range(args.seeds):
        rng = np.random.default_rng(seed)
        reg_ref = regression_world(N_REFERENCE, rng, shifted=False)
        reg = analysis(regression_world, rng)
        clf_ref = classification_world(N_REFERENCE, rng, shifted=False)
        clf = analysis(classification_world, rng)
        truth = {**realized(reg), **realized(clf)}
        mine, fit_seconds = ours(reg_ref, reg, clf_ref, clf, seed)
        theirs, peer_seconds = nannyml(python, reg_ref, reg, clf_ref, clf)
        timings["ours_dle_fit"].append(fit_seconds)
        timings["nannyml_total"].append(peer_seconds)
        for metric in ("mae", "rmse", "roc_auc"):
            table.setdefault(("ours", metric), []).append(errors(mine[metric], truth[metric]))
            table.setdefault(("nannyml", metric), []).append(errors(theirs[metric], truth[metric]))
        print(f"seed {seed}: done", flush=True)
    mean = {
        key: {h: float(np.mean([r[h] for r in rows])) for h in rows[0]}
        for key, rows in table.items()
    }
    print(f"\n{'metric':8} {'half':10} {'ours':>9} {'nannyml':>9} {'ours/nml':>9}")
    for metric in ("mae", "rmse", "roc_auc"):
        for half in ("unshifted", "shifted", "all"):
            a, b = mean[("ours", metric)][half], mean[("nannyml", metric)][half]
            print(f"{metric:8} {half:10} {a:9.4f} {b:9.4f} {a / b:9.2f}")
    print(
        f"our DLE fit (10k rows, MAE + RMSE): {np.mean(timings['ours_dle_fit']):.2f} s; "
        "NannyML subprocess (DLE + CBPE fit and estimate): "
        f"{np.mean(timings['nannyml_total']):.1f} s"
    )
    names = {"mae": "dle_mae_error", "rmse": "dle_rmse_error", "roc_auc": "cbpe_auc_error"}
    result: dict[str, float | int] = {"seeds": args.seeds, "chunk_rows": CHUNK}
    for metric, key in names.items():
        result[key] = round(mean[("ours", metric)]["all"], 5)
        result[f"nannyml_{key}"] = round(mean[("nannyml", metric)]["all"], 5)
        for half in ("unshifted", "shifted"):
            result[f"{key}_{half}"] = round(mean[("ours", metric)][half], 5)
            result[f"nannyml_{key}_{half}"] = round(mean[("nannyml", metric)][half], 5)
    result["dle_fit_seconds"] = round(float(np.mean(timings["ours_dle_fit"])), 2)
    if args.coverage_worlds:
        coverage = dle_coverage(args.coverage_worlds, args.coverage_chunks)
        n = args.coverage_worlds * args.coverage_chunks
        for key, share in coverage.items():
            print(f"{key}: {share:.3f} of {n} chunks of {CHUNK} rows")
            result[key] = round(share, 4)
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
