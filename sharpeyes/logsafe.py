"""A logging filter that keeps credentials out of every log line.

:class:`RedactingFilter` rewrites each record's message (and its formatted traceback) with
:func:`sharpeyes.redact.redact_text`: URL userinfo passwords are masked, and every secret registered with
:func:`register_secret` is removed in its raw and percent-encoded forms. :func:`install` puts the filter on
every handler of the root logger (handler filters see records from all loggers, logger filters do not).
"""

from __future__ import annotations

import logging
import threading

from sharpeyes.redact import Secret, redact_text

_lock = threading.Lock()
_secrets: set[str] = set()


# Secrets shorter than this are not scrubbed from free log text: masking every "y" of a one-letter password
# would wreck every log line while protecting nothing. URL userinfo is masked whatever its length, and
# probe details are redacted with the target's own secrets (sharpeyes.redact.redact_text), whatever their length.
MIN_SCRUBBED_LENGTH = 4


def register_secret(secret: Secret | str) -> None:
    """Remember a credential so that no log line will ever show it."""
    value = secret.reveal() if isinstance(secret, Secret) else secret
    if len(value) >= MIN_SCRUBBED_LENGTH:
        with _lock:
            _secrets.add(value)


def forget_secret(secret: Secret | str) -> None:
    """Stop redacting a credential (after it was rotated out)."""
    value = secret.reveal() if isinstance(secret, Secret) else secret
    with _lock:
        _secrets.discard(value)


def registered() -> tuple[str, ...]:
    """The registered secrets (for redacting other output, e.g. error messages)."""
    with _lock:
        return tuple(_secrets)


def scrub(text: str) -> str:
    """Redact URL passwords and registered secrets from text."""
    return redact_text(text, registered())


class RedactingFilter(logging.Filter):
    """Redacts every record in place; never drops one."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not hide the record nor leak its arguments
            message = f"{record.msg!s} (unformattable log arguments)"
        record.msg = scrub(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True


def install(logger: logging.Logger | None = None) -> RedactingFilter:
    """Add one :class:`RedactingFilter` to every handler of ``logger`` (default: root). Idempotent."""
    target = logger or logging.getLogger()
    installed = RedactingFilter()
    for handler in target.handlers:
        existing = [f for f in handler.filters if isinstance(f, RedactingFilter)]
        if existing:
            installed = existing[0]
        else:
            handler.addFilter(installed)
    return installed
