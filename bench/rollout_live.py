"""The rollout's figures that need real components (imported by ``bench/rollout.py``).

* ``swap_failures``: failed requests while the release moves a challenger through every
  stage and back, under load. wrk (4 connections, one V2 request body) hits the real MLServer
  while the one deploy path runs: champion → shadow → canary → promoted → rolled back →
  promoted → rolled back (six hot swaps, each a transition applied by the reconciler). Every
  non-2xx answer and every socket error counts; the baseline is the same load with no swap.
* ``crash_steps_consistent``: the recovery test's procedure (``tests/release/
  test_recovery.py``): a child process promotes or rolls back and SIGKILLs itself at one of
  the seven crash points, ``advance`` recovers, and the store, MLServer's settings file, the
  running server and MLflow must name the same single champion. Counted over the seven points
  in both directions (14 steps).

Run alone: ``.venv/bin/python bench/rollout_live.py`` (prints its figures and a RESULT line).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the recovery test's procedure is reused, not copied


def _world(folder: Path) -> Any:
    from decayguard.registry.mlflow_registry import registry_from_config
    from decayguard.sim.retrain_world import build_retrain_world
    from decayguard.training.gating import gate_once
    from decayguard.training.retrain import RetrainTrigger, retrain_once

    built = build_retrain_world(
        folder,
        config_overrides={
            "features": {"training_window": "last_n_days", "training_window_days": 12},
            "training": {"min_labels": 300, "min_hours_between": 0, "holdout_days": 3},
            "gate": {"n_resamples": 500},
        },
        days=35,
    )
    trained = retrain_once(built.cfg, RetrainTrigger("manual", "bench"), now=built.now)
    assert trained.version is not None, trained.message
    report = gate_once(built.cfg, trained.version, registry=registry_from_config(built.cfg))
    assert report.passed, report.reason
    return built, trained.version


def _wrk(url: str, body: dict[str, Any], seconds: float, script_dir: Path) -> subprocess.Popen[str]:
    script = script_dir / "post.lua"
    payload = json.dumps(body).replace("\\", "\\\\").replace("'", "\\'")
    script.write_text(
        f"wrk.method = 'POST'\nwrk.body = '{payload}'\n"
        "wrk.headers['Content-Type'] = 'application/json'\n"
    )
    return subprocess.Popen(
        ["wrk", "-t2", "-c4", f"-d{int(seconds)}s", "-s", str(script), url],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _failures(output: str) -> tuple[int, int]:
    """(requests, failed: non-2xx answers plus socket errors) from wrk's report."""
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    failed = 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non2xx:
        failed += int(non2xx.group(1))
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if sockets:
        failed += sum(int(g) for g in sockets.groups())
    return total, failed


def _body(sim: Any) -> dict[str, Any]:
    from decayguard.sim.population import FEATURE_NAMES
    from decayguard.sim.traffic import to_v2_request

    row = sim.live_frame().iloc[0]
    body = to_v2_request(
        {f: row[f] for f in FEATURE_NAMES},
        "x",
        row["event_timestamp"],
        entity_key=int(row["applicant_id"]),
    )
    body.pop("id")  # MLServer gives every request its own id
    return body


def _swaps(cfg: Any, challenger: str, url: str, body: dict[str, Any], tmp: Path) -> dict[str, Any]:
    from decayguard.release import deploy_exported, promote, rollback

    infer = f"{url}/v2/models/{cfg.model.name}/infer"
    quiet = _wrk(infer, body, 8, tmp)
    base_total, base_failed = _failures(quiet.communicate()[0])
    folder = cfg.path(cfg.project.state_dir).resolve() / "artifacts" / cfg.model.name / challenger
    steps: list[tuple[str, Any]] = [
        ("shadow", lambda: deploy_exported(cfg, None, challenger=folder, actor="bench")),
        ("canary", lambda: deploy_exported(
            cfg, None, challenger=folder, stage="canary", canary_share=0.3, actor="bench"
        )),
        ("promote", lambda: promote(cfg, challenger, reason="bench", actor="bench")),
        ("rollback", lambda: rollback(cfg, reason="bench", actor="bench")),
        ("promote again", lambda: promote(cfg, challenger, reason="bench", actor="bench")),
        ("rollback again", lambda: rollback(cfg, reason="bench", actor="bench")),
    ]  # fmt: skip
    load = _wrk(infer, body, 6 + 4 * len(steps), tmp)
    time.sleep(3)
    loaded = 0
    for name, step in steps:
        outcome = step()
        loaded += int(outcome.server_loaded)
        print(f"  {name}: champion {outcome.champion}, trial {outcome.candidate} {outcome.stage}")
        time.sleep(3)
    total, failed = _failures(load.communicate()[0])
    return {
        "swaps": loaded,
        "requests_during_swaps": total,
        "swap_failures": failed,
        "requests_without_swaps": base_total,
        "failures_without_swaps": base_failed,
    }


def _crash_steps(served: Any) -> tuple[int, int]:
    from tests.release.test_recovery import _crash, assert_consistent

    from decayguard.release.failpoints import POINTS
    from decayguard.release.run import advance

    expected, consistent, total = "1", 0, 0
    for point in POINTS * 2:
        verb = "promote" if expected == "1" else "rollback"
        _crash(served, point, verb, served.challenger if verb == "promote" else None)
        advance(served.cfg)
        expected = served.challenger if verb == "promote" else "1"
        total += 1
        try:
            assert_consistent(served, expected)
        except AssertionError as exc:
            print(f"  {point} ({verb}): NOT consistent: {exc}")
            continue
        consistent += 1
    return consistent, total


def real_component_figures() -> dict[str, Any]:
    from tests.release.test_recovery import Served

    from decayguard.serving import ServingProcess

    with tempfile.TemporaryDirectory(prefix="bench-rollout-") as name:
        tmp = Path(name)
        started = time.perf_counter()
        world, challenger = _world(tmp / "project")
        print(
            f"world built, challenger {challenger} validated "
            f"({time.perf_counter() - started:.0f} s)"
        )
        server = ServingProcess.from_config(world.cfg).start()
        try:
            server.wait_ready(120)
            swaps = _swaps(world.cfg, challenger, server.url, _body(world.sim), tmp)
            print(
                f"hot swaps under load: {swaps['swaps']} swaps, "
                f"{swaps['requests_during_swaps']:,} requests, {swaps['swap_failures']} failed "
                f"(baseline without swaps: {swaps['requests_without_swaps']:,} requests, "
                f"{swaps['failures_without_swaps']} failed)"
            )
            served = Served(world.cfg, world.sim, server.url, challenger)
            consistent, total = _crash_steps(served)
            print(f"kill -9 at each crash point, both directions: {consistent}/{total} consistent")
        finally:
            server.stop()
    return {**swaps, "crash_steps_consistent": consistent, "crash_steps": total}


if __name__ == "__main__":
    figures = real_component_figures()
    print("RESULT " + json.dumps(figures))
