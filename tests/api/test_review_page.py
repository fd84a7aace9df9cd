"""The review page end to end: headless Chromium (Playwright) against a real server."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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

from .api_support import (
    GRADES,
    MODEL,
    TASK_MODELS,
    TOKEN,
    applicant_predictions,
    deploy_champion,
    project_config,
    serve,
    task_predictions,
)

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


@pytest.fixture
def task_site(
    tmp_path: Path,
) -> Iterator[Callable[..., tuple[str, Engine, list[PredictionRecord]]]]:
    """``task_site(task, **feedback)``: the review page of the loan model as a ``task`` model."""
    stack: list[Any] = []

    def start(task: str, **feedback: Any) -> tuple[str, Engine, list[PredictionRecord]]:
        url = f"sqlite:///{tmp_path}/{task}.db"
        engine = create_store_engine(url)
        upgrade(engine)
        records = task_predictions(task, 20)
        insert_predictions(engine, records)
        config = project_config(url, model=TASK_MODELS[task], feedback=feedback)
        context = serve(create_app(config, engine=engine))
        stack.append((context, engine))
        return context.__enter__(), engine, [r for r in records if r.review_sampled]

    yield start
    for context, engine in reversed(stack):
        context.__exit__(None, None, None)
        engine.dispose()


def _screenshot(page: Page, tmp_path: Path, name: str) -> None:
    path = tmp_path / f"review-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000


def test_a_reviewer_types_loss_amounts_for_a_regressor(
    page: Page,
    task_site: Callable[..., tuple[str, Engine, list[PredictionRecord]]],
    tmp_path: Path,
) -> None:
    base, engine, sampled = task_site("regression")
    _sign_in(page, base, TOKEN)
    field = page.locator("#value-input")
    expect(page.locator("#prediction-id")).to_have_text(sampled[0].id)
    expect(page.locator("#model-answer")).to_have_text(str(sampled[0].prediction))
    expect(field).to_be_visible()
    expect(field).to_be_focused()  # type straight away
    expect(page.locator("#choices")).to_be_hidden()
    expect(page.locator("#value-hint")).to_be_visible()

    field.fill("lots")  # refused on the page: nothing is sent, the item stays
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text(re.compile("Not a number: .lots."))
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#prediction-id")).to_have_text(sampled[0].id)
    _screenshot(page, tmp_path, "regression-refused")
    field.fill("1e999")  # no finite number either
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_have_text(re.compile("Not a number"))
    assert reviewed_sample(engine, MODEL).empty

    field.fill("1250.50")
    page.keyboard.press("Enter")
    expect(page.locator("#prediction-id")).to_have_text(sampled[1].id)
    expect(page.locator("#status")).to_have_text(f"Labeled {sampled[0].id} as 1250.5.")
    expect(field).to_have_value("")
    expect(field).to_be_focused()
    page.keyboard.type("980")
    page.keyboard.press("Enter")
    expect(page.locator("#prediction-id")).to_have_text(sampled[2].id)
    page.keyboard.press("s")  # never part of a number: skips, even in the field
    expect(page.locator("#prediction-id")).to_have_text(sampled[3].id)
    expect(page.locator("#progress-text")).to_have_text(
        "3 of 10 reviewed (2 labeled, 1 skipped), 7 left"
    )
    _screenshot(page, tmp_path, "regression")
    stored = reviewed_sample(engine, MODEL).set_index("prediction_id")
    assert stored.loc[[sampled[0].id, sampled[1].id], "value"].tolist() == ["1250.5", "980.0"]
    assert stored.loc[sampled[2].id, "status"] == "skipped"


def test_a_reviewer_picks_risk_grades_for_a_multiclass_model(
    page: Page,
    task_site: Callable[..., tuple[str, Engine, list[PredictionRecord]]],
    tmp_path: Path,
) -> None:
    base, engine, sampled = task_site("multiclass", label_values=list(GRADES))
    _sign_in(page, base, TOKEN)
    expect(page.locator("#prediction-id")).to_have_text(sampled[0].id)
    buttons = page.locator("#choices button")
    expect(buttons).to_have_text(["A", "B", "C", "D"])
    expect(page.locator("#value-form")).to_be_hidden()
    _screenshot(page, tmp_path, "multiclass")

    page.keyboard.press("Shift+C")  # the class's own key...
    expect(page.locator("#prediction-id")).to_have_text(sampled[1].id)
    page.keyboard.press("a")  # ...in either case
    expect(page.locator("#prediction-id")).to_have_text(sampled[2].id)
    page.get_by_role("button", name="D", exact=True).click()
    expect(page.locator("#prediction-id")).to_have_text(sampled[3].id)
    page.keyboard.press("7")  # not a key of this page: nothing happens
    expect(page.locator("#prediction-id")).to_have_text(sampled[3].id)
    stored = reviewed_sample(engine, MODEL).set_index("prediction_id")
    assert stored.loc[[r.id for r in sampled[:3]], "value"].tolist() == ["C", "A", "D"]
    assert len(stored) == 3


def test_classes_with_long_names_are_picked_by_position(
    page: Page,
    task_site: Callable[..., tuple[str, Engine, list[PredictionRecord]]],
) -> None:
    names = ["prime", "near-prime", "subprime", "deep-subprime"]
    base, engine, sampled = task_site("multiclass", label_values=names)
    _sign_in(page, base, TOKEN)
    expect(page.locator("#choices button")).to_have_text(
        ["prime (1)", "near-prime (2)", "subprime (3)", "deep-subprime (4)"]
    )
    page.keyboard.press("3")
    expect(page.locator("#prediction-id")).to_have_text(sampled[1].id)
    assert reviewed_sample(engine, MODEL)["value"].tolist() == ["subprime"]


def test_the_binary_page_looks_as_before(
    page: Page, review_site: tuple[str, Engine, list[PredictionRecord]], tmp_path: Path
) -> None:
    base, _, sampled = review_site
    _sign_in(page, base, TOKEN)
    expect(page.locator("#prediction-id")).to_have_text(sampled[0].id)
    expect(page.locator("#choices button")).to_have_text(["0", "1"])
    expect(page.locator("#value-form")).to_be_hidden()
    _screenshot(page, tmp_path, "binary")


def test_a_new_champion_with_other_classes_reloads_the_page(
    page: Page,
    task_site: Callable[..., tuple[str, Engine, list[PredictionRecord]]],
    tmp_path: Path,
) -> None:
    base, engine, sampled = task_site("multiclass")
    deploy_champion(engine, tmp_path / "v4", "multiclass", ["A", "B", "C"])
    _sign_in(page, base, TOKEN)
    expect(page.locator("#choices button")).to_have_text(["A", "B", "C"])
    deploy_champion(engine, tmp_path / "v5", "multiclass", list(GRADES), version="5")
    page.keyboard.press("b")  # recorded (B is a class of both), then the queue says A-D
    expect(page.locator("#choices button")).to_have_text(["A", "B", "C", "D"])
    expect(page.locator("#prediction-id")).to_have_text(sampled[1].id)
    page.keyboard.press("d")
    expect(page.locator("#prediction-id")).to_have_text(sampled[2].id)
    deploy_champion(engine, tmp_path / "v6", "multiclass", ["A", "B", "C"], version="6")
    page.keyboard.press("a")  # a rollback to the earlier classes reloads again
    expect(page.locator("#choices button")).to_have_text(["A", "B", "C"])
    expect(page.locator("#prediction-id")).to_have_text(sampled[3].id)
    assert reviewed_sample(engine, MODEL)["value"].tolist() == ["B", "D", "A"]
