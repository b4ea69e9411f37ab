"""Id keys fold Cyrillic and Greek look-alikes to Latin (finding C1-1): recompute ``id_key``/``code_key``.

Two records that the new key calls one id (``cam-1`` and ``сам-1``, written before this check) cannot both
take it: the first keeps the new key, the other keeps its old one, and a warning names both. Every later import
then reports the pair as a duplicate with its file and line (or ``(database)``) until one is renamed, or
removed with ``--prune``. Downgrade restores the old keys (NFKC, strip, casefold), which never collide.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from sharpeyes.registry.fields import id_key

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

log = logging.getLogger("sharpeyes.registry.migrations")

_TABLES = (("districts", "code", "code_key"), ("areas", "id", "id_key"), ("cameras", "id", "id_key"))


def _old_key(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().casefold()


def _rekey(table: str, ident: str, key: str, key_of: Callable[[str], str]) -> None:
    conn = op.get_bind()
    t = sa.table(table, sa.column(ident, sa.String), sa.column(key, sa.String))
    rows = sorted(conn.execute(sa.select(t.c[ident], t.c[key])).all())
    taken = {row[1]: row[0] for row in rows}
    for value, old in rows:
        new = key_of(value)
        if new == old:
            continue
        holder = taken.get(new)
        if holder is not None and holder != value:
            log.warning("%s: %r and %r are look-alikes (one id); %r keeps its old key until one is renamed",
                        table, holder, value, value)  # fmt: skip
            continue
        conn.execute(sa.update(t).where(t.c[ident] == value).values({key: new}))
        taken.pop(old, None)
        taken[new] = value


def upgrade() -> None:
    for table, ident, key in _TABLES:
        _rekey(table, ident, key, id_key)


def downgrade() -> None:
    for table, ident, key in _TABLES:
        _rekey(table, ident, key, _old_key)
