"""The review page end to end: headless Chromium (Playwright) against a real server."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.engine import Engine

from decayguard.api import create_app
from decayguard.store import (
    PredictionRecord,
    create_store_engine,
    insert_predictions,
    reviewed_sample,
    upgrade,
)

from .api_support import MODEL, TOKEN, applicant_predictions, project_config, serve

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not os.access(CHROMIUM, os.X_OK),
    reason=f"{CHROMIUM} is missing: apt-get install -y chromium",
)


@pytest.fixture
def review_site(tmp_path: Path) -> Iterator[tuple[str, Engine, list[PredictionRecord]]]:
    url = f"sqlite:///{tmp_path}/store.db"
    engine = create_store_engine(url)
    upgrade(engine)
    records = applicant_predictions(20)
    insert_predictions(engine, records)
    with serve(create_app(project_config(url), engine=engine)) as base:
        yield base, engine, [r for r in records if r.review_sampled]
    engine.dispose()


def _sign_in(page: Page, base: str, token: str) -> None:
    page.goto(f"{base}/review")
    page.fill("#reviewer", "ann")
    page.fill("#token", token)
    page.click("#save-settings")


def test_a_reviewer_labels_three_predictions_from_the_keyboard(
    page: Page, review_site: tuple[str, Engine, list[PredictionRecord]]
) -> None:
    base, engine, sampled = review_site
    _sign_in(page, base, TOKEN)
    expect(page.locator("#progress-text")).to_have_text(
        "0 of 10 reviewed (0 labeled, 0 skipped), 10 left"
    )
    first = sampled[0]
    expect(page.locator("#prediction-id")).to_have_text(first.id)
    expect(page.locator("#model-answer")).to_have_text(str(first.prediction))
    expect(page.locator("#inputs")).to_contain_text(str(first.inputs["employment"]))
    expect(page.locator("#inputs")).to_contain_text("debt_ratio")

    verdicts = ["1", "0", "1"]
    for record, key in zip(sampled[:3], verdicts, strict=True):
        expect(page.locator("#prediction-id")).to_have_text(record.id)
        page.keyboard.press(key)
    expect(page.locator("#prediction-id")).to_have_text(sampled[3].id)
    page.keyboard.press("s")
    expect(page.locator("#prediction-id")).to_have_text(sampled[4].id)
    expect(page.locator("#progress-text")).to_have_text(
        "4 of 10 reviewed (3 labeled, 1 skipped), 6 left"
    )

    stored = reviewed_sample(engine, MODEL).set_index("prediction_id")
    assert stored.loc[[r.id for r in sampled[:3]], "value"].tolist() == verdicts
    assert set(stored.loc[[r.id for r in sampled[:3]], "reviewer"]) == {"ann"}
    assert stored.loc[sampled[3].id, "status"] == "skipped"
    assert len(stored) == 4


def test_a_wrong_token_records_nothing_and_says_why(
    page: Page, review_site: tuple[str, Engine, list[PredictionRecord]]
) -> None:
    base, engine, sampled = review_site
    _sign_in(page, base, "not-the-token")
    expect(page.locator("#prediction-id")).to_have_text(sampled[0].id)
    page.keyboard.press("1")
    expect(page.locator("#status")).to_have_text(re.compile("invalid bearer token"))
    expect(page.locator("#prediction-id")).to_have_text(sampled[0].id)
    assert reviewed_sample(engine, MODEL).empty


def test_the_queue_ends_with_an_empty_state(
    page: Page, review_site: tuple[str, Engine, list[PredictionRecord]]
) -> None:
    base, _, sampled = review_site
    _sign_in(page, base, TOKEN)
    for record in sampled:
        expect(page.locator("#prediction-id")).to_have_text(record.id)
        page.keyboard.press("s")
    expect(page.locator("#empty")).to_be_visible()
    expect(page.locator("#progress-text")).to_have_text(
        "10 of 10 reviewed (0 labeled, 10 skipped), 0 left"
    )


def test_two_reviewers_at_once_are_shown_different_predictions(
    browser: Browser, review_site: tuple[str, Engine, list[PredictionRecord]]
) -> None:
    base, engine, sampled = review_site
    contexts = [browser.new_context(), browser.new_context()]  # two people, two browsers
    try:
        ann, bob = (context.new_page() for context in contexts)
        _sign_in(ann, base, TOKEN)
        expect(ann.locator("#prediction-id")).to_have_text(sampled[0].id)
        bob.goto(f"{base}/review")
        bob.fill("#reviewer", "bob")
        bob.fill("#token", TOKEN)
        bob.click("#save-settings")
        expect(bob.locator("#prediction-id")).to_have_text(sampled[1].id)
        bob.keyboard.press("0")  # bob moves on to the next one nobody holds...
        expect(bob.locator("#prediction-id")).to_have_text(sampled[2].id)
        ann.keyboard.press("1")  # ...and so does ann
        expect(ann.locator("#prediction-id")).to_have_text(sampled[3].id)
    finally:
        for context in contexts:
            context.close()
    stored = reviewed_sample(engine, MODEL).set_index("prediction_id")
    assert stored.loc[sampled[0].id, ["reviewer", "value"]].tolist() == ["ann", "1"]
    assert stored.loc[sampled[1].id, ["reviewer", "value"]].tolist() == ["bob", "0"]
