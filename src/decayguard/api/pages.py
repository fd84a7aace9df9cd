"""Server-rendered web pages: the review page and its static assets (no CDN, no build).

The page is a plain HTML shell; a little vanilla JavaScript calls the JSON API with the
reviewer's bearer token (kept in the browser's session storage, never in the page). A
classifier's reviewer picks a class (buttons and keys); a regressor's types a number.
"""

from __future__ import annotations

import html
import json
from functools import cache
from importlib import resources
from string import Template

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from decayguard.api.deps import ConfigDep, RulesDep

router = APIRouter(tags=["pages"], include_in_schema=False)

_ASSETS = {
    "review.js": "text/javascript; charset=utf-8",
    "review.css": "text/css; charset=utf-8",
}
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_RESERVED_KEYS = {"s"}


@cache
def _asset(name: str) -> str:
    return (resources.files("decayguard.api") / "static" / name).read_text(encoding="utf-8")


def keyboard_shortcuts(values: list[str]) -> list[tuple[str, str]]:
    """Keys for label values: single-character values are typed as themselves (``0``,
    ``1``, ``A``); otherwise the digits ``1``-``9`` pick the first nine by position
    (every value still gets a button). ``s`` is kept for skipping.

        >>> keyboard_shortcuts(["0", "1"])
        [('0', '0'), ('1', '1')]
        >>> keyboard_shortcuts(["cat", "dog"])
        [('1', 'cat'), ('2', 'dog')]
        >>> keyboard_shortcuts([])  # a regressor: the answer is typed
        []
    """
    if all(len(v) == 1 and v.lower() not in _RESERVED_KEYS for v in values) and len(
        set(values)
    ) == len(values):
        return [(v, v) for v in values]
    return [(str(i + 1), v) for i, v in enumerate(values[:9])]


@router.get("/", response_class=RedirectResponse)
def index() -> RedirectResponse:
    return RedirectResponse("/review", status_code=status.HTTP_307_TEMPORARY_REDIRECT)


@router.get("/review", response_class=HTMLResponse)
def review_page(config: ConfigDep, rules: RulesDep) -> HTMLResponse:
    """The review page of the project's model, asking for the answer its task takes: a
    class (buttons and keys) or a number (a field; Enter records it). The queue repeats
    how to answer with every item; when that changes (a new champion with other classes)
    the page reloads itself."""
    values = list(rules.values)
    page = Template(_asset("review.html")).substitute(
        model_name=html.escape(config.model.name),
        answer=html.escape(rules.answer, quote=True),
        label_values_json=html.escape(json.dumps(values), quote=True),
        shortcuts_json=html.escape(json.dumps(keyboard_shortcuts(values)), quote=True),
    )
    return HTMLResponse(page, headers=_SECURITY_HEADERS)


@router.get("/static/{name}")
def static_asset(name: str) -> Response:
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no asset {name!r}")
    return Response(_asset(name), media_type=media_type, headers=_SECURITY_HEADERS)
