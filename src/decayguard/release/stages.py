"""The release state machine, as data: stages, actions, and the one table of transitions.

A model version moves ``registered → validated → shadow → canary → champion``, or ends
``rejected`` (by the gate), ``rolled_back`` (by the judge, the infrastructure guard or a
person) or ``superseded`` (a champion replaced by the next one; a candidate replaced by a
newer one). Nothing else is possible: :func:`next_stage` raises on any pair missing from
:data:`TRANSITIONS`.

>>> next_stage(Stage.SHADOW, Action.START_CANARY)
<Stage.CANARY: 'canary'>
>>> next_stage(Stage.REJECTED, Action.PROMOTE)
Traceback (most recent call last):
...
decayguard.release.stages.IllegalTransition: a rejected version cannot promote
"""

from __future__ import annotations

from enum import StrEnum

from decayguard.errors import DecayguardError


class Stage(StrEnum):
    REGISTERED = "registered"
    """In the registry, not yet judged by the gate."""
    VALIDATED = "validated"
    """Passed the gate; waits for its live trial."""
    SHADOW = "shadow"
    """Scores every request silently beside the champion."""
    CANARY = "canary"
    """Answers a share of the traffic (and still scores the rest silently)."""
    CHAMPION = "champion"
    """Answers the traffic."""
    REJECTED = "rejected"
    """Failed the gate (or was rejected by a person before its trial)."""
    ROLLED_BACK = "rolled_back"
    """Taken off live traffic: worse with confidence, an infrastructure breach, inconclusive
    at ``release.max_hours``, a failed deployment, or a person's decision."""
    SUPERSEDED = "superseded"
    """Replaced: the champion by the next one, a candidate by a newer candidate."""


class Action(StrEnum):
    VALIDATE = "validate"
    REJECT = "reject"
    START_SHADOW = "start_shadow"
    START_CANARY = "start_canary"
    PROMOTE = "promote"
    ROLL_BACK = "roll_back"
    SUPERSEDE = "supersede"
    RESTORE = "restore"
    """A superseded (or rolled-back) former champion serves again: the manual rollback of a
    champion, by a person."""
    DEPLOY = "deploy"
    """A person puts a version in service directly (``decayguard serve deploy``), bypassing
    the gate and the trial; audited like any other transition."""


S, A = Stage, Action
TRANSITIONS: dict[tuple[Stage, Action], Stage] = {
    (S.REGISTERED, A.VALIDATE): S.VALIDATED,
    (S.REGISTERED, A.REJECT): S.REJECTED,
    (S.REGISTERED, A.SUPERSEDE): S.SUPERSEDED,
    (S.REGISTERED, A.START_SHADOW): S.SHADOW,
    (S.REGISTERED, A.START_CANARY): S.CANARY,
    (S.REGISTERED, A.DEPLOY): S.CHAMPION,
    (S.VALIDATED, A.START_SHADOW): S.SHADOW,
    (S.VALIDATED, A.START_CANARY): S.CANARY,
    (S.VALIDATED, A.PROMOTE): S.CHAMPION,
    (S.VALIDATED, A.REJECT): S.REJECTED,
    (S.VALIDATED, A.SUPERSEDE): S.SUPERSEDED,
    (S.VALIDATED, A.DEPLOY): S.CHAMPION,
    (S.SHADOW, A.START_CANARY): S.CANARY,
    (S.SHADOW, A.PROMOTE): S.CHAMPION,
    (S.SHADOW, A.ROLL_BACK): S.ROLLED_BACK,
    (S.SHADOW, A.SUPERSEDE): S.SUPERSEDED,
    (S.SHADOW, A.DEPLOY): S.CHAMPION,
    (S.CANARY, A.PROMOTE): S.CHAMPION,
    (S.CANARY, A.ROLL_BACK): S.ROLLED_BACK,
    (S.CANARY, A.SUPERSEDE): S.SUPERSEDED,
    (S.CANARY, A.DEPLOY): S.CHAMPION,
    (S.CHAMPION, A.SUPERSEDE): S.SUPERSEDED,
    (S.CHAMPION, A.ROLL_BACK): S.ROLLED_BACK,
    (S.SUPERSEDED, A.RESTORE): S.CHAMPION,
    (S.SUPERSEDED, A.DEPLOY): S.CHAMPION,
    (S.ROLLED_BACK, A.RESTORE): S.CHAMPION,
    (S.ROLLED_BACK, A.DEPLOY): S.CHAMPION,
    (S.REJECTED, A.DEPLOY): S.CHAMPION,
}
"""Every legal ``(stage, action) → stage``. A person's ``deploy`` may override the gate
(``rejected``) and the judge (``rolled_back``): it is their decision, and it is audited."""
del S, A

CANDIDATE_STAGES = frozenset({Stage.SHADOW, Stage.CANARY})
"""Stages on live traffic beside the champion (at most one version per model)."""
WAITING_STAGES = frozenset({Stage.REGISTERED, Stage.VALIDATED})
TERMINAL_STAGES = frozenset({Stage.REJECTED, Stage.ROLLED_BACK, Stage.SUPERSEDED})
"""Stages nothing automatic leaves (a person may ``restore`` or ``deploy``)."""


class IllegalTransition(DecayguardError):
    """The action is not allowed from the version's stage (HTTP 409 in the API)."""


def next_stage(stage: Stage | str, action: Action | str) -> Stage:
    """The stage ``action`` leads to from ``stage``; :class:`IllegalTransition` if none."""
    try:
        key = (Stage(stage), Action(action))
    except ValueError as exc:
        raise IllegalTransition(f"unknown stage or action: {stage!r}, {action!r}") from exc
    try:
        return TRANSITIONS[key]
    except KeyError:
        stage_text, action_text = (k.value.replace("_", " ") for k in key)
        article = "an" if stage_text[0] in "aeiou" else "a"
        raise IllegalTransition(f"{article} {stage_text} version cannot {action_text}") from None
