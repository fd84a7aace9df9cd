"""The prediction log's shipper: a process that moves spooled rows into the store.

It runs next to the serving process (which starts it, see
:class:`~decayguard.serving.logger.PredictionLogger`), not inside it: shipping is
CPU-heavy Python (decoding, Arrow, the insert), and as a thread of the single-process
MLServer it competed for the GIL with the event loop, stalling requests (measured here:
throughput 0.71 of the baseline with a shipper thread, 0.95 without it).

The loop reads the spool from its committed position, writes batches of up to
``batch_size`` rows with :func:`~decayguard.store.insert_predictions` (idempotent by id),
advances the committed position, and sleeps ``flush_seconds`` when it has caught up. When
the store is unreachable it backs off (0.1 s doubling to ``max_backoff_seconds``) and
retries; rows wait on disk. On SIGTERM, or when the serving process that started it is
gone, it delivers what it can within ``drain_seconds`` and exits. Only one shipper runs per
spool (``flock`` on ``shipper.lock``). Its state is in ``shipper.json`` in the spool folder.

Run by hand to deliver a spool left behind (say the server is gone for good)::

    DECAYGUARD_SHIPPER_STORE_URL=postgresql+psycopg://... \
        python -m decayguard.serving.run_shipper --spool .decayguard/spool --once
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from decayguard.errors import StoreError
from decayguard.serving.spool import SpoolReader, decode_record, encode_record
from decayguard.store.engine import create_store_engine
from decayguard.store.predictions import PredictionRecord, insert_predictions

log = logging.getLogger("decayguard.serving.shipper")

STORE_URL_ENV = "DECAYGUARD_SHIPPER_STORE_URL"
"""The store URL reaches the shipper through the environment, never its command line
(which every local user can read with ``ps``)."""
STATUS_FILENAME = "shipper.json"
LOCK_FILENAME = "shipper.lock"

_TRANSIENT = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError, OSError)


def _brief(exc: BaseException) -> str:
    """The first line of the driver's message, without SQLAlchemy's statement dump."""
    cause = getattr(exc, "orig", None) or exc
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0][:300]


def store_engine(url: str) -> Engine:
    """An engine for the shipper: short connect timeout so an outage is noticed fast."""
    backend = sa.make_url(url).get_backend_name() if "://" in url else ""
    if backend == "postgresql":
        return create_store_engine(url, connect_args={"connect_timeout": 3})
    return create_store_engine(url)


@dataclass
class ShipperStats:
    """What the shipper has done so far (read by tests, the bench and health checks)."""

    shipped: int = 0
    duplicates: int = 0
    rejected: int = 0
    failed_attempts: int = 0
    last_error: str | None = None


class SpoolShipper:
    """Moves spooled rows into the store, one batch per :meth:`ship_batch`."""

    def __init__(
        self, spool_dir: Path, engine_factory: Callable[[], Engine], batch_size: int
    ) -> None:
        self.reader = SpoolReader(spool_dir)
        self._engine_factory = engine_factory
        self._engine: Engine | None = None
        self.batch_size = batch_size
        self.stats = ShipperStats()

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._engine_factory()
        return self._engine

    def ship_batch(self) -> int:
        """Deliver the next batch; returns its row count (0: nothing pending).

        Raises :class:`StoreError` when the store cannot take it; nothing is committed
        then, so the same rows are tried again.
        """
        lines, end = self.reader.read(self.batch_size)
        if not lines:
            if end != self.reader.position:
                self.reader.commit(end)  # moved past a finished, empty segment
            return 0
        records, bad = _decode(lines)
        if bad:
            self.reader.reject(bad)
            self.stats.rejected += len(bad)
            log.error("prediction spool: %d malformed lines moved to rejected.jsonl", len(bad))
        if records:
            self._insert(records)
        self.reader.commit(end)
        return len(lines)

    def _insert(self, records: list[PredictionRecord]) -> None:
        try:
            result = insert_predictions(self.engine, records)
        except _TRANSIENT as exc:
            raise StoreError(f"store unreachable: {_brief(exc)}") from exc
        except sa.exc.SQLAlchemyError as exc:
            self._insert_one_by_one(records, exc)
            return
        self.stats.shipped += result.inserted
        self.stats.duplicates += result.duplicates

    def _insert_one_by_one(self, records: list[PredictionRecord], first: Exception) -> None:
        """A batch the store refused: find the rows at fault, deliver the others.

        If every row fails the store itself is at fault (say, its schema is behind):
        the batch stays pending instead of being rejected.
        """
        refused: list[PredictionRecord] = []
        for record in records:
            try:
                result = insert_predictions(self.engine, [record])
            except _TRANSIENT as exc:
                raise StoreError(f"store unreachable: {_brief(exc)}") from exc
            except sa.exc.SQLAlchemyError:
                refused.append(record)
                continue
            self.stats.shipped += result.inserted
            self.stats.duplicates += result.duplicates
        if len(refused) == len(records):
            raise StoreError(f"the store refused every row of a batch: {_brief(first)}") from first
        self.reader.reject([encode_record(r) for r in refused])
        self.stats.rejected += len(refused)
        log.error("prediction spool: the store refused %d rows: %s", len(refused), _brief(first))

    def drain(self, timeout: float) -> bool:
        """Ship until nothing is pending (True) or ``timeout`` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.ship_batch() == 0 and self.reader.pending_bytes() == 0:
                    return True
            except StoreError as exc:
                self.stats.failed_attempts += 1
                self.stats.last_error = str(exc)
                time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
        return self.reader.pending_bytes() == 0

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def _decode(lines: Sequence[bytes]) -> tuple[list[PredictionRecord], list[bytes]]:
    records, bad = [], []
    for line in lines:
        try:
            records.append(decode_record(line))
        except (ValueError, TypeError, KeyError):
            bad.append(line)
    return records, bad


def read_status(spool_dir: Path) -> dict[str, object] | None:
    """The shipper's last reported state, or ``None`` if it never reported."""
    try:
        loaded = json.loads((spool_dir / STATUS_FILENAME).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) else None


class ShipperLoop:
    """Ships a spool until stopped; one instance per process."""

    def __init__(
        self,
        spool_dir: Path,
        store_url: str,
        *,
        batch_size: int = 500,
        flush_seconds: float = 0.5,
        max_backoff_seconds: float = 5.0,
        parent_pid: int | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.spool_dir = spool_dir
        self.shipper = SpoolShipper(spool_dir, lambda: store_engine(store_url), batch_size)
        self.flush_seconds = flush_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.parent_pid = parent_pid
        self.stop = stop or threading.Event()
        self.outage = False
        self.passes = 0

    def _parent_gone(self) -> bool:
        return self.parent_pid is not None and os.getppid() != self.parent_pid

    def _report(self) -> None:
        status = {
            "pid": os.getpid(),
            "store_reachable": not self.outage,
            "passes": self.passes,
            "updated_at": datetime.now(UTC).isoformat(),
            **asdict(self.shipper.stats),
        }
        tmp = self.spool_dir / (STATUS_FILENAME + ".tmp")
        tmp.write_text(json.dumps(status))
        os.replace(tmp, self.spool_dir / STATUS_FILENAME)

    def run(self) -> None:
        """Ship until :attr:`stop` is set or the parent process is gone."""
        backoff = 0.1
        self._report()
        while not self.stop.is_set() and not self._parent_gone():
            try:
                shipped = self.shipper.ship_batch()
            except StoreError as exc:
                self.shipper.stats.failed_attempts += 1
                self.shipper.stats.last_error = str(exc)
                if not self.outage:
                    log.warning("prediction log: %s; rows wait in %s", exc, self.spool_dir)
                    self.outage = True
                    self._report()
                self.shipper.dispose()
                self._idle(backoff)
                backoff = min(self.max_backoff_seconds, backoff * 2)
                continue
            except Exception:  # stay alive whatever happens: the spool is never dropped
                log.exception("prediction log: unexpected error while shipping")
                self._idle(1.0)
                continue
            if self.outage:
                log.warning("prediction log: the store is reachable again; replaying the spool")
                self.outage = False
                self._report()
            backoff = 0.1
            self.passes += 1
            if shipped or self.passes == 1:
                self._report()
            if shipped < self.shipper.batch_size:
                self._idle(self.flush_seconds)

    def _idle(self, seconds: float) -> None:
        """Sleep, waking early for a stop request or the parent's death."""
        deadline = time.monotonic() + seconds
        while not self.stop.is_set() and not self._parent_gone():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.stop.wait(min(left, 0.5))

    def drain(self, timeout: float) -> bool:
        """Deliver what is pending within ``timeout`` seconds; whether all of it was."""
        delivered = self.shipper.drain(timeout)
        self.outage = not delivered and self.shipper.stats.last_error is not None
        self._report()
        self.shipper.dispose()
        return delivered


@contextlib.contextmanager
def _exclusive(spool_dir: Path):  # type: ignore[no-untyped-def]
    spool_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(spool_dir / LOCK_FILENAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        yield False
        return
    try:
        yield True
    finally:
        os.close(fd)


def main(argv: Sequence[str] | None = None, stop: threading.Event | None = None) -> int:
    """Run the shipper; ``stop`` is an event already wired to SIGTERM (see run_shipper)."""
    parser = argparse.ArgumentParser(prog="python -m decayguard.serving.run_shipper")
    parser.add_argument("--spool", type=Path, required=True, help="the spool folder")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--flush-seconds", type=float, default=0.5)
    parser.add_argument("--drain-seconds", type=float, default=5.0)
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when it is gone")
    parser.add_argument("--once", action="store_true", help="deliver what is there and exit")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s [decayguard.shipper] %(levelname)s - %(message)s"
    )
    store_url = os.environ.get(STORE_URL_ENV)
    if not store_url:
        print(f"error: set {STORE_URL_ENV} to the store URL", file=sys.stderr)
        return 2
    with _exclusive(args.spool) as mine:
        if not mine:
            log.info("another shipper already ships %s", args.spool)
            return 0
        loop = ShipperLoop(
            args.spool,
            store_url,
            batch_size=args.batch_size,
            flush_seconds=args.flush_seconds,
            parent_pid=args.parent_pid,
            stop=stop,
        )
        if args.once:
            return 0 if loop.drain(args.drain_seconds) else 1
        if stop is None:
            signal.signal(signal.SIGTERM, lambda *_: loop.stop.set())
            signal.signal(signal.SIGINT, lambda *_: loop.stop.set())
        loop.run()
        if not loop.outage:  # with the store down, what is left waits in the spool
            loop.drain(args.drain_seconds)
        return 0
