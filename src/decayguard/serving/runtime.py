"""The decayguard MLServer runtime: any exported model as an Open Inference Protocol API.

Point a ``model-settings.json`` at it (``decayguard serve`` and
:func:`decayguard.serving.deploy.deploy_model` write one)::

    {"name": "credit-default",
     "implementation": "decayguard.serving.runtime.DecayguardRuntime",
     "parameters": {"extra": {"decayguard": {...}}}}

This module is an adapter only: the work is done by
:class:`~decayguard.serving.service.PredictionService`. MLServer re-executes this
module at every model load, so it holds no process-wide state (the prediction
logger lives in :mod:`decayguard.serving.logger`).

Errors: a request that does not match the input schema gets HTTP 422 naming the
input; an unreachable feature server or a full spool disk gets 503. No request gets
a 500.

A deployment whose settings say ``log_predictions: false`` (a scratch deployment, such
as the gate's smoke test) answers like any other but logs nothing: no spool, no shipper,
no review sampling.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlserver import MLModel
from mlserver.errors import MLServerError
from mlserver.types import InferenceRequest, InferenceResponse, Parameters, ResponseOutput

from decayguard.errors import DecayguardError, InputValidationError, ServiceError
from decayguard.registry.export import ExportedModel, load_model
from decayguard.serving.features import FeastOnlineClient
from decayguard.serving.logger import PredictionLogger
from decayguard.serving.service import Answer, PredictionService
from decayguard.serving.settings import RuntimeSettings, parse_runtime_settings
from decayguard.serving.validation import TensorInput
from decayguard.store.predictions import PredictionRecord

log = logging.getLogger("decayguard.serving")

ARM_HEADER = "x-decayguard-arm"
VERSION_HEADER = "x-decayguard-model-version"
_CLOSE_DELAY_SECONDS = 30.0


class DecayguardRuntime(MLModel):  # type: ignore[misc]
    """MLServer runtime serving a hash-pinned decayguard artifact, with logging and routing."""

    async def load(self) -> bool:
        source = self.settings._source
        base = Path(source).parent if source else Path.cwd()
        extra = self.settings.parameters.extra if self.settings.parameters else None
        try:
            runtime_settings = parse_runtime_settings(extra, source or self.name)
            if runtime_settings.log_predictions:
                self._service = PredictionService.from_settings(self.name, runtime_settings, base)
            else:
                self._service = _unlogged_service(self.name, runtime_settings, base)
        except DecayguardError as exc:
            raise MLServerError(f"cannot load model {self.name!r}: {exc}", 422) from exc
        m = self._service.champion.manifest
        log.info(
            "model %s: champion version %s (%s), mode %s",
            self.name,
            m.model_version,
            m.sha256[:12],
            runtime_settings.mode,
        )
        return True

    async def unload(self) -> bool:
        service = getattr(self, "_service", None)
        if service is not None:
            # Requests already inside the old instance may still be awaiting features:
            # close its HTTP client a little later instead of under their feet.
            asyncio.get_running_loop().call_later(
                _CLOSE_DELAY_SECONDS, lambda: asyncio.ensure_future(service.aclose())
            )
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        request_id = payload.id or ""
        inputs = [
            TensorInput(i.name, str(i.datatype), i.shape, getattr(i.data, "root", i.data))
            for i in payload.inputs
        ]
        params = payload.parameters
        event_time = getattr(params, "event_time", None) if params is not None else None
        try:
            answer = await self._service.predict(request_id, inputs, event_time=event_time)
        except InputValidationError as exc:
            raise MLServerError(str(exc), status_code=422) from exc
        except ServiceError as exc:
            raise MLServerError(str(exc), status_code=503) from exc
        except DecayguardError as exc:
            raise MLServerError(str(exc), status_code=422) from exc
        except Exception as exc:  # the promise is "never a 500": log it, answer 503
            log.exception("model %s: unexpected error on request %s", self.name, request_id)
            raise MLServerError(f"internal error in model {self.name!r}: {exc}", 503) from exc
        return _response(self.name, request_id, answer)


class _DiscardingLogger(PredictionLogger):
    """A prediction logger that keeps nothing (for scratch deployments): no spool, no
    shipper process."""

    def __init__(self) -> None:  # deliberately not PredictionLogger's: nothing to start
        pass

    def log(self, records: Sequence[PredictionRecord]) -> None:
        """Drop the rows."""

    def close(self, timeout: float | None = None) -> bool:
        return True


def _unlogged_service(name: str, settings: RuntimeSettings, base: Path) -> PredictionService:
    """What :meth:`PredictionService.from_settings` builds, minus the log and the review
    sampler (``log_predictions: false``)."""

    def load(pin: Any) -> ExportedModel:
        return load_model(
            settings.resolve(pin.path, base), sha256=pin.sha256, trusted_types=pin.trusted_types
        )

    champion = load(settings.champion)
    challenger = load(settings.challenger) if settings.challenger else None
    feast = None
    if settings.feast is not None:
        feast = FeastOnlineClient(
            settings.feast.url,
            feature_service=settings.feast.feature_service,
            feature_refs=settings.feast.feature_refs,
            timeout=settings.feast.timeout_seconds,
        )
    quiet = settings.model_copy(update={"review": None})
    return PredictionService(name, quiet, champion, challenger, _DiscardingLogger(), feast)


def _response(model_name: str, request_id: str, answer: Answer) -> InferenceResponse:
    n = len(answer.prediction_ids)
    outputs = [
        ResponseOutput(
            name="prediction_id", shape=[n], datatype="BYTES", data=answer.prediction_ids
        )
    ]
    if answer.task == "regression":
        outputs.append(
            ResponseOutput(name="predict", shape=[n], datatype="FP64", data=answer.scores)
        )
    else:
        outputs.append(
            ResponseOutput(name="predict", shape=[n], datatype="BYTES", data=answer.labels)
        )
        outputs.append(ResponseOutput(name="score", shape=[n], datatype="FP64", data=answer.scores))
    if answer.probabilities is not None:
        k = len(answer.classes)
        outputs.append(
            ResponseOutput(
                name="predict_proba",
                shape=[n, k],
                datatype="FP64",
                data=answer.probabilities.reshape(-1).tolist(),
            )
        )
    return InferenceResponse(
        id=request_id,
        model_name=model_name,
        outputs=outputs,
        parameters=Parameters(
            arm=answer.arm,
            model_version=answer.model_version,
            headers={ARM_HEADER: answer.arm, VERSION_HEADER: answer.model_version},
            # the column order of predict_proba (REST only: gRPC drops list parameters)
            **({"classes": answer.classes} if answer.probabilities is not None else {}),
        ),
    )
