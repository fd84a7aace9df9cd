"""The dashboard and the report as a person sees them, in Debian's Chromium: every chart
drawn with data, nothing fetched from outside loopback, the promotion on the release
timeline, the report opened with the network blocked. Screenshots go to the test's folder
and to /tmp/dashboard-shots/; the page's load time is printed (benchmarks measure speed:
no time is asserted here)."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, Page, Route

from decayguard.alerts.links import dashboard_url
from decayguard.cli import app as cli_app
from decayguard.dashboard.report import write_report
from decayguard.store import create_store_engine

from .conftest import ServeFactory, synthetic_config
from .worlds import DemoProject

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _guard(page: Page) -> list[str]:
    """Route every request; abort (and remember) any that leaves loopback."""
    outside: list[str] = []

    def handle(route: Route) -> None:
        host = urlparse(route.request.url).hostname or ""
        if host in LOOPBACK or host.startswith("127."):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", handle)
    return outside


def _open_dashboard(page: Page, url: str) -> dict[str, Any]:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.wait_for_selector("body[data-rendered]", state="attached", timeout=120_000)
    assert not errors, errors
    timing: dict[str, Any] = page.evaluate(
        """() => {
          const nav = performance.getEntriesByType('navigation')[0];
          const res = performance.getEntriesByType('resource');
          const one = (part) => res.find((r) => r.name.includes(part));
          const data = one('/api/v1/dashboard/data');
          const js = one('plotly.min.js');
          return {
            rendered_ms: window.decayguardRenderedAt,
            dom_content_loaded_ms: nav.domContentLoadedEventEnd,
            data_request_ms: data ? data.responseEnd - data.startTime : null,
            data_bytes: data ? data.encodedBodySize : null,
            plotly_js_ms: js ? js.responseEnd - js.startTime : null,
          };
        }"""
    )
    return timing


def _assert_every_chart_drawn(page: Page) -> int:
    plots = page.query_selector_all("div.plot")
    assert plots
    for plot in plots:
        name = plot.get_attribute("id")
        assert plot.query_selector("svg.main-svg") is not None, f"{name} not drawn"
        assert int(plot.get_attribute("data-traces") or 0) > 0, f"{name} has no trace"
        empty = [a.text_content() or "" for a in plot.query_selector_all(".annotation-text")]
        assert not [t for t in empty if "in this range" in t], f"{name}: {empty}"
    return len(plots)


def _shoot(page: Page, folder: Path, shots: Path, name: str, selector: str | None = None) -> Path:
    path = folder / f"{name}.png"
    if selector is None:
        page.screenshot(path=str(path), full_page=False)
    else:
        page.locator(selector).screenshot(path=str(path))
    shutil.copy(path, shots / path.name)
    return path


def test_ninety_days_of_hourly_points_for_30_features(
    browser: Browser,
    synthetic_store: tuple[str, Any],
    served: ServeFactory,
    tmp_path: Path,
    shots: Path,
) -> None:
    url, _ = synthetic_store
    with served(synthetic_config(url)) as base:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        outside = _guard(page)
        timing = _open_dashboard(page, base + "/dashboard")
        charts = _assert_every_chart_drawn(page)
        rows = page.evaluate("() => document.getElementById('chart-drift').data[0].y.length")
        columns = page.evaluate("() => document.getElementById('chart-drift').data[0].x.length")
        print(
            f"\nsynthetic 90 days x hourly x 30 features: {charts} charts, "
            f"heatmap {rows} x {columns}; {timing}"
        )
        assert rows == 30
        assert columns <= 500
        assert not outside, outside
        _shoot(page, tmp_path, shots, "synthetic-top")
        _shoot(page, tmp_path, shots, "synthetic-drift", "section.chart:has(#chart-drift)")
        context.close()


def test_the_demo_projects_dashboard(
    browser: Browser,
    demo_project: DemoProject,
    demo_config: Any,
    served: ServeFactory,
    tmp_path: Path,
    shots: Path,
) -> None:
    with served(demo_config) as base:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        outside = _guard(page)
        timing = _open_dashboard(page, base + "/dashboard")
        charts = _assert_every_chart_drawn(page)
        print(f"\ndemo project: {charts} charts; {timing}")
        assert not outside, outside
        status = page.inner_text("#status")
        assert status.startswith(f"{demo_config.model.name}: {charts} charts")
        # the promotion, on the release timeline and in the decisions below it
        timeline = page.locator("#chart-releases")
        assert timeline.locator(".annotation-text", has_text="promoted").count() == 1
        legend = timeline.locator(".legendtext").evaluate_all(
            "els => els.map((e) => e.textContent)"
        )
        assert {"champion", "canary", "shadow", "superseded"} <= set(legend)
        table = page.locator("#decisions").inner_text()
        assert "canary better: Δ0-1 loss -0.2 [-0.29, -0.11]" in table
        assert "promote" in table
        for name in ("performance-accuracy", "drift", "incidents", "releases", "reviews"):
            _shoot(page, tmp_path, shots, f"demo-{name}", f"section.chart:has(#chart-{name})")
        _shoot(page, tmp_path, shots, "demo-top")
        # an alert's link (alerts/links.py) opens the dashboard on what it is about
        link = dashboard_url(
            base, model=demo_config.model.name, metric="drift.ks", feature="utilization"
        )
        _open_dashboard(page, link)
        focused = page.locator("section.chart.focused")
        assert focused.locator("#chart-drift").count() == 1
        assert focused.locator(".focus-note").inner_text() == (
            "From the alert: drift.ks of utilization"
        )
        context.close()


def test_the_report_opens_with_the_network_blocked(
    browser: Browser, demo_project: DemoProject, demo_config: Any, tmp_path: Path, shots: Path
) -> None:
    from typer.testing import CliRunner

    out = tmp_path / "report.html"
    result = CliRunner().invoke(
        cli_app, ["report", "--out", str(out), "--project", str(demo_project.world.folder)]
    )
    assert result.exit_code == 0, result.output
    assert "6 release transitions" in result.output
    context = browser.new_context(offline=True, viewport={"width": 1400, "height": 1000})
    requested: list[str] = []

    def block(route: Route) -> None:
        if route.request.url == out.as_uri():
            route.continue_()  # the file itself; everything else is refused
            return
        requested.append(route.request.url)
        route.abort()

    context.route("**/*", block)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(out.as_uri())
    page.wait_for_selector("body[data-rendered]", state="attached", timeout=120_000)
    assert not errors, errors
    assert not requested, requested
    assert _assert_every_chart_drawn(page) >= 8
    text = page.inner_text("section.decisions")
    for heading in (
        "Decay decisions",
        "Drift and proxy flags",
        "Gate reports",
        "Release transitions",
        "Incidents",
    ):
        assert heading in text
    assert "canary better: Δ0-1 loss -0.2 [-0.29, -0.11]" in text
    assert "decayed: accuracy" in text
    assert page.locator("#chart-releases .annotation-text", has_text="promoted").count() == 1
    _shoot(page, tmp_path, shots, "report-top")
    _shoot(page, tmp_path, shots, "report-releases", "section.chart:has(#chart-releases)")
    page.locator("#release-transitions").scroll_into_view_if_needed()
    _shoot(page, tmp_path, shots, "report-decisions")
    context.close()


def test_a_narrower_report_leaves_the_rest_out(
    demo_project: DemoProject, demo_config: Any, tmp_path: Path
) -> None:
    engine = create_store_engine(demo_config.resolved_store_url)
    try:
        before = demo_project.promoted_at
        data = write_report(
            engine,
            demo_config,
            tmp_path / "early.html",
            since=before - timedelta(days=25),
            until=before - timedelta(days=10),
        )
    finally:
        engine.dispose()
    # only the first champion's release, at the simulated deployment: not the promotion
    assert {(t["version"], t["to_stage"]) for t in data.transitions} == {
        ("1", "registered"),
        ("1", "champion"),
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "last week"], "input '--since': not an ISO 8601 time: 'last week'"),
        (["--since", "2026-10-20", "--until", "2026-10-10"], "input 'until': must be after since"),
    ],
)
def test_the_report_command_names_a_bad_option(
    demo_project: DemoProject, tmp_path: Path, args: list[str], message: str
) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [
            str(Path(sys.executable).parent / "decayguard"),
            "report",
            "--out",
            str(tmp_path / "r.html"),
            *args,
        ],
        cwd=demo_project.world.folder,
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert out.returncode == 2, out
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "r.html").exists()


def test_protected_reads_ask_for_the_token(
    browser: Browser, tmp_path: Path, served: ServeFactory, shots: Path
) -> None:
    from decayguard.store import upgrade, write_metric_points

    from .worlds import synthetic_points

    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = create_store_engine(url)
    upgrade(engine)
    write_metric_points(engine, synthetic_points(hours=72, features=3))
    engine.dispose()
    with served(synthetic_config(url, protect_reads=True)) as base:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        outside = _guard(page)
        page.goto(base + "/dashboard")
        status = page.locator("#status.error")
        status.wait_for()
        assert "missing bearer token" in status.inner_text()
        assert "enter the API token above" in status.inner_text()
        page.fill("#token", "dashboard-token")
        page.click("button[type=submit]")
        page.wait_for_selector("body[data-rendered]", state="attached", timeout=60_000)
        assert page.locator("div.plot svg.main-svg").count() >= 8
        assert int(page.get_attribute("#chart-performance-accuracy", "data-traces") or 0) > 3
        assert page.locator("#status.error").count() == 0
        assert not outside
        context.close()
