"""The release section, and the serving keys it replaced: a clear error naming key and file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from decayguard.config import load_config
from decayguard.errors import ConfigError


def _project(tmp_path: Path, **sections: dict[str, object]) -> Path:
    body = {"project": {"name": "p"}, "model": {"name": "m"}, **sections}
    (tmp_path / "decayguard.yaml").write_text(yaml.safe_dump(body))
    return tmp_path


def test_defaults() -> None:
    from decayguard.config import ReleaseConfig

    r = ReleaseConfig()
    assert (r.shadow, r.canary_share, r.min_labels, r.auto_promote) == (True, 0.1, 200, True)


@pytest.mark.parametrize("key", ["mode", "canary_share"])
def test_the_old_serving_keys_point_to_the_release(tmp_path: Path, key: str) -> None:
    root = _project(tmp_path, serving={key: "shadow" if key == "mode" else 0.2})
    with pytest.raises(ConfigError) as caught:
        load_config(root)
    text = str(caught.value)
    assert "decayguard.yaml" in text
    assert f"serving.{key} is gone" in text
    assert "release." in text


def test_a_bad_release_value_names_its_key(tmp_path: Path) -> None:
    root = _project(tmp_path, release={"canary_share": 1.5})
    with pytest.raises(ConfigError, match=r"release\.canary_share"):
        load_config(root)
