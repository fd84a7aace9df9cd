"""Both arms on the same requests: paired outcomes for the rollout judge.

During a shadow or canary trial every request is scored by both versions: one answers it
(arm ``champion`` or ``challenger``), the other scores it silently (arm ``shadow``, id
``<answered id>:shadow``, naming the answered row in ``paired_id``). Once the request's
truth is known (a label, or a reviewer's verdict on the answered prediction), the two
versions can be compared on exactly the same request: the per-request difference of
their losses has far less variance than the difference of two independent samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sqlalchemy.engine import Engine

from decayguard.feedback.realized import SHADOW_ARM, answered_ids
from decayguard.monitoring.task_base import ModelOutputs, ModelTask
from decayguard.store import current_labels, read_window
from decayguard.store.reviews import reviewed_sample
from decayguard.store.schema import as_utc

__all__ = ["PairedOutcomes", "paired_outcomes"]

FRAME_COLUMNS = ("prediction_id", "ts", "known_at", "source", "y_true", "weight", "answered_by")


@dataclass(frozen=True)
class PairedOutcomes:
    """Requests both versions scored whose truth is known, in the order the truth arrived."""

    frame: pd.DataFrame
    """One row per request: ``prediction_id`` (the answered one), ``ts``, ``known_at``,
    ``source`` (``label`` or ``review``), ``y_true``, ``weight`` (1 for labels; for reviews
    ``mean(p) / p`` of their inclusion probability ``p``, ``mean(p)`` over the paired
    traffic: the reviewed stream's mean of ``weight * d`` is the traffic's mean of ``d``),
    ``answered_by`` (the version that answered)."""
    champion: ModelOutputs
    challenger: ModelOutputs

    @property
    def n(self) -> int:
        return len(self.frame)

    @property
    def y_true(self) -> NDArray[np.object_]:
        return self.frame["y_true"].to_numpy(dtype=object)

    @property
    def weights(self) -> NDArray[np.float64]:
        return self.frame["weight"].to_numpy(dtype=np.float64)


def _pairs(meta: pd.DataFrame, versions: tuple[str, str]) -> pd.DataFrame:
    """One row per request scored by both versions: the answered row's position, id,
    version, time and inclusion probability, and the silent row's position and version."""
    version = meta["model_version"].astype(str)
    silent = (meta["arm"].astype(str) == SHADOW_ARM).to_numpy()
    ours = version.isin(versions).to_numpy()
    positions = np.arange(len(meta))
    answered = pd.DataFrame(
        {
            "prediction_id": meta["prediction_id"].astype(str).to_numpy()[~silent & ours],
            "answered_pos": positions[~silent & ours],
            "answered_by": version.to_numpy()[~silent & ours],
            "ts": pd.to_datetime(meta["ts"], utc=True).to_numpy()[~silent & ours],
            "p": meta["inclusion_prob"].to_numpy(dtype=np.float64, na_value=np.nan)[~silent & ours],
        }
    )
    quiet = pd.DataFrame(
        {
            "prediction_id": answered_ids(meta)[silent & ours],
            "silent_id": meta["prediction_id"].astype(str).to_numpy()[silent & ours],
            "silent_pos": positions[silent & ours],
            "silent_version": version.to_numpy()[silent & ours],
        }
    ).dropna(subset=["prediction_id"])
    pairs = answered.merge(quiet.astype({"prediction_id": str}), on="prediction_id")
    pairs = pairs[pairs["answered_by"] != pairs["silent_version"]]
    return pairs.drop_duplicates("prediction_id").reset_index(drop=True)


def _label_truth(
    engine: Engine, model_name: str, start: datetime, as_of: datetime, pairs: pd.DataFrame
) -> pd.DataFrame:
    """The label of each paired request as it stood at ``as_of`` (by id or by entity);
    a label delivered for the silent row's id counts for its request too."""
    labels = current_labels(engine, model_name, start, as_of, as_of=as_of)
    labels = labels.dropna(subset=["prediction_id"])
    if not len(labels):
        return pd.DataFrame(columns=["prediction_id", "known_at", "y_true"])
    to_request = dict(zip(pairs["silent_id"], pairs["prediction_id"], strict=True))
    ids = labels["prediction_id"].astype(str)
    frame = pd.DataFrame(
        {
            "prediction_id": ids.map(lambda i: to_request.get(i, i)).to_numpy(),
            "known_at": pd.to_datetime(labels["received_at"], utc=True).to_numpy(),
            "y_true": labels["value"].astype(str).to_numpy(),
        }
    )
    frame = frame[frame["prediction_id"].isin(pairs["prediction_id"])]
    # Two keys for one request (by id and by entity): the latest delivered counts.
    return frame.sort_values("known_at", kind="stable").drop_duplicates(
        "prediction_id", keep="last"
    )


def _review_truth(
    engine: Engine, model_name: str, start: datetime, as_of: datetime, pairs: pd.DataFrame
) -> pd.DataFrame:
    """The latest verdict written by ``as_of`` on each paired request drawn for review."""
    sample = reviewed_sample(engine, model_name, start, as_of, as_of=as_of)
    if len(sample):
        p = sample["inclusion_prob"].to_numpy(dtype=np.float64, na_value=np.nan)
        usable = (
            (sample["status"] == "labeled").to_numpy()
            & sample["review_sampled"].astype(bool).to_numpy()
            & np.isfinite(p)
            & (p > 0)
        )
        sample = sample[usable]
    frame = pd.DataFrame(
        {
            "prediction_id": sample["prediction_id"].astype(str).to_numpy(),
            "known_at": pd.to_datetime(sample["reviewed_at"], utc=True).to_numpy(),
            "y_true": sample["value"].astype(str).to_numpy(),
        }
    )
    return frame[frame["prediction_id"].isin(pairs["prediction_id"])]


def paired_outcomes(
    engine: Engine,
    model_name: str,
    champion_version: str,
    challenger_version: str,
    start: datetime,
    as_of: datetime,
    *,
    task: ModelTask,
    use_reviews: bool = True,
) -> PairedOutcomes:
    """Requests since ``start`` scored by both versions (one answered, the other silently,
    joined by ``paired_id``) with a label received, or a review written, by ``as_of``; a
    request with both counts once, by its label.

    Labels are read as they stood at ``as_of`` (received by then, not corrected since),
    joined by prediction id or by entity and event time (to the answered row:
    :func:`~decayguard.store.current_labels`); reviews are the latest verdict written by
    ``as_of`` on the answered row (``use_reviews=False`` leaves them out). Rows come in the
    order their truth arrived (``known_at``, then request time): the order in which an
    anytime-valid judge would have seen them.

    A label weighs 1: labels arrive for requests regardless of how they were sampled. A
    review weighs ``mean(p) / p``, with ``p`` the answered row's inclusion probability and
    ``mean(p)`` its mean over the paired traffic (every paired request since ``start``
    with a positive ``p``). A request is in the reviewed stream with probability ``p``,
    so over the traffic's ``N`` requests the stream has about ``N * mean(p)`` rows and
    ``sum(d / p)`` estimates ``sum(d)``: the stream's mean of ``weight * d =
    mean(p) * d / p`` estimates the traffic's mean of ``d``, where the plain mean would
    lean towards the requests the sampler favours (the uncertain ones, where the two
    versions disagree most). Its weights average about 1, so a review and a label count
    about the same in the judge's sample size; under uniform sampling they are exactly 1.

    ``champion`` and ``challenger`` are each version's outputs on the rows, in order: the
    answered row's for the version that answered, the silent row's for the other.
    """
    start, as_of = as_utc(start), as_utc(as_of)
    window = read_window(engine, model_name, start, as_of)
    meta, logged = window.meta(), window.outputs()
    pairs = _pairs(meta, (champion_version, challenger_version))
    labeled = _label_truth(engine, model_name, start, as_of, pairs).assign(source="label")
    parts = [labeled]
    if use_reviews:
        reviewed = _review_truth(engine, model_name, start, as_of, pairs)
        reviewed = reviewed[~reviewed["prediction_id"].isin(labeled["prediction_id"])]
        parts.append(reviewed.assign(source="review"))
    known = pd.concat([p for p in parts if len(p)] or [labeled], ignore_index=True)
    rows = known.merge(pairs, on="prediction_id", how="inner")
    rows = rows.sort_values(["known_at", "ts", "prediction_id"], kind="stable").reset_index(
        drop=True
    )
    traffic_p = pairs["p"].to_numpy(dtype=np.float64)
    traffic_p = traffic_p[np.isfinite(traffic_p) & (traffic_p > 0)]
    mean_p = float(traffic_p.mean()) if len(traffic_p) else np.nan
    by_review = (rows["source"] == "review").to_numpy()
    weight = np.ones(len(rows))
    ratio = mean_p / rows["p"].to_numpy(dtype=np.float64)[by_review]
    # Uniform sampling weighs exactly 1 (not 1 + rounding): a judge may test ``w == 1``.
    weight[by_review] = np.where(np.isclose(ratio, 1.0, rtol=1e-9, atol=0.0), 1.0, ratio)
    frame = pd.DataFrame(
        {
            "prediction_id": rows["prediction_id"].astype(str).to_numpy(),
            "ts": pd.to_datetime(rows["ts"], utc=True),
            "known_at": pd.to_datetime(rows["known_at"], utc=True),
            "source": rows["source"].astype(str).to_numpy(),
            "y_true": rows["y_true"].astype(object).to_numpy(),
            "weight": weight,
            "answered_by": rows["answered_by"].astype(str).to_numpy(),
        },
        columns=list(FRAME_COLUMNS),
    )
    answered_pos = rows["answered_pos"].to_numpy(dtype=np.intp)
    silent_pos = rows["silent_pos"].to_numpy(dtype=np.intp)
    by_champion = (frame["answered_by"] == champion_version).to_numpy()

    def outputs_of(positions: NDArray[np.intp]) -> ModelOutputs:
        return task.outputs_from_log(
            meta.iloc[positions].reset_index(drop=True),
            logged.iloc[positions].reset_index(drop=True),
        )

    return PairedOutcomes(
        frame=frame,
        champion=outputs_of(np.where(by_champion, answered_pos, silent_pos)),
        challenger=outputs_of(np.where(by_champion, silent_pos, answered_pos)),
    )
