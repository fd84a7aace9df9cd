"""Both versions on the same requests: paired outcomes, and labels and reviews that reach
silent rows through ``paired_id`` (on SQLite and PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.engine import Engine

from decayguard.feedback import realized_performance, reviewed_performance
from decayguard.feedback.arms import paired_outcomes
from decayguard.feedback.estimates import estimate_reviewed_metrics
from decayguard.monitoring.tasks import task_for
from decayguard.store import (
    LabelRecord,
    PredictionRecord,
    current_labels,
    ingest_labels,
    insert_predictions,
)
from decayguard.store.reviews import ReviewRecord, record_review, reviewed_sample

from .feedback_support import MODEL, T0, loan_predictions

TASK = task_for("binary", classes=("0", "1"), positive_class="1")
CHAMPION, CHALLENGER = "3", "4"
LATER = T0 + timedelta(days=1)  # when the first truth arrives


def _silent(answered: PredictionRecord, version: str) -> PredictionRecord:
    """The other version's silent row: the opposite opinion, never sent to review."""
    score = 1.0 - (answered.score or 0.0)
    return replace(
        answered,
        id=f"{answered.id}:shadow",
        arm="shadow",
        model_version=version,
        outputs={"proba_0": 1.0 - score, "proba_1": score},
        prediction="1" if score >= 0.5 else "0",
        score=score,
        inclusion_prob=0.0,
        review_sampled=False,
        paired_id=answered.id,
    )


def _trial(
    engine: Engine,
    n: int,
    *,
    canary: tuple[int, ...] = (),
    sampled: tuple[int, ...] = (),
    p: dict[int, float] | None = None,
) -> list[PredictionRecord]:
    """``n`` requests, each scored by both versions: the champion answers them (the
    challenger those in ``canary``) and the other version scores them silently. Returns
    the answered rows."""
    answered = []
    for i, r in enumerate(loan_predictions(n, inclusion_prob=0.2)):
        version, arm = (CHALLENGER, "challenger") if i in canary else (CHAMPION, "champion")
        answered.append(
            replace(
                r,
                model_version=version,
                arm=arm,
                review_sampled=i in sampled,
                inclusion_prob=(p or {}).get(i, 0.2),
            )
        )
    silent = [
        _silent(r, CHAMPION if r.model_version == CHALLENGER else CHALLENGER) for r in answered
    ]
    insert_predictions(engine, answered + silent)
    return answered


def _label(engine: Engine, value: str, at: datetime, **key: object) -> None:
    ingest_labels(engine, [LabelRecord(MODEL, value, **key)], received_at=at)  # type: ignore[arg-type]


def _review(engine: Engine, prediction_id: str, value: str | None, at: datetime) -> None:
    status = "labeled" if value is not None else "skipped"
    record_review(engine, ReviewRecord(prediction_id, MODEL, "ann", status, value, at))


def _flip(value: str | None) -> str:
    return "0" if value == "1" else "1"


def _outcomes(engine: Engine, as_of: datetime, **kwargs: object):  # type: ignore[no-untyped-def]
    return paired_outcomes(
        engine,
        MODEL,
        CHAMPION,
        CHALLENGER,
        T0,
        as_of,
        task=TASK,
        **kwargs,  # type: ignore[arg-type]
    )


def test_labels_by_id_and_by_entity_pair_both_versions_in_arrival_order(
    store_engine: Engine,
) -> None:
    answered = _trial(store_engine, 6, canary=(1,))
    _label(store_engine, "1", LATER + timedelta(hours=2), prediction_id=answered[0].id)
    _label(store_engine, "0", LATER, prediction_id=answered[1].id)
    # By entity: the silent row has the same entity and time, but the label is the request's.
    event = answered[2].ts + timedelta(minutes=30)
    _label(
        store_engine,
        "1",
        LATER + timedelta(hours=1),
        entity_key=answered[2].entity_key,
        event_time=event,
    )
    out = _outcomes(store_engine, LATER + timedelta(days=1))
    frame = out.frame
    assert out.n == 3
    assert frame["prediction_id"].tolist() == [answered[i].id for i in (1, 2, 0)]
    assert frame["source"].tolist() == ["label"] * 3
    assert frame["answered_by"].tolist() == [CHALLENGER, CHAMPION, CHAMPION]
    assert out.y_true.tolist() == ["0", "1", "1"]
    assert out.weights.tolist() == [1.0, 1.0, 1.0]
    assert frame["known_at"].is_monotonic_increasing
    assert frame["ts"].tolist() == [pd.Timestamp(answered[i].ts) for i in (1, 2, 0)]
    # Each version's own outputs, whichever of them answered.
    rows = [answered[i] for i in (1, 2, 0)]
    answered_predictions = [r.prediction for r in rows]
    silent_predictions = [_flip(r.prediction) for r in rows]
    assert out.challenger.predictions.tolist() == [
        answered_predictions[0],
        *silent_predictions[1:],
    ]
    assert out.champion.predictions.tolist() == [silent_predictions[0], *answered_predictions[1:]]
    assert out.champion.probabilities is not None
    assert out.challenger.probabilities is not None
    assert out.champion.probabilities[:, 1] == pytest.approx(
        [1 - (rows[0].score or 0), rows[1].score, rows[2].score]
    )
    assert out.challenger.probabilities[:, 1] == pytest.approx(
        [rows[0].score, 1 - (rows[1].score or 0), 1 - (rows[2].score or 0)]
    )


def test_reviews_weigh_mean_p_over_p_and_a_label_wins_over_a_review(
    store_engine: Engine,
) -> None:
    p = {0: 0.5, 1: 0.5, 2: 0.1, 3: 0.1}  # the other six requests: 0.2
    answered = _trial(store_engine, 10, sampled=(0, 1, 2, 3), p=p, canary=(3,))
    _review(store_engine, answered[0].id, "1", LATER)
    _review(store_engine, answered[2].id, "0", LATER + timedelta(minutes=1))
    _review(store_engine, answered[3].id, "1", LATER + timedelta(minutes=2))
    _review(store_engine, answered[1].id, None, LATER)  # a skip is no truth
    # Request 0 is reviewed and labeled: it counts once, by its label.
    _label(store_engine, "0", LATER + timedelta(hours=1), prediction_id=answered[0].id)
    out = _outcomes(store_engine, LATER + timedelta(days=1))
    frame = out.frame.set_index("prediction_id")
    assert list(frame.index) == [answered[i].id for i in (2, 3, 0)]
    assert frame["source"].tolist() == ["review", "review", "label"]
    assert frame.loc[answered[0].id, "y_true"] == "0"
    mean_p = np.mean([0.5, 0.5, 0.1, 0.1] + [0.2] * 6)  # every paired request's p
    assert frame["weight"].tolist() == pytest.approx([mean_p / 0.1, mean_p / 0.1, 1.0])
    assert frame.loc[answered[3].id, "answered_by"] == CHALLENGER
    without = _outcomes(store_engine, LATER + timedelta(days=1), use_reviews=False)
    assert without.frame["prediction_id"].tolist() == [answered[0].id]


def test_the_reviewed_streams_weighted_mean_is_the_traffics_mean() -> None:
    """Why ``mean(p) / p``: sampled with probability ``p``, the stream's weighted mean of
    a per-request quantity is the traffic's mean (the plain one leans to high ``p``)."""
    rng = np.random.default_rng(7)
    n = 200_000
    p = np.where(rng.random(n) < 0.3, 0.5, 0.05)  # the sampler favours 30% of requests
    d = np.where(p == 0.5, 1.0, 0.0) + rng.normal(0, 0.1, n)  # ...where the arms differ
    drawn = rng.random(n) < p
    weight = p.mean() / p[drawn]
    assert np.mean(weight * d[drawn]) == pytest.approx(d.mean(), abs=0.01)
    assert np.mean(d[drawn]) > d.mean() + 0.4
    assert np.mean(weight) == pytest.approx(1.0, abs=0.02)


def test_truth_known_after_as_of_is_left_out(store_engine: Engine) -> None:
    # 7 requests at p = 0.2: mean(p) / p is 0.9999999999999999 in floating point
    answered = _trial(store_engine, 7, sampled=(2, 3), p=dict.fromkeys(range(7), 0.2))
    as_of = LATER + timedelta(hours=1)
    _label(store_engine, "1", LATER, prediction_id=answered[0].id)
    _label(store_engine, "0", as_of + timedelta(seconds=1), prediction_id=answered[1].id)
    _review(store_engine, answered[2].id, "1", as_of - timedelta(minutes=1))
    _review(store_engine, answered[3].id, "1", as_of + timedelta(minutes=1))
    # A correction after ``as_of``: the value as it stood then counts.
    _label(store_engine, "0", as_of + timedelta(minutes=5), prediction_id=answered[0].id)
    out = _outcomes(store_engine, as_of)
    assert out.frame["prediction_id"].tolist() == [answered[0].id, answered[2].id]
    assert out.y_true.tolist() == ["1", "1"]
    assert out.frame["source"].tolist() == ["label", "review"]
    assert out.weights.tolist() == [1.0, 1.0]  # uniform sampling: exactly 1
    # A review written later supersedes an earlier one only once it is written.
    _review(store_engine, answered[2].id, "0", as_of + timedelta(minutes=2))
    assert _outcomes(store_engine, as_of).y_true.tolist() == ["1", "1"]
    later = _outcomes(store_engine, as_of + timedelta(hours=1))
    assert later.frame.set_index("prediction_id")["y_true"].to_dict() == {
        answered[0].id: "0",
        answered[1].id: "0",
        answered[2].id: "0",
        answered[3].id: "1",
    }


def test_requests_only_one_version_scored_are_not_paired(store_engine: Engine) -> None:
    answered = _trial(store_engine, 2)
    alone = replace(loan_predictions(1, prefix="alone")[0], model_version=CHAMPION)
    other = replace(loan_predictions(1, prefix="other")[0], model_version="2")
    insert_predictions(store_engine, [alone, other, _silent(other, CHAMPION)])
    for r in [*answered, alone, other]:
        _label(store_engine, "1", LATER, prediction_id=r.id)
    out = _outcomes(store_engine, LATER + timedelta(hours=1))
    assert sorted(out.frame["prediction_id"]) == sorted(r.id for r in answered)
    before = _outcomes(store_engine, LATER - timedelta(hours=1))
    assert before.n == 0
    assert before.champion.n == before.challenger.n == 0
    assert list(before.frame.columns) == [
        "prediction_id",
        "ts",
        "known_at",
        "source",
        "y_true",
        "weight",
        "answered_by",
    ]


def test_an_entity_label_joins_the_answered_row_not_a_later_silent_one(
    store_engine: Engine,
) -> None:
    """Without the fix, merge_asof picked the latest row of the entity: the silent one."""
    answered = loan_predictions(1)[0]
    silent = replace(_silent(answered, CHALLENGER), ts=answered.ts + timedelta(seconds=1))
    legacy = replace(silent, id="legacy:shadow", paired_id=None, ts=silent.ts)  # arm alone
    insert_predictions(store_engine, [answered, silent, legacy])
    event = answered.ts + timedelta(minutes=5)
    _label(store_engine, "1", LATER, entity_key=answered.entity_key, event_time=event)
    assert current_labels(store_engine, MODEL)["prediction_id"].tolist() == [answered.id]
    window = current_labels(store_engine, MODEL, T0, LATER)
    assert window["prediction_id"].tolist() == [answered.id]


def test_current_labels_as_of_reads_each_value_as_it_stood(store_engine: Engine) -> None:
    answered = _trial(store_engine, 1)
    _label(store_engine, "1", LATER, prediction_id=answered[0].id)
    _label(store_engine, "0", LATER + timedelta(hours=2), prediction_id=answered[0].id)
    values = [
        current_labels(store_engine, MODEL, as_of=LATER + timedelta(hours=h))["value"].tolist()
        for h in (-1, 1, 3)
    ]
    assert values == [[], ["1"], ["0"]]


def test_realized_performance_of_a_version_includes_its_silent_rows(
    store_engine: Engine,
) -> None:
    answered = _trial(store_engine, 8, canary=(6, 7))
    for r in answered[:6]:  # truth = the answered row's prediction
        _label(store_engine, str(r.prediction), LATER, prediction_id=r.id)
    end = T0 + timedelta(hours=1)
    (champion,) = realized_performance(store_engine, MODEL, T0, end, version=CHAMPION)
    # the champion answered 6 requests and scored 2 silently: 8 rows, 6 labeled, all right
    assert (champion.predictions, champion.labeled) == (8, 6)
    assert champion.metrics["accuracy"].value == pytest.approx(1.0)
    (challenger,) = realized_performance(store_engine, MODEL, T0, end, version=CHALLENGER)
    # ...and the challenger disagreed on every one of them (its silent rows got the labels)
    assert (challenger.predictions, challenger.labeled) == (8, 6)
    assert challenger.metrics["accuracy"].value == pytest.approx(0.0)
    (answered_only,) = realized_performance(store_engine, MODEL, T0, end)
    assert (answered_only.predictions, answered_only.labeled) == (8, 6)  # unchanged: answers
    (silent,) = realized_performance(store_engine, MODEL, T0, end, version=CHALLENGER, arm="shadow")
    assert (silent.predictions, silent.labeled) == (6, 6)


def test_reviewed_performance_of_a_version_uses_the_answered_rows_probability(
    store_engine: Engine,
) -> None:
    p = {0: 0.5, 1: 0.5, 2: 0.05, 3: 0.05}
    answered = _trial(store_engine, 4, sampled=(0, 1, 2, 3), p=p, canary=(3,))
    truth = ["1", "0", "1", "1"]
    for r, value in zip(answered, truth, strict=True):
        _review(store_engine, r.id, value, LATER)
    for version in (CHAMPION, CHALLENGER):
        sample = reviewed_sample(store_engine, MODEL, version=version).set_index("answered_id")
        assert sample["model_version"].eq(version).all()
        assert sample["inclusion_prob"].to_dict() == pytest.approx(
            {answered[i].id: p[i] for i in range(4)}
        )
        result = reviewed_performance(store_engine, MODEL, version=version, task=TASK)
        own = sample.reindex([r.id for r in answered])
        probabilities = np.column_stack([1 - own["score"], own["score"]])
        expected = estimate_reviewed_metrics(
            truth,
            TASK.outputs_from_scores(probabilities),
            [p[i] for i in range(4)],
            task=TASK,
        )
        assert result.labeled == 4
        assert result.metrics["accuracy"].value == pytest.approx(expected["accuracy"].value)
    # Without a version: the answered rows, as before.
    assert reviewed_performance(store_engine, MODEL).labeled == 4
    assert set(reviewed_sample(store_engine, MODEL)["arm"]) == {"champion", "challenger"}
