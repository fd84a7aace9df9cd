"""A seeded, drifting loan-default world to test decayguard end to end.

>>> from decayguard.sim import LoanScenario
>>> sim = LoanScenario(seed=7, requests_per_day=200).simulate()
>>> sim.timeline()[["day", "kind", "decay", "scored"]]
    day       kind  decay  scored
0   0.0   seasonal  False   False
1   0.0   seasonal  False   False
2  14.0  covariate  False    True
3  21.0    concept   True    True
>>> sim.reference_frame()["phase"].unique().tolist()
['history']

The simulator is pure computation apart from :func:`write_feature_history`
(writes the Feast source file) and :func:`replay_traffic` (sends HTTP
requests). It imports neither Prefect, Feast nor MLflow, so both
environments can use it.
"""

from decayguard.sim.feast_source import (
    FEATURE_HISTORY_FILE,
    FEATURE_HISTORY_SCHEMA,
    write_feature_history,
)
from decayguard.sim.labels import LabelDelay
from decayguard.sim.population import (
    EMPLOYMENT_LEVELS,
    FEATURE_NAMES,
    RISK_GRADES,
    default_probability,
)
from decayguard.sim.reviewer import ReviewAnswer, SimulatedReviewer, SimulatedValueReviewer
from decayguard.sim.scenario import LoanScenario, Onset
from decayguard.sim.scoring import Alarm, AlarmScore, score_alarms
from decayguard.sim.simulation import Simulation
from decayguard.sim.targets import TARGETS, LoanTarget
from decayguard.sim.traffic import (
    ReplayReport,
    ReplayResult,
    replay_traffic,
    replay_traffic_async,
    to_v2_batch_request,
    to_v2_request,
)
from decayguard.sim.training import (
    LoanFeatureEncoder,
    build_grade_classifier,
    build_loss_regressor,
    build_pipeline,
    train_grade_model,
    train_loss_model,
    train_model,
)
from decayguard.sim.truth import GroundTruth

# Plain sorted() order, as tests/test_package.py checks (ruff's RUF022 would put constants first).
__all__ = [  # noqa: RUF022
    "Alarm",
    "AlarmScore",
    "EMPLOYMENT_LEVELS",
    "FEATURE_HISTORY_FILE",
    "FEATURE_HISTORY_SCHEMA",
    "FEATURE_NAMES",
    "GroundTruth",
    "LabelDelay",
    "LoanFeatureEncoder",
    "LoanScenario",
    "LoanTarget",
    "Onset",
    "RISK_GRADES",
    "ReplayReport",
    "ReplayResult",
    "ReviewAnswer",
    "SimulatedReviewer",
    "SimulatedValueReviewer",
    "Simulation",
    "TARGETS",
    "build_grade_classifier",
    "build_loss_regressor",
    "build_pipeline",
    "default_probability",
    "replay_traffic",
    "replay_traffic_async",
    "score_alarms",
    "to_v2_batch_request",
    "to_v2_request",
    "train_grade_model",
    "train_loss_model",
    "train_model",
    "write_feature_history",
]
