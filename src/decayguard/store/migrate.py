"""Alembic migrations of the store, run programmatically (``decayguard store upgrade``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from decayguard.errors import StoreError

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config(sa.create_engine("sqlite://")))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Bring the store's schema to ``revision``; returns the revision reached."""
    try:
        command.upgrade(alembic_config(engine), revision)
    except sa.exc.OperationalError as exc:
        raise StoreError(f"cannot migrate the store at {engine.url!r}: {exc.orig}") from exc
    rev = current_revision(engine)
    assert rev is not None
    return rev


@contextmanager
def migrated_engine(url: str) -> Iterator[Engine]:
    """An engine on the store at ``url``, migrated to the head revision, disposed on exit."""
    from decayguard.store.engine import create_store_engine

    engine = create_store_engine(url)
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()


def ensure_schema(engine: Engine) -> None:
    """Raise :class:`StoreError` unless the store is at the latest schema."""
    rev = current_revision(engine)
    if rev != head_revision():
        raise StoreError(
            f"the store at {engine.url!r} is at schema {rev or 'none'}, expected "
            f"{head_revision()}: run `decayguard store upgrade`"
        )
