"""Property tests: redaction never leaves a secret behind, in any spelling it can take in text or URLs."""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sharpeyes.redact import MASK, Secret, redact_text, redact_url

SETTINGS = settings(max_examples=400, deadline=None)
# secrets of at least 4 characters from a hostile alphabet; no "*", which is what the mask is made of
secrets = st.text(alphabet=st.sampled_from(list("@:#/?%+ &=密码aZ09\\\"'\t")) | st.characters(blacklist_characters="*"),
                  min_size=4, max_size=24)  # fmt: skip
noise = st.text(max_size=60).map(lambda t: t.replace("*", ""))


def _utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


def spellings(secret: str) -> set[str]:
    """How a secret shows up in logs and URLs: raw, percent-encoded (path, userinfo, form), lower-case hex."""
    enc = {quote(secret, safe=""), quote(secret), quote_plus(secret)}
    return {secret, *enc, *(_lower_hex(e) for e in enc)}


@SETTINGS
@given(secret=secrets, before=noise, after=noise)
def test_redact_text_leaves_no_spelling_of_the_secret(secret: str, before: str, after: str) -> None:
    assume(_utf8(secret + before + after))
    forms = sorted(spellings(secret))
    text = before + " | ".join(forms) + f" rtsp://admin:{quote(secret, safe='')}@127.0.0.1/x " + after
    out = redact_text(text, [Secret(secret)])
    for form in forms:
        assert form not in out, form
    assert MASK in out


@SETTINGS
@given(secret=secrets, user=st.text(alphabet="abcdefgh", min_size=1, max_size=8), path=noise)
def test_redact_url_drops_the_userinfo_password(secret: str, user: str, path: str) -> None:
    assume(_utf8(secret + path))
    url = f"rtsp://{user}:{quote(secret, safe='')}@127.0.0.1:554/{quote(path)}"
    out = redact_url(url)
    assert f":{quote(secret, safe='')}@" not in out
    assert out.startswith(f"rtsp://{user}:{MASK}@127.0.0.1:554/")


@SETTINGS
@given(secret=secrets, text=noise)
def test_redact_text_masks_any_url_userinfo_even_without_knowing_the_secret(secret: str, text: str) -> None:
    assume(_utf8(secret))
    url = f"http://admin:{quote(secret, safe='')}@[::1]:80/onvif/device_service"
    out = redact_text(f"{text} {url} {text}")
    assert f"admin:{quote(secret, safe='')}@" not in out
    assert f"admin:{MASK}@[::1]:80/onvif" in out


@SETTINGS
@given(secret=st.text(min_size=1, max_size=12), text=st.text(max_size=40))
def test_redaction_never_raises_even_on_lone_surrogates(secret: str, text: str) -> None:
    """A password read from the environment may hold lone surrogates (undecodable bytes): still no exception."""
    redact_text(text + secret, [Secret(secret), secret + "\udcff"])
    redact_url(f"rtsp://a:{secret}@h/{text}")


def test_undecodable_environment_bytes_are_redacted_in_their_byte_form() -> None:
    secret = b"pw\xff\xfe!".decode("utf-8", "surrogateescape")  # as os.environ gives it
    out = redact_text("rtsp://u:pw%FF%FE%21@h/ and pw%FF%FE%21", [Secret(secret)])
    assert "pw%FF%FE%21" not in out
