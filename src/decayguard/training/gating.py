"""``gate_once``: one champion/challenger gate, the core the retrain flow, ``decayguard gate``
and the backtest call.

1. **Rows.** The challenger's time-based holdout, read back from the Feast saved dataset of
   its training set (hash-checked against the lineage), plus the project's gold set
   (``gate.gold_set``). The challenger never trained on either.
2. **Scores.** Both exported artifacts (the serving champion's, from the store's deployment;
   the challenger's, from the state folder or the registry) score the same rows.
3. **Decision.** :class:`decayguard.training.gate.ChampionChallengerGate` (pure) decides on
   the paired differences: primary metric, slices, calibration.
4. **Smoke test** on the running MLServer (:func:`decayguard.serving.smoke.smoke_test`): the
   challenger under a scratch name answers recently logged requests with the champion's
   output schema, fast enough (``gate.smoke_test: false`` skips it, e.g. in a backtest).
5. **Record.** The report goes to the store (``gate_reports``) and to the version's MLflow
   run (``gate.json`` and its metrics); the version is tagged ``gate=passed|failed``; a failed
   challenger loses the ``challenger`` alias and is recorded as rejected.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from decayguard.alerts.incidents import IncidentTracker, Signal
from decayguard.alerts.notify import Notifier
from decayguard.config import CONFIG_FILENAME, DecayguardConfig
from decayguard.errors import ArtifactError, ConfigError, InputValidationError, ServiceError
from decayguard.features.repo import FeatureRepo
from decayguard.features.windows import TIME_COLUMN
from decayguard.monitoring.task_base import ModelTask
from decayguard.registry.interface import CHALLENGER_ALIAS, ModelRegistry, registry_for
from decayguard.release.stages import Action, Stage
from decayguard.store import audit
from decayguard.store.deployments import active_artifact_sha256, active_artifact_uri, active_version
from decayguard.store.gate_reports import latest_gate_report, record_gate_report
from decayguard.store.migrate import migrated_engine
from decayguard.store.releases import (
    Move,
    apply_moves,
    get_release,
    mark_applied,
    register_release,
)
from decayguard.training.gate import ChampionChallengerGate, GateDecision, PairedSample
from decayguard.training.retrain import exported_outputs

GATE_TAG = "gate"
STAGE_TAG = "decayguard.stage"
GATE_RULE = "gate"


@dataclass(frozen=True)
class GateReport:
    """One gate run on a version: the decision, the smoke test and where the rows came from."""

    model_name: str
    version: str
    champion_version: str | None
    passed: bool
    reason: str
    decision: dict[str, Any] | None
    """:meth:`GateDecision.to_dict` (``None`` when the gate could not score)."""
    smoke: dict[str, Any] | None
    """The smoke test's result (``None``: skipped)."""
    rows: dict[str, int] = field(default_factory=dict)
    """Rows scored, by source (``holdout``, ``gold``)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GateReport:
        return cls(**data)


def holdout_rows(
    cfg: DecayguardConfig, version: str, registry: ModelRegistry, repo: FeatureRepo | None
) -> pd.DataFrame:
    """The version's holdout: its saved training frame (hash-checked) from ``holdout_start``."""
    from decayguard.training.inspect import lineage_of

    lineage = lineage_of(cfg, version, registry)
    start = lineage.extra.get("holdout_start")
    if not start:
        raise ArtifactError(f"{cfg.model.name} version {version}: its lineage has no holdout")
    frame = (repo or FeatureRepo.from_config(cfg)).load_training_set(lineage).frame
    features = [f.name for f in cfg.model.features]
    held = frame[pd.to_datetime(frame[TIME_COLUMN], utc=True) >= pd.Timestamp(str(start))]
    return held[~held[features].isna().all(axis=1)].reset_index(drop=True)


def gold_rows(cfg: DecayguardConfig) -> pd.DataFrame | None:
    """The project's gold set (``gate.gold_set``), checked for the features and the label."""
    if not cfg.gate.gold_set:
        return None
    path = cfg.path(cfg.gate.gold_set)
    key = f"{cfg.root / CONFIG_FILENAME}: gate.gold_set"
    try:
        frame = pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{key}: cannot read {path}: {exc}") from exc
    needed = [f.name for f in cfg.model.features] + [cfg.model.target]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ConfigError(f"{key}: {path} has no column {missing[0]!r}")
    return frame.dropna(subset=[cfg.model.target]).reset_index(drop=True)


def _challenger_folder(
    cfg: DecayguardConfig, registry: ModelRegistry, version: str
) -> tuple[Path, str]:
    record = registry.get(cfg.model.name, version)
    if record.sha256 is None:
        raise ArtifactError(f"{cfg.model.name} version {version} has no SHA-256 tag")
    folder = cfg.path(cfg.project.state_dir).resolve() / "artifacts" / cfg.model.name / version
    if not (folder / "manifest.json").exists():
        registry.download(cfg.model.name, version, folder)
    return folder, record.sha256


def paired_sample(
    cfg: DecayguardConfig,
    task: ModelTask,
    rows: pd.DataFrame,
    champion: tuple[Path, str],
    challenger: tuple[Path, str],
) -> PairedSample:
    """Both models' outputs on the same rows."""
    names = [f.name for f in cfg.model.features]
    missing = [c for c in cfg.gate.slices if c not in rows.columns]
    if missing:
        raise ConfigError(
            f"{cfg.root / CONFIG_FILENAME}: gate.slices: {missing[0]!r} is not a column of the "
            f"evaluation rows (features: {', '.join(names)})"
        )
    return PairedSample(
        task=task,
        y_true=task.labels_array(rows[cfg.model.target].to_numpy()),
        champion=exported_outputs(cfg, task, *champion, rows),
        challenger=exported_outputs(cfg, task, *challenger, rows),
        slices=rows[list(cfg.gate.slices)].reset_index(drop=True),
        source=rows["__source"].to_numpy(dtype=object),
    )


def gate_once(
    cfg: DecayguardConfig,
    version: str,
    *,
    registry: ModelRegistry | None = None,
    repo: FeatureRepo | None = None,
    server_url: str | None = None,
    notifier: Notifier | None = None,
    now: datetime | None = None,
) -> GateReport:
    """Gate ``version`` against the serving champion and record the report (module doc);
    ``now``: the clock of the release transition it makes (the retraining's)."""
    from decayguard.watch.run import project_task

    registry = registry_for(cfg, registry)
    name = cfg.model.name
    with migrated_engine(cfg.resolved_store_url) as engine:
        champion_version = active_version(engine, name)
        champion_uri = active_artifact_uri(engine, name)
        champion_sha = active_artifact_sha256(engine, name)
        if champion_version is None or champion_uri is None or champion_sha is None:
            raise ConfigError(
                f"{cfg.root / CONFIG_FILENAME}: model.name: no serving champion of {name!r} "
                "to gate against"
            )
        if champion_version == version:
            raise InputValidationError("version", f"version {version} is the serving champion")
        task = project_task(cfg, engine)
        challenger = _challenger_folder(cfg, registry, version)
        frames = [holdout_rows(cfg, version, registry, repo).assign(__source="holdout")]
        gold = gold_rows(cfg)
        if gold is not None:
            frames.append(gold.assign(__source="gold"))
        rows = pd.concat(frames, ignore_index=True)
        counts = {str(k): int(v) for k, v in rows["__source"].value_counts().items()}
        sample = paired_sample(cfg, task, rows, (Path(champion_uri), champion_sha), challenger)
        gate = ChampionChallengerGate.from_config(cfg.gate, task, metric=cfg.gate_metric)
        decision = gate.decide(sample)
        smoke = _smoke(cfg, challenger[0], server_url, engine) if decision.passed else None
        passed = decision.passed and (smoke is None or bool(smoke.get("passed")))
        reason = decision.reason
        if smoke is not None and not smoke.get("passed"):
            reason = f"failed: smoke test: {smoke.get('reason')}"
        report = GateReport(
            model_name=name,
            version=version,
            champion_version=champion_version,
            passed=passed,
            reason=reason,
            decision=decision.to_dict(),
            smoke=smoke,
            rows=counts,
        )
        _record(cfg, engine, registry, report, decision, notifier)
        _move_release(engine, name, version, challenger, report, now)
        return report


def _move_release(
    engine: Engine,
    name: str,
    version: str,
    challenger: tuple[Path, str],
    report: GateReport,
    now: datetime | None,
) -> None:
    """A registered version becomes ``validated`` or ``rejected`` (a re-run of the gate on a
    version already past the gate changes its report, not its stage)."""
    release = get_release(engine, name, version) or register_release(
        engine,
        name,
        version,
        artifact_uri=str(challenger[0]),
        artifact_sha256=challenger[1],
        now=now,
    )
    if release.stage != Stage.REGISTERED:
        return
    action = Action.VALIDATE if report.passed else Action.REJECT
    ids = apply_moves(
        engine,
        name,
        [Move(version, action, expected=Stage.REGISTERED)],
        actor="gate",
        reason=report.reason,
        evidence={"champion_version": report.champion_version, "rows": report.rows},
        now=now,
    )
    mark_applied(engine, ids)  # nothing outside the store to apply: the alias moved above


def _smoke(
    cfg: DecayguardConfig, folder: Path, server_url: str | None, engine: Engine
) -> dict[str, Any] | None:
    if not cfg.gate.smoke_test:
        return None
    from decayguard.serving.smoke import smoke_test

    url = server_url or f"http://{cfg.serving.host}:{cfg.serving.http_port}"
    try:
        result: dict[str, Any] = smoke_test(cfg, folder, server_url=url, engine=engine).to_dict()
        return result
    except ServiceError as exc:
        return {
            "passed": False,
            "reason": f"{exc} (the gate needs the serving endpoint; gate.smoke_test: false "
            "skips the smoke test)",
        }


def _record(
    cfg: DecayguardConfig,
    engine: Engine,
    registry: ModelRegistry,
    report: GateReport,
    decision: GateDecision,
    notifier: Notifier | None,
) -> None:
    name, version = cfg.model.name, report.version
    record_gate_report(
        engine,
        name,
        version,
        champion_version=report.champion_version,
        passed=report.passed,
        reason=report.reason,
        report=report.to_dict(),
    )
    metrics: dict[str, float] = {}
    for criterion in decision.criteria:
        if criterion.name.startswith("metric.") and criterion.delta is not None:
            metric = criterion.name.removeprefix("metric.")
            for key, value in (
                ("delta", criterion.delta),
                ("delta_lower", criterion.lower),
                ("delta_upper", criterion.upper),
            ):
                if value is not None and np.isfinite(value):
                    metrics[f"gate_{metric}_{key}"] = float(value)
    metrics["gate_passed"] = 1.0 if report.passed else 0.0
    registry.log_report(name, version, "gate.json", report.to_dict(), metrics)
    registry.set_version_tag(name, version, GATE_TAG, "passed" if report.passed else "failed")
    tracker = IncidentTracker.for_config(cfg, engine, notifier)
    if report.passed:
        registry.set_version_tag(name, version, STAGE_TAG, "validated")
        audit(engine, "gate.passed", model_name=name, details={"version": version})
        tracker.process([Signal(name, GATE_RULE, False, "warning", report.reason)])
        return
    current = registry.by_alias(name, CHALLENGER_ALIAS)
    if current is not None and current.version == version:
        registry.delete_alias(name, CHALLENGER_ALIAS)
    registry.set_version_tag(name, version, STAGE_TAG, "rejected")
    message = (
        f"challenger version {version} rejected by the gate; the champion keeps serving: "
        f"{report.reason}"
    )
    # each rejection is news by itself, even while an earlier one's incident is open
    tracker.process([Signal(name, GATE_RULE, True, "warning", message, fresh=True)])


def stored_gate_report(cfg: DecayguardConfig, version: str) -> GateReport | None:
    """The latest recorded gate report of ``version``, or ``None``."""
    with migrated_engine(cfg.resolved_store_url) as engine:
        row = latest_gate_report(engine, cfg.model.name, version)
    return None if row is None else GateReport.from_dict(dict(row["report"]))
