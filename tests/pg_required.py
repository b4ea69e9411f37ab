"""PostgreSQL tests skip where no PostgreSQL answers, except under CI=true, where they must run (fail, not skip)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from typing import NoReturn

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError


def postgres_missing(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true requires PostgreSQL: {reason}")
    pytest.skip(reason)


PG_URL = os.environ.get("SHARPEYES_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def private_schema(prefix: str) -> Iterator[Engine]:
    """An engine whose search_path is a fresh schema, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        postgres_missing(f"PostgreSQL not reachable at SHARPEYES_TEST_POSTGRES_URL: {type(exc).__name__}")
    engine = create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"}, pool_pre_ping=True)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
