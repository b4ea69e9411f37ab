"""The camera's clock from GetSystemDateAndTime, always as an aware UTC datetime."""

from __future__ import annotations

import datetime as dt
from typing import Any


class ClockError(ValueError):
    """The camera's answer holds no usable UTC time."""


def _as_utc(value: dt.datetime) -> dt.datetime:
    """A naive datetime is taken as UTC (cameras often omit the ``Z``); an aware one is converted."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _from_parts(date: Any, time: Any) -> dt.datetime:
    fields = (date.Year, date.Month, date.Day, time.Hour, time.Minute, time.Second)
    if any(f is None for f in fields):
        raise ClockError("incomplete UTCDateTime")
    year, month, day, hour, minute, second = (int(f) for f in fields)
    return dt.datetime(year, month, day, min(hour, 23), min(minute, 59), min(second, 59), tzinfo=dt.UTC)


def camera_utc(answer: Any) -> dt.datetime:
    """The UTC time in a GetSystemDateAndTime answer (structured, ISO text, or a datetime)."""
    value = getattr(answer, "UTCDateTime", answer)
    if value is None:
        raise ClockError("no UTCDateTime")
    try:
        if isinstance(value, dt.datetime):
            return _as_utc(value)
        if isinstance(value, str):
            return _as_utc(dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
        return _from_parts(value.Date, value.Time)
    except (AttributeError, TypeError, ValueError, OverflowError) as exc:
        raise ClockError(f"unusable UTCDateTime ({type(exc).__name__})") from None


def skew_seconds(camera: dt.datetime, sent_wall: float, received_wall: float) -> float:
    """Camera clock minus ours, against the midpoint of the exchange (positive: the camera is ahead)."""
    ours = (sent_wall + received_wall) / 2.0
    return camera.timestamp() - ours
