"""``decayguard init``: a commented example project to start from."""

from __future__ import annotations

from pathlib import Path

from decayguard.errors import ConfigError

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
  # Your training function: takes a training DataFrame, returns a fitted estimator.
  train_function: train:train_model

features:
  repo_path: feature_repo       # the Feast feature repository
  feature_service: credit_default_v1
  server_url: http://127.0.0.1:6566

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
  mode: champion                # champion | shadow | canary
  canary_share: 0.1

alerts:
  # Any apprise URL: slack://..., mailtos://..., json://host/path
  apprise_urls: []
  cooldown_minutes: 60

api:
  host: 127.0.0.1
  port: 8090
  # token: change-me            # bearer token for write endpoints
"""


def scaffold_project(folder: Path, *, force: bool = False) -> list[Path]:
    """Write an example project into ``folder``; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "decayguard.yaml"
    if config.exists() and not force:
        raise ConfigError(f"{config} already exists (use --force to overwrite)")
    config.write_text(CONFIG_TEMPLATE.format(name=folder.resolve().name or "decayguard-project"))
    from decayguard.config import load_config
    from decayguard.features.scaffold import write_feature_repo

    return [config, *write_feature_repo(folder, load_config(config), force=force)]
