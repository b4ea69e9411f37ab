from __future__ import annotations

import pytest

from sharpeyes.redact import MASK, Secret, redact_text, redact_url

HOSTILE = ["p@ss:w/o#r?d%", "密码@:#/?%", "%40already%3Aencoded"]


def test_secret_never_shows_in_str_or_repr() -> None:
    s = Secret("hunter2")
    assert "hunter2" not in repr(s)
    assert "hunter2" not in str(s)
    assert "hunter2" not in f"{s!r} {s}"
    assert s.reveal() == "hunter2"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://admin:secret@127.0.0.1:554/live", f"rtsp://admin:{MASK}@127.0.0.1:554/live"),
        ("rtsp://127.0.0.1/live", "rtsp://127.0.0.1/live"),
        ("http://u:p%40x@[::1]:80/onvif", f"http://u:{MASK}@[::1]:80/onvif"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


@pytest.mark.parametrize("password", HOSTILE)
def test_redact_text_removes_every_encoding_of_a_secret(password: str) -> None:
    from urllib.parse import quote

    text = f"failed: raw={password} enc={quote(password, safe='')} url=rtsp://admin:{quote(password)}@h/x"
    out = redact_text(text, [Secret(password)])
    assert password not in out
    assert quote(password, safe="") not in out
    assert "admin" in out
