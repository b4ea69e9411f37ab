"""Credentials never leak: a secret type whose repr hides it, and redaction of URLs and free text."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit, urlunsplit

MASK = "***"


class Secret:
    """A credential. ``str()``/``repr()`` never show it; call :meth:`reveal` at the point of use."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)


_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/?#\s]*)@")


def redact_url(url: str) -> str:
    """Drop the password from a URL's userinfo, keeping the user name (``rtsp://admin:***@host/…``)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", url)
    if parts.password is None and "@" not in parts.netloc:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    netloc = f"{user}:{MASK}@{host}" if user else f"{MASK}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


_PCT = re.compile(r"%[0-9A-F]{2}")


def _variants(secret: str) -> set[str]:
    """The spellings a secret may take in text: raw, percent-encoded (path, userinfo and form style, upper- and
    lower-case hex), decoded."""
    try:
        secret.encode("utf-8", "surrogateescape")
        errors = "surrogateescape"  # undecodable bytes from the environment come back as the bytes they were
    except UnicodeEncodeError:
        errors = "surrogatepass"  # any other lone surrogate: never raise while redacting
    encoded = {quote(secret, safe="", errors=errors), quote(secret, errors=errors)}
    encoded |= {quote_plus(secret, safe="", errors=errors), quote_plus(secret, safe="/", errors=errors)}
    lower = {_PCT.sub(lambda m: m.group(0).lower(), e) for e in encoded}
    forms = {secret, unquote(secret), unquote_plus(secret), *encoded, *lower}
    return {f for f in forms if f}


def redact_text(text: str, secrets: Iterable[str | Secret] = ()) -> str:
    """Remove URL userinfo passwords and every known secret (in its common encodings) from text."""
    if not text:  # nothing to hide (the common case: a successful probe's empty detail)
        return text
    out = _USERINFO.sub(lambda m: _mask_userinfo(m.group("scheme"), m.group("userinfo")), text)
    for secret in secrets:
        raw = secret.reveal() if isinstance(secret, Secret) else secret
        for form in sorted(_variants(raw), key=len, reverse=True):
            out = out.replace(form, MASK)
    return out


def _mask_userinfo(scheme: str, userinfo: str) -> str:
    user = userinfo.split(":", 1)[0] if ":" in userinfo else userinfo
    return f"{scheme}{user}:{MASK}@" if user else f"{scheme}{MASK}@"
