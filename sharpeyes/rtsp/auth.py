"""RTSP authentication: Digest (RFC 2617, MD5 and MD5-sess, with or without ``qop=auth``) and Basic.

:func:`parse_challenges` reads ``WWW-Authenticate`` fields into :class:`Challenge` objects (bounded; it
raises only :class:`~sharpeyes.rtsp.errors.ProtocolError`). :class:`Authenticator` keeps one connection's
state: it picks Digest when offered, refuses Basic unless the policy allows it, answers each request, and
tells the client whether a ``401`` deserves the one re-challenge a request may get (e.g. a stale nonce).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from sharpeyes.probers.base import AuthPolicy
from sharpeyes.redact import Secret
from sharpeyes.rtsp.errors import AuthError, ProtocolError

MAX_PARAMS = 32
MAX_CHALLENGES = 8
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"  # noqa: S105 (an HTTP token, not a password)
_PARAM = re.compile(rf'\s*({_TOKEN})\s*=\s*(?:"((?:[^"\\]|\\.)*)"|({_TOKEN}))\s*(?:,|$)')
_SCHEME = re.compile(rf"\s*({_TOKEN})(?:\s+|$)")
_DIGEST_ALGORITHMS = ("MD5", "MD5-SESS")


@dataclass(frozen=True, slots=True)
class Challenge:
    """One authentication challenge: a scheme (lower case) and its parameters (names lower case)."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def stale(self) -> bool:
        return self.params.get("stale", "").lower() == "true"


def parse_challenges(values: list[str]) -> list[Challenge]:
    """Parse every challenge in the given ``WWW-Authenticate`` values. Unknown schemes are kept."""
    out: list[Challenge] = []
    for value in values:
        out.extend(_parse_one_field(value))
        if len(out) > MAX_CHALLENGES:
            raise ProtocolError("too many authentication challenges")
    return out


def _parse_one_field(value: str) -> list[Challenge]:
    out: list[Challenge] = []
    pos = 0
    value = value.strip()
    while pos < len(value):
        scheme = _SCHEME.match(value, pos)
        if scheme is None:
            raise ProtocolError("malformed authentication challenge")
        params: dict[str, str] = {}
        pos = scheme.end()
        while pos < len(value):
            param = _PARAM.match(value, pos)
            if param is None:
                break
            if len(params) >= MAX_PARAMS:
                raise ProtocolError("too many challenge parameters")
            quoted, token = param[2], param[3]
            params[param[1].lower()] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else token
            pos = param.end()
        out.append(Challenge(scheme[1].lower(), params))
        if len(out) > MAX_CHALLENGES:
            raise ProtocolError("too many authentication challenges")
        if pos < len(value) and not params:
            pos = _skip_token68(value, pos)
    return out


def _skip_token68(value: str, pos: int) -> int:
    """Skip a ``token68`` credential blob (e.g. ``Negotiate abc==``) up to the next comma."""
    comma = value.find(",", pos)
    return len(value) if comma < 0 else comma + 1


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(slots=True)
class Authenticator:
    """Per-connection authentication state for one user."""

    username: str | None
    password: Secret | None
    policy: AuthPolicy = AuthPolicy.DIGEST
    make_cnonce: Callable[[], str] = field(default=lambda: os.urandom(8).hex(), repr=False)
    _challenge: Challenge | None = None
    _nonce_count: int = 0

    @property
    def has_credentials(self) -> bool:
        return self.username is not None and self.password is not None

    def reset(self) -> None:
        """Forget the challenge (a redirect to a new URL gets a fresh one)."""
        self._challenge = None
        self._nonce_count = 0

    def accept_challenge(self, values: list[str], *, sent_credentials: bool = False) -> None:
        """Adopt the best challenge of a ``401``: Digest, else Basic if allowed; raise :class:`AuthError`.

        If credentials were just sent and the camera repeats the same challenge (same scheme and nonce, not
        ``stale``), the credentials are wrong: that raises at once, so no second failed login is spent."""
        if not self.has_credentials:
            raise AuthError("camera requires credentials and none are configured")
        challenges = parse_challenges(values)
        digest = [c for c in challenges if c.scheme == "digest" and _digest_usable(c)]
        basic = [c for c in challenges if c.scheme == "basic"]
        if digest:
            chosen = digest[0]
        elif basic and self.policy is AuthPolicy.BASIC_ALLOWED:
            chosen = basic[0]
        elif basic:
            raise AuthError("camera offers only Basic authentication, which this camera's policy forbids")
        else:
            raise AuthError("camera offers no supported authentication scheme")
        if sent_credentials and self._same_challenge(chosen) and not chosen.stale:
            raise AuthError("credentials rejected by the camera")
        if self._challenge is None or chosen.params.get("nonce") != self._challenge.params.get("nonce"):
            self._nonce_count = 0
        self._challenge = chosen

    def _same_challenge(self, other: Challenge) -> bool:
        current = self._challenge
        return (
            current is not None
            and current.scheme == other.scheme
            and current.params.get("nonce") == other.params.get("nonce")
        )

    def authorization(self, method: str, uri: str) -> str | None:
        """The ``Authorization`` value for a request, or ``None`` before any challenge."""
        if self._challenge is None or self.username is None or self.password is None:
            return None
        if self._challenge.scheme == "basic":
            raw = f"{self.username}:{self.password.reveal()}".encode()
            return "Basic " + base64.b64encode(raw).decode("ascii")
        return self._digest(method, uri, self._challenge, self.username, self.password)

    def _digest(self, method: str, uri: str, ch: Challenge, username: str, password: Secret) -> str:
        realm, nonce = ch.params.get("realm", ""), ch.params.get("nonce", "")
        algorithm = ch.params.get("algorithm", "MD5")
        qops = [q.strip().lower() for q in ch.params.get("qop", "").split(",") if q.strip()]
        cnonce = self.make_cnonce()
        ha1 = _md5(f"{username}:{realm}:{password.reveal()}")
        if algorithm.upper() == "MD5-SESS":
            ha1 = _md5(f"{ha1}:{nonce}:{cnonce}")
        ha2 = _md5(f"{method}:{uri}")
        fields = [
            ("username", _quote(username)),
            ("realm", _quote(realm)),
            ("nonce", _quote(nonce)),
            ("uri", _quote(uri)),
        ]
        if "auth" in qops:
            self._nonce_count += 1
            nc = f"{self._nonce_count:08x}"
            response = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
            fields += [("qop", "auth"), ("nc", nc), ("cnonce", _quote(cnonce))]
        else:
            response = _md5(f"{ha1}:{nonce}:{ha2}")
        fields.append(("response", _quote(response)))
        if "algorithm" in ch.params:
            fields.append(("algorithm", algorithm))
        if "opaque" in ch.params:
            fields.append(("opaque", _quote(ch.params["opaque"])))
        return "Digest " + ", ".join(f"{k}={v}" for k, v in fields)


def _digest_usable(ch: Challenge) -> bool:
    """A Digest challenge we can answer: MD5 or MD5-sess, with a nonce, and ``auth`` if qop is given."""
    if "nonce" not in ch.params or ch.params.get("algorithm", "MD5").upper() not in _DIGEST_ALGORITHMS:
        return False
    qops = [q.strip().lower() for q in ch.params.get("qop", "").split(",") if q.strip()]
    return not qops or "auth" in qops
