"""Calling the user's training function in a child process, with a timeout.

A thread cannot be stopped and an exception from user code can leave anything behind, so the
function runs in ``python -m decayguard.training.worker``, in its own process group: past
``training.timeout_minutes`` the whole group is killed. The child exports what the function
returns (decayguard's hash-pinned export, no pickle crosses the process boundary) and checks
that the reloaded export scores the model's features. Every failure is a
:class:`~decayguard.errors.TrainingError` naming the function.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from decayguard.config import DecayguardConfig
from decayguard.errors import TrainingError
from decayguard.features.windows import WEIGHT_COLUMN
from decayguard.registry import ArtifactManifest
from decayguard.training.contract import TrainingSet

LABEL_COLUMN = "__label__"
STAGING_VERSION = "staging"


@dataclass(frozen=True)
class FitResult:
    """A fitted and exported model, waiting for its registry version."""

    folder: Path
    manifest: ArtifactManifest
    fit_seconds: float
    """Wall time of the user's function alone."""
    export_seconds: float
    process_seconds: float
    """Wall time of the whole child process (start-up, reading, fit, export, check)."""
    model_type: str


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def fit_in_subprocess(cfg: DecayguardConfig, training: TrainingSet, work_dir: Path) -> FitResult:
    """Run ``model.train_function`` on ``training`` in a child process; export to
    ``work_dir/model``. Raises :class:`TrainingError` naming the function on any failure."""
    function = str(cfg.model.train_function)
    work_dir.mkdir(parents=True, exist_ok=True)
    data = training.features.copy()
    data[LABEL_COLUMN] = training.labels.to_numpy()
    if training.sample_weight is not None:
        data[WEIGHT_COLUMN] = training.sample_weight.to_numpy()
    data.to_parquet(work_dir / "training_set.parquet", index=False)
    folder, result_path, log_path = work_dir / "model", work_dir / "result.json", work_dir / "log"
    result_path.unlink(missing_ok=True)
    job = {
        "project": str(cfg.root.resolve()),
        "training_set": str(work_dir / "training_set.parquet"),
        "label_column": LABEL_COLUMN,
        "weight_column": WEIGHT_COLUMN,
        "metadata": asdict(training.metadata),
        "folder": str(folder),
        "version": STAGING_VERSION,
        "result": str(result_path),
    }
    (work_dir / "job.json").write_text(json.dumps(job, indent=2))
    timeout = cfg.training.timeout_minutes * 60
    started = time.perf_counter()
    with log_path.open("wb") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "decayguard.training.worker", str(work_dir / "job.json")],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cfg.root,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(child)
            raise TrainingError(
                function,
                f"still running after training.timeout_minutes ({cfg.training.timeout_minutes:g})"
                f"; stopped. Its output: {log_path}",
            ) from None
        except BaseException:
            _kill_group(child)
            raise
    elapsed = time.perf_counter() - started
    try:
        result = json.loads(result_path.read_text())
    except (OSError, ValueError):
        raise TrainingError(
            function,
            f"its process exited with code {child.returncode} without a result "
            f"(crashed?). Last output:\n{_tail(log_path)}",
        ) from None
    if not result.get("ok"):
        tail = _tail(log_path)
        raise TrainingError(function, str(result.get("error")) + (f"\n{tail}" if tail else ""))
    return FitResult(
        folder=folder,
        manifest=ArtifactManifest.read(folder),
        fit_seconds=float(result["fit_seconds"]),
        export_seconds=float(result["export_seconds"]),
        process_seconds=elapsed,
        model_type=str(result["model_type"]),
    )


def _kill_group(child: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()
