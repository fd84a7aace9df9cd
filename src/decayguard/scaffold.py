"""``decayguard init``: a commented example project to start from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from decayguard.errors import ConfigError

if TYPE_CHECKING:
    from decayguard.config import DecayguardConfig

TRAIN_FILE = "train.py"

CONFIG_TEMPLATE = """\
# decayguard project configuration.
# Every key can be overridden by an environment variable: DECAYGUARD_<SECTION>__<KEY>,
# for example DECAYGUARD_SERVING__HTTP_PORT=9000.

project:
  name: {name}
  # SQLite (WAL) by default; for PostgreSQL use
  # postgresql+psycopg://postgres@127.0.0.1:5432/decayguard
  store_url: sqlite:///.decayguard/store.db

model:
  name: credit-default
  task: binary            # binary | multiclass | regression
  target: default         # label column in ground-truth files
  positive_class: "1"
  entity_key: applicant_id
  # The model's input schema, in the order the model expects.
  features:
    - {{name: income, dtype: float}}
    - {{name: debt_ratio, dtype: float}}
    - {{name: age, dtype: float}}
    - {{name: credit_lines, dtype: float}}
    - {{name: utilization, dtype: float}}
    - {{name: employment, dtype: category}}
  # Your training function (train.py beside this file): it receives a
  # decayguard.training.TrainingSet and returns a fitted scikit-learn pipeline or LightGBM
  # model. `decayguard retrain` calls it in a child process; see docs/training.md.
  train_function: train:train_model

features:
  repo_path: feature_repo       # the Feast feature repository
  feature_service: credit_default_v1
  server_url: http://127.0.0.1:6566
  # Which labels a retraining learns from: all | last_n_days | recency_weighted
  # (recency_weighted hands your function a sample_weight halving every half_life_days).
  training_window: all
  # training_window_days: 180
  # half_life_days: 30

monitoring:
  interval_minutes: 60          # how often the monitor flow runs
  window_hours: 24              # the window each run reads
  drift_alpha: 0.05             # false discovery rate across features (Benjamini-Hochberg)
  # drift_effect_size: 0.05     # smallest shift that counts, whatever the sample size
  confidence: 0.95
  performance_thresholds:
    accuracy: 0.75              # decayed when the interval's upper bound is below this

feedback:
  review_share: 0.02            # share of predictions sent to human review
  review_strategy: uncertainty  # uniform | stratified | uncertainty
  label_maturity: 0.8           # a window is final once 80% of its labels arrived

serving:
  http_port: 8085               # away from 8080, which Prefect's runner uses
  grpc_port: 8086

# Safe rollout: a challenger that passed the gate shadows, then answers a canary share, and is
# promoted (or rolled back) by an anytime-valid test on the labels and reviews of both arms.
release:
  shadow: true                  # score every request silently beside the champion first
  canary_share: 0.1             # then answer 10% of the traffic (0: promote from shadow)
  min_shadow_hours: 24
  canary_hours: 24
  min_labels: 200               # paired outcomes before a promotion
  max_hours: 336                # undecided after two weeks: the champion stays

alerts:
  # Any apprise URL: slack://..., mailtos://..., json://host/path
  apprise_urls: []
  reminder_backoff_minutes: [60, 240, 1440]   # reminders: 1 h, 4 h, 1 day, then daily

api:
  host: 127.0.0.1
  port: 8090
  # token: change-me            # bearer token for write endpoints

# Continuous training: when a retraining starts and what it learns from.
training:
  # schedule: "0 3 * * 1"       # cron (UTC) of scheduled retraining; unset: on decay or by hand
  on_decay: true                # retrain when the monitor detects decay
  holdout_days: 7               # the newest 7 days of matured labels are held out: the gate
                                # scores challenger and champion on them, training never sees them
  min_labels: 200               # fewer usable training labels: "waiting for labels", no training
  min_hours_between: 24         # cooldown between retrainings (`decayguard retrain` ignores it)
  timeout_minutes: 60           # a training function still running after this is stopped
  trigger_window_minutes: 60    # decay events within this window are one retraining

# The MLflow model registry: every retrained version with its metrics and lineage.
# Unset: embedded, SQLite at .decayguard/mlflow/mlflow.db with artifacts beside it.
registry:
  tracking_uri: null            # at scale: an MLflow server, e.g. http://mlflow.internal:5000
  # registry_uri: null          # the model registry, when not the tracking server
  # artifact_root: s3://models/decayguard   # where new experiments keep their artifacts
  # experiment: decayguard-credit-default
"""

TRAIN_TEMPLATE = '''\
"""The training function of the {model} model (scaffolded by `decayguard init`).

decayguard calls `train_model` whenever it retrains (`decayguard retrain`, a schedule, or a
decay alert), in a child process with `training.timeout_minutes`. It receives a
`decayguard.training.TrainingSet`, built point-in-time correct from the store's matured labels
and the Feast features, and returns the fitted model:

- `training.features`: exactly the model's input columns, in `model.features` order;
- `training.labels`: the ground truth ({labels_doc});
- `training.sample_weight`: recency weights with `features.training_window: recency_weighted`,
  else None;
- `training.metadata`: the window, the lineage hash, the label counts.

The newest `training.holdout_days` of labels are not in it: decayguard scores the returned
model, and the serving champion, on them. Return a scikit-learn estimator or pipeline (or a
LightGBM model); it is exported without pickle, so stick to scikit-learn's own classes (or
LightGBM) unless you know skops can load yours.
"""

from __future__ import annotations

from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import {estimator}
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from decayguard.training import TrainingSet

# The columns of `model.features` in decayguard.yaml, by kind: edit both together.
NUMERIC = {numeric}
CATEGORICAL = {categorical}


def build_pipeline() -> Pipeline:
    """Impute, scale the numbers, one-hot encode the categories, then {estimator}."""
    encode = ColumnTransformer(
        [
            (
                "numbers",
                Pipeline(
                    [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
                ),
                NUMERIC,
            ),
            (
                "categories",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent")),
                        # A category never seen in training encodes as all zeros, not an error.
                        ("one_hot", OneHotEncoder(handle_unknown="ignore")),
                    ]
                ),
                CATEGORICAL,
            ),
        ]
    )
    return Pipeline([("encode", encode), ("model", {estimator_call})])


def train_model(training: TrainingSet) -> Pipeline:
    """Fit the pipeline on the training set and return it."""
    pipeline = build_pipeline()
    if training.sample_weight is None:
        return pipeline.fit(training.features, training.labels)
    # Route the recency weights to the final estimator (the encoders take none).
    return pipeline.fit(
        training.features,
        training.labels,
        model__sample_weight=training.sample_weight.to_numpy(),
    )
'''

_ESTIMATORS = {
    "regression": ("Ridge", "Ridge(alpha=1.0)"),
    "binary": ("LogisticRegression", "LogisticRegression(max_iter=1000)"),
    "multiclass": ("LogisticRegression", "LogisticRegression(max_iter=1000)"),
}


def render_train_module(cfg: DecayguardConfig) -> str:
    """The scaffolded ``train.py`` for the model in ``cfg``: a scikit-learn pipeline over its
    features (numbers scaled, categories one-hot encoded) that honours ``sample_weight``."""
    numeric = [f.name for f in cfg.model.features if f.dtype != "category"]
    categorical = [f.name for f in cfg.model.features if f.dtype == "category"]
    estimator, call = _ESTIMATORS[cfg.model.task]
    labels_doc = (
        "floats"
        if cfg.model.task == "regression"
        else "class names as text, e.g. " + repr(cfg.model.positive_class)
    )
    return TRAIN_TEMPLATE.format(
        model=cfg.model.name,
        labels_doc=labels_doc,
        numeric=json.dumps(numeric),
        categorical=json.dumps(categorical),
        estimator=estimator,
        estimator_call=call,
    )


def scaffold_project(folder: Path, *, force: bool = False) -> list[Path]:
    """Write an example project into ``folder``: ``decayguard.yaml``, ``train.py`` and the
    Feast feature repo; returns the files written. Without ``force`` nothing is written when
    any of them exists already."""
    from decayguard.config import load_config
    from decayguard.features.scaffold import DEFINITIONS_FILE, write_feature_repo

    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "decayguard.yaml"
    train = folder / TRAIN_FILE
    if not force:
        for path in (config, train, folder / "feature_repo" / DEFINITIONS_FILE):
            if path.exists():
                raise ConfigError(f"{path} already exists (use --force to overwrite)")
    config.write_text(CONFIG_TEMPLATE.format(name=folder.resolve().name or "decayguard-project"))
    cfg = load_config(config)
    train.write_text(render_train_module(cfg))
    return [config, train, *write_feature_repo(folder, cfg, force=force)]
