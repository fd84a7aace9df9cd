"""The prediction logger: a synchronous write-ahead spool and a shipper process.

:meth:`PredictionLogger.log` appends the rows of one request to the spool with one
``os.write`` (microseconds, on the request path); once it returns, the rows survive the
serving process. The logger starts :mod:`decayguard.serving.shipper` as a child process,
which moves spooled rows into the store in batches, keeps them on disk while the store is
unreachable and replays whatever an earlier process left. If the child dies it is started
again; when the serving process exits (SIGTERM, ``atexit``) the child delivers what is
pending and stops; when the serving process is killed, the child notices within half a
second and does the same. Only a crash of the whole machine (or container) leaves rows for
the next start to replay.

MLServer re-imports the runtime's module on every model load, so the process-wide
logger lives here, in :func:`shared_logger`, not in the runtime module.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from decayguard.errors import ServiceError
from decayguard.serving.shipper import STORE_URL_ENV, read_status
from decayguard.serving.spool import SpoolReader, SpoolWriter, encode_record
from decayguard.store.predictions import PredictionRecord

log = logging.getLogger("decayguard.serving.logger")

_CHILD_CHECK_SECONDS = 1.0


class PredictionLogger:
    """Durable, batched prediction logging for one spool folder and one store."""

    def __init__(
        self,
        spool_dir: Path,
        store_url: str,
        *,
        batch_size: int = 500,
        flush_seconds: float = 0.5,
        drain_seconds: float = 5.0,
    ) -> None:
        self.spool_dir = spool_dir
        self.store_url = store_url
        self.batch_size = batch_size
        self.flush_seconds = flush_seconds
        self.drain_seconds = drain_seconds
        self._writer = SpoolWriter(spool_dir)
        self._child = self._start_shipper()
        self._checked = time.monotonic()

    def _start_shipper(self) -> subprocess.Popen[bytes]:
        command = [
            sys.executable,
            "-m",
            "decayguard.serving.run_shipper",
            "--spool",
            str(self.spool_dir),
            "--batch-size",
            str(self.batch_size),
            "--flush-seconds",
            str(self.flush_seconds),
            "--drain-seconds",
            str(self.drain_seconds),
            "--parent-pid",
            str(os.getpid()),
        ]
        env = {**os.environ, STORE_URL_ENV: self.store_url}
        try:
            # Its own session: a signal to the server's process group (Ctrl-C, `decayguard
            # serve --stop`, a SIGKILL of the group) does not cut a delivery short. The
            # shipper stops when told by close() or when the server is gone.
            return subprocess.Popen(
                command, env=env, stdin=subprocess.DEVNULL, start_new_session=True
            )
        except OSError as exc:
            raise ServiceError(f"cannot start the prediction log shipper: {exc}") from exc

    def log(self, records: Sequence[PredictionRecord]) -> None:
        """Append one request's rows to the spool (durable once this returns)."""
        self._writer.append(b"".join(encode_record(r) for r in records))
        now = time.monotonic()
        if now - self._checked > _CHILD_CHECK_SECONDS:
            self._checked = now
            if self._child.poll() is not None:
                log.warning(
                    "prediction log shipper exited (code %s); starting it again",
                    self._child.returncode,
                )
                self._child = self._start_shipper()

    @property
    def shipper_pid(self) -> int:
        return self._child.pid

    @property
    def store_reachable(self) -> bool:
        """What the shipper last reported (``True`` until it reports otherwise)."""
        status = read_status(self.spool_dir)
        return True if status is None else bool(status.get("store_reachable", True))

    def pending_bytes(self) -> int:
        """Bytes spooled but not yet in the store."""
        return SpoolReader(self.spool_dir).pending_bytes()

    def close(self, timeout: float | None = None) -> bool:
        """Stop the shipper after it delivers what it can; whether the spool is empty.

        What is left stays on disk and is replayed by the next process using this spool.
        """
        wait = (self.drain_seconds if timeout is None else timeout) + 5.0
        # A shipper still importing would die of SIGTERM before it can drain: let it start.
        deadline = time.monotonic() + 15.0
        while time.monotonic() < deadline and self._child.poll() is None:
            status = read_status(self.spool_dir)
            if status is not None and status.get("pid") == self._child.pid:
                break
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            self._child.send_signal(signal.SIGTERM)
        try:
            self._child.wait(wait)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait()
        self._writer.close()
        return self.pending_bytes() == 0


_LOGGERS: dict[Path, PredictionLogger] = {}
_LOCK = threading.Lock()


def shared_logger(
    spool_dir: Path, store_url: str, *, batch_size: int = 500, flush_seconds: float = 0.5
) -> PredictionLogger:
    """The process-wide logger of a spool folder (created on first use, closed at exit).

    Batching settings take effect when the logger is created (at the server's first
    model load); a later deployment with other values keeps the running shipper.
    """
    key = spool_dir.resolve()
    with _LOCK:
        existing = _LOGGERS.get(key)
        if existing is not None:
            if existing.store_url != store_url:
                raise ServiceError(
                    f"spool {key} already ships to {existing.store_url!r}, not {store_url!r}: "
                    "give each store its own spool folder"
                )
            return existing
        created = PredictionLogger(
            key, store_url, batch_size=batch_size, flush_seconds=flush_seconds
        )
        if not _LOGGERS:
            atexit.register(close_shared_loggers)
        _LOGGERS[key] = created
        return created


def close_shared_loggers() -> None:
    """Let every process-wide logger's shipper deliver and stop (runs at interpreter exit)."""
    with _LOCK:
        loggers = list(_LOGGERS.values())
        _LOGGERS.clear()
    for logger in loggers:
        logger.close()
