"""`decayguard labels import` and `decayguard api` as real processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
import yaml

from decayguard.cli import main
from decayguard.store import (
    create_store_engine,
    current_labels,
    insert_predictions,
    label_history,
    upgrade,
)

from .api_support import MODEL, TASK_MODELS, TOKEN, applicant_predictions, task_predictions

CliRunner = Callable[..., tuple[int, str, str]]
DECAYGUARD = str(Path(sys.executable).with_name("decayguard"))
ENV = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}


def _write_project(folder: Path, model: dict[str, object] | None = None, **api: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "project": {"name": "loans", "store_url": "sqlite:///.decayguard/store.db"},
        "model": {
            "name": MODEL,
            "target": "default",
            "entity_key": "applicant_id",
            **(model or {}),
        },
        "api": {"token": TOKEN, **api},
    }
    (folder / "decayguard.yaml").write_text(yaml.safe_dump(config))
    return folder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = _write_project(tmp_path / "loans")
    engine = create_store_engine(f"sqlite:///{folder}/.decayguard/store.db")
    upgrade(engine)
    insert_predictions(engine, applicant_predictions(10))
    engine.dispose()
    return folder


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The console script in its own process."""
    return subprocess.run(
        [DECAYGUARD, *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """The same entry point (`decayguard.cli.main`, error boundary included) in-process:
    a new process costs seconds of imports on a busy machine."""

    def run(*args: str, cwd: Path) -> tuple[int, str, str]:
        monkeypatch.chdir(cwd)
        monkeypatch.setattr(sys, "argv", ["decayguard", *args])
        capsys.readouterr()
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_labels_import_csv_then_parquet_corrections(project: Path, cli: CliRunner) -> None:
    csv = project / "labels.csv"
    pd.DataFrame(
        {
            "prediction_id": ["req-0000", "req-0001", "ghost", None],
            "applicant_id": [None, None, None, 5004],
            "event_time": [None, None, None, "2026-11-20T00:00:00Z"],
            "default": ["1", "0", "1", "1"],
        }
    ).to_csv(csv, index=False)
    done = _run("labels", "import", "labels.csv", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "4 labels: 3 new, 0 corrected, 0 already known" in done.stdout
    assert "unknown prediction ids (1): ghost" in done.stderr

    code, out, _ = cli("labels", "import", str(csv), "--project", str(project), cwd=project.parent)
    assert code == 0
    assert "4 labels: 0 new, 0 corrected, 3 already known" in out

    parquet = project / "fixes.parquet"
    pd.DataFrame({"prediction_id": ["req-0000"], "default": [0]}).to_parquet(parquet)
    code, out, err = cli("labels", "import", "fixes.parquet", "--json", cwd=project)
    assert code == 0, err
    assert '"corrected": 1' in out

    engine = create_store_engine(f"sqlite:///{project}/.decayguard/store.db")
    labels = current_labels(engine, MODEL).set_index("label_key")
    assert labels.loc["p:req-0000", "value"] == "0"
    assert labels.loc["e:5004@2026-11-20T00:00:00+00:00", "prediction_id"] == "req-0004"
    assert label_history(engine, MODEL, "p:req-0000")["value"].tolist() == ["1", "0"]
    engine.dispose()

    code, _, _ = cli("labels", "import", "labels.csv", "--fail-on-unknown", cwd=project)
    assert code == 1


def test_labels_import_refuses_a_bad_file_with_one_line(project: Path, cli: CliRunner) -> None:
    bad = project / "bad.csv"
    bad.write_text("prediction_id,default\nreq-0000,1\nreq-0001,maybe\n")
    code, _, err = cli("labels", "import", "bad.csv", cwd=project)
    assert code == 2
    assert err.strip() == (
        "error: input 'bad.csv: line 3.default': 'maybe' is not one of the classes ['0', '1']"
    )
    engine = create_store_engine(f"sqlite:///{project}/.decayguard/store.db")
    assert current_labels(engine, MODEL).empty  # nothing of a refused file is stored
    engine.dispose()


def test_labels_import_of_a_regressor_names_the_line_column_and_value(
    tmp_path: Path, cli: CliRunner
) -> None:
    folder = _write_project(tmp_path / "losses", model=TASK_MODELS["regression"])
    engine = create_store_engine(f"sqlite:///{folder}/.decayguard/store.db")
    upgrade(engine)
    insert_predictions(engine, task_predictions("regression", 4))
    (folder / "losses.csv").write_text(
        "prediction_id,loss_amount\nreq-0000,1250.5\nreq-0001,n/a\nreq-0002,inf\n"
    )
    code, _, err = cli("labels", "import", "losses.csv", cwd=folder)
    assert code == 2
    assert err.strip() == (
        "error: input 'losses.csv: line 3.loss_amount': 'n/a' is not a number (and 1 more: "
        "input 'losses.csv: line 4.loss_amount': 'inf' is not a finite number)"
    )
    assert current_labels(engine, MODEL).empty
    (folder / "losses.csv").write_text("prediction_id,loss_amount\nreq-0000,1250.5\n")
    code, out, _ = cli("labels", "import", "losses.csv", cwd=folder)
    assert (code, "1 labels: 1 new" in out) == (0, True)
    assert current_labels(engine, MODEL)["value"].tolist() == ["1250.5"]
    engine.dispose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def api_process(project: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = _free_port()
    proc = subprocess.Popen(
        [DECAYGUARD, "api", "--port", str(port), "--log-level", "warning"],
        cwd=project,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        yield proc, port
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()


def test_decayguard_api_serves_the_project_on_loopback(
    api_process: tuple[subprocess.Popen[str], int],
) -> None:
    proc, port = api_process
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "decayguard api did not answer within 60 s"
        time.sleep(0.2)
    schema = httpx.get(f"{base}/openapi.json").json()
    assert schema["info"]["title"] == "decayguard control API"
    queue = httpx.get(f"{base}/api/v1/reviews/queue").json()
    assert queue["items"][0]["prediction_id"] == "req-0000"
    answer = httpx.post(
        f"{base}/api/v1/reviews",
        json={"prediction_id": "req-0000", "reviewer": "ann", "status": "labeled", "value": "1"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert answer.status_code == 201
    outside = _non_loopback_address()
    if outside is not None:  # bound to loopback only: the machine's own address is refused
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://{outside}:{port}/healthz", timeout=2)
    os.killpg(proc.pid, signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert proc.wait(timeout=15) in (0, -signal.SIGTERM)


def _non_loopback_address() -> str | None:
    """This machine's own address on its default interface (no packet leaves it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: connect() on UDP sends nothing
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def test_decayguard_api_refuses_an_unmigrated_store(tmp_path: Path, cli: CliRunner) -> None:
    folder = _write_project(tmp_path / "fresh")
    code, _, err = cli("api", "--port", str(_free_port()), cwd=folder)
    assert code == 2
    assert "decayguard store upgrade" in err


def test_decayguard_api_names_a_bad_config_key(tmp_path: Path, cli: CliRunner) -> None:
    folder = _write_project(tmp_path / "typo", protect_reeds=True)
    code, _, err = cli("api", cwd=folder)
    assert code == 2
    assert "api.protect_reeds: unknown key" in err
