"""Alembic environment: runs on the connection handed over by :func:`sharpeyes.registry.db.upgrade`."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from sharpeyes.registry.models import Base

config = context.config
connection = config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through sharpeyes.registry.db.upgrade(url)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
