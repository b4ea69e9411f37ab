"""Alembic migrations of the sharpeyes schema, run programmatically by :func:`sharpeyes.registry.db.upgrade`."""
