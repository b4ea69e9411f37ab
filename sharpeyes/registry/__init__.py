"""The camera registry: districts, areas and cameras (models, import/export, queries).

- :mod:`.inventory` — the frozen snapshot every consumer works on (District, Area, Camera, Inventory).
- :mod:`.io` — CSV/YAML files: :func:`~.io.read_inventory` (parse + validate, no database), export.
- :mod:`.db` — engines (SQLite pragmas and ``BEGIN IMMEDIATE``; PostgreSQL), sessions, ``upgrade(url)``.
- :mod:`.store` — :func:`~.store.load_inventory` and the one-transaction :func:`~.store.import_inventory`.
- :mod:`.models` — the schema, including the daemon's ``transitions``, ``daily_rollups``, ``frame_signatures``.
- :mod:`.history` — idempotent writes to those history tables.
- :mod:`.daysummary` — the transitions packed per camera, module and UTC day (``transition_days``), for the audit.
- :mod:`.credentials` — a camera's password reference → :class:`~sharpeyes.redact.Secret`.
"""
