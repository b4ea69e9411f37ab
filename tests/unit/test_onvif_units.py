"""Units of the hardened ONVIF client: origin pinning, URI checks, clock parsing, reason mapping, shapes."""

from __future__ import annotations

import datetime as dt
import errno
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp.client_reqrep import ConnectionKey
from lxml import etree
from zeep.exceptions import Fault, XMLSyntaxError

from sharpeyes.onvif.classify import classify, fault_reason
from sharpeyes.onvif.clock import ClockError, camera_utc, skew_seconds
from sharpeyes.onvif.errors import ForeignAddressError, HttpStatusError, ResponseTooLargeError
from sharpeyes.onvif.pinning import Origin, describe_origin, media_uri_problem
from sharpeyes.onvif.shape import UnexpectedAnswerError, check_shape
from sharpeyes.onvif.transport import http_date
from sharpeyes.probers.base import ProbeTarget, Reason
from sharpeyes.probers.onvif import STREAM_SCHEMES, default_device_url, refine_auth, target_from_url
from sharpeyes.settings import ProbeModule

ROOT = Path(__file__).resolve().parents[2]


def test_origin_repins_path_and_query_and_drops_userinfo() -> None:
    origin = Origin.of("http://10.0.0.5:8080/onvif/device_service")
    assert origin == Origin("http", "10.0.0.5", 8080)
    assert origin.repin("http://u:p@192.168.1.9:80/onvif/Media?x=1#f") == "http://10.0.0.5:8080/onvif/Media?x=1"
    assert origin.owns("http://10.0.0.5:8080/anything")
    assert not origin.owns("http://10.0.0.5:8081/anything")
    assert not origin.owns("https://10.0.0.5:8080/anything")
    assert not origin.owns("http://user:pw@10.0.0.5:8080/anything")
    assert not origin.owns("not a url")


def test_origin_defaults_and_ipv6() -> None:
    assert Origin.of("https://CAM.example/onvif").port == 443
    v6 = Origin.of("http://[::1]:8000/onvif/device_service")
    assert v6.host == "::1"
    assert v6.repin("http://[fe80::1]/onvif/Media") == "http://[::1]:8000/onvif/Media"
    with pytest.raises(ValueError, match="http"):
        Origin.of("rtsp://10.0.0.5/")


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("rtsp://10.0.0.5:554/live", None),
        ("rtsp://10.0.0.5/live", None),
        ("RTSPS://10.0.0.5/live", None),
        ("rtsp://user:pw@10.0.0.6:554/live", "URI on another host (rtsp://10.0.0.6:554)"),
        ("file:///etc/passwd", "URI scheme not allowed (file)"),
        ("http://169.254.169.254/", "URI on another host (http://169.254.169.254)"),
        ("", "empty URI"),
        (None, "empty URI"),
        ("rtsp://[::1/x", "unparseable URI"),
    ],
)
def test_media_uri_problem(uri: object, problem: str | None) -> None:
    assert media_uri_problem(uri, "10.0.0.5", STREAM_SCHEMES) == problem


def test_describe_origin_shows_only_scheme_host_port() -> None:
    assert describe_origin("http://admin:s3cr3t@cam:81/p?password=s3cr3t") == "http://cam:81"


def test_default_device_url() -> None:
    assert default_device_url(ProbeTarget("c", "10.0.0.5")) == "http://10.0.0.5/onvif/device_service"
    assert default_device_url(ProbeTarget("c", "::1")) == "http://[::1]/onvif/device_service"
    with_user = ProbeTarget("c", "h", onvif_url="http://a:b@h:8080/onvif/device_service")
    assert default_device_url(with_user) == "http://h:8080/onvif/device_service"


def test_target_from_url_strips_and_uses_userinfo() -> None:
    target = target_from_url("http://adm:p%40ss@10.0.0.5:8080/onvif/device_service")
    assert target.onvif_url == "http://10.0.0.5:8080/onvif/device_service"
    assert (target.host, target.camera_id, target.username) == ("10.0.0.5", "10.0.0.5:8080", "adm")
    assert target.password is not None
    assert target.password.reveal() == "p@ss"
    given = target_from_url("http://10.0.0.5/onvif/device_service", username="u", camera_id="cam-7")
    assert (given.camera_id, given.username, given.password) == ("cam-7", "u", None)
    with pytest.raises(ValueError, match="http"):
        target_from_url("rtsp://10.0.0.5/")


def _structured(year: int, month: int, day: int, hour: int, minute: int, second: int) -> Any:
    date = SimpleNamespace(Year=year, Month=month, Day=day)
    time = SimpleNamespace(Hour=hour, Minute=minute, Second=second)
    return SimpleNamespace(UTCDateTime=SimpleNamespace(Date=date, Time=time))


def test_camera_utc_from_structure_and_text() -> None:
    expected = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
    assert camera_utc(_structured(2026, 3, 4, 5, 6, 7)) == expected
    assert camera_utc(SimpleNamespace(UTCDateTime="2026-03-04T05:06:07Z")) == expected
    assert camera_utc(SimpleNamespace(UTCDateTime="2026-03-04T05:06:07")) == expected  # missing Z: UTC
    assert camera_utc(SimpleNamespace(UTCDateTime="2026-03-04T13:06:07+08:00")) == expected
    assert camera_utc(dt.datetime(2026, 3, 4, 5, 6, 7)) == expected


@pytest.mark.parametrize(
    "answer",
    [
        SimpleNamespace(UTCDateTime=None),
        _structured(2026, 13, 1, 0, 0, 0),
        _structured(99999, 1, 1, 0, 0, 0),
        None,
    ],
)
def test_camera_utc_rejects_unusable_answers(answer: Any) -> None:
    with pytest.raises(ClockError):
        camera_utc(answer)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Sun, 06 Nov 1994 08:49:37 GMT", dt.datetime(1994, 11, 6, 8, 49, 37, tzinfo=dt.UTC)),
        ("Sun, 06 Nov 1994 16:49:37 +0800", dt.datetime(1994, 11, 6, 8, 49, 37, tzinfo=dt.UTC)),
        ("Sun, 06 Nov 1994 08:49:37", dt.datetime(1994, 11, 6, 8, 49, 37, tzinfo=dt.UTC)),
        ("yesterday", None),
        ("", None),
        (None, None),
        ("Sun, 06 Nov 1994 08:49:37 GMT" * 10, None),
    ],
)
def test_http_date(header: str | None, expected: dt.datetime | None) -> None:
    assert http_date(header) == expected


def test_skew_is_camera_minus_midpoint() -> None:
    camera = dt.datetime(2026, 1, 1, 0, 0, 10, tzinfo=dt.UTC)
    sent = dt.datetime(2026, 1, 1, 0, 0, 0, tzinfo=dt.UTC).timestamp()
    assert skew_seconds(camera, sent, sent + 2.0) == pytest.approx(9.0)


def _fault(code: str | None, subcodes: list[str], message: str = "boom") -> Fault:
    qnames = [etree.QName("http://www.onvif.org/ver10/error", s) for s in subcodes]
    return Fault(message=message, code=code, subcodes=qnames)  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (_fault("s:Sender", ["NotAuthorized"]), Reason.AUTH),
        (_fault("s:Receiver", [], "Sender not authorized"), Reason.AUTH),
        (_fault("s:Receiver", ["ActionNotSupported"]), Reason.NOT_FOUND),
        (_fault("s:Receiver", ["InvalidArgVal"]), Reason.PROTOCOL),
        (_fault(None, []), Reason.PROTOCOL),
    ],
)
def test_fault_reason(fault: Fault, reason: Reason) -> None:
    assert fault_reason(fault)[0] is reason


def _connector_error(cls: type[aiohttp.ClientConnectorError], err: int) -> aiohttp.ClientConnectorError:
    key = ConnectionKey("cam", 80, False, True, None, None, None)
    return cls(key, OSError(err, "x"))


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (ResponseTooLargeError(1024), Reason.TOO_LARGE),
        (HttpStatusError(401), Reason.AUTH),
        (HttpStatusError(404), Reason.NOT_FOUND),
        (HttpStatusError(307), Reason.PROTOCOL),
        (ForeignAddressError(), Reason.PROTOCOL),
        (XMLSyntaxError("bad"), Reason.PROTOCOL),  # type: ignore[no-untyped-call]
        (TimeoutError(), Reason.TIMEOUT),
        (_connector_error(aiohttp.ClientConnectorError, errno.ECONNREFUSED), Reason.REFUSED),
        (_connector_error(aiohttp.ClientConnectorError, errno.EHOSTUNREACH), Reason.UNREACHABLE),
        (_connector_error(aiohttp.ClientConnectorDNSError, errno.ENOENT), Reason.DNS),
        (aiohttp.ServerDisconnectedError(), Reason.PROTOCOL),
    ],
)
def test_classify(exc: BaseException, reason: Reason) -> None:
    found = classify(exc)
    assert found is not None
    assert found[0] is reason


def test_our_own_bugs_are_not_classified() -> None:
    table: dict[str, int] = {}
    try:
        table["missing"]
    except KeyError as exc:
        assert classify(exc) is None
    else:
        pytest.fail("no KeyError")


def test_clock_skew_refines_auth_only_beyond_threshold() -> None:
    module = ProbeModule(name="m", prober="onvif")
    assert refine_auth(Reason.AUTH, "x", 3600.0, module)[0] is Reason.CLOCK_SKEW
    assert refine_auth(Reason.AUTH, "x", -3600.0, module)[0] is Reason.CLOCK_SKEW
    assert refine_auth(Reason.AUTH, "x", 5.0, module)[0] is Reason.AUTH
    assert refine_auth(Reason.AUTH, "x", None, module)[0] is Reason.AUTH
    assert refine_auth(Reason.PROTOCOL, "x", 3600.0, module)[0] is Reason.PROTOCOL


ENV = "http://www.w3.org/2003/05/soap-envelope"
EXPECTED = "{http://www.onvif.org/ver10/device/wsdl}GetDeviceInformationResponse"


@pytest.mark.parametrize(
    ("xml", "ok"),
    [
        (
            f'<s:Envelope xmlns:s="{ENV}"><s:Body><d:GetDeviceInformationResponse xmlns:d="'
            'http://www.onvif.org/ver10/device/wsdl"/></s:Body></s:Envelope>',
            True,
        ),
        (f'<s:Envelope xmlns:s="{ENV}"><s:Body><s:Fault/></s:Body></s:Envelope>', True),
        (f'<s:Envelope xmlns:s="{ENV}"><s:Body><GetDeviceInformationResponse/></s:Body></s:Envelope>', False),
        (f'<s:Envelope xmlns:s="{ENV}"><s:Body/></s:Envelope>', False),
        (f'<s:Envelope xmlns:s="{ENV}"/>', False),
        ('<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>', False),
    ],
)
def test_check_shape(xml: str, ok: bool) -> None:
    envelope = etree.fromstring(xml.encode())
    if ok:
        check_shape(envelope, EXPECTED)
    else:
        with pytest.raises(UnexpectedAnswerError):
            check_shape(envelope, EXPECTED)


def test_onvif_inventory_module_validates_with_its_file_stem_as_name() -> None:
    path = ROOT / "probes" / "onvif_inventory.yml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    module = ProbeModule.model_validate({**raw, "name": path.stem})
    assert module.prober == "onvif"
    assert module.onvif.max_response_bytes == 256 * 1024
    assert module.read_timeout_s <= module.timeout_s


def test_importing_the_prober_leaves_root_logging_alone() -> None:
    """onvif-zeep-async calls logging.basicConfig at import; our guarded import undoes it."""
    code = "import logging, sharpeyes.probers.onvif; r = logging.getLogger(); print(len(r.handlers), r.level)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["0", str(30)]
