"""Traffic routing between the champion and a challenger: one policy object per mode.

>>> Canary(share=0.25).route("applicant-42") == Canary(share=0.25).route("applicant-42")
True
>>> Shadow().route("any")
Route(answer='champion', shadow=True)
>>> Shadow().route("any").silent
'challenger'
>>> Canary(share=1.0).route("any").silent
'champion'
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import ClassVar, Protocol

CHAMPION = "champion"
CHALLENGER = "challenger"
SHADOW = "shadow"
"""Arm names as logged: the arm that answers is ``champion`` or ``challenger``; the other
model, when it scores the same request silently (shadow, canary), is logged as ``shadow``
with its own model version and the answered row's id as ``paired_id``."""


@dataclass(frozen=True, slots=True)
class Route:
    """Which arm answers a request, and whether the other arm also scores it silently."""

    answer: str
    shadow: bool = False

    @property
    def silent(self) -> str | None:
        """The arm scoring the request without answering it (``None``: only one scores)."""
        if not self.shadow:
            return None
        return CHAMPION if self.answer == CHALLENGER else CHALLENGER


class RoutingPolicy(Protocol):
    name: ClassVar[str]
    needs_challenger: ClassVar[bool]

    def route(self, key: str) -> Route: ...


class ChampionOnly:
    """Every request is answered by the champion."""

    name: ClassVar[str] = "champion"
    needs_challenger: ClassVar[bool] = False

    def route(self, key: str) -> Route:
        return Route(CHAMPION)


class Shadow:
    """The champion answers; the challenger scores every request too, and is logged."""

    name: ClassVar[str] = "shadow"
    needs_challenger: ClassVar[bool] = True

    def route(self, key: str) -> Route:
        return Route(CHAMPION, shadow=True)


def bucket(key: str) -> float:
    """A stable, uniform number in ``[0, 1)`` for a routing key."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


class Canary:
    """A fixed share of traffic is answered by the challenger, sticky by routing key; the
    other model scores every request silently, so both versions score all of them.

    The key is the request's entity key when it has one (so an entity always meets
    the same model), else its request id.
    """

    name: ClassVar[str] = "canary"
    needs_challenger: ClassVar[bool] = True

    def __init__(self, share: float) -> None:
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"canary share must be within [0, 1], got {share}")
        self.share = share

    def route(self, key: str) -> Route:
        return Route(CHALLENGER if bucket(key) < self.share else CHAMPION, shadow=True)


def routing_policy(mode: str, canary_share: float) -> RoutingPolicy:
    """The policy for a serving mode (``champion``, ``shadow`` or ``canary``)."""
    if mode == Canary.name:
        return Canary(canary_share)
    policies: dict[str, RoutingPolicy] = {ChampionOnly.name: ChampionOnly(), Shadow.name: Shadow()}
    try:
        return policies[mode]
    except KeyError as exc:
        raise ValueError(f"unknown serving mode {mode!r} (champion, shadow, canary)") from exc
