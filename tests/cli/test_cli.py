"""The decayguard command: init, version, store upgrade, and clear errors for bad config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from decayguard import __version__, load_config

CLI = [sys.executable, "-m", "decayguard"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [*CLI, *args], cwd=cwd, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL
    )


def test_version(tmp_path: Path) -> None:
    out = run("version", cwd=tmp_path)
    assert out.returncode == 0
    assert __version__ in out.stdout


def test_init_writes_a_valid_commented_project_and_store_upgrade_migrates(tmp_path: Path) -> None:
    out = run("init", "proj", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    config_file = tmp_path / "proj" / "decayguard.yaml"
    assert "# decayguard project configuration" in config_file.read_text()
    cfg = load_config(tmp_path / "proj")
    assert cfg.model.name == "credit-default"
    up = run("store", "upgrade", cwd=tmp_path / "proj")
    assert up.returncode == 0, up.stderr
    assert (tmp_path / "proj" / ".decayguard" / "store.db").exists()
    status = run("store", "status", cwd=tmp_path / "proj")
    assert "up to date" in status.stdout


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    assert run("init", "p", cwd=tmp_path).returncode == 0
    again = run("init", "p", cwd=tmp_path)
    assert again.returncode == 2
    assert "already exists" in again.stderr
    assert "Traceback" not in again.stderr


def test_bad_config_names_the_key_and_the_file(tmp_path: Path) -> None:
    (tmp_path / "decayguard.yaml").write_text(
        yaml.safe_dump({"serving": {"http_port": "eighty"}, "monitoring": {"drift_alpha": 2}})
    )
    out = run("store", "upgrade", cwd=tmp_path)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert f"{tmp_path / 'decayguard.yaml'}: serving.http_port" in out.stderr
    assert "monitoring.drift_alpha" in out.stderr


def test_unknown_key_and_broken_yaml(tmp_path: Path) -> None:
    (tmp_path / "decayguard.yaml").write_text("servng:\n  http_port: 1\n")
    out = run("store", "status", cwd=tmp_path)
    assert "servng: unknown key" in out.stderr
    (tmp_path / "decayguard.yaml").write_text("serving: [unclosed\n")
    out = run("store", "status", cwd=tmp_path)
    assert out.returncode == 2
    assert "not valid YAML" in out.stderr


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: object) -> None:
    (tmp_path / "decayguard.yaml").write_text("serving:\n  http_port: 9001\n")
    os.environ["DECAYGUARD_SERVING__HTTP_PORT"] = "9002"
    try:
        assert load_config(tmp_path).serving.http_port == 9002
    finally:
        del os.environ["DECAYGUARD_SERVING__HTTP_PORT"]
    assert load_config(tmp_path).serving.http_port == 9001
