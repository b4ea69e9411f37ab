"""The audit against a real PostgreSQL (127.0.0.1:5432, database ``test``, a private schema): same JSON as SQLite."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from sharpeyes.audit.build import AuditOptions, build_report
from sharpeyes.audit.render.json_out import report_document
from sharpeyes.audit.source import read_history
from sharpeyes.registry.store import load_inventory
from tests.audit.fixture import GENERATED, WINDOW, fill
from tests.pg_required import private_schema

pytestmark = pytest.mark.postgres
URL = os.environ.get("SHARPEYES_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
GOLDEN = Path(__file__).with_name("golden") / "fixture.json"


@pytest.fixture
def pg() -> Iterator[Engine]:
    with private_schema("audit") as engine:
        yield engine


def test_postgres_gives_the_golden_report(pg: Engine) -> None:
    fill(pg)
    report = build_report(load_inventory(pg), read_history(pg, WINDOW), WINDOW, AuditOptions(), generated_at=GENERATED)
    doc = report_document(report)
    doc["generated_at"] = "(generated)"
    assert doc == json.loads(GOLDEN.read_text(encoding="utf-8"))
