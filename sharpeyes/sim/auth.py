"""HTTP-style authentication for simulated cameras: Basic, Digest (RFC 2617, MD5) with expiring nonces, lockout.

Nonces are stateless: ``<hex issue time>.<HMAC>`` under a per-process key, so ten thousand cameras keep no nonce
tables; a nonce older than ``nonce_ttl`` is answered with ``stale=true``.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field

_KEY = secrets.token_bytes(16)
_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


class AuthMode(enum.StrEnum):
    """What a simulated camera asks for: ``digest`` (default), ``basic``, ``both`` (offers both), ``none``."""

    DIGEST = "digest"
    BASIC = "basic"
    BOTH = "both"
    NONE = "none"


class Verdict(enum.Enum):
    OK = "ok"
    MISSING = "missing"  # no (usable) credentials: challenge
    WRONG = "wrong"  # credentials presented and wrong: counts toward lockout
    STALE = "stale"  # right password, expired nonce: challenge with stale=true


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def make_nonce(now: float | None = None) -> str:
    issued = f"{int((now if now is not None else time.time()) * 1000):x}"
    mac = hmac.new(_KEY, issued.encode(), hashlib.sha256).hexdigest()[:24]
    return f"{issued}.{mac}"


def nonce_age(nonce: str, now: float | None = None) -> float | None:
    """Seconds since the nonce was issued by this process, or None if it is not one of ours."""
    issued, _, mac = nonce.partition(".")
    expected = hmac.new(_KEY, issued.encode(), hashlib.sha256).hexdigest()[:24]
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        return (now if now is not None else time.time()) - int(issued, 16) / 1000
    except ValueError:
        return None


def challenges(mode: AuthMode, realm: str, *, stale: bool = False) -> list[str]:
    """``WWW-Authenticate`` header values for a 401."""
    out = []
    if mode in (AuthMode.DIGEST, AuthMode.BOTH):
        extra = ", stale=TRUE" if stale else ""
        out.append(f'Digest realm="{realm}", nonce="{make_nonce()}", algorithm=MD5{extra}')
    if mode in (AuthMode.BASIC, AuthMode.BOTH):
        out.append(f'Basic realm="{realm}"')
    return out


def parse_params(text: str) -> dict[str, str]:
    return {m[1].lower(): m[2] if m[2] is not None else m[3] for m in _PARAM.finditer(text)}


@dataclass(slots=True)
class Credentials:
    """The one user a simulated camera knows."""

    username: str
    password: str
    realm: str = "sharpeyes-sim"
    nonce_ttl: float = 60.0

    def check(self, mode: AuthMode, header: str | None, method: str) -> Verdict:
        """Check an ``Authorization`` header for a request with ``method``."""
        if mode is AuthMode.NONE:
            return Verdict.OK
        if not header:
            return Verdict.MISSING
        scheme, _, rest = header.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "basic" and mode in (AuthMode.BASIC, AuthMode.BOTH):
            return self._basic(rest)
        if scheme == "digest" and mode in (AuthMode.DIGEST, AuthMode.BOTH):
            return self._digest(parse_params(rest), method)
        return Verdict.MISSING

    def _basic(self, token: str) -> Verdict:
        try:
            user, _, password = base64.b64decode(token.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return Verdict.WRONG
        ok = hmac.compare_digest(user.encode(), self.username.encode()) and hmac.compare_digest(
            password.encode(), self.password.encode()
        )
        return Verdict.OK if ok else Verdict.WRONG

    def _digest(self, p: dict[str, str], method: str) -> Verdict:
        needed = ("username", "realm", "nonce", "uri", "response")
        if any(k not in p for k in needed):
            return Verdict.MISSING
        age = nonce_age(p["nonce"])
        if age is None:
            return Verdict.MISSING
        ha1 = _md5(f"{self.username}:{self.realm}:{self.password}")
        ha2 = _md5(f"{method}:{p['uri']}")
        if p.get("qop"):
            expected = _md5(f"{ha1}:{p['nonce']}:{p.get('nc', '')}:{p.get('cnonce', '')}:{p['qop']}:{ha2}")
        else:
            expected = _md5(f"{ha1}:{p['nonce']}:{ha2}")
        right = p["username"] == self.username and hmac.compare_digest(expected, p["response"].lower())
        if not right:
            return Verdict.WRONG
        return Verdict.STALE if age > self.nonce_ttl else Verdict.OK


@dataclass(slots=True)
class Lockout:
    """After ``attempts`` wrong logins from one client address, refuse it for ``seconds`` (like Hikvision/Dahua)."""

    attempts: int = 5
    seconds: float = 1800.0
    _failures: dict[str, int] = field(default_factory=dict)
    _until: dict[str, float] = field(default_factory=dict)

    def locked(self, client: str) -> bool:
        until = self._until.get(client)
        if until is None:
            return False
        if time.monotonic() >= until:
            del self._until[client]
            self._failures.pop(client, None)
            return False
        return True

    def failed(self, client: str) -> None:
        count = self._failures.get(client, 0) + 1
        self._failures[client] = count
        if count >= self.attempts:
            self._until[client] = time.monotonic() + self.seconds

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)
