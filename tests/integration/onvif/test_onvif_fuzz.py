"""Fuzzing the SOAP answers: whatever a camera sends back, the result is classified (never ``internal``, never a
false ``ok`` for garbage), within the deadline + 0.5 s, with nothing leaked."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator

import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from sharpeyes.probers.base import Reason
from tests.integration.onvif import soap
from tests.integration.onvif.conftest import probe
from tests.integration.onvif.fake_camera import FakeCamera, LoopThread, Quirks, soap_response

VALID = {
    "GetSystemDateAndTime": soap.envelope(soap.system_date_and_time(dt.datetime(2026, 1, 2, 3, 4, 5))),
    "GetDeviceInformation": soap.envelope(soap.DEVICE_INFORMATION),
    "GetCapabilities": soap.envelope(soap.capabilities("http://127.0.0.1:1/onvif/Media")),
    "GetProfiles": soap.envelope(soap.PROFILES),
    "GetStreamUri": soap.envelope(soap.media_uri("GetStreamUri", "rtsp://127.0.0.1/main")),
    "NotAuthorized": soap.envelope(soap.NOT_AUTHORIZED),
}
ACTIONS = ["GetSystemDateAndTime", "GetDeviceInformation", "GetCapabilities", "GetProfiles", "GetStreamUri"]
XML_BITS = ["<", ">", "</", "/>", "&", ";", '"', "=", ":", "s:", "tt:", "xmlns", "<!DOCTYPE x>", "<![CDATA[", "\x00"]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str, int]:
    """(action to corrupt, answer text, HTTP status): a valid answer cut, spliced or salted, or noise."""
    action = draw(st.sampled_from(ACTIONS))
    base = VALID[draw(st.sampled_from([action, "NotAuthorized"]))]
    how = draw(st.sampled_from(["truncate", "splice", "salt", "noise"]))
    if how == "truncate":
        text = base[: draw(st.integers(0, len(base)))]
    elif how == "splice":
        cut = draw(st.integers(0, len(base)))
        text = base[:cut] + draw(st.text(max_size=40)) + base[cut + draw(st.integers(0, 40)) :]
    elif how == "salt":
        cut = draw(st.integers(0, len(base)))
        text = base[:cut] + "".join(draw(st.lists(st.sampled_from(XML_BITS), min_size=1, max_size=5))) + base[cut:]
    else:
        text = draw(st.text(max_size=200))
    return action, text, draw(st.sampled_from([200, 200, 400, 500]))


class Mutable:
    """The fake camera's answer for one action, changed per example."""

    def __init__(self) -> None:
        self.text = ""
        self.status = 200

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        return soap_response(self.text, self.status)


@pytest.fixture(scope="module")
def fuzz_cameras() -> Iterator[tuple[dict[str, FakeCamera], dict[str, Mutable]]]:
    loop = LoopThread()
    answers = {a: Mutable() for a in ACTIONS}
    cameras = {a: FakeCamera(Quirks(raw={a: handler})) for a, handler in answers.items()}
    for camera in cameras.values():
        asyncio.run(loop.run(camera.start()))
    yield cameras, answers
    for camera in cameras.values():
        asyncio.run(loop.run(camera.stop()))
    loop.close()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=mutated())
def test_any_answer_is_classified_within_the_deadline(
    fuzz_cameras: tuple[dict[str, FakeCamera], dict[str, Mutable]], case: tuple[str, str, int]
) -> None:
    action, text, status = case
    cameras, answers = fuzz_cameras
    answers[action].text, answers[action].status = text, status
    result = asyncio.run(probe(cameras[action].device_url, deadline_s=2.0))
    assert result.reason is not Reason.INTERNAL, result.detail
    if result.ok:  # garbage is never ok: an accepted answer is well-formed XML with no DTD
        root = etree.fromstring(text.encode(), parser=etree.XMLParser(resolve_entities=False, no_network=True))
        assert root.getroottree().docinfo.doctype == ""
