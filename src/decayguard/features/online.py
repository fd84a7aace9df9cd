"""Online features over HTTP from ``feast serve``: the lookup the serving runtime uses.

Needs only httpx (no Feast), so it runs in the serving environment. Answers come back as one
list per column, like Feast's own ``OnlineResponse.to_dict()``; a value Feast did not find
(or found too old) is ``None``::

    client = OnlineFeatureClient("http://127.0.0.1:6566")
    client.get("credit_default_v1", {"applicant_id": [1, 2]})
    # {"applicant_id": [1, 2], "income": [51234.5, None], ...}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from decayguard.errors import InputValidationError, ServiceError

PATH = "/get-online-features"
PRESENT = "PRESENT"
_DROPPED = (httpx.ReadError, httpx.RemoteProtocolError)


def online_request(feature_service: str, entities: Mapping[str, Sequence[Any]]) -> dict[str, Any]:
    """The JSON body of a ``/get-online-features`` request (checked: same-length key columns)."""
    if not entities:
        raise InputValidationError("entities", "at least one entity key column is needed")
    lengths = {name: len(values) for name, values in entities.items()}
    if len(set(lengths.values())) != 1 or 0 in lengths.values():
        raise InputValidationError(
            "entities", f"key columns must be non-empty and of equal length, got {lengths}"
        )
    columns = {name: list(values) for name, values in entities.items()}
    return {"feature_service": feature_service, "entities": columns}


def parse_online_response(payload: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Feast's JSON answer to one list per column; values not ``PRESENT`` become ``None``."""
    try:
        names = payload["metadata"]["feature_names"]
        results = payload["results"]
        columns: dict[str, list[Any]] = {}
        for name, result in zip(names, results, strict=True):
            statuses = result.get("statuses") or [PRESENT] * len(result["values"])
            columns[name] = [
                value if status == PRESENT else None
                for value, status in zip(result["values"], statuses, strict=True)
            ]
    except (KeyError, TypeError, ValueError) as exc:
        raise ServiceError(f"feast serve answered in an unexpected shape: {exc!r}") from exc
    return columns


def _raise_for_answer(response: httpx.Response, feature_service: str) -> None:
    if response.status_code == 200:
        return
    detail = _detail(response)
    if response.status_code == 404:
        raise InputValidationError("feature_service", f"{feature_service!r}: {detail}")
    if response.status_code in (400, 422) or (
        response.status_code == 500 and _is_key_error(detail)
    ):
        # feast serve answers a missing or mistyped entity key with a plain 500.
        raise InputValidationError("entities", detail)
    raise ServiceError(f"feast serve answered {response.status_code}: {detail}")


def _detail(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except json.JSONDecodeError:
        return response.text[:300]
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except json.JSONDecodeError:
            return str(body)[:300]
    if isinstance(body, dict):
        return str(body.get("message") or body.get("detail") or body)[:300]
    return str(body)[:300]


def _is_key_error(detail: str) -> bool:
    return "join key" in detail or "invalid literal" in detail or "could not convert" in detail


class OnlineFeatureClient:
    """A keep-alive HTTP client of ``feast serve``."""

    def __init__(
        self, url: str, *, timeout: float = 2.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.url, timeout=timeout, transport=transport, trust_env=False
        )

    def get(
        self, feature_service: str, entities: Mapping[str, Sequence[Any]]
    ) -> dict[str, list[Any]]:
        """The online features of ``entities`` (key column to values) from a feature service."""
        body = online_request(feature_service, entities)
        try:
            try:
                response = self._client.post(PATH, json=body)
            except _DROPPED:
                # feast serve drops a kept-alive connection after answering a 500; the lookup
                # is read-only, so one retry on a fresh connection is safe.
                response = self._client.post(PATH, json=body)
        except httpx.HTTPError as exc:
            raise ServiceError(f"feast serve at {self.url} is unreachable: {exc}") from exc
        _raise_for_answer(response, feature_service)
        return parse_online_response(response.json())

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> OnlineFeatureClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncOnlineFeatureClient:
    """The same lookup for asyncio code (the MLServer runtime)."""

    def __init__(
        self, url: str, *, timeout: float = 2.0, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.url, timeout=timeout, transport=transport, trust_env=False
        )

    async def get(
        self, feature_service: str, entities: Mapping[str, Sequence[Any]]
    ) -> dict[str, list[Any]]:
        """The online features of ``entities`` (key column to values) from a feature service."""
        body = online_request(feature_service, entities)
        try:
            try:
                response = await self._client.post(PATH, json=body)
            except _DROPPED:
                # feast serve drops a kept-alive connection after answering a 500; the lookup
                # is read-only, so one retry on a fresh connection is safe.
                response = await self._client.post(PATH, json=body)
        except httpx.HTTPError as exc:
            raise ServiceError(f"feast serve at {self.url} is unreachable: {exc}") from exc
        _raise_for_answer(response, feature_service)
        return parse_online_response(response.json())

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
