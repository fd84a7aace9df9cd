"""``decayguard check`` on real SQLite stores: a low-traffic and a high-traffic project.

The stores are written with the store's own functions (predictions, labels received later,
reviews written later); the check reads them back as the monitor would.
"""

from __future__ import annotations

import doctest
import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml

import decayguard.watch.evidence as evidence_module
from decayguard.cli import main
from decayguard.config import load_config
from decayguard.store import (
    LabelRecord,
    PredictionRecord,
    create_store_engine,
    ingest_labels,
    insert_predictions,
    record_deployment,
    upgrade,
)
from decayguard.store.reviews import ReviewRecord, record_review
from decayguard.watch.baseline import baseline_path
from decayguard.watch.evidence import EvidenceCounts
from decayguard.watch.readiness import check_readiness

NOW = datetime(2024, 6, 15, 12, tzinfo=UTC)
MODEL = "credit-default"
CLI = [sys.executable, "-m", "decayguard"]


def _project(
    folder: Path,
    *,
    per_day: float,
    days: int = 14,
    label_delay: timedelta | None = None,
    reviews_per_day: float = 0.0,
    review_delay: timedelta = timedelta(hours=6),
    monitoring: dict[str, object] | None = None,
    deploy: bool = True,
) -> Path:
    """A project whose store holds ``days`` of evenly spaced predictions ending at NOW."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {"model": {"name": MODEL}, "project": {"store_url": "sqlite:///store.db"}}
    if monitoring:
        config["monitoring"] = monitoring
    (folder / "decayguard.yaml").write_text(yaml.safe_dump(config))
    engine = create_store_engine(load_config(folder).resolved_store_url)
    upgrade(engine)
    n = int(per_day * days)
    step = timedelta(days=days) / n
    times = [NOW - timedelta(days=days) + (i + 0.5) * step for i in range(n)]
    review_every = max(1, round(per_day / reviews_per_day)) if reviews_per_day else 0
    records = [
        PredictionRecord(
            id=f"p{i}",
            ts=t,
            model_name=MODEL,
            model_version="1",
            arm="champion",
            inputs={"income": 40.0 + i % 7},
            prediction=str(i % 2),
            score=0.3 + 0.4 * (i % 2),
            inclusion_prob=0.5,
            review_sampled=bool(review_every) and i % review_every == 0,
        )
        for i, t in enumerate(times)
    ]
    insert_predictions(engine, records)
    if label_delay is not None:
        by_hour: dict[datetime, list[LabelRecord]] = defaultdict(list)
        for r in records:
            received = (r.ts + label_delay).replace(minute=0, second=0, microsecond=0)
            if received < NOW:
                by_hour[received].append(LabelRecord(MODEL, r.prediction or "0", r.id))
        for received, labels in by_hour.items():
            ingest_labels(engine, labels, received_at=received)
    for r in records:
        if r.review_sampled and r.ts + review_delay < NOW:
            record_review(
                engine,
                ReviewRecord(r.id, MODEL, "ana", "labeled", "1", created_at=r.ts + review_delay),
            )
    if deploy:
        record_deployment(engine, MODEL, "1")
        path = baseline_path(folder / ".decayguard", MODEL, "1")
        path.parent.mkdir(parents=True)
        path.write_text("{}")
    engine.dispose()
    return folder


@pytest.fixture(scope="module")
def low_traffic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """35 predictions a day; 2 reviews a day, 12 h late; every label 5 days late."""
    return _project(
        tmp_path_factory.mktemp("low"),
        per_day=35,
        label_delay=timedelta(days=5),
        reviews_per_day=2,
        review_delay=timedelta(hours=12),
    )


@pytest.fixture(scope="module")
def high_traffic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 predictions a day; 20 reviews a day, 6 h late; every label a day late."""
    return _project(
        tmp_path_factory.mktemp("high"),
        per_day=400,
        label_delay=timedelta(days=1),
        reviews_per_day=20,
    )


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real command in a pipe (a process start costs seconds here: used once)."""
    env = {**os.environ, "COLUMNS": "60"}  # a narrow "terminal": the output must not wrap
    return subprocess.run(
        [*CLI, *args], cwd=cwd, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL
    )


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The command's entry point in this process: exit status, stdout, stderr."""
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "argv", ["decayguard", *args])
        code = _exit_status()
    out, err = capsys.readouterr()
    return code, out, err


def _exit_status() -> int:
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_a_high_traffic_project_decides_with_the_defaults(high_traffic: Path) -> None:
    report = check_readiness(load_config(high_traffic), NOW)
    assert report.ready, report.to_dict()
    assert report.exit_code == 0
    assert report.champion_version == "1"
    proxy, review, realized = (report.strategies[s] for s in ("proxy", "review", "realized"))
    assert proxy.now_count == 400  # the last 24 h hold exactly 400 evenly spaced predictions
    assert proxy.share_deciding == 1.0
    assert review.can_decide
    assert review.now_count >= 30
    assert realized.can_decide
    assert not realized.provisional
    assert report.traffic["predictions_per_day"] == pytest.approx(400, rel=0.01)
    assert report.traffic["label_delay_hours_median"] == pytest.approx(24, abs=1)
    assert not any(s.changes for s in report.strategies.values())


def test_a_low_traffic_project_is_told_which_keys_to_change(low_traffic: Path) -> None:
    report = check_readiness(load_config(low_traffic), NOW)
    assert report.exit_code == 1
    assert report.undecided == ["proxy", "review"]
    proxy = report.strategies["proxy"]
    assert proxy.now_count == 35
    (change,) = proxy.changes
    assert str(change) == (
        "monitoring.window_hours: 24 -> 72 (about 35 predictions a day; 100 needed per window)"
    )
    review_window, review_budget = report.strategies["review"].changes
    assert review_window.key == "monitoring.review_window_hours"
    # 2 reviews a day: 30 need about two weeks and more than the history holds (extrapolated)
    assert review_window.proposed > 14 * 24
    # ...or, as the reviewers keep up with the sample, a larger sample
    assert review_budget.key == "feedback.review_share"
    assert review_budget.alternative
    assert review_budget.proposed > 0.3
    realized = report.strategies["realized"]
    # labels 5 days late: a 7-day window holds 2 days of labels (70 >= 50), 29% coverage
    assert realized.can_decide
    assert realized.now_count == 70
    assert realized.provisional
    assert [c.key for c in realized.changes] == ["feedback.label_maturity"]
    assert realized.changes[0].proposed == 0.25
    assert "arriving about 5 days late" in realized.summary


def test_labels_later_than_the_window_ask_for_a_longer_one(tmp_path: Path) -> None:
    folder = _project(tmp_path / "late", per_day=35, label_delay=timedelta(days=8))
    report = check_readiness(load_config(folder), NOW)
    realized = report.strategies["realized"]
    assert not realized.can_decide
    assert realized.now_count == 0
    change = realized.changes[0]
    assert change.key == "monitoring.labels_window_hours"
    # 8 days late + 50 labels at 35 a day (~1.4 days): a window of 10 days
    assert change.proposed == 240
    assert "arriving about 8 days late" in change.why


def test_the_text_report_is_plain_and_unwrapped_in_a_pipe(low_traffic: Path) -> None:
    out = run("check", "--now", NOW.isoformat(), cwd=low_traffic)
    assert out.returncode == 1, out.stderr
    assert "\x1b[" not in out.stdout
    lines = out.stdout.splitlines()
    assert (
        "change monitoring.window_hours: 24 -> 72 (about 35 predictions a day; "
        "100 needed per window)" in [line.strip() for line in lines]
    )
    assert lines[-1] == "2 of 3 strategies cannot decide: proxy, review"
    assert any(line.startswith("config ") and line.endswith(": valid") for line in lines)


def test_json_for_scripts(
    high_traffic: Path, low_traffic: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(
        capsys, "check", "--json", "--now", NOW.isoformat(), "-p", str(high_traffic)
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["ready"] is True
    assert data["undecided"] == []
    assert data["strategies"]["proxy"]["count_now"] == 400
    code, out, _ = cli(capsys, "check", "--json", "--now", NOW.isoformat(), "-p", str(low_traffic))
    assert code == 1
    assert json.loads(out)["undecided"] == ["proxy", "review"]
    changes = json.loads(out)["strategies"]["proxy"]["changes"]
    assert changes == [
        {
            "key": "monitoring.window_hours",
            "current": 24.0,
            "proposed": 72.0,
            "why": "about 35 predictions a day; 100 needed per window",
            "alternative": False,
        }
    ]


def test_a_config_error_names_the_key_and_the_file_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "decayguard.yaml"
    config.write_text(yaml.safe_dump({"monitoring": {"window_hours": -3}}))
    code, _, err = cli(capsys, "check", "-p", str(tmp_path))
    assert code == 2
    assert f"{config}: monitoring.window_hours" in err
    assert "Traceback" not in err
    code, out, _ = cli(capsys, "check", "--json", "-p", str(tmp_path))
    assert code == 2
    error = json.loads(out)
    assert error["ready"] is False
    assert f"{config}: monitoring.window_hours" in error["config"]["error"]


def test_no_store_no_champion_no_traffic_are_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "decayguard.yaml").write_text(yaml.safe_dump({"model": {"name": MODEL}}))
    missing = check_readiness(load_config(tmp_path), NOW)
    assert missing.exit_code == 1
    assert "decayguard store upgrade" in missing.problems[0]
    assert not (tmp_path / ".decayguard" / "store.db").exists()  # the check wrote nothing
    folder = _project(tmp_path / "empty", per_day=35, days=1, deploy=False)
    report = check_readiness(load_config(folder), NOW + timedelta(days=30))
    assert report.exit_code == 1
    assert any("no active champion" in p for p in report.problems)
    assert any("no predictions" in p for p in report.problems)
    later = (NOW + timedelta(days=30)).isoformat()
    code, out, _ = cli(capsys, "check", "--now", later, "-p", str(folder))
    assert code == 1
    assert "no active champion" in out
    assert out.splitlines()[-1] == "3 of 3 strategies cannot decide: proxy, review, realized"


def test_a_regressor_without_thresholds_cannot_declare_decay(tmp_path: Path) -> None:
    folder = _project(tmp_path / "reg", per_day=400, days=2)
    config = yaml.safe_load((folder / "decayguard.yaml").read_text())
    config["model"]["task"] = "regression"
    (folder / "decayguard.yaml").write_text(yaml.safe_dump(config))
    report = check_readiness(load_config(folder), NOW)
    assert report.exit_code == 1
    assert report.problems[0].startswith(
        f"{folder / 'decayguard.yaml'}: monitoring.performance_thresholds: none in force"
    )
    config["monitoring"] = {"performance_thresholds": {"mae": 1.5}}
    (folder / "decayguard.yaml").write_text(yaml.safe_dump(config))
    assert not check_readiness(load_config(folder), NOW).problems


def test_evidence_counts_match_a_direct_count() -> None:
    rng = np.random.default_rng(7)
    start = np.datetime64("2024-01-01T00:00", "ns")
    hour = np.timedelta64(3600, "s")
    predicted = start + (rng.uniform(0, 200, 3000) * 3600e9).astype("timedelta64[ns]")
    arrived = predicted + (rng.exponential(30, 3000) * 3600e9).astype("timedelta64[ns]")
    counts = EvidenceCounts.from_times(predicted, arrived, start, 200)
    for window, run_at in [(1, 5), (24, 100), (72, 200), (500, 150), (6, 0)]:
        t = start + run_at * hour
        expected = int(np.sum((predicted >= t - window * hour) & (predicted < t) & (arrived < t)))
        assert counts.count(window, run_at) == expected
    runs = np.arange(24, 201)
    direct = [counts.count(24, int(r)) for r in runs]
    assert counts.counts(24, runs).tolist() == direct


def test_the_module_examples_run() -> None:
    result = doctest.testmod(evidence_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
