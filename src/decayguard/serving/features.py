"""Online features from a Feast feature server (``feast serve``), over plain HTTP.

The serving environment never imports Feast: it posts entity keys to the feature
server's ``/get-online-features`` endpoint and reads the values back by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from decayguard.errors import InputValidationError, ServiceError


class FeastOnlineClient:
    """Fetches a feature service's (or feature references') values for entity keys."""

    def __init__(
        self,
        url: str,
        *,
        feature_service: str | None = None,
        feature_refs: Sequence[str] = (),
        timeout: float = 2.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not feature_service and not feature_refs:
            raise ValueError("a Feast lookup needs a feature service or feature references")
        self.url = url.rstrip("/")
        self.feature_service = feature_service
        self.feature_refs = list(feature_refs)
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport)

    def _body(self, entity_name: str, keys: Sequence[Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"entities": {entity_name: list(keys)}}
        if self.feature_service:
            body["feature_service"] = self.feature_service
        else:
            body["features"] = self.feature_refs
        return body

    async def fetch(self, entity_name: str, keys: Sequence[Any]) -> dict[str, list[Any]]:
        """Feature name (without the view prefix) to one value per key (``None`` if absent)."""
        try:
            response = await self._client.post(
                f"{self.url}/get-online-features", json=self._body(entity_name, keys)
            )
        except httpx.HTTPError as exc:
            raise ServiceError(
                f"the Feast feature server at {self.url} is unreachable: {exc}"
            ) from exc
        if response.status_code >= 500 or response.status_code in (404, 405):
            raise ServiceError(
                f"the Feast feature server at {self.url} answered {response.status_code}: "
                f"{response.text[:300]}"
            )
        if response.status_code >= 400:
            raise InputValidationError(
                entity_name, f"the feature server refused these keys: {response.text[:300]}"
            )
        return _columns(response.json(), len(keys), self.url)

    async def aclose(self) -> None:
        await self._client.aclose()


def _columns(body: Any, n: int, url: str) -> dict[str, list[Any]]:
    try:
        names = body["metadata"]["feature_names"]
        results = body["results"]
    except (KeyError, TypeError) as exc:
        raise ServiceError(f"unexpected answer from the Feast feature server at {url}") from exc
    columns: dict[str, list[Any]] = {}
    for name, result in zip(names, results, strict=False):
        values = list(result.get("values", []))
        statuses = result.get("statuses", ["PRESENT"] * len(values))
        if len(values) != n:
            raise ServiceError(f"Feast returned {len(values)} values of {name!r} for {n} keys")
        short = name.split(":", 1)[-1]
        columns[short] = [
            v if s == "PRESENT" else None for v, s in zip(values, statuses, strict=False)
        ]
    return columns
