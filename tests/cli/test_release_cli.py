"""``decayguard release status|promote|rollback|history|advance`` on the real core.

The real command (``.venv/bin/decayguard``, no terminal) runs on a project from
:func:`decayguard.sim.retrain_world.build_retrain_world` (champion ``1`` released and
recorded, no MLServer). The tests of the world module run in file order: the champion alone
first (status, the refusals, history, a step by hand), then a retraining registers and gates
version 2, a person promotes it and rolls it back. The output formatting is also checked on
a core replaced by fixed outcomes (no project needed).
"""

from __future__ import annotations

import getpass
import importlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from decayguard.cli import app
from decayguard.cli import release as release_cli
from decayguard.release.manual import ReleaseStatus
from decayguard.release.run import AdvanceOutcome, ReleaseStep
from decayguard.release.stages import IllegalTransition
from decayguard.sim.retrain_world import RetrainWorld, build_retrain_world
from decayguard.store.deployments import active_version
from decayguard.store.migrate import migrated_engine

DECAYGUARD = str(Path(sys.executable).parent / "decayguard")
ANSI = "\x1b["
ME = f"cli:{getpass.getuser()}"
core = importlib.import_module("decayguard.release.run")  # advance
people = importlib.import_module("decayguard.release.manual")  # promote, rollback, status...


def run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in {"FORCE_COLOR", "TTY_COMPATIBLE", "CLICOLOR_FORCE"}
    }
    out = subprocess.run(
        [DECAYGUARD, *args],
        cwd=folder,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={
            **base,
            "COLUMNS": "80",  # rich must not wrap at 80 off a terminal
            "TERM": "xterm-256color",  # nor colour
            "DO_NOT_TRACK": "true",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        },
        timeout=300,
    )
    assert ANSI not in out.stdout
    assert ANSI not in out.stderr
    assert "Traceback" not in out.stderr, out.stderr
    return out


def _line(text: str, *needles: str) -> str:
    lines = [line for line in text.splitlines() if all(n in line for n in needles)]
    assert lines, f"no line with {needles} in:\n{text}"
    return lines[0]


# --- parsing: no project, no core -------------------------------------------------------


@pytest.mark.parametrize("verb", ["promote", "rollback"])
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_person_must_say_why(tmp_path: Path, verb: str, reason: str | None) -> None:
    args = ["release", verb, "2"] + ([] if reason is None else ["--reason", reason])
    out = run(tmp_path, *args)
    assert out.returncode == 2
    assert "--reason is required: say why you " in out.stderr
    assert not out.stdout


def test_advance_refuses_a_clock_that_is_no_time(tmp_path: Path) -> None:
    out = run(tmp_path, "release", "advance", "--now", "yesterday")
    assert out.returncode == 2
    assert "input '--now': not an ISO 8601 time: 'yesterday'" in out.stderr


def test_the_group_lists_its_commands(tmp_path: Path) -> None:
    out = run(tmp_path, "release", "--help")
    assert out.returncode == 0
    for command in ("status", "promote", "rollback", "history", "advance"):
        assert f" {command} " in out.stdout


def test_the_actor_is_the_operating_system_user() -> None:
    assert release_cli.cli_actor() == ME


# --- formatting on a replaced core ------------------------------------------------------

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _release(version: str, stage: str, share: float | None = None) -> dict[str, Any]:
    return {
        "model_name": "m",
        "version": version,
        "stage": stage,
        "artifact_uri": "/x",
        "artifact_sha256": "0" * 64,
        "parent_version": None,
        "traffic_share": share,
        "created_at": "2026-11-01T00:00:00+00:00",
        "stage_since": "2026-11-19T08:30:00+00:00",
        "trial_started_at": None,
    }


@pytest.fixture
def fake_core(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    """The core's five functions replaced; the calls they received."""
    (tmp_path / "decayguard.yaml").write_text("model:\n  name: m\n")
    monkeypatch.chdir(tmp_path)
    calls: list[dict[str, Any]] = []

    def outcome(**call: Any) -> AdvanceOutcome:
        calls.append(call)
        if call.get("version") == "9":
            raise IllegalTransition("m version 9 is not a release")
        step = ReleaseStep("2", "promote", "canary", "champion", call.get("reason", ""), ME)
        return AdvanceOutcome("m", NOW, "2", None, None, [step], [4], message="promoted")

    monkeypatch.setattr(
        people, "promote", lambda cfg, version=None, **kw: outcome(version=version, **kw)
    )
    monkeypatch.setattr(
        people, "rollback", lambda cfg, version=None, **kw: outcome(version=version, **kw)
    )
    monkeypatch.setattr(core, "advance", lambda cfg, now=None, **kw: outcome(now=now, **kw))
    monkeypatch.setattr(
        people,
        "release_status",
        lambda cfg: ReleaseStatus(
            "m",
            _release("1", "champion"),
            _release("2", "canary", 0.1),
            {
                "ts": "2026-11-20T12:00:01+00:00",
                "action": "release.checked",
                "details": {
                    "version": "2",
                    "now": NOW.isoformat(),
                    "stage": "canary",
                    "reason": "canary for 3.5 h of 24 h",
                    "verdict": {"verdict": "undecided", "n": 40, "lower": -0.1, "upper": 0.2},
                },
            },
            1,
        ),
    )
    history = [
        {
            "version": "1",
            "from_stage": None,
            "to_stage": "registered",
            "action": "register",
            "actor": "decayguard",
            "reason": "registered",
            "created_at": "2026-11-01T00:00:00+00:00",
        },
        {
            "version": "1",
            "from_stage": "registered",
            "to_stage": "champion",
            "action": "deploy",
            "actor": "cli:[bold]ann[/bold]",
            "reason": "first release [of 2026]",
            "created_at": datetime(2026, 11, 1, 0, 5, tzinfo=UTC),
        },
    ]
    monkeypatch.setattr(people, "release_history", lambda cfg, version=None: history)
    return calls


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_status_prints_champion_candidate_verdict_and_unapplied(
    fake_core: list[dict[str, Any]],
) -> None:
    out = invoke("release", "status")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0] == "m: champion version 1 since 2026-11-19 08:30 UTC"
    assert (
        lines[1] == "candidate: version 2 in canary, 10% of the traffic since 2026-11-19 08:30 UTC"
    )
    assert lines[2] == (
        "last verdict: 2026-11-20 12:00 UTC, version 2 in canary: judge undecided on 40 paired "
        "outcomes, difference in [-0.1000, +0.2000]: canary for 3.5 h of 24 h"
    )
    assert lines[3] == "unapplied transitions: 1"
    as_json = json.loads(invoke("release", "status", "--json").output)
    assert as_json["candidate"]["traffic_share"] == 0.1
    assert as_json["unapplied"] == 1


def test_history_is_a_table_and_keeps_markup_as_text(fake_core: list[dict[str, Any]]) -> None:
    out = invoke("release", "history")
    assert out.exit_code == 0, out.output
    first = _line(out.output, "2026-11-01 00:00", " 1 ", "- → registered", "register")
    assert "decayguard" in first
    second = _line(out.output, "2026-11-01 00:05", "registered → champion", "deploy")
    assert "cli:[bold]ann[/bold]" in second  # a name is text, never rich markup
    assert "first release [of 2026]" in second
    rows = json.loads(invoke("release", "history", "--json").output)
    assert [r["to_stage"] for r in rows] == ["registered", "champion"]


def test_promote_rollback_and_advance_pass_the_person_and_print_the_steps(
    fake_core: list[dict[str, Any]],
) -> None:
    out = invoke("release", "promote", "--reason", "  the canary looks fine  ")
    assert out.exit_code == 0, out.output
    assert fake_core[-1] == {"version": None, "reason": "the canary looks fine", "actor": ME}
    assert out.output.splitlines() == [
        f"version 2: canary -> champion (promote by {ME}): the canary looks fine",
        "finished transitions left unapplied by an earlier run: 4",
        "promoted",
        "m: champion 2, candidate none",
    ]
    assert invoke("release", "rollback", "2", "--reason", "x").exit_code == 0
    assert fake_core[-1] == {"version": "2", "reason": "x", "actor": ME}
    assert invoke("release", "advance", "--now", "2026-11-20T12:00:00").exit_code == 0
    assert fake_core[-1] == {"now": NOW, "actor": ME}  # a naive clock is UTC
    as_json = json.loads(invoke("release", "advance", "--json").output)
    assert as_json["champion"] == "2"
    assert as_json["steps"][0]["to_stage"] == "champion"


def test_an_illegal_move_exits_1_with_the_cores_message(fake_core: list[dict[str, Any]]) -> None:
    with pytest.raises(SystemExit) as raised:
        release_cli.promote(version="9", project=Path("."), reason="because", as_json=False)
    assert raised.value.code == 1


# --- the real core on a served world ----------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> RetrainWorld:
    return build_retrain_world(tmp_path_factory.mktemp("release-cli") / "project", until_day=20)


@pytest.mark.slow
def test_status_shows_champion_1_and_no_candidate(world: RetrainWorld) -> None:
    out = run(world.folder, "release", "status")
    assert out.returncode == 0, out.stderr
    assert _line(out.stdout, f"{world.cfg.model.name}: champion version 1 since ", " UTC")
    assert _line(out.stdout, "candidate: none")
    assert _line(out.stdout, "unapplied transitions: 0")
    status = json.loads(run(world.folder, "release", "status", "--json").stdout)
    assert status["champion"]["version"] == "1"
    assert status["champion"]["stage"] == "champion"
    assert status["candidate"] is None
    assert status["unapplied"] == 0


@pytest.mark.slow
def test_promote_without_a_candidate_is_refused(world: RetrainWorld) -> None:
    out = run(world.folder, "release", "promote", "--reason", "ship it")
    assert out.returncode == 1, out.stdout + out.stderr
    assert out.stderr.startswith(f"refused: {world.cfg.model.name}: no challenger to promote")
    assert not out.stdout
    again = run(world.folder, "release", "promote", "1", "--reason", "ship it")
    assert again.returncode == 1
    assert "version 1 is already the champion" in again.stderr


@pytest.mark.slow
def test_rolling_back_the_only_champion_is_refused(world: RetrainWorld) -> None:
    out = run(world.folder, "release", "rollback", "--reason", "it looks odd")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "no earlier champion is left to restore" in out.stderr


@pytest.mark.slow
def test_history_lists_the_champions_transition(world: RetrainWorld) -> None:
    out = run(world.folder, "release", "history")
    assert out.returncode == 0, out.stderr
    assert _line(out.stdout, f"release history of {world.cfg.model.name}")
    assert _line(out.stdout, " 1 ", "→ champion")
    rows = json.loads(run(world.folder, "release", "history", "--json").stdout)
    into = [r for r in rows if r["to_stage"] == "champion"]
    assert [r["version"] for r in into] == ["1"]
    assert into[0]["reason"]
    assert into[0]["actor"]
    assert datetime.fromisoformat(into[0]["created_at"])
    none = run(world.folder, "release", "history", "--version", "7")
    assert none.returncode == 0
    assert "version 7 of credit-default: no release transitions yet" in none.stdout


@pytest.mark.slow
def test_a_step_by_hand_with_no_challenger_changes_nothing(world: RetrainWorld) -> None:
    out = run(world.folder, "release", "advance", "--now", world.now.isoformat(), "--json")
    assert out.returncode == 0, out.stderr
    outcome = json.loads(out.stdout)
    assert outcome["champion"] == "1"
    assert outcome["candidate"] is None
    assert outcome["steps"] == []
    text = run(world.folder, "release", "advance", "--now", world.now.isoformat())
    assert text.returncode == 0, text.stderr
    assert text.stdout.rstrip().splitlines()[-1] == (
        f"{world.cfg.model.name}: champion 1, candidate none"
    )


def _serving(world: RetrainWorld) -> str | None:
    """The version the store records as deployed (what MLServer's settings load)."""
    with migrated_engine(world.cfg.resolved_store_url) as engine:
        return active_version(engine, world.cfg.model.name)


@pytest.mark.slow
def test_a_person_promotes_the_gated_challenger_then_rolls_it_back(world: RetrainWorld) -> None:
    retrained = run(
        world.folder, "retrain", "--reason", "test: a challenger", "--now", world.now.isoformat()
    )
    assert retrained.returncode == 0, retrained.stdout + retrained.stderr
    gated = run(world.folder, "gate", "2")  # what the retrain flow does after registering
    assert gated.returncode == 0, gated.stdout + gated.stderr
    status = json.loads(run(world.folder, "release", "status", "--json").stdout)
    assert status["candidate"]["version"] == "2", status
    assert status["candidate"]["stage"] == "validated"

    promoted = run(world.folder, "release", "promote", "--reason", "test: promote by hand")
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    assert promoted.stdout.splitlines() == [
        f"version 1: champion -> superseded (supersede by {ME}): test: promote by hand",
        f"version 2: validated -> champion (promote by {ME}): test: promote by hand",
        f"{world.cfg.model.name}: champion 2, candidate none",
    ]
    after = json.loads(run(world.folder, "release", "status", "--json").stdout)
    assert after["champion"]["version"] == "2"
    assert after["candidate"] is None
    assert _serving(world) == "2"

    rolled = run(world.folder, "release", "rollback", "--reason", "test: roll back by hand")
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert _line(rolled.stdout, "version 2: champion -> rolled_back", ME)
    assert _line(rolled.stdout, "version 1: superseded -> champion")
    final = json.loads(run(world.folder, "release", "status", "--json").stdout)
    assert final["champion"]["version"] == "1"
    assert final["unapplied"] == 0
    assert _serving(world) == "1"

    rows = json.loads(run(world.folder, "release", "history", "--json").stdout)
    mine = [(r["version"], r["to_stage"], r["reason"]) for r in rows if r["actor"] == ME]
    assert mine == [
        ("1", "superseded", "test: promote by hand"),
        ("2", "champion", "test: promote by hand"),
        ("2", "rolled_back", "test: roll back by hand"),
        ("1", "champion", "test: roll back by hand"),
    ]
    table = run(world.folder, "release", "history", "--version", "2").stdout
    assert _line(table, " 2 ", "champion → rolled_back", "roll_back", ME, "test: roll back")
