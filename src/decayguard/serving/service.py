"""One prediction, transport-agnostic: validate, look up features, route, score, log.

The MLServer runtime (:mod:`decayguard.serving.runtime`) is a thin adapter over
:class:`PredictionService`; so could a gRPC or batch adapter be.

In shadow and canary modes both models score every request: the routed one answers, the
other scores silently and is logged as a *silent row* (arm ``shadow``, id ``<id>:shadow``,
its own model version, ``paired_id`` = the answered row's id, never sent to review), so the
release judge can compare both versions on the same requests. A silent model that fails
never fails the request. Every scoring is counted and timed per version and arm
(:mod:`decayguard.serving.arm_metrics`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from decayguard.errors import InputValidationError, ServiceError, StoreError
from decayguard.feedback.sampling import (
    STRATEGIES,
    ReviewBudget,
    ReviewSampler,
    SamplingStrategy,
    UncertaintyWeighted,
)
from decayguard.registry.export import ExportedModel, load_model
from decayguard.serving.arm_metrics import ANSWERED, SILENT, ArmRecorder
from decayguard.serving.features import FeastOnlineClient
from decayguard.serving.inputs import FrameInput, InputBuilder, input_builder_for
from decayguard.serving.logger import PredictionLogger, shared_logger
from decayguard.serving.routing import CHALLENGER, CHAMPION, SHADOW, RoutingPolicy, routing_policy
from decayguard.serving.settings import ReviewSpec, RuntimeSettings
from decayguard.serving.validation import InputValidator, TensorInput, ValidatedInputs
from decayguard.store.predictions import PredictionRecord
from decayguard.store.schema import as_utc

log = logging.getLogger("decayguard.serving")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,48}$")
"""Request ids become prediction ids (at most 64 characters in the store, with room for
a row suffix): letters, digits and ``._:-``, at most 48 characters."""


@dataclass(frozen=True)
class Answer:
    """What the answering arm said about one request."""

    arm: str
    model_version: str
    task: str
    classes: list[str]
    prediction_ids: list[str]
    labels: list[str | None]
    scores: list[float | None]
    probabilities: np.ndarray | None


def build_sampler(spec: ReviewSpec | None, exported: ExportedModel) -> ReviewSampler | None:
    """The review sampler of one arm, fitted on its manifest's reference scores."""
    if spec is None or spec.share <= 0:
        return None
    strategy: SamplingStrategy
    if spec.strategy == UncertaintyWeighted.name:
        strategy = UncertaintyWeighted(
            threshold=spec.decision_threshold, floor=spec.uncertainty_floor
        )
    else:
        strategy = STRATEGIES[spec.strategy]()
    sampler = ReviewSampler(strategy, ReviewBudget(share=spec.share))
    m = exported.manifest
    if m.reference_scores:
        classes = (
            m.reference_classes if len(m.reference_classes) == len(m.reference_scores) else None
        )
        sampler.fit(m.reference_scores, classes)
    sampler.inclusion_probability(0.5, None)  # an unfitted sampler fits now, not on a request
    return sampler


class PredictionService:
    """Serves one model name: its champion, an optional challenger, and the log."""

    def __init__(
        self,
        model_name: str,
        settings: RuntimeSettings,
        champion: ExportedModel,
        challenger: ExportedModel | None,
        logger: PredictionLogger,
        feast: FeastOnlineClient | None = None,
    ) -> None:
        self.model_name = model_name
        self.settings = settings
        self.champion = champion
        self.challenger = challenger
        self.logger = logger
        self.feast = feast
        self.policy: RoutingPolicy = routing_policy(settings.mode, settings.canary_share)
        self.validator = InputValidator(champion.manifest.features, settings.entity_key)
        self._models = {CHAMPION: champion, CHALLENGER: challenger}
        self._samplers = {
            CHAMPION: build_sampler(settings.review, champion),
            CHALLENGER: build_sampler(settings.review, challenger) if challenger else None,
        }
        self._inputs = {
            CHAMPION: input_builder_for(champion),
            CHALLENGER: input_builder_for(challenger) if challenger else FrameInput(),
        }
        self._rng = np.random.default_rng()
        self._recorders = {
            (name, role): ArmRecorder(model_name, model.manifest.model_version, role)
            for name, model in ((CHAMPION, champion), (CHALLENGER, challenger))
            if model is not None
            for role in (ANSWERED, SILENT)
        }
        if challenger is not None:
            ours = champion.manifest.feature_names
            theirs = challenger.manifest.feature_names
            if sorted(ours) != sorted(theirs):
                raise ServiceError(
                    f"the challenger expects inputs {theirs}, the champion {ours}: "
                    "both must read the same features"
                )

    @classmethod
    def from_settings(
        cls, model_name: str, settings: RuntimeSettings, base_dir: Path
    ) -> PredictionService:
        """Verify and load the pinned artifacts, attach the process-wide logger (or, with
        ``log_predictions: false``, one that keeps nothing)."""

        def load(pin: Any) -> ExportedModel:
            return load_model(
                settings.resolve(pin.path, base_dir),
                sha256=pin.sha256,
                trusted_types=pin.trusted_types,
            )

        champion = load(settings.champion)
        challenger = load(settings.challenger) if settings.challenger else None
        logger: PredictionLogger
        if settings.log_predictions:
            logger = shared_logger(
                settings.resolve(settings.spool_dir, base_dir),
                settings.store_url,
                batch_size=settings.log_batch_size,
                flush_seconds=settings.log_flush_seconds,
            )
        else:  # a scratch deployment (the gate's smoke test): no log, no review sampling
            logger = _DiscardingLogger()
            settings = settings.model_copy(update={"review": None})
        feast = None
        if settings.feast is not None:
            feast = FeastOnlineClient(
                settings.feast.url,
                feature_service=settings.feast.feature_service,
                feature_refs=settings.feast.feature_refs,
                timeout=settings.feast.timeout_seconds,
            )
        return cls(model_name, settings, champion, challenger, logger, feast)

    async def predict(
        self, request_id: str, inputs: Sequence[TensorInput], *, event_time: object = None
    ) -> Answer:
        """Answer one request; raises InputValidationError (4xx) or ServiceError (503).

        ``event_time`` (ISO 8601, from the request's parameters) is the time the prediction
        is logged at when ``trust_event_time`` is on; otherwise it is ignored.
        """
        if not _REQUEST_ID.match(request_id):
            raise InputValidationError(
                "id", "request ids must be 1-48 characters of letters, digits and ._:-"
            )
        validated = self.validator.validate(inputs)
        if validated.missing:
            await self._fetch_features(validated)
        keys = validated.entity_keys
        route = self.policy.route(str(keys[0]) if keys else request_id)
        answering = CHALLENGER if route.answer == CHALLENGER and self.challenger else CHAMPION
        arm = self._model(answering)
        scores, labels, score_values = self._score_arm(answering, ANSWERED, validated)
        n = validated.n_rows
        ids = [request_id] if n == 1 else [f"{request_id}.{i}" for i in range(n)]
        now = self._logged_time(event_time)
        sampler = self._samplers[answering]
        records = self._records(
            answering, arm, ids, now, validated, scores, labels, score_values, sampler
        )
        silent = route.silent
        if silent is not None and self._models[silent] is not None:
            records.extend(self._silent_records(silent, ids, now, validated))
        try:
            self.logger.log(records)
        except StoreError as exc:
            raise ServiceError(f"prediction not served: {exc}") from exc
        m = arm.manifest
        return Answer(
            arm=answering,
            model_version=m.model_version,
            task=m.task,
            classes=m.classes,
            prediction_ids=ids,
            labels=labels,
            scores=score_values,
            probabilities=scores if m.task == "multiclass" else None,
        )

    def state(self) -> dict[str, Any]:
        """What this instance serves: the champion's version, the challenger's (``None``
        when no challenger takes part in routing), the mode, and the share of traffic
        the challenger answers (0 outside canary)."""
        uses_challenger = self.policy.needs_challenger and self.challenger is not None
        share = getattr(self.policy, "share", 0.0) if uses_challenger else 0.0
        return {
            "champion_version": self.champion.manifest.model_version,
            "challenger_version": (
                self.challenger.manifest.model_version
                if uses_challenger and self.challenger is not None
                else None
            ),
            "mode": self.policy.name,
            "canary_share": float(share),
        }

    def _model(self, arm_name: str) -> ExportedModel:
        model = self._models[arm_name]
        assert model is not None, arm_name
        return model

    def _score_arm(
        self, arm_name: str, role: str, validated: ValidatedInputs
    ) -> tuple[np.ndarray, list[str | None], list[float | None]]:
        """Score with one arm, counted and timed under its version and ``role``."""
        model = self._model(arm_name)
        recorder = self._recorders[(arm_name, role)]
        start = time.perf_counter()
        try:
            scores = _score(model, self._inputs[arm_name], validated.columns)
            labels, values = model.score_columns(scores)
        except InputValidationError:
            recorder.scored(time.perf_counter() - start)  # the client's input, not the model
            raise
        except Exception:
            recorder.failed()
            raise
        recorder.scored(time.perf_counter() - start)
        return scores, labels, values

    def _logged_time(self, event_time: object) -> datetime:
        if event_time is None or not self.settings.trust_event_time:
            return datetime.now(UTC)
        try:
            parsed = datetime.fromisoformat(str(event_time))
        except ValueError as exc:
            raise InputValidationError(
                "parameters.event_time", f"not an ISO 8601 time: {str(event_time)[:40]!r}"
            ) from exc
        return as_utc(parsed)

    async def _fetch_features(self, validated: ValidatedInputs) -> None:
        if self.feast is None or validated.entity_keys is None:
            raise InputValidationError(
                validated.missing[0],
                "missing from the request (no online feature lookup is set up)",
            )
        assert self.settings.entity_key is not None
        fetched = await self.feast.fetch(self.settings.entity_key, validated.entity_keys)
        self.validator.check_fetched(validated, fetched)

    def _records(
        self,
        arm_name: str,
        arm: ExportedModel,
        ids: list[str],
        now: datetime,
        validated: ValidatedInputs,
        scores: np.ndarray,
        labels: list[str | None],
        score_values: list[float | None],
        sampler: ReviewSampler | None,
        paired_ids: list[str] | None = None,
    ) -> list[PredictionRecord]:
        version = arm.manifest.model_version
        outputs = _outputs(arm, scores)
        keys = validated.entity_keys
        records = []
        for i, pid in enumerate(ids):
            p = sampler.inclusion_probability(score_values[i], labels[i]) if sampler else 0.0
            records.append(
                PredictionRecord(
                    id=pid,
                    ts=now,
                    model_name=self.model_name,
                    model_version=version,
                    arm=arm_name,
                    inputs={name: col[i] for name, col in validated.columns.items()},
                    outputs=outputs[i],
                    prediction=labels[i],
                    score=score_values[i],
                    inclusion_prob=p,
                    review_sampled=ReviewSampler.draw(p, self._rng) if sampler else False,
                    entity_key=None if keys is None else str(keys[i]),
                    paired_id=None if paired_ids is None else paired_ids[i],
                )
            )
        return records

    def _silent_records(
        self, arm_name: str, ids: list[str], now: datetime, validated: ValidatedInputs
    ) -> list[PredictionRecord]:
        """The other model's silent opinion, paired with the answered rows; a failure
        here never fails the request (it is logged and counted in the arm's metrics)."""
        model = self._model(arm_name)
        try:
            scores, labels, values = self._score_arm(arm_name, SILENT, validated)
        except InputValidationError as exc:
            log.warning("silent %s could not score request %s: %s", arm_name, ids[0], exc)
            return []
        except Exception:  # never fail the answered request for the silent model
            log.exception("silent %s failed on request %s", arm_name, ids[0])
            return []
        # Silent predictions are never shown to anyone, so never sent to review (p = 0).
        silent_ids = [f"{i}:shadow" for i in ids]
        return self._records(
            SHADOW, model, silent_ids, now, validated, scores, labels, values, None, ids
        )

    async def aclose(self) -> None:
        if self.feast is not None:
            await self.feast.aclose()


def _score(arm: ExportedModel, builder: InputBuilder, columns: dict[str, list[Any]]) -> np.ndarray:
    try:
        return arm.model.predict_scores(builder.build(arm.manifest.features, columns))
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        # The request passed schema validation, so what is left is input the model
        # itself refuses (a category it never saw, an integer beyond int64): a client
        # error, not a 500.
        raise InputValidationError("inputs", f"the model could not score them: {exc}") from exc


def _outputs(arm: ExportedModel, scores: np.ndarray) -> list[dict[str, Any]]:
    m = arm.manifest
    if m.task == "regression":
        return [{"value": float(v)} for v in scores]
    names = [f"proba_{c}" for c in m.classes]
    return [dict(zip(names, map(float, row), strict=True)) for row in scores.tolist()]


class _DiscardingLogger(PredictionLogger):
    """A prediction logger that keeps nothing (for scratch deployments): no spool, no
    shipper process."""

    def __init__(self) -> None:  # deliberately not PredictionLogger's: nothing to start
        pass

    def log(self, records: Sequence[PredictionRecord]) -> None:
        """Drop the rows."""

    def close(self, timeout: float | None = None) -> bool:
        return True
