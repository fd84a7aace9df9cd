"""The prediction log's durability: spool, shipper, replay, outages, crashes, bad rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from decayguard.errors import ServiceError
from decayguard.serving.logger import PredictionLogger
from decayguard.serving.shipper import SpoolShipper, read_status, store_engine
from decayguard.serving.spool import (
    REJECTED_FILENAME,
    SpoolReader,
    SpoolWriter,
    list_segments,
    segment_name,
)
from decayguard.store import count_predictions, create_store_engine, upgrade
from decayguard.store.predictions import PredictionRecord

from .helpers import stored_rows, wait_for


def record(i: int, model: str = "m", version: str = "1") -> PredictionRecord:
    return PredictionRecord(
        id=f"p-{i}",
        ts=datetime(2026, 1, 1, tzinfo=UTC),
        model_name=model,
        model_version=version,
        arm="champion",
        inputs={"x": float(i), "c": "a"},
        outputs={"proba_1": 0.5},
        prediction="1",
        score=0.5,
        inclusion_prob=0.1,
    )


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/store.db"
    upgrade(create_store_engine(url))
    return url


def test_every_logged_row_is_stored_exactly_once(tmp_path: Path, sqlite_url: str) -> None:
    logger = PredictionLogger(tmp_path / "spool", sqlite_url, batch_size=64, flush_seconds=0.05)
    for start in range(0, 1000, 100):
        logger.log([record(i) for i in range(start, start + 100)])
    assert logger.close(timeout=10)
    assert count_predictions(create_store_engine(sqlite_url), "m") == 1000
    assert SpoolReader(tmp_path / "spool").pending_bytes() == 0
    # Replaying everything again (say the committed offset was lost) stores nothing twice.
    (tmp_path / "spool" / "committed.json").unlink()
    shipper = SpoolShipper(tmp_path / "spool", lambda: store_engine(sqlite_url), 500)
    assert shipper.drain(10)
    assert shipper.stats.shipped == 0
    assert count_predictions(create_store_engine(sqlite_url), "m") == 1000


def test_rows_wait_in_the_spool_while_the_store_refuses_them(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/late.db"  # no tables yet: every insert fails
    logger = PredictionLogger(tmp_path / "spool", url, flush_seconds=0.05)
    try:
        logger.log([record(i) for i in range(50)])
        assert wait_for(lambda: not logger.store_reachable, 10)
        assert logger.pending_bytes() > 0
        upgrade(create_store_engine(url))  # the store is back
        assert wait_for(lambda: logger.pending_bytes() == 0, 15)
        assert logger.store_reachable
    finally:
        logger.close()
    assert len(stored_rows(url, [f"p-{i}" for i in range(50)])) == 50


def _logging_process(spool: Path, url: str, rows: int) -> subprocess.Popen[bytes]:
    """A process that logs ``rows`` rows (with a shipper that would wait 10 minutes before
    its first delivery), prints ``logged`` and waits to be killed."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from datetime import UTC, datetime
        from pathlib import Path
        from decayguard.serving.logger import PredictionLogger
        from decayguard.store.predictions import PredictionRecord
        from decayguard.serving.shipper import read_status
        logger = PredictionLogger(Path({str(spool)!r}), {url!r}, flush_seconds=600)
        def started():
            status = read_status(Path({str(spool)!r})) or {{}}
            return status.get("pid") == logger.shipper_pid and status.get("passes", 0) >= 1
        while not started():
            time.sleep(0.05)  # until the shipper has looked once and found nothing to ship
        for i in range({rows}):
            logger.log([PredictionRecord(id=f"p-{{i}}", ts=datetime.now(UTC), model_name="m",
                                         model_version="1", arm="champion", inputs={{"x": i}})])
        print("logged", flush=True)
        time.sleep(600)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, start_new_session=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"logged"
    return proc


def test_rows_of_a_killed_machine_are_replayed_by_the_next_process(
    tmp_path: Path, sqlite_url: str
) -> None:
    spool = tmp_path / "spool"
    proc = _logging_process(spool, sqlite_url, 300)
    status = read_status(spool)
    assert status is not None
    os.kill(proc.pid, signal.SIGKILL)  # the server and its shipper die together
    os.kill(int(status["pid"]), signal.SIGKILL)  # type: ignore[call-overload]
    proc.wait()
    assert count_predictions(create_store_engine(sqlite_url)) == 0  # nothing shipped in time
    logger = PredictionLogger(spool, sqlite_url, flush_seconds=0.05)
    assert wait_for(lambda: logger.pending_bytes() == 0, 20)
    assert logger.close(timeout=10)
    assert count_predictions(create_store_engine(sqlite_url), "m") == 300


def test_the_shipper_delivers_and_exits_when_its_server_is_killed(
    tmp_path: Path, sqlite_url: str
) -> None:
    spool = tmp_path / "spool"
    proc = _logging_process(spool, sqlite_url, 200)
    status = read_status(spool)
    assert status is not None
    shipper_pid = int(status["pid"])  # type: ignore[call-overload]
    os.kill(proc.pid, signal.SIGKILL)  # only the server
    proc.wait()
    assert wait_for(lambda: count_predictions(create_store_engine(sqlite_url), "m") == 200, 20)
    assert wait_for(lambda: not Path(f"/proc/{shipper_pid}").exists(), 10)


def test_segments_rotate_and_delivered_ones_are_deleted(tmp_path: Path, sqlite_url: str) -> None:
    spool = tmp_path / "spool"
    writer = SpoolWriter(spool, segment_bytes=2000)
    for i in range(40):
        writer.append((record(i).to_json() + "\n").encode())
    assert len(list_segments(spool)) > 3
    shipper = SpoolShipper(spool, lambda: store_engine(sqlite_url), batch_size=7)
    assert shipper.drain(10)
    assert shipper.stats.shipped == 40
    assert list_segments(spool) == [writer.segment]
    writer.close()


def test_malformed_lines_are_kept_aside_and_a_torn_tail_is_skipped(
    tmp_path: Path, sqlite_url: str
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    good = [(record(i).to_json() + "\n").encode() for i in range(3)]
    (spool / segment_name(1)).write_bytes(good[0] + b"{not json}\n" + good[1] + b'{"id": "p-')
    (spool / segment_name(2)).write_bytes(good[2])
    shipper = SpoolShipper(spool, lambda: store_engine(sqlite_url), batch_size=100)
    assert shipper.drain(10)
    assert set(stored_rows(sqlite_url, ["p-0", "p-1", "p-2"])) == {"p-0", "p-1", "p-2"}
    assert (spool / REJECTED_FILENAME).read_bytes() == b"{not json}\n"
    assert shipper.stats.rejected == 1


def test_a_row_the_store_refuses_is_set_aside_and_the_batch_delivered(
    tmp_path: Path, serving_pg_url: str
) -> None:
    spool = tmp_path / "spool"
    writer = SpoolWriter(spool)
    rows = [record(1000 + i, model="poison") for i in range(5)]
    rows[2] = record(1002, model="poison", version="v" * 150)  # too long for the column
    writer.append(b"".join((r.to_json() + "\n").encode() for r in rows))
    shipper = SpoolShipper(spool, lambda: store_engine(serving_pg_url), batch_size=100)
    assert shipper.drain(10)
    assert set(stored_rows(serving_pg_url, [r.id for r in rows])) == {
        "p-1000",
        "p-1001",
        "p-1003",
        "p-1004",
    }
    rejected = (spool / REJECTED_FILENAME).read_text().splitlines()
    assert [PredictionRecord.from_json(line).id for line in rejected] == ["p-1002"]
    writer.close()


def test_two_writers_cannot_share_a_spool(tmp_path: Path) -> None:
    first = SpoolWriter(tmp_path / "spool")
    with pytest.raises(ServiceError, match="in use by another process"):
        SpoolWriter(tmp_path / "spool")
    first.close()
    SpoolWriter(tmp_path / "spool").close()  # free again once closed


def test_append_is_one_write_of_whole_lines(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path / "spool")
    writer.append(b"a\nb\n")
    path = tmp_path / "spool" / segment_name(writer.segment)
    assert path.read_bytes() == b"a\nb\n"
    assert os.stat(path).st_size == 4
    writer.close()
