"""The charts built from a few days of synthetic points: ids and order, intervals,
thresholds, decays, the heatmap's shape, the release timeline, empty ranges said so."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from decayguard.dashboard import build_charts, load_dashboard, render_report, resolve_range
from decayguard.dashboard.charts import Chart
from decayguard.release.stages import Action, Stage
from decayguard.store import create_store_engine, upgrade, write_metric_points
from decayguard.store.releases import Move, apply_moves, register_release

from .conftest import synthetic_config
from .worlds import SYNTHETIC_MODEL, SYNTHETIC_START, synthetic_points


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Engine]:
    url = f"sqlite:///{tmp_path_factory.mktemp('small') / 'store.db'}"
    engine = create_store_engine(url)
    upgrade(engine)
    write_metric_points(engine, synthetic_points(hours=24 * 85, features=4))
    t = SYNTHETIC_START + timedelta(days=65)
    for v in ("1", "2"):
        register_release(
            engine, SYNTHETIC_MODEL, v, artifact_uri=f"/a/{v}", artifact_sha256=v * 64, now=t
        )
    apply_moves(engine, SYNTHETIC_MODEL, [Move("1", Action.DEPLOY)], actor="t", reason="r", now=t)
    moves = [Move("2", Action.START_SHADOW), Move("2", Action.START_CANARY)]
    for k, move in enumerate(moves, start=1):
        apply_moves(
            engine,
            SYNTHETIC_MODEL,
            [move],
            actor="judge",
            reason="trial",
            now=t + timedelta(days=k),
        )
    apply_moves(
        engine,
        SYNTHETIC_MODEL,
        [Move("1", Action.SUPERSEDE, Stage.CHAMPION), Move("2", Action.PROMOTE, Stage.CANARY)],
        actor="judge",
        reason="the canary is better",
        now=t + timedelta(days=3),
    )
    return url, engine


def _charts(url: str, engine: Engine, **kw: object) -> dict[str, Chart]:
    cfg = synthetic_config(url)
    r = resolve_range(engine, SYNTHETIC_MODEL, None, None)
    data = load_dashboard(engine, cfg, r, **kw)  # type: ignore[arg-type]
    return {c.id: c for c in build_charts(data)}


def _names(chart: Chart) -> list[str]:
    return [str(t.name) for t in chart.figure.data if t.name]


def test_every_chart_in_page_order(small: tuple[str, Engine]) -> None:
    charts = _charts(*small)
    assert list(charts) == [
        "performance-accuracy",  # thresholded first
        "performance-f1",
        "performance-roc_auc",
        "proxy",
        "drift",
        "incidents",
        "releases",
        "reviews",
    ]


def test_performance_has_each_strategy_with_its_band_threshold_and_decays(
    small: tuple[str, Engine],
) -> None:
    accuracy = _charts(*small)["performance-accuracy"]
    names = _names(accuracy)
    for label in ("label-free estimate", "human review", "realized"):
        assert label in names
        bands = [t for t in accuracy.figure.data if t.name == f"{label}: 95% interval"]
        assert bands
        assert bands[0].fill == "tonexty"
    assert "threshold 0.8 (decayed below)" in names
    assert "realized: decayed" in names  # accuracy falls under 0.8 by day 85
    line = next(t for t in accuracy.figure.data if t.name == "realized")
    assert len(line.x) <= 500
    assert accuracy.figure.layout.xaxis.range[0].startswith("2026-07-01")


def test_the_heatmap_is_features_by_at_most_500_bins(small: tuple[str, Engine]) -> None:
    drift = _charts(*small)["drift"]
    heat = drift.figure.data[0]
    assert list(heat.y) == ["f00", "f01", "f02", "f03"]
    assert len(heat.x) <= 500
    assert all(len(row) == len(heat.x) for row in heat.z)
    flags = next(t for t in drift.figure.data if t.name == "flagged by the drift rule")
    assert set(flags.y) <= {"f00", "f01", "f02", "f03"}
    assert len(flags.x) > 0


def test_the_release_timeline_shows_the_promotion_with_its_reason(
    small: tuple[str, Engine],
) -> None:
    releases = _charts(*small)["releases"]
    assert {"champion", "shadow", "canary", "superseded"} <= set(_names(releases))
    texts = [a.text for a in releases.figure.layout.annotations]
    assert texts == ["promoted"]
    marks = next(t for t in releases.figure.data if t.name == "transition")
    promote = [c for c in marks.customdata if c[0] == "promote"]
    assert promote == [["promote", "canary", "champion", "judge", "the canary is better"]]


def test_an_empty_range_says_so_in_every_chart(small: tuple[str, Engine]) -> None:
    url, engine = small
    cfg = synthetic_config(url)
    r = resolve_range(
        engine,
        SYNTHETIC_MODEL,
        SYNTHETIC_START - timedelta(days=30),
        SYNTHETIC_START - timedelta(days=20),
    )
    charts = build_charts(load_dashboard(engine, cfg, r))
    for chart in charts:
        texts = " ".join(str(a.text) for a in chart.figure.layout.annotations)
        assert "in this range" in texts, chart.id
    html = render_report(load_dashboard(engine, cfg, r), charts, plotly_js=lambda: "")
    assert "No decay decision in this range." in html
    assert "No release transition in this range." in html


def test_the_report_lists_every_decision_with_its_reason(small: tuple[str, Engine]) -> None:
    url, engine = small
    cfg = synthetic_config(url)
    data = load_dashboard(engine, cfg, resolve_range(engine, SYNTHETIC_MODEL, None, None))
    html = render_report(data, plotly_js=lambda: "/* plotly */")
    decays = data.decisions[data.decisions["metric"] == "decay.accuracy"]
    assert len(decays) == 2 * 24 * 85  # every decay decision of both strategies, raised or not
    assert int(decays["flagged"].sum()) > 0
    assert html.count("<td>decayed: accuracy") == int(decays["flagged"].sum())
    assert html.count("<td>not decayed: accuracy") == int((~decays["flagged"]).sum())
    assert "the canary is better" in html
    assert '<table id="drift-flags">' in html
    assert "<\\/" not in html.split('id="charts-data">')[0]


def test_gate_decisions_and_rollbacks_on_the_release_timeline() -> None:
    from datetime import UTC, datetime

    import pandas as pd

    from decayguard.dashboard.data import DashboardData, DriftMatrix, TimeRange
    from decayguard.dashboard.report import decision_sections
    from decayguard.dashboard.timelines import release_chart
    from decayguard.store.dashboard import SERIES_COLUMNS

    t0 = datetime(2026, 10, 1, tzinfo=UTC)

    def move(version: str, action: str, frm: str | None, to: str, day: int) -> dict[str, object]:
        return {
            "version": version,
            "action": action,
            "from_stage": frm,
            "to_stage": to,
            "actor": "judge",
            "reason": f"{action} {version}",
            "evidence": None,
            "created_at": t0 + timedelta(days=day),
        }

    data = DashboardData(
        model_name="m",
        time_range=TimeRange(t0, t0 + timedelta(days=10)),
        bin_seconds=3600,
        thresholds={},
        lower_is_better=frozenset(),
        label_maturity=0.8,
        series=pd.DataFrame(columns=list(SERIES_COLUMNS)),
        drift=DriftMatrix([], [], [], []),
        reviews=pd.DataFrame(columns=["bin", "sampled", "labeled", "skipped"]),
        review_bin_seconds=86400,
        review_totals={"sampled": 0, "labeled": 0, "skipped": 0, "pending": 0},
        incidents=[],
        transitions=[
            move("3", "register", None, "registered", 1),
            move("3", "start_canary", "registered", "canary", 2),
            move("3", "roll_back", "canary", "rolled_back", 4),
        ],
        prior_stages=[move("2", "deploy", "validated", "champion", -30)],
        gate_reports=[
            {
                "version": "3",
                "champion_version": "2",
                "passed": True,
                "reason": "Δaccuracy +0.05",
                "created_at": t0 + timedelta(days=1, hours=2),
            },
        ],
        decisions=pd.DataFrame(
            columns=[
                "window_start",
                "window_end",
                "strategy",
                "metric",
                "feature",
                "model_version",
                "value",
                "lower",
                "upper",
                "n",
                "flagged",
                "reason",
            ]
        ),
    )
    chart = release_chart(data)
    assert [a.text for a in chart.figure.layout.annotations] == ["rolled back"]
    champion = next(t for t in chart.figure.data if t.name == "champion")
    assert list(champion.y) == ["v2"]
    assert champion.base[0] == "2026-10-01 00:00:00"  # champion since before the range
    gates = next(t for t in chart.figure.data if t.name == "gate decision")
    assert list(gates.customdata) == [["passed", "Δaccuracy +0.05"]]
    assert list(chart.figure.layout.yaxis.categoryarray) == ["v2", "v3"]
    html = decision_sections(data)
    assert "<td>roll_back</td>" in html
    assert "<td>Δaccuracy +0.05</td>" in html
