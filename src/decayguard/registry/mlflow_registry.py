"""The MLflow adapter of :class:`decayguard.registry.interface.ModelRegistry`.

Control environment only: MLflow is imported on first use, never by :mod:`decayguard.registry`
(the serving environment has no MLflow). One :class:`mlflow.MlflowClient` with explicit
tracking and registry URIs: no process-global ``mlflow.set_tracking_uri`` state.

:meth:`MlflowRegistry.register` creates the registered model (if missing) and a run with the
params, metrics and tags; creates the version (tagged ``decayguard.status=registering``) to
allocate its number; calls ``export(version)``; logs the folder under the run's ``model``
artifacts (the version's ``source``), ``lineage.json`` and the input datasets; tags the
version ``ready`` with the manifest's SHA-256, ends the run ``FINISHED`` and sets the alias
last. On any failure after the version exists it is tagged ``failed``, the run ends
``FAILED``, no alias moves and the error propagates. Locked-SQLite errors are retried with
backoff; processes take turns creating a new SQLite file's tables (a lock file beside it).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import random
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from decayguard.errors import ArtifactError, DecayguardError, ServiceError
from decayguard.registry.interface import (
    TAG_SHA256,
    TAG_STATUS,
    DatasetInput,
    Exporter,
    ModelVersionRecord,
    RunRecord,
)
from decayguard.registry.manifest import ArtifactManifest

if TYPE_CHECKING:
    from decayguard.config import DecayguardConfig

__all__ = ["TELEMETRY_ENV", "MlflowRegistry", "registry_from_config"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

TELEMETRY_ENV: Mapping[str, str] = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    # MLflow 3.17 honours DO_NOT_TRACK only when it is literally "true" (not "1").
    "DO_NOT_TRACK": "true",
}
"""Set (``os.environ.setdefault``) before MLflow is first imported: ``import mlflow``
starts its telemetry client, which reads these once."""

HTTP_ENV: Mapping[str, str] = {
    # MLflow's client retries an unreachable tracking server with backoff for minutes by
    # default; a retraining should fail in well under a minute and say so.
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",  # a progress bar is noise in a log
}

MODEL_ARTIFACT_PATH = "model"
LINEAGE_ARTIFACT = "lineage.json"
DATASET_CONTEXT_TAG = "mlflow.data.context"  # mlflow.utils.mlflow_tags.MLFLOW_DATASET_CONTEXT
DATASET_DIGEST_TAG = "decayguard.digest"

# MLflow's limits (mlflow.utils.validation): param values, entities per log_batch call.
MAX_PARAM_VALUE_LENGTH = 6000
MAX_PARAMS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_DIGEST_LENGTH = 36


def _truncate(value: str, limit: int = MAX_PARAM_VALUE_LENGTH) -> str:
    return value if len(value) <= limit else value[: limit - 3] + "..."


def _error_code(exc: BaseException) -> str | None:
    code = getattr(exc, "error_code", None)
    return code if isinstance(code, str) else None


def _is_transient(exc: BaseException) -> bool:
    return _error_code(exc) == "TEMPORARILY_UNAVAILABLE" or "database is locked" in str(exc)


def _sqlite_path(uri: str) -> Path | None:
    prefix = "sqlite:///"
    if not uri.startswith(prefix) or ":memory:" in uri:
        return None
    return Path(uri[len(prefix) :].split("?", 1)[0])


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock between processes (POSIX ``flock``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class MlflowRegistry:
    """A :class:`~decayguard.registry.interface.ModelRegistry` on an MLflow tracking store
    and model registry.

    ``tracking_uri`` is a ``sqlite:///`` file or an MLflow server (``http://...``);
    ``registry_uri`` defaults to it. ``artifact_location`` is where new experiments keep
    their artifacts (``None``: the server's default root; never ``./mlruns`` for the
    embedded SQLite store, see :func:`registry_from_config`). ``experiment`` names the
    experiment of every model's runs (``None``: ``decayguard-<model name>``).
    """

    def __init__(
        self,
        tracking_uri: str,
        *,
        registry_uri: str | None = None,
        artifact_location: str | None = None,
        experiment: str | None = None,
        retries: int = 6,
        backoff: float = 0.2,
    ) -> None:
        for key, value in {**TELEMETRY_ENV, **HTTP_ENV}.items():
            os.environ.setdefault(key, value)
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri or tracking_uri
        self.artifact_location = artifact_location
        self.experiment = experiment
        self.retries = retries
        self.backoff = backoff
        self._client_lock = threading.Lock()
        self._client_obj: Any = None
        self._experiment_ids: dict[str, str] = {}

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def _client(self) -> Any:
        """The MlflowClient, built on first use (MLflow creates a new SQLite file's tables
        then; processes sharing the file take turns through a lock file)."""
        with self._client_lock:
            if self._client_obj is None:
                db = _sqlite_path(self.tracking_uri)
                if db is None:
                    self._client_obj = self._new_client()
                else:
                    with _file_lock(db.with_name(db.name + ".init-lock")):
                        client = self._new_client()
                        self._call(
                            "open the store", lambda: client.search_experiments(max_results=1)
                        )
                        if _sqlite_path(self.registry_uri) is not None:
                            self._call(
                                "open the registry",
                                lambda: client.search_registered_models(max_results=1),
                            )
                        self._client_obj = client
            return self._client_obj

    def _new_client(self) -> Any:
        try:
            from mlflow import MlflowClient
        except ImportError as exc:  # the serving environment
            raise ServiceError(
                "MLflow is not installed here; the model registry needs the control environment"
            ) from exc
        from mlflow.telemetry import get_telemetry_client, set_telemetry_client

        if get_telemetry_client() is not None:  # mlflow was imported before our setdefault
            set_telemetry_client()  # type: ignore[no-untyped-call]  # re-reads the env: off
        return self._call(
            "connect", lambda: MlflowClient(self.tracking_uri, registry_uri=self.registry_uri)
        )

    def _call(self, what: str, fn: Callable[[], _T], *, not_found: str | None = None) -> _T:
        """``fn()``, retrying transient (locked-database) failures with jittered exponential
        backoff. MLflow and OS errors become :class:`ServiceError` naming the tracking URI, or
        :class:`ArtifactError` (``not_found``) when MLflow says the object does not exist."""
        from mlflow.exceptions import MlflowException

        delay = self.backoff
        for attempt in range(self.retries + 1):
            try:
                with _quiet():
                    return fn()
            except (MlflowException, OSError) as exc:
                if attempt < self.retries and _is_transient(exc):
                    _log.info("MLflow busy (%s): retrying %s in %.2f s", exc, what, delay)
                    time.sleep(delay * (1 + random.random()))
                    delay *= 2
                    continue
                if not_found is not None and _error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
                    raise ArtifactError(not_found) from exc
                raise ServiceError(f"MLflow at {self.tracking_uri}: cannot {what}: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _create(self, what: str, fn: Callable[[], _T]) -> _T | None:
        """``fn()``; ``None`` when another process created the object first."""
        try:
            return self._call(what, fn)
        except ServiceError as exc:
            if _error_code(exc.__cause__ or exc) != "RESOURCE_ALREADY_EXISTS":
                raise
            return None

    def _experiment_id(self, model_name: str) -> str:
        name = self.experiment or f"decayguard-{model_name}"
        if name in self._experiment_ids:
            return self._experiment_ids[name]
        client = self._client
        experiment = self._call("read experiment", lambda: client.get_experiment_by_name(name))
        if experiment is None:
            location = self.artifact_location
            created = self._create(
                f"create experiment {name!r}",
                lambda: client.create_experiment(name, artifact_location=location),
            )
            if created is None:
                experiment = self._call(
                    "read experiment", lambda: client.get_experiment_by_name(name)
                )
        if experiment is not None and experiment.lifecycle_stage == "deleted":
            raise ServiceError(
                f"MLflow at {self.tracking_uri}: experiment {name!r} is deleted; restore it "
                f"(mlflow experiments restore --experiment-id {experiment.experiment_id}) "
                "or set registry.experiment to another name"
            )
        self._experiment_ids[name] = str(
            created if experiment is None else experiment.experiment_id
        )
        return self._experiment_ids[name]

    def _record(self, mv: Any, aliases: tuple[str, ...] | None = None) -> ModelVersionRecord:
        params: dict[str, str] = {}
        metrics: dict[str, float] = {}
        if mv.run_id:
            run = self._call("read run", lambda: self._client.get_run(mv.run_id))
            params = dict(run.data.params)
            metrics = {k: float(v) for k, v in run.data.metrics.items()}
        return ModelVersionRecord(
            model_name=mv.name,
            version=str(mv.version),
            aliases=tuple(sorted(mv.aliases if aliases is None else aliases)),
            run_id=mv.run_id or None,
            source=mv.source,
            tags=dict(mv.tags),
            created_at=datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC),
            params=params,
            metrics=metrics,
        )

    def _model_version(self, model_name: str, version: str) -> Any:
        missing = f"model {model_name!r} has no registered version {version!r}"
        if not version.isdigit():
            raise ArtifactError(missing)
        return self._call(
            "read model version",
            lambda: self._client.get_model_version(model_name, version),
            not_found=missing,
        )

    # -- registration -----------------------------------------------------------------------

    def register(
        self, model_name: str, export: Exporter, run: RunRecord, *, alias: str | None
    ) -> ModelVersionRecord:
        """See :meth:`ModelRegistry.register`."""
        client = self._client
        experiment_id = self._experiment_id(model_name)
        if self._registered_model(model_name) is None:
            self._create(
                f"create model {model_name!r}", lambda: client.create_registered_model(model_name)
            )
        created = self._call(
            "create run",
            lambda: client.create_run(experiment_id, run_name=run.run_name, tags=dict(run.tags)),
        )
        run_id: str = created.info.run_id
        source = f"{created.info.artifact_uri}/{MODEL_ARTIFACT_PATH}"
        version: str | None = None
        try:
            self._log_params_and_metrics(run_id, run)
            tags = {**run.tags, TAG_STATUS: "registering"}
            mv = self._call(
                "create model version",
                lambda: client.create_model_version(model_name, source, run_id, tags=tags),
            )
            version = str(mv.version)
            folder = Path(export(version))
            sha256 = ArtifactManifest.read(folder).sha256
            self._call(
                "log the model folder",
                lambda: client.log_artifacts(run_id, str(folder), MODEL_ARTIFACT_PATH),
            )
            lineage = json.dumps(dict(run.lineage), indent=2, sort_keys=True, default=str)
            self._call("log lineage", lambda: client.log_text(run_id, lineage, LINEAGE_ARTIFACT))
            if run.datasets:
                inputs = [_dataset_input(d) for d in run.datasets]
                self._call("log input datasets", lambda: client.log_inputs(run_id, inputs))
            self._tag_version(model_name, version, TAG_SHA256, sha256)
            self._tag_version(model_name, version, TAG_STATUS, "ready")
            self._call("end run", lambda: client.set_terminated(run_id, "FINISHED"))
            if alias is not None:
                self.set_alias(model_name, alias, version)
        except BaseException as exc:
            self._abandon(model_name, version, run_id, exc)
            raise
        return self.get(model_name, version)

    def set_version_tag(self, model_name: str, version: str, key: str, value: str) -> None:
        """See :meth:`ModelRegistry.set_version_tag`."""
        self._model_version(model_name, version)
        self._tag_version(model_name, version, key, value)

    def log_report(
        self,
        model_name: str,
        version: str,
        name: str,
        report: Mapping[str, Any],
        metrics: Mapping[str, float],
    ) -> None:
        """See :meth:`ModelRegistry.log_report`: logged to the run that made the version."""
        run_id = self._model_version(model_name, version).run_id
        if not run_id:
            raise ArtifactError(f"{model_name} version {version} has no run to attach {name} to")
        client = self._client
        self._call(f"log {name}", lambda: client.log_dict(run_id, dict(report), name))
        if metrics:
            self._log_params_and_metrics(run_id, RunRecord(run_name="", metrics=dict(metrics)))

    def _tag_version(self, model_name: str, version: str, key: str, value: str) -> None:
        self._call(
            f"tag version {version}",
            lambda: self._client.set_model_version_tag(model_name, version, key, value),
        )

    def _log_params_and_metrics(self, run_id: str, run: RunRecord) -> None:
        """``log_batch`` calls within MLflow's per-call limits (one call for a usual run)."""
        from mlflow.entities import Metric, Param

        params = [Param(str(k), _truncate(str(v))) for k, v in run.params.items()]
        now = int(time.time() * 1000)
        metrics = [Metric(str(k), float(v), now, 0) for k, v in run.metrics.items()]
        while params or metrics:
            p_chunk, params = params[:MAX_PARAMS_PER_BATCH], params[MAX_PARAMS_PER_BATCH:]
            room = MAX_ENTITIES_PER_BATCH - len(p_chunk)
            m_chunk, metrics = metrics[:room], metrics[room:]
            self._call(
                "log params and metrics",
                partial(self._client.log_batch, run_id, metrics=m_chunk, params=p_chunk),
            )

    def _abandon(
        self, model_name: str, version: str | None, run_id: str, cause: BaseException
    ) -> None:
        """Tag the half-registered version ``failed`` and end its run ``FAILED``. A failure
        here is logged (the caller re-raises ``cause``, the error that matters)."""
        try:
            if version is not None:
                self._tag_version(model_name, version, TAG_STATUS, "failed")
            self._call("end the run", lambda: self._client.set_terminated(run_id, "FAILED"))
        except DecayguardError as exc:
            _log.error(
                "could not mark %s version %s failed (%s): %s", model_name, version, cause, exc
            )

    # -- reading and aliases ----------------------------------------------------------------

    def get(self, model_name: str, version: str) -> ModelVersionRecord:
        """See :meth:`ModelRegistry.get`."""
        return self._record(self._model_version(model_name, version))

    def _registered_model(self, model_name: str) -> Any:
        """The registered model, or ``None`` when there is none."""
        try:
            return self._call(
                "read registered model",
                lambda: self._client.get_registered_model(model_name),
                not_found="missing",
            )
        except ArtifactError:
            return None

    def _aliases(self, model_name: str) -> dict[str, str]:
        """alias -> version of a registered model (empty when the model does not exist)."""
        model = self._registered_model(model_name)
        aliases = {} if model is None else (model.aliases or {})
        return {str(a): str(v) for a, v in aliases.items()}

    def by_alias(self, model_name: str, alias: str) -> ModelVersionRecord | None:
        """See :meth:`ModelRegistry.by_alias`."""
        # get_model_version_by_alias raises INVALID_PARAMETER_VALUE for an unset alias (and
        # RESOURCE_DOES_NOT_EXIST for an unknown model): read the model's alias map instead.
        version = self._aliases(model_name).get(alias)
        return None if version is None else self.get(model_name, version)

    def versions(self, model_name: str) -> list[ModelVersionRecord]:
        """See :meth:`ModelRegistry.versions`."""
        client = self._client
        aliases = self._aliases(model_name)
        escaped = model_name.replace("'", "\\'")
        query = f"name = '{escaped}'"
        found: list[Any] = []
        token: str | None = None
        while True:
            page = self._call(
                "search model versions",
                partial(client.search_model_versions, query, max_results=1000, page_token=token),
            )
            found.extend(page)
            token = page.token
            if not token:
                break
        found.sort(key=lambda mv: int(mv.version))
        return [
            self._record(mv, tuple(a for a, v in aliases.items() if v == str(mv.version)))
            for mv in found
        ]

    def set_alias(self, model_name: str, alias: str, version: str) -> None:
        """See :meth:`ModelRegistry.set_alias`."""
        self._call(
            "set alias",
            lambda: self._client.set_registered_model_alias(model_name, alias, version),
            not_found=f"model {model_name!r} has no registered version {version!r}",
        )

    def delete_alias(self, model_name: str, alias: str) -> None:
        """See :meth:`ModelRegistry.delete_alias`."""
        if alias in self._aliases(model_name):
            self._call(
                "delete alias",
                lambda: self._client.delete_registered_model_alias(model_name, alias),
            )

    # -- artifacts --------------------------------------------------------------------------

    def lineage(self, model_name: str, version: str) -> dict[str, Any]:
        """See :meth:`ModelRegistry.lineage` (``{}`` when the run logged none)."""
        run_id = self._model_version(model_name, version).run_id
        client = self._client
        listed = self._call("list artifacts", lambda: client.list_artifacts(run_id))
        if not run_id or LINEAGE_ARTIFACT not in {a.path for a in listed}:
            return {}
        with tempfile.TemporaryDirectory(prefix="decayguard-lineage-") as tmp:
            path = self._call(
                "download lineage",
                lambda: client.download_artifacts(run_id, LINEAGE_ARTIFACT, tmp),
            )
            data = json.loads(Path(path).read_text())
        if not isinstance(data, dict):
            raise ArtifactError(f"{model_name} version {version}: lineage.json is not an object")
        return data

    def download(self, model_name: str, version: str, dest: Path) -> Path:
        """See :meth:`ModelRegistry.download`: ``dest`` is replaced by the exported folder
        (the one holding ``manifest.json``)."""
        mv = self._model_version(model_name, version)
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".download-", dir=dest.parent) as tmp:
            local = Path(
                self._call(
                    f"download {model_name} version {version}",
                    lambda: self._client.download_artifacts(mv.run_id, MODEL_ARTIFACT_PATH, tmp),
                )
            )
            if not (local / "manifest.json").is_file():
                raise ArtifactError(
                    f"{model_name} version {version}: the downloaded folder has no manifest.json"
                    f" (status {mv.tags.get(TAG_STATUS, 'unknown')})"
                )
            if dest.exists():
                shutil.rmtree(dest)
            local.rename(dest)
        return dest


@contextmanager
def _quiet() -> Iterator[None]:
    """MLflow's own noise off a user's terminal: SQLAlchemy deprecation warnings from its
    store, ``from_pandas``'s note on integer columns, and its INFO logs (table creation, the
    Alembic migrations it runs on a new database)."""
    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic")]
    levels = [logger.level for logger in loggers]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"mlflow(\.|$)")
        warnings.filterwarnings("ignore", message=r".*integer column", category=UserWarning)
        for logger in loggers:
            logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
        try:
            yield
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)


def _dataset_input(dataset: DatasetInput) -> Any:
    """An ``mlflow.entities.DatasetInput`` (schema and profile of the frame, not its rows)."""
    from mlflow.data.dataset_source_registry import get_dataset_source_from_json
    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.entities import DatasetInput as MlflowDatasetInput
    from mlflow.entities import InputTag

    # A plain source string is kept as is (resolving it guesses among source types); with
    # no source MLflow records the calling code as the source.
    extra: dict[str, Any] = {}
    if dataset.source:
        extra["source"] = get_dataset_source_from_json(json.dumps({"uri": dataset.source}), "local")
    # MLflow caps a digest at 36 characters: it keeps a prefix of the SHA-256, the input's
    # decayguard.digest tag the whole hash.
    digest = dataset.digest[:MAX_DIGEST_LENGTH]
    with _quiet():  # the schema is inferred here, and warns about integer columns
        pandas_dataset = from_pandas(dataset.frame, name=dataset.name, digest=digest, **extra)
        return MlflowDatasetInput(
            pandas_dataset._to_mlflow_entity(),
            tags=[
                InputTag(DATASET_CONTEXT_TAG, dataset.context),
                InputTag(DATASET_DIGEST_TAG, dataset.digest),
            ],
        )


def registry_from_config(cfg: DecayguardConfig) -> MlflowRegistry:
    """The project's registry: ``registry.tracking_uri`` (an MLflow server), or SQLite at
    ``<state_dir>/mlflow/mlflow.db`` with artifacts in ``<state_dir>/mlflow/artifacts``."""
    reg = cfg.registry
    uri, artifacts = reg.tracking_uri, reg.artifact_root
    if uri is None:
        home = cfg.path(cfg.project.state_dir).resolve() / "mlflow"
        home.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{home / 'mlflow.db'}"
        if artifacts is None:
            artifacts = (home / "artifacts").as_uri()
        elif "://" not in artifacts:
            artifacts = cfg.path(artifacts).resolve().as_uri()
    return MlflowRegistry(
        uri, registry_uri=reg.registry_uri, artifact_location=artifacts, experiment=reg.experiment
    )
