"""Who applies for a loan, and who defaults: the simulator's generative model.

Two pure functions with every constant written down, so that a reader can see
exactly what the monitor is supposed to find:

* :func:`draw_applicants` draws the six features of ``n`` applicants, given
  per-row drift strengths (``recession`` in ``[0, 1]``) and a seasonal phase;
* :func:`default_logit` is the ground truth: the log-odds of default, given
  the features and a per-row ``concept`` strength in ``[0, 1]`` that blends the
  old relation (before the concept onset) into the new one.

Two more targets come from the same latent risk, so that every task sees the same
world change at the same times (the recession moves the features only; the rate
shock changes the relation, through :func:`default_logit`):

* :func:`draw_loss_amount` (regression): the amount lost on the loan, log-normal
  around exposure x loss given default x a risk factor;
* :func:`draw_risk_grade` (multiclass): grades ``A``-``D`` cut from the default
  log-odds plus noise at fixed thresholds.

Nothing here keeps state or reads a clock; randomness comes only from the
``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]

FEATURE_NAMES: Final = ("income", "debt_ratio", "age", "credit_lines", "utilization", "employment")
"""The model's input schema, in the order the model expects."""
NUMERIC_FEATURES: Final = FEATURE_NAMES[:5]
CATEGORICAL_FEATURES: Final = ("employment",)
EMPLOYMENT_LEVELS: Final = ("salaried", "self_employed", "unemployed", "retired")
"""The categories of ``employment``; the model must accept every one of them."""
ENTITY_KEY: Final = "applicant_id"
"""The entity key: one applicant per application, the Feast join key."""
LABEL_COLUMN: Final = "default"
"""Name of the ground-truth column; its delivered values are ``"0"`` and ``"1"``."""
LOSS_COLUMN: Final = "loss_amount"
"""The regression target: the amount lost on the loan, delivered as text (``"1234.56"``)."""
GRADE_COLUMN: Final = "risk_grade"
"""The multiclass target: the risk grade, one of :data:`RISK_GRADES`."""
RISK_GRADES: Final = ("A", "B", "C", "D")
"""Risk grades from safest to riskiest."""

# --- applicants ---------------------------------------------------------------------------
_EMPLOYMENT_SHARE = np.array([0.62, 0.18, 0.08, 0.12])
_RECESSION_EMPLOYMENT_SHIFT = np.array([-0.06, 0.0, 0.06, 0.0])  # salaried -> unemployed
_INCOME_MEDIAN = np.array([55_000.0, 62_000.0, 14_000.0, 32_000.0])  # per employment level
_INCOME_SIGMA = np.array([0.35, 0.60, 0.40, 0.35])  # log-normal spread per level
_RECESSION_INCOME_FACTOR = 0.85  # incomes fall by 15% at full recession
_UTILIZATION_MEAN = 0.30
_RECESSION_UTILIZATION_SHIFT = 0.09  # revolving credit use rises from 0.30 to 0.39
_UTILIZATION_CONCENTRATION = 6.0  # Beta(a, b) with a + b = 6
_DEBT_RATIO_CONCENTRATION = 12.0

# --- ground truth -------------------------------------------------------------------------
_OLD_EMPLOYMENT_EFFECT = np.array([0.0, 0.4, 1.5, -0.3])
_NEW_EMPLOYMENT_EFFECT = np.array([0.0, 1.8, 1.5, -0.3])  # self-employed hit by the new regime

# --- the loss amount (regression) and the risk grade (multiclass) -------------------------
_EXPOSURE_SHARE_OF_INCOME = 0.4  # the amount at risk: 40% of a year's income
_LOSS_GIVEN_DEFAULT = 0.45
_LOSS_RISK_ELASTICITY = 0.15  # log-loss per unit of default log-odds
_LOSS_RISK_CENTRE = -2.0  # log-odds at which the risk factor is 1 (about the median)
_LOSS_SIGMA = 0.3  # log-normal spread of the loss around its median
_GRADE_NOISE = 1.0  # standard deviation of the noise added to the log-odds
_GRADE_CUTS = np.array([-5.0, -2.5, 0.5])  # log-odds thresholds between A|B, B|C, C|D


def employment_codes(values: pd.Series) -> npt.NDArray[np.int64]:
    """Map ``employment`` strings to their index in :data:`EMPLOYMENT_LEVELS`."""
    codes = pd.Categorical(values, categories=list(EMPLOYMENT_LEVELS)).codes
    if (codes < 0).any():
        bad = sorted(set(values[codes < 0].astype(str)))
        raise ValueError(f"unknown employment level(s) {bad}; expected {EMPLOYMENT_LEVELS}")
    return np.asarray(codes, dtype=np.int64)


def draw_applicants(
    rng: np.random.Generator,
    recession: FloatArray,
    utilization_season: FloatArray,
) -> pd.DataFrame:
    """Draw one applicant per element of ``recession``.

    ``recession`` is the covariate-drift strength of each row (0: normal times,
    1: full recession: incomes -15%, utilization +0.09, unemployment share
    8% -> 14%); ``utilization_season`` is added to the mean utilization (the
    mild weekly cycle). Returns the six features as columns, in
    :data:`FEATURE_NAMES` order.
    """
    n = len(recession)
    share = _EMPLOYMENT_SHARE + recession[:, None] * _RECESSION_EMPLOYMENT_SHIFT
    emp = (rng.random(n)[:, None] > np.cumsum(share, axis=1)[:, :-1]).sum(axis=1)
    retired = emp == 3
    age = np.where(
        retired,
        np.clip(rng.normal(68.0, 5.0, n), 55.0, 90.0),
        np.clip(rng.normal(41.0, 11.0, n), 18.0, 75.0),
    )
    working = emp < 2
    log_income = (
        np.log(_INCOME_MEDIAN[emp])
        + _INCOME_SIGMA[emp] * rng.standard_normal(n)
        + np.where(working, 0.012 * (age - 40.0), 0.0)
    )
    income = np.exp(log_income) * (1.0 - (1.0 - _RECESSION_INCOME_FACTOR) * recession)
    credit_lines = rng.poisson(np.clip(1.5 + 0.09 * (age - 18.0), 0.5, None)).astype(np.float64)
    u_mean = np.clip(
        _UTILIZATION_MEAN + _RECESSION_UTILIZATION_SHIFT * recession + utilization_season,
        0.05,
        0.95,
    )
    utilization = rng.beta(
        u_mean * _UTILIZATION_CONCENTRATION, (1.0 - u_mean) * _UTILIZATION_CONCENTRATION
    )
    d_mean = np.clip(0.28 + 0.10 * (np.log(55_000.0) - np.log(income)), 0.05, 0.80)
    debt_ratio = rng.beta(
        d_mean * _DEBT_RATIO_CONCENTRATION, (1.0 - d_mean) * _DEBT_RATIO_CONCENTRATION
    )
    return pd.DataFrame(
        {
            "income": np.round(income, 2),
            "debt_ratio": debt_ratio,
            "age": np.round(age, 1),
            "credit_lines": credit_lines,
            "utilization": utilization,
            "employment": np.asarray(EMPLOYMENT_LEVELS, dtype=object)[emp],
        }
    )


def default_logit(features: pd.DataFrame, concept: FloatArray | float = 0.0) -> FloatArray:
    """Ground-truth log-odds of default.

    Before the concept onset (``concept=0``) default risk rises with debt ratio,
    utilization and unemployment and falls with income. After it
    (``concept=1``, a rate shock) the debt ratio matters a third more and from
    a lower level, high utilization no longer signals distress (it now goes
    with *lower* risk), and the self-employed become much riskier. Values in
    between blend the two linearly in log-odds.
    """
    emp = employment_codes(features["employment"])
    income = features["income"].to_numpy(dtype=np.float64)
    debt = features["debt_ratio"].to_numpy(dtype=np.float64)
    util = features["utilization"].to_numpy(dtype=np.float64)
    lines = features["credit_lines"].to_numpy(dtype=np.float64)
    age = features["age"].to_numpy(dtype=np.float64)
    shared = (
        -1.2 * (np.log(income) - np.log(50_000.0)) / 0.5
        - 0.3 * (lines - 4.0) / 2.5
        - 0.2 * (age - 40.0) / 12.0
    )
    old = -1.9 + 3.0 * (debt - 0.30) / 0.15 + 2.5 * (util - 0.30) / 0.18
    old = old + _OLD_EMPLOYMENT_EFFECT[emp]
    new = -1.9 + 4.0 * (debt - 0.38) / 0.15 - 2.0 * (util - 0.30) / 0.18
    new = new + _NEW_EMPLOYMENT_EFFECT[emp]
    c = np.broadcast_to(np.asarray(concept, dtype=np.float64), old.shape)
    return np.asarray(shared + (1.0 - c) * old + c * new, dtype=np.float64)


def default_probability(features: pd.DataFrame, concept: FloatArray | float = 0.0) -> FloatArray:
    """Ground-truth probability of default (the sigmoid of :func:`default_logit`)."""
    return np.asarray(1.0 / (1.0 + np.exp(-default_logit(features, concept))), dtype=np.float64)


def loss_amount_median(features: pd.DataFrame, concept: FloatArray | float = 0.0) -> FloatArray:
    """Median amount lost on each loan: exposure (40% of income) x loss given default (0.45)
    x ``exp(0.15 * (default log-odds + 2))``. Its log is linear in the default log-odds, so
    it changes with the concept (through :func:`default_logit`) and not with the features'
    distribution."""
    exposure = _EXPOSURE_SHARE_OF_INCOME * features["income"].to_numpy(dtype=np.float64)
    risk = np.exp(_LOSS_RISK_ELASTICITY * (default_logit(features, concept) - _LOSS_RISK_CENTRE))
    return np.asarray(exposure * _LOSS_GIVEN_DEFAULT * risk, dtype=np.float64)


def draw_loss_amount(
    rng: np.random.Generator, features: pd.DataFrame, concept: FloatArray | float = 0.0
) -> FloatArray:
    """The loss of each loan: log-normal (log-sd 0.3) around :func:`loss_amount_median`,
    rounded to cents."""
    median = loss_amount_median(features, concept)
    noise = np.exp(_LOSS_SIGMA * rng.standard_normal(len(median)))
    return np.asarray(np.round(median * noise, 2), dtype=np.float64)


def risk_grade(scores: FloatArray) -> npt.NDArray[np.object_]:
    """Cut log-odds-like ``scores`` into :data:`RISK_GRADES` at -5, -2.5 and 0.5.

    >>> risk_grade(np.array([-6.0, -3.0, 0.0, 2.0])).tolist()
    ['A', 'B', 'C', 'D']
    """
    grades = np.asarray(RISK_GRADES, dtype=object)
    return np.asarray(grades[np.searchsorted(_GRADE_CUTS, scores)], dtype=object)


def draw_risk_grade(
    rng: np.random.Generator, features: pd.DataFrame, concept: FloatArray | float = 0.0
) -> npt.NDArray[np.object_]:
    """The grade of each applicant: the default log-odds plus normal noise (sd 1), cut by
    :func:`risk_grade`."""
    logit = default_logit(features, concept)
    return risk_grade(logit + _GRADE_NOISE * rng.standard_normal(len(logit)))
