"""Transition times read as text (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC) turned into epoch seconds in bulk.

SQLite keeps ``at`` as that text (SQLAlchemy's storage form) and PostgreSQL formats it so (``to_char``): reading
the text and parsing it here with numpy costs far less than computing epochs inside the database, and it is
exact: the integer microseconds divided by 10**6, the same float as :meth:`datetime.datetime.timestamp` (SQLite's
``julianday`` keeps milliseconds only). Text in any other form goes through :meth:`datetime.fromisoformat`.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]

STAMP_LEN = 26
"""Length of ``YYYY-MM-DD HH:MM:SS.ffffff``."""
SEP = ","
_WIDTH = STAMP_LEN + 1
_PUNCT = {4: "-", 7: "-", 10: " ", 13: ":", 16: ":", 19: ".", 26: SEP}
_DIGITS = np.array([i for i in range(STAMP_LEN) if i not in _PUNCT], dtype=np.intp)
_FIRST_EXACT_YEAR, _LAST_EXACT_YEAR = 1686, 2254  # every microsecond since 1970 below 2**53 (±285 years)
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def epochs(text: str | bytes, count: int) -> npt.NDArray[np.float64]:
    """Epoch seconds of ``count`` UTC times joined by ``,`` (naive text is UTC, as the registry stores it)."""
    if count == 0:
        return np.zeros(0)
    raw = text if isinstance(text, bytes) else text.encode("utf-8")
    fast = _fixed_width(raw, count)
    return fast if fast is not None else _one_by_one(raw.decode("utf-8"), count)


def _fixed_width(raw: bytes, count: int) -> npt.NDArray[np.float64] | None:
    """The vectorised parse, or ``None`` when any item is not exactly ``YYYY-MM-DD HH:MM:SS.ffffff`` of a real
    date and time, or falls outside the years in which a float holds every microsecond since 1970."""
    if len(raw) != _WIDTH * count - 1:
        return None
    grid = np.frombuffer(raw + SEP.encode(), dtype=np.uint8).reshape(count, _WIDTH)
    for pos, char in _PUNCT.items():
        if not (grid[:, pos] == ord(char)).all():
            return None
    digits = grid[:, _DIGITS] - np.uint8(ord("0"))  # a non-digit wraps around to more than 9
    if (digits > 9).any():
        return None
    column = {i: k for k, i in enumerate(_DIGITS.tolist())}

    def number(first: int, last: int) -> npt.NDArray[np.int64]:
        """The decimal number in stamp characters ``first..last`` (inclusive)."""
        out = np.zeros(count, dtype=np.int64)
        for i in range(first, last + 1):
            out *= 10
            out += digits[:, column[i]]
        return out

    year, month, day = number(0, 3), number(5, 6), number(8, 9)
    hour, minute, second, micro = number(11, 12), number(14, 15), number(17, 18), number(20, 25)
    first_year, last_year = int(year.min()), int(year.max())
    if first_year < _FIRST_EXACT_YEAR or last_year > _LAST_EXACT_YEAR:
        return None
    month_ok = (month >= 1) & (month <= 12)
    k = np.where(month_ok, (year - first_year) * 12 + month - 1, 0)
    starts, lengths = _months(first_year, last_year)
    valid = month_ok & (day >= 1) & (day <= lengths[k]) & (hour < 24) & (minute < 60) & (second < 60)
    if not valid.all():
        return None
    seconds = (starts[k] + day - 1) * 86400 + hour * 3600 + minute * 60 + second
    return (seconds * 1_000_000 + micro).astype(np.float64) / 1e6  # both exact: one rounding, as Python's


def _months(first_year: int, last_year: int) -> tuple[Ints, Ints]:
    """Per month from January of ``first_year`` to December of ``last_year``: the days from 1970-01-01 to its
    first day, and its length."""
    firsts = [dt.date(y, m, 1).toordinal() for y in range(first_year, last_year + 1) for m in range(1, 13)]
    firsts.append(dt.date(last_year + 1, 1, 1).toordinal())
    ordinals = np.array(firsts, dtype=np.int64)
    return ordinals[:-1] - _EPOCH_ORDINAL, np.diff(ordinals)


def _one_by_one(text: str, count: int) -> npt.NDArray[np.float64]:
    items = text.split(SEP)
    if len(items) != count:
        raise ValueError(f"transitions: {len(items)} times for {count} states")
    return np.array([epoch(s) for s in items], dtype=np.float64)


def epoch(text: str) -> float:
    """One time as epoch seconds (naive: UTC)."""
    at = dt.datetime.fromisoformat(text.strip())
    return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).timestamp()
