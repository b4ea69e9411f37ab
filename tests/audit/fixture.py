"""A hand-computed audit fixture: a small registry and transitions whose every rate is worked out by hand.

Window: ``W0`` = 2026-10-01 00:00 UTC for four days (``D`` = one day). Cameras (rtsp unless said):

- ``c1`` (area A1, public, street S1): down from W0-1D (crosses the left edge), up W0+0.5D, down W0+2D,
  up W0+3.5D, down W0+4D+1h (after the right edge: ignored) → up 2D of 4D known; up at the end.
- ``c2`` (A1): up since W0-10D; frame ok since W0-10D, fault ``blur`` at W0+3D → up 4D of 4D; unhealthy.
- ``c3`` (A1): up since W0-5D, down W0+1D, put out of service W0+2D (``service`` transition; registry
  ``in_service=false``) → in service 2D, up 1D of 2D; left out of the "now" rates.
- ``c4`` (A2, public, district D1): down (refused) from W0+0.25D, never up → 0 of 3.75D; never reached.
- ``c5`` (B1, sector, district D2): up from W0+1D, frame ok → 3D of 3D (unknown before); healthy.
- ``c6`` (A3, public, D2, requires 3): no transition at all → never probed, never reached.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy.engine import Engine

from sharpeyes.audit.model import Window
from sharpeyes.registry.db import make_engine, upgrade
from sharpeyes.registry.fields import Where
from sharpeyes.registry.history import Transition, record_transitions
from sharpeyes.registry.inventory import Area, Camera, District, DistrictLevel, Inventory, Scope
from sharpeyes.registry.io import Parsed
from sharpeyes.registry.store import import_inventory

D = 86400.0
H = 3600.0
W0 = dt.datetime(2026, 10, 1, tzinfo=dt.UTC).timestamp()
WINDOW = Window(W0, W0 + 4 * D)
GENERATED = W0 + 4 * D + 60.0
REGISTERED = dt.datetime.fromtimestamp(W0 - 20 * D, dt.UTC)
"""When the fixture's registry is imported: the import records each camera added in service then."""

CITY = District("C", "示例市", DistrictLevel.CITY)
D1 = District("D1", "东区", DistrictLevel.DISTRICT, "C")
D2 = District("D2", "西区", DistrictLevel.DISTRICT, "C")
S1 = District("S1", "和平路街道", DistrictLevel.STREET, "D1")
EMPTY = District("S9", "空街道", DistrictLevel.STREET, "D2")


def _cam(cid: str, area: str, in_service: bool = True) -> Camera:
    return Camera(cid, f"摄像机{cid}", area, "127.0.0.1", rtsp_url="rtsp://127.0.0.1/x", in_service=in_service)


INVENTORY = Inventory(
    districts=(CITY, D1, D2, S1, EMPTY),
    areas=(
        Area("A1", "人民广场", "S1", Scope.PUBLIC, "square", required_cameras=2),
        Area("A2", "火车站", "D1", Scope.PUBLIC, "station", required_cameras=1),
        Area("A3", "长途汽车站", "D2", Scope.PUBLIC, "station", required_cameras=3),
        Area("B1", "工商银行", "D2", Scope.SECTOR, "bank", required_cameras=1, sector="finance"),
    ),
    cameras=(
        _cam("c1", "A1"),
        _cam("c2", "A1"),
        _cam("c3", "A1", in_service=False),
        _cam("c4", "A2"),
        _cam("c5", "B1"),
        _cam("c6", "A3"),
    ),
)


def _t(cid: str, module: str, frm: str, to: str, reason: str, at: float) -> Transition:
    return Transition(cid, module, frm, to, reason, dt.datetime.fromtimestamp(at, dt.UTC))


TRANSITIONS = (
    _t("c1", "rtsp", "unknown", "down", "timeout", W0 - D),
    _t("c1", "rtsp", "down", "up", "ok", W0 + 0.5 * D),
    _t("c1", "rtsp", "up", "down", "timeout", W0 + 2 * D),
    _t("c1", "rtsp", "down", "up", "ok", W0 + 3.5 * D),
    _t("c1", "rtsp", "up", "down", "refused", W0 + 4 * D + H),
    _t("c2", "rtsp", "unknown", "up", "ok", W0 - 10 * D),
    _t("c2", "frame", "unknown", "up", "ok", W0 - 10 * D),
    _t("c2", "frame", "up", "fault", "blur", W0 + 3 * D),
    _t("c3", "rtsp", "unknown", "up", "ok", W0 - 5 * D),
    _t("c3", "rtsp", "up", "down", "timeout", W0 + 1 * D),
    _t("c3", "service", "in_service", "out_of_service", "registry", W0 + 2 * D),
    _t("c4", "rtsp", "unknown", "down", "refused", W0 + 0.25 * D),
    _t("c5", "rtsp", "unknown", "up", "ok", W0 + 1 * D),
    _t("c5", "frame", "unknown", "up", "ok", W0 + 1 * D),
)


def parsed(inventory: Inventory) -> Parsed:
    where = Where("fixture", 1)
    p = Parsed(
        districts=[(d, where) for d in inventory.districts],
        areas=[(a, where) for a in inventory.areas],
        cameras=[(c, where) for c in inventory.cameras],
    )
    p.kinds.update({"districts", "areas", "cameras"})
    return p


def fill(engine: Engine) -> None:
    """Migrate the database and write the fixture's registry and transitions into it."""
    upgrade(engine)
    import_inventory(engine, parsed(INVENTORY), now=REGISTERED)
    with engine.begin() as conn:
        record_transitions(conn, TRANSITIONS)


def make_db(folder: Path) -> tuple[str, Engine]:
    """A migrated SQLite database holding the fixture; returns its URL and an engine."""
    url = f"sqlite:///{folder / 'audit.db'}"
    engine = make_engine(url)
    fill(engine)
    return url, engine
