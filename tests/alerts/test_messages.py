"""Alert messages from real monitoring results: seeded windows through the monitoring
library (drift, quality, prediction drift, realized metrics, the decision rule), then the
signals the monitor run would send, read as a person would read them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest

from decayguard.alerts import dashboard_link
from decayguard.config import DecayguardConfig
from decayguard.monitoring import (
    DriftDecisionRule,
    PerformanceThresholdRule,
    ReferenceProfile,
    assess_data_quality,
    detect_drift,
)
from decayguard.monitoring.realized import realized_classification_metrics
from decayguard.monitoring.tasks import task_for
from decayguard.watch.checks import CheckReport, StrategyVerdict
from decayguard.watch.messages import ProxyFindings, build_signals

NOW = datetime(2026, 10, 20, tzinfo=UTC)
SINCE = NOW - timedelta(hours=24)


def _query(link: str | None) -> dict[str, str]:
    assert link is not None
    parts = urlsplit(link)
    assert parts.path == "/dashboard"
    return {k: v[0] for k, v in parse_qs(parts.query).items()}


def _config() -> DecayguardConfig:
    cfg = DecayguardConfig()
    cfg.model.name = "credit-default"
    cfg.api.public_url = "https://decayguard.example.com/"
    cfg.monitoring.performance_thresholds = {"accuracy": 0.8}
    return cfg


@pytest.fixture(scope="module")
def binary() -> dict[str, object]:
    """A reference period and a window where income moved a lot, utilization a little,
    employment's mix changed, age went missing, and the positive rate rose 0.30 → 0.75."""
    rng = np.random.default_rng(7)
    n_ref, n_win = 5000, 1234
    reference = pd.DataFrame(
        {
            "income": rng.normal(50_000, 10_000, n_ref),
            "utilization": rng.beta(2, 5, n_ref),
            "age": rng.normal(40, 10, n_ref),
            "employment": rng.choice(["salaried", "self", "none"], n_ref, p=[0.7, 0.2, 0.1]),
        }
    )
    window = pd.DataFrame(
        {
            "income": rng.normal(62_000, 10_000, n_win),
            "utilization": rng.beta(2.6, 5, n_win),
            "age": np.where(rng.random(n_win) < 0.2, np.nan, rng.normal(40, 10, n_win)),
            "employment": rng.choice(["salaried", "self", "none"], n_win, p=[0.4, 0.5, 0.1]),
        }
    )
    features = ReferenceProfile(
        numeric=["income", "utilization", "age"], categorical=["employment"]
    ).fit(reference)
    task = task_for("binary", classes=("0", "1"), positive_class="1")

    def outputs(n: int, rate: float) -> object:
        positive = rng.random(n) < rate
        p1 = np.where(positive, rng.uniform(0.5, 1.0, n), rng.uniform(0.0, 0.5, n))
        return task.outputs_from_scores(np.column_stack([1 - p1, p1]))

    ref_out, win_out = outputs(n_ref, 0.30), outputs(n_win, 0.75)
    rule = DriftDecisionRule()
    outputs_profile = task.fit_prediction_profile(ref_out)  # type: ignore[arg-type]
    predictions = task.detect_prediction_drift(outputs_profile, win_out, rule=rule)  # type: ignore[arg-type]
    drift = detect_drift(features, window, rule=rule)
    quality = assess_data_quality(features, window)
    findings = ProxyFindings.of(
        since=SINCE,
        until=NOW,
        drift=drift,
        quality=quality,
        predictions=predictions,
        features=features,
        frame=window,
        outputs_profile=outputs_profile,
        outputs=task.prediction_frame(win_out),  # type: ignore[arg-type]
        positive=task.positive,  # type: ignore[attr-defined]
    )
    truth = np.where(rng.random(600) < 0.7, "1", "0")
    predicted = np.where(rng.random(600) < 0.7, truth, np.where(truth == "1", "0", "1"))
    realized = realized_classification_metrics(truth, predicted, positive_label="1")
    decision = PerformanceThresholdRule("accuracy", 0.8).decide(realized["accuracy"])
    verdict = StrategyVerdict(
        "realized", (decision,), 600, coverage=0.486, provisional=True, metrics=dict(realized)
    )
    report = CheckReport("credit-default", "3", NOW, n_win, findings=findings)
    report.verdicts["realized"] = verdict
    signals = {s.rule: s for s in build_signals(_config(), report)}
    return {
        "signals": signals,
        "drift": drift,
        "quality": quality,
        "predictions": predictions,
        "win_out": win_out,
        "ref_out": ref_out,
        "realized": realized,
        "decision": decision,
        "reference": reference,
        "window": window,
    }


def test_feature_drift_names_each_feature_with_its_effect_size_largest_first(
    binary: dict[str, object],
) -> None:
    drift = binary["drift"]
    window, reference = binary["window"], binary["reference"]
    signal = binary["signals"]["feature_drift"]  # type: ignore[index]
    assert signal.firing
    assert drift.drifted_features == ["income", "utilization", "employment"]  # type: ignore[attr-defined]

    def numeric(name: str) -> str:
        item = drift[name]  # type: ignore[index]
        ref, cur = reference[name].mean(), window[name].mean()  # type: ignore[index]
        mean = f"{ref:,.0f} → {cur:,.0f}" if ref > 1000 else f"{ref:.3f} → {cur:.3f}"
        return (
            f"{name} (mean {mean}; KS D {item.effect_size:.3g}, lower bound "
            f"{item.result('ks').effect_lower:.3g} ≥ threshold 0.05; KS p < 0.001)"
        )

    employment = drift["employment"]  # type: ignore[index]
    ref_share = reference["employment"].value_counts(normalize=True)  # type: ignore[index]
    win_share = window["employment"].value_counts(normalize=True)  # type: ignore[index]
    moved = (win_share - ref_share).abs().idxmax()
    expected = (
        "3 features drifted over 2026-10-19 00:00 – 2026-10-20 00:00 UTC "
        "(1,234 predictions against 5,000 reference rows): "
        f"{numeric('income')}, {numeric('utilization')}, "
        f"employment (share of {moved!r} {ref_share[moved]:.2f} → {win_share[moved]:.2f}; "
        f"Jensen-Shannon {employment.effect_size:.3g} ≥ threshold 0.1; chi-squared p < 0.001). "
        "1 other feature did not drift."
    )
    # largest effect over its threshold first: KS D 0.47 / 0.05, 0.17 / 0.05, JS 0.26 / 0.1
    assert signal.message == expected
    assert "\n" not in signal.message, "one paragraph"
    assert _query(signal.link) == {
        "model": "credit-default",
        "metric": "drift.ks",
        "feature": "income",
        "since": "2026-10-19T00:00:00Z",
        "until": "2026-10-20T00:01:00Z",
    }
    assert signal.link.startswith("https://decayguard.example.com/dashboard?")


def test_prediction_drift_says_how_the_positive_rate_moved(binary: dict[str, object]) -> None:
    signal = binary["signals"]["prediction_drift"]  # type: ignore[index]
    assert signal.firing
    ref_rate = float(np.mean(binary["ref_out"].predictions == "1"))  # type: ignore[attr-defined]
    win_rate = float(np.mean(binary["win_out"].predictions == "1"))  # type: ignore[attr-defined]
    assert round(ref_rate, 2) == 0.30
    assert round(win_rate, 2) == 0.75
    shares = binary["predictions"]["predicted_class"]  # type: ignore[index]
    assert (
        f"the prediction distribution shifted over 2026-10-19 00:00 – 2026-10-20 00:00 UTC "
        f"(1,234 predictions against 5,000 reference rows): positive rate ('1') 0.30 → 0.75 "
        f"(predicted_class: Jensen-Shannon {shares.effect_size:.3g} ≥ threshold 0.1; "
        "chi-squared p < 0.001); mean score "
    ) in signal.message, signal.message
    assert _query(signal.link)["metric"] == "prediction_drift.jensen_shannon"
    assert _query(signal.link)["feature"] == "predicted_class"


def test_decay_names_the_estimate_interval_threshold_strategy_and_window(
    binary: dict[str, object],
) -> None:
    signal = binary["signals"]["decay.realized"]  # type: ignore[index]
    accuracy = binary["realized"]["accuracy"]  # type: ignore[index]
    assert binary["decision"].decayed, binary["decision"].reason  # type: ignore[attr-defined]
    assert signal.firing
    assert signal.severity == "critical"
    labels_since = NOW - timedelta(hours=DecayguardConfig().monitoring.labels_window_hours)
    assert signal.message == (
        "performance decayed, from ground-truth labels (strategy realized), over "
        f"{labels_since:%Y-%m-%d %H:%M} – 2026-10-20 00:00 UTC (600 labeled predictions, 49% "
        f"label coverage, provisional): accuracy {accuracy.value:.3g}, 95% interval "
        f"[{accuracy.lower:.3g}, {accuracy.upper:.3g}] (wilson, n=600), all of it below the "
        "threshold 0.8."
    )
    assert _query(signal.link) == {
        "model": "credit-default",
        "metric": "realized.accuracy",
        "since": f"{labels_since:%Y-%m-%dT%H:%M:%SZ}",
        "until": "2026-10-20T00:01:00Z",
    }


def test_data_quality_gives_the_share_with_its_interval(binary: dict[str, object]) -> None:
    signal = binary["signals"]["data_quality"]  # type: ignore[index]
    age = next(f for f in binary["quality"].features if f.feature == "age")  # type: ignore[attr-defined]
    missing = age.missing_share
    assert signal.firing
    assert signal.message == (
        "data quality issues over 2026-10-19 00:00 – 2026-10-20 00:00 UTC (1,234 predictions): "
        f"age missing {missing.value:.1%} [{missing.lower:.1%}, {missing.upper:.1%}] vs 0.0% "
        "in the reference."
    )
    assert _query(signal.link)["metric"] == "quality.missing_share"
    assert _query(signal.link)["feature"] == "age"


def test_a_regressor_says_how_its_mean_prediction_moved() -> None:
    rng = np.random.default_rng(11)
    task = task_for("regression")
    ref_out = task.outputs_from_scores(rng.normal(120.0, 15.0, 4000))
    win_out = task.outputs_from_scores(rng.normal(150.0, 15.0, 800))
    profile = task.fit_prediction_profile(ref_out)
    predictions = task.detect_prediction_drift(profile, win_out)
    frame = pd.DataFrame({"x": rng.normal(size=800)})
    features = ReferenceProfile().fit(pd.DataFrame({"x": rng.normal(size=4000)}))
    findings = ProxyFindings.of(
        since=SINCE,
        until=NOW,
        drift=detect_drift(features, frame),
        quality=assess_data_quality(features, frame),
        predictions=predictions,
        features=features,
        frame=frame,
        outputs_profile=profile,
        outputs=task.prediction_frame(win_out),
    )
    report = CheckReport("house-prices", "1", NOW, 800, findings=findings)
    signals = {s.rule: s for s in build_signals(_config(), report)}
    assert not signals["feature_drift"].firing
    assert signals["feature_drift"].message == (
        "no feature drift over 2026-10-19 00:00 – 2026-10-20 00:00 UTC (800 predictions)"
    )
    message = signals["prediction_drift"].message
    ref_mean, win_mean = ref_out.predictions.mean(), win_out.predictions.mean()
    assert f"mean prediction {ref_mean:.1f} → {win_mean:.1f} (prediction: KS D " in message
    assert _query(signals["prediction_drift"].link)["model"] == "house-prices"


def test_the_link_base_is_public_url_or_the_api_address() -> None:
    cfg = DecayguardConfig()
    cfg.model.name = "m"
    assert dashboard_link(cfg) == "http://127.0.0.1:8090/dashboard?model=m"
    cfg.api.host, cfg.api.port = "::1", 9000
    assert dashboard_link(cfg, metric="drift.ks").startswith("http://[::1]:9000/dashboard?")
    cfg.api.public_url = "https://ops.example.com/decayguard/"
    until = datetime(2026, 10, 20, 2, tzinfo=UTC)
    link = dashboard_link(cfg, model="other", feature="a b", until=until)
    assert link == (
        "https://ops.example.com/decayguard/dashboard?model=other&feature=a+b"
        "&until=2026-10-20T02:00:00Z"
    )


def test_a_monitor_run_on_the_store_sends_the_figures(store_engine: object) -> None:
    """The same messages through ``run_checks`` on logged predictions: the run keeps its
    proxy findings on the report and the signals carry them."""
    _monitor_run(store_engine)


def _monitor_run(store_engine: object) -> tuple[CheckReport, DecayguardConfig]:
    from decayguard.store import PredictionRecord, insert_predictions
    from decayguard.watch import MonitoringBaseline, run_checks

    rng = np.random.default_rng(5)
    task = task_for("binary", classes=("0", "1"), positive_class="1")

    def rows(n: int, shift: float) -> pd.DataFrame:
        return pd.DataFrame({"x": rng.normal(shift, 1.0, n), "z": rng.normal(0.0, 1.0, n)})

    def scores(frame: pd.DataFrame) -> np.ndarray:
        p1 = 1 / (1 + np.exp(-2 * frame["x"].to_numpy()))
        return np.column_stack([1 - p1, p1])

    reference = rows(3000, 0.0)
    ref_out = task.outputs_from_scores(scores(reference))
    truth = np.where(rng.random(3000) < scores(reference)[:, 1], "1", "0")
    baseline = MonitoringBaseline.fit(
        "store-run", "1", task, reference, reference, ref_out, truth, numeric=["x", "z"]
    )
    live = rows(600, 1.0)
    live_scores = scores(live)[:, 1]
    records = [
        PredictionRecord(
            id=f"p{i}",
            ts=NOW - timedelta(hours=23) + timedelta(seconds=60 * i),
            model_name="store-run",
            model_version="1",
            arm="champion",
            inputs={"x": float(row.x), "z": float(row.z)},
            outputs={"proba_1": float(score)},
            prediction="1" if score >= 0.5 else "0",
            score=float(score),
        )
        for i, (row, score) in enumerate(zip(live.itertuples(), live_scores, strict=True))
    ]
    insert_predictions(store_engine, records)  # type: ignore[arg-type]
    cfg = _config()
    cfg.model.name = "store-run"
    report = run_checks(cfg, store_engine, baseline, NOW, write=False)  # type: ignore[arg-type]
    assert report.findings is not None
    signals = {s.rule: s for s in report.signals}
    drift = report.findings.drift["x"]
    assert report.drifted_features == ["x"]
    assert signals["feature_drift"].message.startswith(
        "1 feature drifted over 2026-10-19 00:00 – 2026-10-20 00:00 UTC (600 predictions "
        f"against 3,000 reference rows): x (mean {reference['x'].mean():.2f} → "
        f"{live['x'].mean():.2f}; KS D {drift.effect_size:.3g}, lower bound "
    ), signals["feature_drift"].message
    rate_before = float(np.mean(ref_out.predictions == "1"))
    rate_now = float(np.mean(live_scores >= 0.5))
    assert f"positive rate ('1') {rate_before:.2f} → {rate_now:.2f}" in (
        signals["prediction_drift"].message
    )
    assert _query(signals["feature_drift"].link)["feature"] == "x"
    return report, cfg


def test_the_alerts_link_opens_the_dashboard_on_what_fired(store_url: str) -> None:
    """The link of a real alert, asked of the real control API's dashboard data: the
    flagged drift point and the open incident are in the view it names."""
    from fastapi.testclient import TestClient

    from decayguard.alerts import IncidentTracker, RecordingNotifier
    from decayguard.api import create_app
    from decayguard.store import create_store_engine, write_metric_points

    engine = create_store_engine(store_url)
    try:
        report, cfg = _monitor_run(engine)
        write_metric_points(engine, report.all_points)
        notifier = RecordingNotifier()
        IncidentTracker.for_config(cfg, engine, notifier).process(report.signals, now=report.now)
    finally:
        engine.dispose()
    opened = {n.title: n for n in notifier.sent}
    drift = opened["[WARNING] store-run: feature_drift"]
    link = drift.body.rsplit("Dashboard: ", 1)[1]
    assert link.startswith("https://decayguard.example.com/dashboard?model=store-run&")
    cfg.project.store_url = store_url
    with TestClient(create_app(cfg)) as client:
        answer = client.get(f"/api/v1/dashboard/data?{urlsplit(link).query}")
    assert answer.status_code == 200, answer.text
    decisions = answer.json()["decisions"]
    assert {i["rule"] for i in decisions["incidents"]} >= {"feature_drift", "prediction_drift"}
    assert any(f["metric"] == "drift.ks" and f["feature"] == "x" for f in decisions["flagged"]), (
        decisions["flagged"]
    )
