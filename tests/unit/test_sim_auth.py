"""Simulator authentication: Basic, Digest (RFC 2617) with nonce expiry, and lockout."""

from __future__ import annotations

import base64
import hashlib
import time

import pytest

from sharpeyes.sim import auth
from sharpeyes.sim.auth import AuthMode, Credentials, Lockout, Verdict, challenges, parse_params


def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def digest_header(user: str, password: str, nonce: str, method: str, uri: str, *, qop: bool = False) -> str:
    ha1, ha2 = md5(f"{user}:sharpeyes-sim:{password}"), md5(f"{method}:{uri}")
    if qop:
        response = md5(f"{ha1}:{nonce}:00000001:abc:auth:{ha2}")
        extra = ', qop=auth, nc=00000001, cnonce="abc"'
    else:
        response = md5(f"{ha1}:{nonce}:{ha2}")
        extra = ""
    return (
        f'Digest username="{user}", realm="sharpeyes-sim", nonce="{nonce}", uri="{uri}", response="{response}"{extra}'
    )


CREDS = Credentials("admin", "pä:ss@/#")
URI = "rtsp://127.0.0.1/x"


@pytest.mark.parametrize("qop", [False, True])
def test_digest_right_and_wrong(qop: bool) -> None:
    nonce = parse_params(challenges(AuthMode.DIGEST, "sharpeyes-sim")[0])["nonce"]
    assert (
        CREDS.check(
            AuthMode.DIGEST, digest_header("admin", CREDS.password, nonce, "DESCRIBE", URI, qop=qop), "DESCRIBE"
        )
        is Verdict.OK
    )
    assert (
        CREDS.check(AuthMode.DIGEST, digest_header("admin", "bad", nonce, "DESCRIBE", URI, qop=qop), "DESCRIBE")
        is Verdict.WRONG
    )
    assert (
        CREDS.check(AuthMode.DIGEST, digest_header("admin", CREDS.password, nonce, "PLAY", URI), "DESCRIBE")
        is Verdict.WRONG
    )


def test_expired_nonce_is_stale_and_forged_nonce_is_not_ours() -> None:
    old = auth.make_nonce(now=time.time() - 3600)
    header = digest_header("admin", CREDS.password, old, "DESCRIBE", URI)
    assert CREDS.check(AuthMode.DIGEST, header, "DESCRIBE") is Verdict.STALE
    assert "stale=TRUE" in challenges(AuthMode.DIGEST, "r", stale=True)[0]
    forged = "17f00000000.000000000000000000000000"
    assert (
        CREDS.check(AuthMode.DIGEST, digest_header("admin", CREDS.password, forged, "DESCRIBE", URI), "DESCRIBE")
        is Verdict.MISSING
    )


def test_basic_and_mode_mismatch() -> None:
    good = "Basic " + base64.b64encode(f"admin:{CREDS.password}".encode()).decode()
    bad = "Basic " + base64.b64encode(b"admin:nope").decode()
    assert CREDS.check(AuthMode.BASIC, good, "GET") is Verdict.OK
    assert CREDS.check(AuthMode.BASIC, bad, "GET") is Verdict.WRONG
    assert CREDS.check(AuthMode.BASIC, "Basic !!!", "GET") is Verdict.WRONG
    assert CREDS.check(AuthMode.DIGEST, good, "GET") is Verdict.MISSING  # Basic not offered
    assert CREDS.check(AuthMode.BOTH, good, "GET") is Verdict.OK
    assert CREDS.check(AuthMode.BASIC, None, "GET") is Verdict.MISSING
    assert CREDS.check(AuthMode.NONE, None, "GET") is Verdict.OK


def test_challenges_per_mode() -> None:
    assert [c.split()[0] for c in challenges(AuthMode.BOTH, "r")] == ["Digest", "Basic"]
    assert challenges(AuthMode.NONE, "r") == []


def test_lockout_after_attempts_then_expires() -> None:
    lock = Lockout(attempts=2, seconds=0.05)
    lock.failed("a")
    assert not lock.locked("a")
    lock.failed("a")
    assert lock.locked("a") and not lock.locked("b")
    time.sleep(0.06)
    assert not lock.locked("a")
    lock.failed("a")
    assert not lock.locked("a")  # counter was reset on expiry
