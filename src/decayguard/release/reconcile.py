"""Bringing MLServer, the deployments table and MLflow in line with the store's releases.

The store's releases are the truth: the ``champion`` release serves, the ``shadow`` or
``canary`` release (at most one) is on trial beside it. :func:`reconcile` applies, in this
order and each only when it is not already so:

1. **baselines** of both versions (the monitor needs the new champion's before its traffic
   moves);
2. **MLServer model settings** (``model-settings.json``), then a **hot swap** on the running
   server (the new instance loads before the old one retires: no failed request);
3. the store's **deployments** table (what the monitor watches);
4. the **MLflow aliases** ``champion`` and ``challenger``;
5. an **alert** (apprise) and an **event** (Prefect) per promotion or rollback;

and marks the transitions applied. Every step is idempotent, so a process killed anywhere in
between (``kill -9``) is recovered by the next call: it finds the transitions still
unapplied, redoes what is missing and skips what is done. A hot swap MLServer refuses (a
corrupt artifact, say), or a challenger's baseline that cannot be fitted, leaves the old
model serving; the transitions that asked for it are undone by compensating ones (the
challenger rolled back, the previous champion restored), with the error as their reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from decayguard.alerts.notify import AppriseNotifier, Notification, Notifier, Severity
from decayguard.config import DecayguardConfig
from decayguard.errors import ArtifactError, ServiceError
from decayguard.flows.names import PROMOTED_EVENT, ROLLED_BACK_EVENT
from decayguard.registry.interface import CHALLENGER_ALIAS, CHAMPION_ALIAS, ModelRegistry
from decayguard.release.failpoints import failpoint
from decayguard.release.stages import Action, Stage
from decayguard.store.deployments import active_deployment, end_deployment, record_deployment
from decayguard.store.releases import (
    Move,
    ReleaseRow,
    apply_moves,
    candidate_release,
    list_releases,
    mark_applied,
    release_in,
    unapplied_transitions,
)
from decayguard.watch.baseline import baseline_path

log = logging.getLogger("decayguard.release")

EventSink = Callable[[str, dict[str, Any]], None]
"""Receives ``(event name, payload)`` after a promotion or rollback is applied: the release
flow passes Prefect's ``emit_event`` (names in :mod:`decayguard.flows.names`)."""


@dataclass
class Reconciled:
    """What one :func:`reconcile` call did."""

    applied: list[int] = field(default_factory=list)
    """Transition ids whose side effects are now done."""
    server_loaded: bool = False
    """Whether a running MLServer was asked to load new settings."""
    compensated: list[int] = field(default_factory=list)
    """Compensating transitions written because MLServer refused a swap."""
    notes: list[str] = field(default_factory=list)


def server_url_for(cfg: DecayguardConfig, server_url: str | None = None) -> str | None:
    """``server_url``, or the project's MLServer when it answers; ``None`` when none runs."""
    url = server_url or f"http://{cfg.serving.host}:{cfg.serving.http_port}"
    try:
        live = httpx.get(f"{url}/v2/health/live", timeout=2.0)
    except httpx.HTTPError:
        if server_url is not None:
            raise ServiceError(f"MLServer at {server_url} is unreachable") from None
        return None
    return url if live.status_code == 200 else None


def _desired_mode(candidate: ReleaseRow | None) -> str:
    return "champion" if candidate is None else candidate.stage.value


def _settings_match(
    cfg: DecayguardConfig, champion: ReleaseRow, candidate: ReleaseRow | None
) -> bool:
    from decayguard.serving.deploy import models_dir_for, read_deployment

    current = read_deployment(models_dir_for(cfg), cfg.model.name)
    if current is None or current.champion.sha256 != champion.artifact_sha256:
        return False
    theirs = current.challenger.sha256 if current.challenger else None
    ours = candidate.artifact_sha256 if candidate else None
    if theirs != ours or current.mode != _desired_mode(candidate):
        return False
    if candidate is not None and candidate.stage == Stage.CANARY:
        return abs(current.canary_share - (candidate.traffic_share or 0.0)) < 1e-12
    return True


def _server_matches(
    url: str, cfg: DecayguardConfig, champion: ReleaseRow, candidate: ReleaseRow | None
) -> bool:
    from decayguard.serving.deploy import serving_state

    state = serving_state(url, cfg.model.name)
    if state is None:
        return False
    return (
        state.get("champion_version") == champion.version
        and state.get("challenger_version") == (candidate.version if candidate else None)
        and state.get("mode") == _desired_mode(candidate)
    )


def _write_settings(
    cfg: DecayguardConfig, champion: ReleaseRow, candidate: ReleaseRow | None
) -> None:
    from decayguard.serving.deploy import deploy_model

    mode = _desired_mode(candidate)
    deploy_model(
        cfg,
        champion.artifact_uri,
        challenger=candidate.artifact_uri if candidate else None,
        mode=mode,  # type: ignore[arg-type]
        canary_share=(candidate.traffic_share or 0.0)
        if candidate and candidate.stage == Stage.CANARY
        else 0.0,
    )


def _baselines(
    cfg: DecayguardConfig, rows: list[ReleaseRow], registry: ModelRegistry | None
) -> None:
    from decayguard.release.champion import fit_baseline_from_lineage

    state = cfg.path(cfg.project.state_dir)
    for row in rows:
        if not baseline_path(state, cfg.model.name, row.version).exists():
            fit_baseline_from_lineage(cfg, row.version, Path(row.artifact_uri), registry)


def _deployments(
    engine: Engine, cfg: DecayguardConfig, champion: ReleaseRow, candidate: ReleaseRow | None
) -> None:
    name = cfg.model.name
    active = active_deployment(engine, name, "champion")
    if active is None or (active["model_version"], active["artifact_sha256"]) != (
        champion.version,
        champion.artifact_sha256,
    ):
        record_deployment(
            engine,
            name,
            champion.version,
            artifact_uri=champion.artifact_uri,
            artifact_sha256=champion.artifact_sha256,
            actor="release",
        )
    trial = active_deployment(engine, name, "challenger")
    if candidate is None:
        if trial is not None:
            end_deployment(engine, name, "challenger")
        return
    wanted = (candidate.version, candidate.stage.value, candidate.traffic_share)
    if trial is None or (trial["model_version"], trial["mode"], trial["traffic_share"]) != wanted:
        record_deployment(
            engine,
            name,
            candidate.version,
            role="challenger",
            mode=candidate.stage.value,
            traffic_share=candidate.traffic_share,
            artifact_uri=candidate.artifact_uri,
            artifact_sha256=candidate.artifact_sha256,
            actor="release",
        )


def _registry_in_use(cfg: DecayguardConfig) -> bool:
    """Whether a registry exists to keep in line (the embedded default's SQLite file exists,
    or a tracking server is configured): a project that never retrained has none."""
    if cfg.registry.tracking_uri is not None:
        return True
    return (cfg.path(cfg.project.state_dir) / "mlflow" / "mlflow.db").exists()


def _aliases(
    cfg: DecayguardConfig,
    registry: ModelRegistry,
    champion: ReleaseRow,
    challenger: ReleaseRow | None,
) -> list[str]:
    """Point ``champion`` and ``challenger`` where the releases say (versions the registry
    does not hold, such as a folder deployed by hand, are noted and left alone)."""
    name, notes = cfg.model.name, []
    for alias, row in ((CHAMPION_ALIAS, champion), (CHALLENGER_ALIAS, challenger)):
        current = registry.by_alias(name, alias)
        if row is None:
            if current is not None:
                registry.delete_alias(name, alias)
            continue
        if current is not None and current.version == row.version:
            continue
        try:
            registry.get(name, row.version)
        except ArtifactError:
            notes.append(f"MLflow holds no version {row.version}: alias {alias} not moved")
            continue
        registry.set_alias(name, alias, row.version)
    return notes


def _announce(
    cfg: DecayguardConfig,
    transitions: list[dict[str, Any]],
    notifier: Notifier | None,
    events: EventSink | None,
) -> None:
    """An alert (and a Prefect event) per promotion, rollback and a person's rejection; the
    gate tells its own rejections (its ``gate`` incident)."""
    from decayguard.alerts.links import dashboard_link

    name = cfg.model.name
    sender = notifier or AppriseNotifier(cfg.alerts.apprise_urls)
    latest = {t["version"]: t for t in transitions}  # a compensated move is told as undone
    replaced = [  # the champion a promotion replaced (superseded, or rolled back by a person)
        t["version"]
        for t in latest.values()
        if t["from_stage"] == Stage.CHAMPION.value and t["to_stage"] != Stage.CHAMPION.value
    ]
    for t in latest.values():
        to = t["to_stage"]
        previous = next((v for v in replaced if v != t["version"]), None)
        severity: Severity
        event: str | None
        if to == Stage.CHAMPION.value:
            title = f"{name}: version {t['version']} is the champion ({t['action']})"
            title += f", replacing version {previous}" if previous else ""
            severity, event = "info", PROMOTED_EVENT
        elif to == Stage.ROLLED_BACK.value:
            title = f"{name}: version {t['version']} rolled back"
            severity, event = "warning", ROLLED_BACK_EVENT
        elif to == Stage.REJECTED.value and t["actor"] != "gate":
            title = f"{name}: version {t['version']} rejected"
            severity, event = "warning", None
        else:
            continue
        at = t["created_at"]
        link = dashboard_link(cfg, model=name, until=at + timedelta(minutes=1))
        body = (
            f"{t['reason']} (decided by {t['actor']} at {at:%Y-%m-%d %H:%M} UTC)."
            f"\n\nDashboard: {link}"
        )
        sender.send(Notification(title=title, body=body, severity=severity, kind="event"))
        if events is not None and event is not None:
            events(
                event,
                {
                    "version": t["version"],
                    "from_stage": t["from_stage"],
                    "action": t["action"],
                    "reason": t["reason"],
                    "actor": t["actor"],
                    "previous_champion": previous,
                },
            )


def _compensate(
    engine: Engine, cfg: DecayguardConfig, pending: list[dict[str, Any]], error: str
) -> list[int]:
    """Undo what MLServer refused: the unapplied moves onto live traffic are reversed."""
    name = cfg.model.name
    moves: list[Move] = []
    entered = {t["version"]: t for t in pending}
    champion = release_in(engine, name, Stage.CHAMPION)
    candidate = candidate_release(engine, name)
    if candidate is not None and candidate.version in entered:
        moves.append(Move(candidate.version, Action.ROLL_BACK, expected=candidate.stage))
    if champion is not None and entered.get(champion.version, {}).get("to_stage") == "champion":
        previous = [
            t["version"]
            for t in pending
            if t["from_stage"] == "champion" and t["to_stage"] == "superseded"
        ]
        moves.append(Move(champion.version, Action.ROLL_BACK, expected=Stage.CHAMPION))
        if previous:
            moves.append(Move(previous[-1], Action.RESTORE, expected=Stage.SUPERSEDED))
    if not moves:
        return []
    return apply_moves(
        engine,
        name,
        moves,
        actor="release",
        reason=f"the previous model keeps serving: {error}",
    )


def _undo(
    cfg: DecayguardConfig,
    engine: Engine,
    pending: list[dict[str, Any]],
    why: str,
    error: Exception,
    retry: dict[str, Any],
) -> Reconciled:
    """Compensate the unapplied moves a side effect refused (or re-raise ``error`` when there
    is none to undo), then reconcile once more without them."""
    log.error("%s: %s", cfg.model.name, why)
    compensating = _compensate(engine, cfg, pending, why)
    if not compensating:
        raise error
    again = reconcile(cfg, engine, _depth=1, **retry)
    again.compensated = compensating
    return again


def reconcile(
    cfg: DecayguardConfig,
    engine: Engine,
    *,
    registry: ModelRegistry | None = None,
    server_url: str | None = None,
    notifier: Notifier | None = None,
    events: EventSink | None = None,
    _depth: int = 0,
) -> Reconciled:
    """Apply what the releases say (module doc); ``server_url``: the running MLServer, or
    ``None`` when none runs (the settings are then read when it starts)."""
    name = cfg.model.name
    result = Reconciled()
    pending = unapplied_transitions(engine, name)
    champion = release_in(engine, name, Stage.CHAMPION)
    if champion is None:
        mark_applied(engine, [t["id"] for t in pending])  # nothing serves: nothing to apply
        result.applied = [t["id"] for t in pending]
        return result
    candidate = candidate_release(engine, name)
    live = [champion] + ([candidate] if candidate else [])
    # the crash points fire only while a transition is being applied (what the tests kill)
    crash = failpoint if pending else (lambda _point: None)
    retry: dict[str, Any] = {
        "registry": registry,
        "server_url": server_url,
        "notifier": notifier,
        "events": events,
    }
    try:
        _baselines(cfg, live, registry)
    except Exception as exc:  # a baseline that cannot be fitted must not wedge the release
        if _depth or candidate is None:
            raise
        why = f"no monitoring baseline could be fitted: {type(exc).__name__}: {exc}"
        return _undo(cfg, engine, pending, why, exc, retry)
    crash("after_baseline")
    changed = not _settings_match(cfg, champion, candidate)
    if changed:
        _write_settings(cfg, champion, candidate)
    crash("after_settings")
    if server_url is not None and (
        changed or pending or not _server_matches(server_url, cfg, champion, candidate)
    ):
        from decayguard.serving.deploy import load_into_server

        try:
            load_into_server(server_url, name)
        except ServiceError as exc:
            if _depth:
                raise
            return _undo(cfg, engine, pending, f"MLServer refused it: {exc}", exc, retry)
        result.server_loaded = True
    crash("after_load")
    _deployments(engine, cfg, champion, candidate)
    crash("after_deployment")
    if pending and (registry is not None or _registry_in_use(cfg)):
        from decayguard.registry.interface import registry_for

        waiting = list_releases(engine, name, [Stage.VALIDATED, Stage.REGISTERED])
        challenger = candidate or (waiting[-1] if waiting else None)
        result.notes += _aliases(cfg, registry_for(cfg, registry), champion, challenger)
    crash("after_alias")
    _announce(cfg, pending, notifier, events)
    crash("after_notify")
    mark_applied(engine, [t["id"] for t in pending])
    result.applied = [t["id"] for t in pending]
    return result
