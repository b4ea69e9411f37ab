"""The audit window from ``--since 30d`` or ``--from DATE --to DATE`` (UTC)."""

from __future__ import annotations

import datetime as dt
import re

from sharpeyes.audit.model import Window
from sharpeyes.errors import UserError

_SINCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_DAYS = 400


def parse_since(text: str, now: float) -> Window:
    """``30d``, ``12h``, ``2w`` … before ``now``."""
    m = _SINCE.match(text)
    if not m or float(m.group(1)) <= 0:
        raise UserError(f"--since: {text!r} is not a duration (allowed: a number and s, m, h, d or w, e.g. 30d)")
    return _checked(Window(now - float(m.group(1)) * _UNIT_S[m.group(2)], now), "--since")


def parse_instant(text: str, option: str, *, end_of_day: bool) -> float:
    """A date (``2026-10-01``: midnight UTC; for ``--to`` the end of that day) or an ISO time (UTC if naive)."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
            day = dt.date.fromisoformat(text.strip()) + dt.timedelta(days=1 if end_of_day else 0)
            return dt.datetime.combine(day, dt.time(), dt.UTC).timestamp()
        at = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserError(
            f"{option}: {text!r} is not a date (allowed: YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+08:00])"
        ) from None
    return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).timestamp()


def parse_window(since: str | None, start: str | None, end: str | None, now: float) -> Window:
    """The window the options describe; ``--to`` later than now is cut to now. Default: the last 30 days."""
    if since and (start or end):
        raise UserError("--since cannot be combined with --from/--to (allowed: one or the other)")
    if start or end:
        if not (start and end):
            raise UserError("--from and --to go together (e.g. --from 2026-10-01 --to 2026-10-31)")
        w = Window(parse_instant(start, "--from", end_of_day=False), parse_instant(end, "--to", end_of_day=True))
        return _checked(Window(w.start, min(w.end, now)), "--from/--to")
    return parse_since(since or "30d", now)


def _checked(w: Window, option: str) -> Window:
    if w.end <= w.start:
        raise UserError(
            f"{option}: the window is empty or in the future (allowed: a start before its end, in the past)"
        )
    if w.end - w.start > MAX_DAYS * 86400:
        raise UserError(f"{option}: the window is longer than {MAX_DAYS} days")
    return w
