"""``decayguard release``: which version serves and which is on trial, the release history,
and a person's promote, rollback and one step by hand.

A thin adapter over :mod:`decayguard.release.run`. A move the version's stage does not
allow (:class:`~decayguard.release.IllegalTransition`) prints its message and exits 1; other
errors go through the CLI's error boundary (exit 2). The actor recorded for a person's move
is ``cli:`` and the operating-system user.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import click
import typer
from rich.markup import escape
from rich.table import Table

from decayguard.cli.common import ProjectOption, config_for, console, err_console
from decayguard.errors import InputValidationError

if TYPE_CHECKING:
    from decayguard.release.run import AdvanceOutcome

app = typer.Typer(
    help="Safe rollout: the champion, the challenger's trial (shadow, canary), promote and "
    "roll back.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
VersionArgument = Annotated[
    str | None,
    typer.Argument(help="The version (default: the candidate on trial or waiting)."),
]
ReasonOption = Annotated[
    str | None,
    typer.Option(help="Why (required; kept in the release history with your name)."),
]


def cli_actor() -> str:
    """``cli:`` and the operating-system user who ran the command."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        user = f"uid{os.getuid()}"
    return f"cli:{user}"


def _reason(reason: str | None, verb: str) -> str:
    if reason is None or not reason.strip():
        raise click.UsageError(
            f"--reason is required: say why you {verb} (it is kept in the release history)"
        )
    return reason.strip()


@contextmanager
def _refused() -> Iterator[None]:
    """A move the version's stage does not allow: its message, exit status 1."""
    from decayguard.release.stages import IllegalTransition

    try:
        yield
    except IllegalTransition as exc:
        err_console.print(f"[red]refused:[/red] {escape(str(exc))}", highlight=False)
        raise SystemExit(1) from exc


def _when(value: Any) -> str:
    """A stored time (ISO text or a datetime) as ``YYYY-MM-DD HH:MM`` UTC."""
    if value is None:
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return f"{moment:%Y-%m-%d %H:%M}"


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def _plain(text: str) -> None:
    console.print(text, highlight=False, markup=False)


def _print_outcome(outcome: AdvanceOutcome) -> None:
    for step in outcome.steps:
        _plain(
            f"version {step.version}: {step.from_stage or 'new'} -> {step.to_stage} "
            f"({step.action} by {step.actor}): {step.reason}"
        )
    if outcome.recovered:
        _plain(
            "finished transitions left unapplied by an earlier run: "
            + ", ".join(str(i) for i in outcome.recovered)
        )
    if outcome.message and outcome.message not in {step.reason for step in outcome.steps}:
        _plain(outcome.message)
    candidate = f"version {outcome.candidate} ({outcome.stage})" if outcome.candidate else "none"
    _plain(f"{outcome.model_name}: champion {outcome.champion or 'none'}, candidate {candidate}")


def _show(outcome: AdvanceOutcome, as_json: bool) -> None:
    if as_json:
        _echo_json(outcome.to_dict())
    else:
        _print_outcome(outcome)


def _verdict_line(check: dict[str, Any]) -> str:
    """One line of the latest automatic check (an audit row: ``ts`` and ``details``)."""
    details: dict[str, Any] = check.get("details") or {}
    head = []
    when = _when(details.get("now") or check.get("ts"))
    if when:
        head.append(f"{when} UTC")
    if details.get("version"):
        stage = f" in {details['stage']}" if details.get("stage") else ""
        head.append(f"version {details['version']}{stage}")
    parts = [", ".join(head)] if head else []
    verdict: dict[str, Any] = details.get("verdict") or {}
    if verdict:
        judged = f"judge {verdict.get('verdict', '?')} on {verdict.get('n', '?')} paired outcomes"
        lower, upper = verdict.get("lower"), verdict.get("upper")
        if isinstance(lower, int | float) and isinstance(upper, int | float):
            judged += f", difference in [{lower:+.4f}, {upper:+.4f}]"
        parts.append(judged)
    guard: dict[str, Any] = details.get("guard") or {}
    if guard.get("breached"):
        parts.append(f"guard breached: {guard.get('reason', '')}")
    if details.get("reason"):
        parts.append(str(details["reason"]))
    return ": ".join(parts) or json.dumps(check, default=str, sort_keys=True)


def status(project: ProjectOption = Path("."), as_json: JsonOption = False) -> None:
    """Which version is champion, which is the candidate and in which stage since when, the
    latest automatic step's verdict, and the transitions not yet applied."""
    from decayguard.release.manual import release_status

    result = release_status(config_for(project))
    if as_json:
        _echo_json(result.to_dict())
        return
    champion, candidate = result.champion, result.candidate
    if champion is None:
        _plain(f"{result.model_name}: no champion")
    else:
        _plain(
            f"{result.model_name}: champion version {champion['version']} "
            f"since {_when(champion['stage_since'])} UTC"
        )
    if candidate is None:
        _plain("candidate: none")
    else:
        share = candidate.get("traffic_share")
        traffic = f", {share:.0%} of the traffic" if isinstance(share, int | float) else ""
        _plain(
            f"candidate: version {candidate['version']} in {candidate['stage']}{traffic} "
            f"since {_when(candidate['stage_since'])} UTC"
        )
    if result.last_advance:
        _plain(f"last verdict: {_verdict_line(result.last_advance)}")
    else:
        _plain("last verdict: none yet")
    _plain(f"unapplied transitions: {result.unapplied}")
    if result.unapplied:
        _plain("  (the next `decayguard release advance` or release flow run finishes them)")


def promote(
    version: VersionArgument = None,
    project: ProjectOption = Path("."),
    reason: ReasonOption = None,
    as_json: JsonOption = False,
) -> None:
    """Promote the candidate (or VERSION) to champion now. Exit status 1 when its stage does
    not allow it (for example: no candidate)."""
    from decayguard.release.manual import promote as promote_version

    why = _reason(reason, "promote")
    cfg = config_for(project)
    with _refused():
        outcome = promote_version(cfg, version, reason=why, actor=cli_actor())
    _show(outcome, as_json)


def rollback(
    version: VersionArgument = None,
    project: ProjectOption = Path("."),
    reason: ReasonOption = None,
    as_json: JsonOption = False,
) -> None:
    """Take the candidate (or VERSION) off live traffic; with no candidate, or VERSION the
    champion, the previous champion serves again. Exit status 1 when its stage does not
    allow it."""
    from decayguard.release.manual import rollback as rollback_version

    why = _reason(reason, "roll back")
    cfg = config_for(project)
    with _refused():
        outcome = rollback_version(cfg, version, reason=why, actor=cli_actor())
    _show(outcome, as_json)


def history(
    project: ProjectOption = Path("."),
    version: Annotated[
        str | None, typer.Option("--version", help="Only this version's transitions.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Every release transition, oldest first: which version served when, why, and who
    decided."""
    from decayguard.release.manual import release_history

    cfg = config_for(project)
    rows = release_history(cfg, version)
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        which = f"version {version} of " if version else ""
        _plain(f"{which}{cfg.model.name}: no release transitions yet")
        return
    table = Table(title=f"release history of {cfg.model.name}")
    for column in ("time (UTC)", "version", "from → to", "action", "actor", "reason"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            _when(row.get("created_at")),
            str(row["version"]),
            f"{row.get('from_stage') or '-'} → {row['to_stage']}",
            str(row["action"]),
            escape(str(row["actor"])),
            escape(str(row.get("reason") or "")),
        )
    console.print(table)


def advance(
    project: ProjectOption = Path("."),
    now: Annotated[
        str | None,
        typer.Option(help="The step's clock, ISO 8601 (default: now); later evidence is unused."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """One release step by hand: finish what an earlier run left half done, judge the
    candidate, move it at most one step (what the release flow does on its schedule)."""
    from decayguard.release.run import advance as advance_once

    clock = None
    if now is not None:
        try:
            clock = datetime.fromisoformat(now)
        except ValueError as exc:
            raise InputValidationError("--now", f"not an ISO 8601 time: {now!r}") from exc
        if clock.tzinfo is None:  # naive times are UTC, as in the flows' parameters
            clock = clock.replace(tzinfo=UTC)
    cfg = config_for(project)
    with _refused():
        outcome = advance_once(cfg, clock, actor=cli_actor())
    _show(outcome, as_json)


app.command("status")(status)
app.command("promote")(promote)
app.command("rollback")(rollback)
app.command("history")(history)
app.command("advance")(advance)
