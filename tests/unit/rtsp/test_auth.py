from __future__ import annotations

import base64

import pytest

from sharpeyes.probers.base import AuthPolicy
from sharpeyes.redact import Secret
from sharpeyes.rtsp.auth import Authenticator, parse_challenges
from sharpeyes.rtsp.errors import AuthError, ProtocolError

RFC_CHALLENGE = (
    'Digest realm="testrealm@host.com", qop="auth,auth-int", '
    'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)


def test_rfc2617_example_response() -> None:
    auth = Authenticator("Mufasa", Secret("Circle Of Life"), make_cnonce=lambda: "0a4f113b")
    auth.accept_challenge([RFC_CHALLENGE])
    value = auth.authorization("GET", "/dir/index.html")
    assert value is not None
    assert 'response="6629fae49393a05397450978507c4ef1"' in value
    assert "nc=00000001" in value
    assert 'opaque="5ccc069c403ebaf9f0171e9517f40e41"' in value
    second = auth.authorization("GET", "/dir/index.html")
    assert second is not None
    assert "nc=00000002" in second


def test_parse_several_challenges_in_one_field_and_escapes() -> None:
    chs = parse_challenges(['Basic realm="a, b", Digest realm="r\\"q", nonce=abc, stale=TRUE', "Negotiate"])
    assert [c.scheme for c in chs] == ["basic", "digest", "negotiate"]
    assert chs[0].params["realm"] == "a, b"
    assert chs[1].params == {"realm": 'r"q', "nonce": "abc", "stale": "TRUE"}
    assert chs[1].stale


def test_digest_preferred_over_basic() -> None:
    auth = Authenticator("u", Secret("p"), AuthPolicy.BASIC_ALLOWED)
    auth.accept_challenge(['Basic realm="x"', 'Digest realm="x", nonce="n"'])
    value = auth.authorization("DESCRIBE", "rtsp://h/x")
    assert value is not None
    assert value.startswith("Digest ")


def test_basic_only_when_allowed() -> None:
    strict = Authenticator("u", Secret("p@ss"))
    with pytest.raises(AuthError, match="Basic"):
        strict.accept_challenge(['Basic realm="cam"'])
    allowed = Authenticator("u", Secret("p@ss"), AuthPolicy.BASIC_ALLOWED)
    allowed.accept_challenge(['Basic realm="cam"'])
    assert allowed.authorization("OPTIONS", "rtsp://h/") == "Basic " + base64.b64encode(b"u:p@ss").decode()


def test_no_credentials_or_unsupported_scheme() -> None:
    with pytest.raises(AuthError, match="requires credentials"):
        Authenticator(None, None).accept_challenge(['Digest realm="x", nonce="n"'])
    with pytest.raises(AuthError, match="no supported"):
        Authenticator("u", Secret("p")).accept_challenge(['Digest realm="x", nonce="n", algorithm=SHA-256'])
    with pytest.raises(AuthError, match="no supported"):
        Authenticator("u", Secret("p")).accept_challenge(['Digest realm="x", nonce="n", qop="auth-int"'])


def test_digest_without_qop_and_md5_sess() -> None:
    auth = Authenticator("u", Secret("pw"), make_cnonce=lambda: "c")
    auth.accept_challenge(['Digest realm="r", nonce="n"'])
    plain = auth.authorization("DESCRIBE", "rtsp://h/x")
    assert plain is not None
    assert "qop" not in plain
    assert "nc=" not in plain
    auth.accept_challenge(['Digest realm="r", nonce="n", algorithm=MD5-sess'])
    sess = auth.authorization("DESCRIBE", "rtsp://h/x")
    assert sess is not None
    assert "algorithm=MD5-sess" in sess
    assert sess != plain


def test_challenge_parser_bounds() -> None:
    with pytest.raises(ProtocolError):
        parse_challenges(["Digest " + ", ".join(f"p{i}=v" for i in range(100))])
    with pytest.raises(ProtocolError):
        parse_challenges(["Basic realm=x, " * 20])
    with pytest.raises(ProtocolError):
        parse_challenges(['"quoted-scheme"'])


def test_same_challenge_after_credentials_means_wrong_password_without_a_retry() -> None:
    auth = Authenticator("u", Secret("wrong"))
    auth.accept_challenge(['Digest realm="r", nonce="n1"'])
    with pytest.raises(AuthError, match="rejected"):
        auth.accept_challenge(['Digest realm="r", nonce="n1"'], sent_credentials=True)
    # a stale nonce, or a new nonce, deserves the one re-challenge
    auth.accept_challenge(['Digest realm="r", nonce="n2", stale=true'], sent_credentials=True)
    auth.accept_challenge(['Digest realm="r", nonce="n3"'], sent_credentials=True)
    basic = Authenticator("u", Secret("wrong"), AuthPolicy.BASIC_ALLOWED)
    basic.accept_challenge(['Basic realm="r"'])
    with pytest.raises(AuthError, match="rejected"):
        basic.accept_challenge(['Basic realm="r"'], sent_credentials=True)
