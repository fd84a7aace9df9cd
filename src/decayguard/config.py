"""Typed project configuration: ``decayguard.yaml`` plus ``DECAYGUARD_*`` environment overrides.

Every field has a docstring; a bad value is reported with its dotted key and the
file it came from::

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "decayguard.yaml").write_text("serving:\\n  http_port: nope\\n")
    >>> load_config(folder / "decayguard.yaml")
    Traceback (most recent call last):
    ...
    decayguard.errors.ConfigError: .../decayguard.yaml: serving.http_port: Input should be...

Environment variables override the file, with ``__`` between nested keys, for
example ``DECAYGUARD_SERVING__HTTP_PORT=9000``.

The field docstrings are the documentation: ``docs/configuration.md`` is generated from
them by ``python -m decayguard.config_reference > docs/configuration.md``, and a test fails
when a field has none or the file is stale. ``decayguard check`` says whether the windows
configured here suit the project's traffic and label delays.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from decayguard.errors import ConfigError
from decayguard.task_metrics import THRESHOLD_METRICS

CONFIG_FILENAME = "decayguard.yaml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class ProjectConfig(_Section):
    name: str = "decayguard-project"
    """A short name for the project, used in alerts and dashboards."""
    store_url: str = "sqlite:///.decayguard/store.db"
    """SQLAlchemy URL of the decayguard store. Relative SQLite paths are relative to the
    project folder. For PostgreSQL: ``postgresql+psycopg://user@host:5432/db``."""
    state_dir: str = ".decayguard"
    """Folder (relative to the project) for the store file, spools, logs and pid files."""


class FeatureSpec(_Section):
    name: str
    """Column name of the feature, as sent in prediction requests."""
    dtype: Literal["float", "int", "category", "bool"] = "float"
    """Type of the feature; ``category`` features are strings."""
    nullable: bool = False
    """Whether a missing value is acceptable in a prediction request."""


class ModelConfig(_Section):
    name: str = "model"
    """Name of the model in the registry, the serving endpoint and the store."""
    task: Literal["binary", "multiclass", "regression"] = "binary"
    """Kind of prediction; decides which metrics and estimators apply."""
    target: str = "label"
    """Name of the label column in ground-truth files."""
    positive_class: str = "1"
    """For binary classification, the class whose probability is the score."""
    features: list[FeatureSpec] = Field(default_factory=list)
    """The model's input schema, in the order the model expects."""
    entity_key: str | None = None
    """Name of the entity key column (for joins by entity and time, and Feast lookups)."""
    train_function: str | None = None
    """Import path ``package.module:function`` of the user's training function (modules are
    found from the project folder first). It takes a :class:`decayguard.training.TrainingSet`
    and returns a fitted scikit-learn estimator or pipeline, or a LightGBM model."""


class FeaturesConfig(_Section):
    repo_path: str = "feature_repo"
    """Folder of the project's Feast feature repository."""
    feature_service: str | None = None
    """Name of the Feast feature service the model reads."""
    server_url: str = "http://127.0.0.1:6566"
    """URL of ``feast serve`` used by the serving runtime for online features."""
    online_store: Literal["sqlite", "postgres", "redis"] = "sqlite"
    """Online store backend written into the generated ``feature_store.yaml``."""
    online_store_url: str | None = None
    """Connection of a ``postgres`` or ``redis`` online store, for example
    ``postgresql://postgres@127.0.0.1:5432/feast?sslmode=disable`` or
    ``redis://127.0.0.1:6379/0``. For ``sqlite``: the database file, relative to the feature
    repo (``None``: ``data/online_store.db``)."""
    feast_project: str | None = None
    """Feast project name (letters, digits and ``_``); ``None``: derived from ``project.name``."""
    registry_path: str = "data/registry.db"
    """Feast registry file, relative to the feature repo."""
    training_window: Literal["all", "last_n_days", "recency_weighted"] = "all"
    """Which labels a training set uses: all history, the last ``training_window_days`` days,
    or all (or the last N days of) history with an exponentially decaying ``sample_weight``."""
    training_window_days: int | None = Field(default=None, gt=0)
    """N for the ``last_n_days`` window; with ``recency_weighted`` it also bounds the history
    (``None``: all history)."""
    half_life_days: float = Field(default=30.0, gt=0)
    """Half-life of the ``recency_weighted`` window: a label this many days old weighs 0.5."""
    created_timestamp_column: str | None = None
    """Column of the offline source saying when each row was written. With it, a training
    row never sees a value written after its label's time (backfills, late corrections);
    ``None``: rows count from their event time. Used when scaffolding the feature repo."""


class MonitoringConfig(_Section):
    interval_minutes: float = Field(default=60.0, gt=0)
    """How often the monitor flow runs."""
    window_hours: float = Field(default=24.0, gt=0)
    """Length of the window each monitor run reads."""
    drift_alpha: float = Field(default=0.05, gt=0, lt=1)
    """False-discovery rate for drift tests (Benjamini-Hochberg across features)."""
    drift_effect_size: float | None = Field(default=None, ge=0)
    """Smallest shift that counts as drift, whatever the sample size: the threshold on the
    deciding effect size (the KS distance's finite-sample lower bound for numeric features,
    Jensen-Shannon distance for categorical ones). ``None``: the methods' defaults."""
    confidence: float = Field(default=0.95, gt=0, lt=1)
    """Confidence level of performance intervals and decay decisions."""
    min_window_rows: int = Field(default=100, ge=1)
    """Windows with fewer predictions are reported but never decide anything."""
    review_window_hours: float = Field(default=72.0, gt=0)
    """Window of predictions whose human reviews estimate performance (reviews accrue slowly)."""
    labels_window_hours: float = Field(default=168.0, gt=0)
    """Window of predictions whose retrospective labels give realized performance."""
    min_reviews: int = Field(default=30, ge=1)
    """Fewer reviewed predictions than this decide nothing."""
    min_labels: int = Field(default=50, ge=1)
    """Fewer labelled predictions than this decide nothing."""
    performance_thresholds: dict[str, float] | None = None
    """Metric name to the value below which (above which for losses) the model has decayed.
    The metrics each ``model.task`` accepts are listed in ``docs/configuration.md``; a metric
    the task does not have is an error. ``None``: ``accuracy: 0.75`` for classifiers and no
    threshold for regressors (whose error scale only the project knows: set ``mae`` or
    ``rmse``)."""


class FeedbackConfig(_Section):
    review_share: float = Field(default=0.02, ge=0, le=1)
    """Expected share of predictions sampled for human review."""
    review_per_day: int | None = Field(default=None, ge=0)
    """Alternative budget: expected reviews per day (overrides ``review_share``)."""
    review_strategy: Literal["uniform", "stratified", "uncertainty"] = "uncertainty"
    """How review samples are drawn."""
    label_maturity: float = Field(default=0.8, gt=0, le=1)
    """Share of a window's labels that must have arrived before its metrics are final."""
    expected_daily_predictions: float | None = Field(default=None, gt=0)
    """Predictions expected per day; turns ``review_per_day`` into a sampling share."""
    decision_threshold: float = Field(default=0.5, gt=0, lt=1)
    """Score at the decision boundary, where the ``uncertainty`` strategy samples most."""
    uncertainty_floor: float = Field(default=0.1, gt=0, le=1)
    """Relative weight of the most confident predictions under ``uncertainty`` (keeps every
    inclusion probability above zero, which unbiased weighted estimates need)."""
    label_values: list[str] = Field(default_factory=list)
    """Class labels offered to reviewers and accepted as ground truth, in order (classifiers).
    On the review page one-character values are typed as themselves, longer ones by
    position (``1``-``9``). Empty: the serving champion's classes, else ``0`` and ``1`` for
    binary models. Regression labels are numbers and ignore this key."""
    review_lease_seconds: float = Field(default=300.0, gt=0)
    """How long a prediction shown to one reviewer is kept from the others."""


class ServingConfig(_Section):
    host: str = "127.0.0.1"
    """Interface MLServer binds to."""
    http_port: int = Field(default=8085, ge=1, le=65535)
    """MLServer HTTP port (away from 8080, which Prefect's runner uses)."""
    grpc_port: int = Field(default=8086, ge=1, le=65535)
    """MLServer gRPC port."""
    metrics_port: int = Field(default=8087, ge=1, le=65535)
    """MLServer's own Prometheus metrics port."""
    trust_event_time: bool = False
    """Log a prediction at the ``event_time`` request parameter when the client sends one
    (replays, backfills, the simulator); otherwise at the time it was served."""
    log_batch_size: int = Field(default=500, ge=1)
    """Prediction log rows written to the store per batch."""
    log_flush_seconds: float = Field(default=0.5, gt=0)
    """Longest time a logged prediction waits before its batch is written."""
    models_dir: str | None = None
    """MLServer's model repository folder (``None``: ``<state_dir>/models``)."""
    spool_dir: str | None = None
    """Write-ahead spool of the prediction log (``None``: ``<state_dir>/spool``); one server
    per folder."""
    online_features: bool = True
    """Let requests carry only the entity key and fetch features from ``feast serve``
    (needs ``model.entity_key`` and ``features.feature_service``)."""
    ready_timeout_seconds: float = Field(default=60.0, gt=0)
    """How long ``decayguard serve`` waits for MLServer to load the models."""

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("mode", "canary_share"):
                if key in data:
                    raise ValueError(
                        f"serving.{key} is gone: a challenger's route follows its release "
                        "stage (release.shadow, release.canary_share; decayguard release "
                        "status shows it)"
                    )
        return data


class AlertsConfig(_Section):
    apprise_urls: list[str] = Field(default_factory=list)
    """Apprise notification URLs (Slack, mailto, json://...)."""
    reminder_backoff_minutes: list[float] = Field(
        default_factory=lambda: [60.0, 240.0, 1440.0], min_length=1
    )
    """Gaps between the notifications of an incident that stays open, in minutes of the
    monitor's clock (simulated in a replay): the first reminder this long after the alert,
    the next this long after it, and so on; past the end of the list, every last gap.
    The default reminds after 1 h, 4 h, 1 day, then daily; ``[0]`` reminds at every run."""
    cooldown_minutes: float | None = Field(default=None, ge=0)
    """Deprecated: use ``reminder_backoff_minutes``. When set, a fixed gap between
    reminders (the same as ``reminder_backoff_minutes: [value]``)."""

    @field_validator("reminder_backoff_minutes")
    @classmethod
    def _gaps_not_negative(cls, gaps: list[float]) -> list[float]:
        if any(not gap >= 0 for gap in gaps):
            raise ValueError(f"every gap must be 0 minutes or more, got {gaps}")
        return gaps

    @model_validator(mode="after")
    def _cooldown_is_a_fixed_backoff(self) -> AlertsConfig:
        if self.cooldown_minutes is not None:
            warnings.warn(
                "alerts.cooldown_minutes is deprecated: use alerts.reminder_backoff_minutes "
                f"(now [{self.cooldown_minutes:g}], a fixed gap)",
                DeprecationWarning,
                stacklevel=2,
            )
            self.reminder_backoff_minutes = [self.cooldown_minutes]
        return self


class ApiConfig(_Section):
    host: str = "127.0.0.1"
    """Interface the control API binds to (loopback by default)."""
    port: int = Field(default=8090, ge=1, le=65535)
    """Control API port."""
    token: str | None = None
    """Bearer token required by write endpoints (labels, reviews, admin)."""
    protect_reads: bool = False
    """Require the token for read endpoints too."""
    public_url: str | None = None
    """The base URL people open the control API at (``https://decayguard.example.com``),
    for the dashboard links in alerts. ``None``: ``http://{api.host}:{api.port}``."""

    @property
    def base_url(self) -> str:
        """``public_url`` without a trailing slash, or ``http://{host}:{port}``."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


class OrchestrationConfig(_Section):
    prefect_host: str = "127.0.0.1"
    """Interface of the local Prefect server started by ``decayguard up``."""
    prefect_port: int = Field(default=4200, ge=1, le=65535)
    """Port of the local Prefect server started by ``decayguard up``."""
    prefect_api_url: str | None = None
    """Use this Prefect API instead of starting a local server (for example a shared one)."""
    poll_seconds: float = Field(default=1.0, gt=0)
    """How often the flow runner polls for scheduled or triggered runs."""
    schedule_monitor: bool = True
    """Run the monitor flow every ``monitoring.interval_minutes`` (off: runs only on demand)."""

    @property
    def api_url(self) -> str:
        return self.prefect_api_url or f"http://{self.prefect_host}:{self.prefect_port}/api"


class TrainingConfig(_Section):
    schedule: str | None = None
    """Cron expression (UTC) of scheduled retraining, for example ``0 3 * * 1`` (Mondays
    03:00); ``None``: retrain only on decay or by hand."""
    on_decay: bool = True
    """Retrain when the monitor run detects decay (the ``decayguard.decay.detected`` event)."""
    timeout_minutes: float = Field(default=60.0, gt=0)
    """A training function still running after this long is stopped and the run fails."""
    holdout_days: float = Field(default=7.0, gt=0)
    """The most recent matured labels, this many days of them, are held out by time: never
    trained on, they are what the champion/challenger gate scores both models on."""
    min_labels: int = Field(default=200, ge=1)
    """Fewer usable training labels than this (matured, before the holdout, with features):
    the run ends as "waiting for labels" and trains nothing."""
    min_hours_between: float = Field(default=24.0, ge=0)
    """Cooldown: no retraining starts within this many hours of the last one that trained."""
    decay_data: Literal["since_decay", "window"] = "since_decay"
    """What a retraining triggered by decay learns from: ``since_decay``, only the labels of
    predictions made since the decay began (the monitor's estimate: the latest start of the
    open decay incidents' first flagged windows), waiting until ``min_labels`` of them have matured
    — after a concept shift the older labels teach the old world; ``window``: the
    ``features.training_window``, as any other retraining."""
    trigger_window_minutes: float = Field(default=60.0, gt=0)
    """Decay events for one model within this window are one trigger: one retraining, however
    many events arrive (or are re-delivered)."""

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:  # cronsim, installed with Prefect; the serving environment has no schedules
            from cronsim import CronSim, CronSimError
        except ImportError:
            return value
        try:
            CronSim(value, datetime.now(UTC))
        except CronSimError as exc:
            raise ValueError(f"not a cron expression ({exc})") from exc
        return value


class GateConfig(_Section):
    metric: str | None = None
    """Primary metric of the champion/challenger gate (``None``: ``accuracy`` for classifiers,
    ``mae`` for regressors). The challenger passes when the interval of challenger minus
    champion on it clears ``-margin``."""
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    """Confidence level of the gate's intervals: a challenger truly worse by ``margin`` passes
    at most ``1 - confidence`` of the time (measured in ``bench/gate.py``)."""
    margin: float | None = Field(default=None, ge=0)
    """Non-inferiority margin in the metric's units: how much worse the challenger may be.
    ``None``: 0.01 for metrics on a 0-1 scale, 1 % of the champion's value for losses
    (MAE, RMSE, MAPE, log loss), whose scale only the project knows."""
    require_improvement: bool = False
    """Ask for a challenger that is better (interval above 0), not only no worse."""
    gold_set: str | None = None
    """A Parquet or CSV file (project-relative) of features and labels that both models are
    also scored on, for example hand-labelled hard cases; ``None``: the holdout only."""
    slices: list[str] = Field(default_factory=list)
    """Columns to slice by: categorical features as they are, numeric ones in
    ``slice_bins`` quantile bins. No slice may regress beyond ``slice_margin``."""
    slice_bins: int = Field(default=4, ge=2)
    """Quantile bins of a numeric slice column."""
    min_slice_rows: int = Field(default=200, ge=1)
    """Slices with fewer rows are reported but decide nothing."""
    slice_margin: float = Field(default=0.05, ge=0)
    """How much worse (in the metric's units) a slice may get; Holm-adjusted across slices."""
    calibration_margin: float = Field(default=0.02, ge=0)
    """Classifiers: how much the Brier score and the expected calibration error may worsen."""
    n_resamples: int = Field(default=2000, ge=100)
    """Paired bootstrap resamples."""
    smoke_test: bool = True
    """Load the challenger into the running MLServer under a scratch name and replay recent
    requests before it passes (off: statistics only, for example in a backtest)."""
    smoke_requests: int = Field(default=200, ge=1)
    """Recently logged requests replayed against the challenger on the running MLServer."""
    max_latency_ms: float = Field(default=200.0, gt=0)
    """The challenger's p99 latency on the smoke test may not exceed this."""
    max_latency_ratio: float = Field(default=2.0, gt=0)
    """...nor this multiple of the champion's p99 on the same requests."""


class ReleaseConfig(_Section):
    """How a challenger that passed the gate earns live traffic (``decayguard.release``)."""

    shadow: bool = True
    """Shadow first: the challenger scores every request silently beside the champion."""
    canary_share: float = Field(default=0.1, ge=0, lt=1)
    """Share of the traffic the challenger answers in canary (sticky by entity key); 0 skips
    the canary: promotion straight from shadow."""
    min_shadow_hours: float = Field(default=24.0, ge=0)
    """Shortest shadow, whatever the evidence says."""
    canary_hours: float = Field(default=24.0, ge=0)
    """Shortest canary, whatever the evidence says."""
    min_labels: int = Field(default=200, ge=1)
    """Paired outcomes (labels and reviews of requests both arms scored) needed before a
    promotion."""
    max_hours: float = Field(default=336.0, gt=0)
    """A trial still undecided after this long ends "inconclusive": the champion stays."""
    metric: str | None = None
    """Metric the judge compares per request (``None``: the gate's metric). Accuracy-type
    metrics compare 0-1 losses; ``mae``, ``rmse``, ``log_loss`` their per-request losses."""
    margin: float | None = Field(default=None, ge=0)
    """Non-inferiority margin of the judge in the metric's units (``None``: the gate's)."""
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    """Confidence of the judge's anytime-valid confidence sequence: looked at every run, a
    challenger truly worse by ``margin`` is promoted at most ``(1 - confidence) / 2`` of
    the time (measured in ``bench/rollout.py``)."""
    auto_promote: bool = True
    """Promote by itself when the judge says so; ``False``: wait in canary for a person
    (``decayguard release promote``). Rollbacks are always automatic."""
    max_error_rate: float = Field(default=0.01, ge=0, le=1)
    """Infrastructure guard: the challenger's share of failed scorings above this (and above
    the champion's) rolls it back at once."""
    max_latency_ratio: float = Field(default=3.0, gt=1)
    """Infrastructure guard: the challenger's p99 scoring latency above this multiple of the
    champion's (and above ``max_latency_ms``) rolls it back at once."""
    max_latency_ms: float = Field(default=50.0, gt=0)
    """Infrastructure guard: latencies below this never breach (noise at sub-millisecond
    scoring times)."""
    min_requests: int = Field(default=200, ge=1)
    """Requests per arm before the infrastructure guard decides."""


class RegistryConfig(_Section):
    tracking_uri: str | None = None
    """MLflow tracking URI, for example ``http://127.0.0.1:5000`` for an MLflow server on
    PostgreSQL. ``None``: SQLite at ``<state_dir>/mlflow/mlflow.db``."""
    registry_uri: str | None = None
    """MLflow model registry URI (``None``: the tracking URI)."""
    artifact_root: str | None = None
    """Where new MLflow experiments keep their artifacts (``None``: ``<state_dir>/mlflow/
    artifacts`` with the embedded default; the server's own root with a tracking server)."""
    experiment: str | None = None
    """MLflow experiment of the model's retraining runs (``None``: ``decayguard-<model>``)."""


class DecayguardConfig(BaseSettings):
    """The whole project configuration."""

    model_config = SettingsConfigDict(
        env_prefix="DECAYGUARD_",
        env_nested_delimiter="__",
        extra="forbid",
        use_attribute_docstrings=True,
    )

    project: ProjectConfig = Field(default_factory=ProjectConfig)
    """Project-wide settings."""
    model: ModelConfig = Field(default_factory=ModelConfig)
    """The monitored model and its input schema."""
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    """The Feast feature store."""
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    """Drift, estimated and realized performance, decisions."""
    feedback: FeedbackConfig = Field(default_factory=FeedbackConfig)
    """Ground truth and human review."""
    serving: ServingConfig = Field(default_factory=ServingConfig)
    """The MLServer endpoint."""
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    """Notifications."""
    api: ApiConfig = Field(default_factory=ApiConfig)
    """The control API."""
    orchestration: OrchestrationConfig = Field(default_factory=OrchestrationConfig)
    """Prefect: the server, the flow runner and their schedules."""
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    """Continuous training: triggers, training data, the holdout, single-flight."""
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    """The MLflow model registry that keeps every retrained version and its lineage."""
    gate: GateConfig = Field(default_factory=GateConfig)
    """The champion/challenger gate a retrained version must pass before it meets traffic."""
    release: ReleaseConfig = Field(default_factory=ReleaseConfig)
    """The safe rollout of a validated version: shadow, canary, promotion or rollback."""

    root: Path = Field(default=Path("."), exclude=True)
    """Folder of the project (where decayguard.yaml lives); set by :func:`load_config`."""

    @model_validator(mode="after")
    def _thresholds_fit_the_task(self) -> DecayguardConfig:
        accepted = THRESHOLD_METRICS[self.model.task]
        for metric in self.monitoring.performance_thresholds or {}:
            if metric not in accepted:
                raise PydanticCustomError(
                    "task_metric",
                    "monitoring.performance_thresholds.{key}: a {task} model has no "
                    "{metric} metric; it accepts {accepted}",
                    {
                        "key": metric,
                        "metric": repr(metric),
                        "task": self.model.task,
                        "accepted": ", ".join(accepted),
                    },
                )
        return self

    @model_validator(mode="after")
    def _gate_metric_fits_the_task(self) -> DecayguardConfig:
        metric = self.gate.metric
        accepted = THRESHOLD_METRICS[self.model.task]
        if metric is not None and metric not in accepted:
            raise PydanticCustomError(
                "task_metric",
                "gate.metric: a {task} model has no {metric} metric; it accepts {accepted}",
                {"metric": repr(metric), "task": self.model.task, "accepted": ", ".join(accepted)},
            )
        return self

    @property
    def gate_metric(self) -> str:
        """The gate's primary metric: ``gate.metric``, or the task's default."""
        return self.gate.metric or ("mae" if self.model.task == "regression" else "accuracy")

    @property
    def performance_thresholds(self) -> dict[str, float]:
        """The decay thresholds in force: the configured ones, or the task's defaults."""
        configured = self.monitoring.performance_thresholds
        if configured is not None:
            return dict(configured)
        return {} if self.model.task == "regression" else {"accuracy": 0.75}

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first: DECAYGUARD_* overrides what the YAML file says.
        return (env_settings, init_settings)

    def path(self, relative: str | Path) -> Path:
        """Resolve a project-relative path."""
        p = Path(relative)
        return p if p.is_absolute() else (self.root / p)

    @property
    def resolved_store_url(self) -> str:
        """The store URL with a relative SQLite path resolved against the project folder."""
        url = self.project.store_url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str((self.root / url[len(prefix) :]).resolve())
        return url


def _format_errors(exc: ValidationError, source: str) -> str:
    lines = []
    for err in exc.errors():
        if err["type"] == "task_metric":  # names its own dotted key
            lines.append(f"{source}: {err['msg']}")
            continue
        key = ".".join(str(part) for part in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        got = err.get("input")
        detail = f" (got {got!r})" if err["type"] not in ("extra_forbidden", "missing") else ""
        if isinstance(got, dict | list):
            detail = ""
        lines.append(f"{source}: {key}: {msg}{detail}")
    return "\n".join(lines)


def load_config(path: str | Path | None = None) -> DecayguardConfig:
    """Load and validate a project's configuration.

    ``path`` is a ``decayguard.yaml`` file or the folder holding it (default: the
    current folder). A missing file gives the defaults. Raises :class:`ConfigError`
    naming the file and the dotted key of every invalid value.
    """
    p = (Path(path) if path is not None else Path.cwd()).resolve()
    if p.is_dir():
        p = p / CONFIG_FILENAME
    data: dict[str, Any] = {}
    if p.exists():
        try:
            loaded = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{p}: not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{p}: the top level must be a mapping of sections")
        data = loaded
    try:
        return DecayguardConfig(**data, root=p.parent)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, str(p))) from exc
