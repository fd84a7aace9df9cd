"""The release state machine's table, checked exhaustively: every (stage, action) pair."""

from __future__ import annotations

import pytest

from decayguard.release.stages import (
    CANDIDATE_STAGES,
    TERMINAL_STAGES,
    TRANSITIONS,
    Action,
    IllegalTransition,
    Stage,
    next_stage,
)

S, A = Stage, Action
# The whole table written out once more, as a reader states it: any change to the machine
# must change this test too.
EXPECTED: dict[Stage, dict[Action, Stage]] = {
    S.REGISTERED: {
        A.VALIDATE: S.VALIDATED,
        A.REJECT: S.REJECTED,
        A.SUPERSEDE: S.SUPERSEDED,
        A.START_SHADOW: S.SHADOW,
        A.START_CANARY: S.CANARY,
        A.DEPLOY: S.CHAMPION,
    },
    S.VALIDATED: {
        A.START_SHADOW: S.SHADOW,
        A.START_CANARY: S.CANARY,
        A.PROMOTE: S.CHAMPION,
        A.REJECT: S.REJECTED,
        A.SUPERSEDE: S.SUPERSEDED,
        A.DEPLOY: S.CHAMPION,
    },
    S.SHADOW: {
        A.START_CANARY: S.CANARY,
        A.PROMOTE: S.CHAMPION,
        A.ROLL_BACK: S.ROLLED_BACK,
        A.SUPERSEDE: S.SUPERSEDED,
        A.DEPLOY: S.CHAMPION,
    },
    S.CANARY: {
        A.PROMOTE: S.CHAMPION,
        A.ROLL_BACK: S.ROLLED_BACK,
        A.SUPERSEDE: S.SUPERSEDED,
        A.DEPLOY: S.CHAMPION,
    },
    S.CHAMPION: {A.SUPERSEDE: S.SUPERSEDED, A.ROLL_BACK: S.ROLLED_BACK},
    S.REJECTED: {A.DEPLOY: S.CHAMPION},
    S.ROLLED_BACK: {A.RESTORE: S.CHAMPION, A.DEPLOY: S.CHAMPION},
    S.SUPERSEDED: {A.RESTORE: S.CHAMPION, A.DEPLOY: S.CHAMPION},
}


@pytest.mark.parametrize("stage", list(Stage))
@pytest.mark.parametrize("action", list(Action))
def test_every_pair(stage: Stage, action: Action) -> None:
    expected = EXPECTED[stage].get(action)
    if expected is None:
        with pytest.raises(IllegalTransition, match="cannot"):
            next_stage(stage, action)
    else:
        assert next_stage(stage, action) == expected


def test_the_table_is_exactly_the_expected_one() -> None:
    flat = {(s, a): t for s, row in EXPECTED.items() for a, t in row.items()}
    assert flat == TRANSITIONS


def test_nothing_automatic_leaves_a_terminal_stage() -> None:
    automatic = {A.VALIDATE, A.REJECT, A.START_SHADOW, A.START_CANARY, A.PROMOTE, A.ROLL_BACK}
    for stage in TERMINAL_STAGES:
        assert not [a for a in automatic if (stage, a) in TRANSITIONS]


def test_live_traffic_is_reached_only_through_its_stages() -> None:
    into_champion = {s for (s, _a), t in TRANSITIONS.items() if t == S.CHAMPION}
    assert into_champion >= CANDIDATE_STAGES
    assert S.CHAMPION not in into_champion


def test_unknown_names_are_illegal() -> None:
    with pytest.raises(IllegalTransition, match="unknown"):
        next_stage("limbo", "promote")
