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

Model metadata (``GET /v2/models/NAME``) says what this instance really serves, under
``parameters.decayguard``: ``champion_version``, ``challenger_version`` (``null`` when no
challenger takes part), ``mode`` and ``canary_share`` (0 outside canary).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from mlserver import MLModel
from mlserver.errors import MLServerError
from mlserver.types import (
    InferenceRequest,
    InferenceResponse,
    MetadataModelResponse,
    Parameters,
    ResponseOutput,
)

from decayguard.errors import DecayguardError, InputValidationError, ServiceError
from decayguard.serving.service import Answer, PredictionService
from decayguard.serving.settings import EXTRA_KEY, parse_runtime_settings
from decayguard.serving.validation import TensorInput

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
            self._service = PredictionService.from_settings(self.name, runtime_settings, base)
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

    async def metadata(self) -> MetadataModelResponse:
        """MLServer's model metadata, plus what this instance serves (see the module)."""
        response: MetadataModelResponse = await super().metadata()
        params = response.parameters or Parameters()
        service = getattr(self, "_service", None)
        if service is not None:
            # Nested: MLServer drops top-level null parameters, a nested null survives.
            setattr(params, EXTRA_KEY, service.state())
        response.parameters = params
        return response

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
