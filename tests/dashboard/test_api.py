"""The dashboard's routes: the page shell, plotly.js served by the API itself, the data
endpoint's bounds (422 naming the parameter) and its read protection."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy.engine import Engine

from .conftest import ServeFactory, synthetic_config

AUTH = {"Authorization": "Bearer dashboard-token"}


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    from decayguard.store import create_store_engine, upgrade, write_metric_points

    from .worlds import synthetic_points

    url = f"sqlite:///{tmp_path_factory.mktemp('tiny') / 'store.db'}"
    engine: Engine = create_store_engine(url)
    upgrade(engine)
    write_metric_points(engine, synthetic_points(hours=48, features=3))
    engine.dispose()
    return url


def test_the_page_and_its_assets_come_from_the_api(tiny_store: str, served: ServeFactory) -> None:
    with served(synthetic_config(tiny_store)) as base, httpx.Client(base_url=base) as client:
        page = client.get("/dashboard")
        assert page.status_code == 200
        assert "default-src 'self'" in page.headers["content-security-policy"]
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert len(sources) == 4
        assert all(s.startswith("/dashboard/assets/") for s in sources), sources
        js = client.get("/dashboard/assets/plotly.min.js")
        assert js.status_code == 200
        assert js.headers["content-type"].startswith("text/javascript")
        assert "max-age=31536000" in js.headers["cache-control"]
        assert len(js.content) > 1_000_000
        assert b"plotly" in js.content[:2000].lower()
        for name in ("dashboard.js", "render.js", "dashboard.css"):
            assert client.get(f"/dashboard/assets/{name}").status_code == 200
        assert client.get("/dashboard/assets/../../etc/passwd").status_code == 404
        assert client.get("/dashboard/assets/nothing.js").status_code == 404


def test_the_data_endpoint_gives_every_chart(tiny_store: str, served: ServeFactory) -> None:
    with served(synthetic_config(tiny_store)) as base, httpx.Client(base_url=base) as client:
        body = client.get("/api/v1/dashboard/data").json()
        assert body["model"] == "synthetic-90d"
        assert body["since"].startswith("2026-07-01T01:00:00")
        assert [c["id"] for c in body["charts"]][-5:] == [
            "proxy",
            "drift",
            "incidents",
            "releases",
            "reviews",
        ]
        assert all(c["figure"]["data"] is not None for c in body["charts"])
        assert set(body["decisions"]) == {"transitions", "gate_reports", "incidents", "flagged"}
        assert client.get("/api/v1/dashboard/models").json() == ["synthetic-90d"]
        other = client.get("/api/v1/dashboard/data", params={"model": "other"}).json()
        assert other["model"] == "other"
        for chart in other["charts"]:
            notes = " ".join(a["text"] for a in chart["figure"]["layout"].get("annotations", []))
            assert "in this range" in notes, chart["id"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-07-02T00:00:00Z", "until": "2026-07-01T00:00:00Z"}, "until"),
        ({"since": "2025-01-01T00:00:00Z", "until": "2026-07-01T00:00:00Z"}, "since"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01"}, "until"),
        ({"limit": "0"}, "limit"),
        ({"limit": "100000"}, "limit"),
        ({"max_bins": "5"}, "max_bins"),
        ({"max_bins": "many"}, "max_bins"),
        ({"model": "a b"}, "model"),
        ({"model": "x" * 300}, "model"),
    ],
)
def test_bad_parameters_are_a_422_naming_them(
    tiny_store: str, served: ServeFactory, params: dict[str, str], field: str
) -> None:
    with served(synthetic_config(tiny_store)) as base, httpx.Client(base_url=base) as client:
        answer = client.get("/api/v1/dashboard/data", params=params)
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == field


def test_protected_reads_need_the_token_but_the_shell_does_not(
    tiny_store: str, served: ServeFactory
) -> None:
    cfg = synthetic_config(tiny_store, protect_reads=True)
    with served(cfg) as base, httpx.Client(base_url=base) as client:
        assert client.get("/dashboard").status_code == 200
        assert client.get("/dashboard/assets/plotly.min.js").status_code == 200
        for path in ("/api/v1/dashboard/data", "/api/v1/dashboard/models"):
            assert client.get(path).status_code == 401
            assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401
            assert client.get(path, headers=AUTH).status_code == 200
