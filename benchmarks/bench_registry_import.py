"""Registry import at city scale: parse + validate, first import, idempotent re-import.

Baseline, measured in the same run: the straightforward ORM upsert (``session.merge`` per row, one SELECT
per row) that :func:`sharpeyes.registry.store.import_inventory` replaces with one SELECT per table.

Run: .venv/bin/python -m benchmarks.bench_registry_import [--cameras 20000] [--postgres]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import ModuleType

from sqlalchemy.engine import make_url

from sharpeyes.registry import store
from sharpeyes.registry.db import make_engine, upgrade, write_session
from sharpeyes.registry.io import parse_files, read_inventory
from sharpeyes.registry.models import CameraRow

REPO = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("SHARPEYES_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_demo", REPO / "scripts" / "gen_demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_demo"] = module
    spec.loader.exec_module(module)
    return module


def _timed(label: str, fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    elapsed = time.perf_counter() - start
    print(f"  {label:<42} {elapsed:8.3f} s")
    return elapsed


def _baseline_merge(url: str, files: list[Path]) -> None:
    """Per-row session.merge of every camera (districts and areas already present)."""
    inventory = read_inventory(files)
    engine = make_engine(url)
    with write_session(engine) as session:
        for camera in inventory.cameras:
            session.merge(CameraRow(**store._camera_values(camera)))
    engine.dispose()


def run(url: str, files: list[Path]) -> None:
    upgrade(url)
    engine = make_engine(url)
    parsed = parse_files(files)
    _timed("parse + validate (read_inventory)", lambda: read_inventory(files))
    _timed("first import (one transaction)", lambda: store.import_inventory(engine, parse_files(files)))
    ours = _timed("re-import, nothing changes (ours)", lambda: store.import_inventory(engine, parsed))
    base = _timed("re-import, per-row session.merge (baseline)", lambda: _baseline_merge(url, files))
    engine.dispose()
    print(f"  ratio baseline / ours (camera upsert)        {base / ours:8.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cameras", type=int, default=20_000)
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL (own schema, dropped)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, text in _generator().generate(total=args.cameras).items():
            (folder / name).write_text(text, encoding="utf-8")
        files = [folder / "districts.csv", folder / "areas.csv", folder / "cameras.csv"]
        print(f"sqlite, {args.cameras} cameras:")
        run(f"sqlite:///{folder / 'bench.db'}", files)
        if args.postgres:
            import psycopg

            schema = f"bench_{uuid.uuid4().hex[:8]}"
            admin = make_url(PG_URL).set(drivername="postgresql").render_as_string(hide_password=False)
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            try:
                print(f"postgresql, {args.cameras} cameras:")
                url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
                run(url.render_as_string(hide_password=False), files)
            finally:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
