"""Database fixtures: every registry test runs on SQLite and on a real PostgreSQL.

PostgreSQL comes from ``SHARPEYES_TEST_POSTGRES_URL`` (default: the CI machine's trust-auth server). Each
test creates its own schema and drops it afterwards. When PostgreSQL does not answer, those tests skip with
the reason, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import Engine, make_url

from sharpeyes.registry.db import make_engine

PG_URL = os.environ.get("SHARPEYES_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "config" / "demo"
DEMO_FILES = [DEMO / "districts.csv", DEMO / "areas.csv", DEMO / "cameras.csv"]


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@functools.cache
def postgres_unavailable() -> str | None:
    """Why PostgreSQL cannot be used here, or None when it answers."""
    try:
        with psycopg.connect(_libpq(PG_URL), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"PostgreSQL at {make_url(PG_URL).render_as_string(hide_password=True)} does not answer: {first}"
    return None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database: a fresh SQLite file, or a fresh schema in PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
        return
    reason = postgres_unavailable()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires PostgreSQL: {reason}")
        pytest.skip(reason)
    schema = f"sharpeyes_test_{uuid.uuid4().hex[:12]}"
    admin = _libpq(PG_URL)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield (
            make_url(PG_URL)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    try:
        yield eng
    finally:
        eng.dispose()
