"""The simulated cameras' ONVIF device and media services: SOAP 1.2 over HTTP, hand-written XML templates.

Requests are parsed with lxml with DTDs, entities and network access off; a request holding a DOCTYPE is refused.
WS-Security UsernameToken (PasswordDigest, or PasswordText) is checked, including the freshness of ``Created``
against the camera's own clock (which the ``clock_skew`` fault moves). GetSystemDateAndTime needs no login, as on
real cameras. A wrong login answers a SOAP Fault with subcode ``ter:NotAuthorized``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from datetime import UTC, datetime
from xml.sax.saxutils import escape

from aiohttp import web
from lxml import etree

from sharpeyes.sim.camera import SimCamera
from sharpeyes.sim.faults import SimFault

DEVICE_NS = "http://www.onvif.org/ver10/device/wsdl"
MEDIA_NS = "http://www.onvif.org/ver10/media/wsdl"
MEDIA_PATH = "/onvif/media_service"
FRESHNESS = 300.0  # seconds a UsernameToken's Created may differ from the camera's clock
MAX_BODY = 64 * 1024
_WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
_WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
)
_ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tt="http://www.onvif.org/ver10/schema"'
    ' xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:trt="http://www.onvif.org/ver10/media/wsdl"'
    ' xmlns:ter="http://www.onvif.org/ver10/error"><s:Body>{body}</s:Body></s:Envelope>'
)
_FAULT = (
    "<s:Fault><s:Code><s:Value>s:{code}</s:Value><s:Subcode><s:Value>{subcode}</s:Value></s:Subcode></s:Code>"
    '<s:Reason><s:Text xml:lang="en">{reason}</s:Text></s:Reason></s:Fault>'
)


class SoapFaultError(Exception):
    """A fault to answer with: HTTP status, SOAP code, ONVIF subcode, reason text."""

    def __init__(self, status: int, code: str, subcode: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.code, self.subcode, self.reason = status, code, subcode, reason


NOT_AUTHORIZED = SoapFaultError(400, "Sender", "ter:NotAuthorized", "Sender not Authorized")


def envelope(body: str) -> str:
    return _ENVELOPE.format(body=body)


def fault_response(fault: SoapFaultError) -> web.Response:
    body = envelope(_FAULT.format(code=fault.code, subcode=fault.subcode, reason=escape(fault.reason)))
    return web.Response(status=fault.status, text=body, content_type="application/soap+xml", charset="utf-8")


def parse_envelope(data: bytes) -> tuple[etree._Element | None, etree._Element]:
    """(Security header or None, first element of the Body); raises SoapFaultError on anything unsafe or broken."""
    if b"<!DOCTYPE" in data.upper() or b"<!ENTITY" in data.upper():
        raise SoapFaultError(400, "Sender", "ter:InvalidArgVal", "DTDs are not accepted")
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError:
        raise SoapFaultError(400, "Sender", "ter:WellFormed", "Malformed XML") from None
    body = next((c for c in root if isinstance(c.tag, str) and etree.QName(c).localname == "Body"), None)
    operation = next((c for c in body if isinstance(c.tag, str)), None) if body is not None else None
    if operation is None:
        raise SoapFaultError(400, "Sender", "ter:InvalidArgVal", "No operation in Body")
    security = root.find(f".//{{{_WSSE}}}Security")
    return security, operation


def _token_ok(camera: SimCamera, security: etree._Element | None, now: float) -> bool:
    """Check the UsernameToken against the camera's user and clock."""
    if security is None:
        return False
    token = security.find(f"{{{_WSSE}}}UsernameToken")
    if token is None:
        return False
    user = token.findtext(f"{{{_WSSE}}}Username") or ""
    password = token.find(f"{{{_WSSE}}}Password")
    if password is None or not hmac.compare_digest(user.encode(), camera.credentials.username.encode()):
        return False
    given = (password.text or "").strip()
    secret = camera.credentials.password.encode()
    if not (password.get("Type") or "").endswith("#PasswordDigest"):
        return hmac.compare_digest(given.encode(), secret)
    created = (token.findtext(f"{{{_WSU}}}Created") or "").strip()
    nonce_text = (token.findtext(f"{{{_WSSE}}}Nonce") or "").strip()
    try:
        nonce = base64.b64decode(nonce_text, validate=True)
        stamp = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except (binascii.Error, ValueError):
        return False
    if stamp.tzinfo is None or abs(stamp.timestamp() - now) > FRESHNESS:
        return False
    expected = base64.b64encode(
        hashlib.sha1(nonce + created.encode() + secret, usedforsecurity=False).digest()
    ).decode()
    return hmac.compare_digest(expected.encode(), given.encode())


def camera_time(camera: SimCamera) -> float:
    """The camera's clock: true UTC, shifted by a ``clock_skew`` fault."""
    skew = camera.fault.number(0, 300.0) if camera.has(SimFault.CLOCK_SKEW) and camera.fault else 0.0
    return time.time() + skew


async def handle_soap(camera: SimCamera, request: web.Request) -> web.Response:
    """Answer one SOAP request to the device or media service of ``camera``."""
    if (request.content_length or 0) > MAX_BODY:
        return fault_response(SoapFaultError(413, "Sender", "ter:InvalidArgVal", "Request too large"))
    data = await request.read()  # bounded by the application's client_max_size
    try:
        security, operation = parse_envelope(data)
        name = etree.QName(operation).localname
        now = camera_time(camera)
        if name != "GetSystemDateAndTime":
            _authorize(camera, security, now, request.remote or "?")
        body = _operation(camera, name, operation, now)
    except SoapFaultError as fault:
        return fault_response(fault)
    if camera.has(SimFault.MALFORMED):
        return web.Response(text="<s:Envelope><s:Body><tds:Get", content_type="application/soap+xml")
    return web.Response(text=envelope(body), content_type="application/soap+xml", charset="utf-8")


def _authorize(camera: SimCamera, security: etree._Element | None, now: float, client: str) -> None:
    lockout = camera.lockout
    if lockout is not None and lockout.locked(client):
        raise NOT_AUTHORIZED
    if camera.has(SimFault.AUTH_FAIL) or not _token_ok(camera, security, now):
        if security is not None and lockout is not None:
            lockout.failed(client)
        raise NOT_AUTHORIZED
    if lockout is not None:
        lockout.succeeded(client)


def _operation(camera: SimCamera, name: str, operation: etree._Element, now: float) -> str:
    handler = _OPERATIONS.get(name)
    if handler is None:
        raise SoapFaultError(400, "Receiver", "ter:ActionNotSupported", f"{name} is not supported")
    return handler(camera, operation, now)


def _base(camera: SimCamera) -> str:
    assert camera.onvif is not None
    return f"http://{camera.onvif.host}:{camera.onvif.port}"


def _system_date_and_time(camera: SimCamera, operation: etree._Element, now: float) -> str:
    t = datetime.fromtimestamp(now, UTC)
    return (
        "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType>"
        "<tt:DaylightSavings>false</tt:DaylightSavings><tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>"
        f"<tt:UTCDateTime><tt:Time><tt:Hour>{t.hour}</tt:Hour><tt:Minute>{t.minute}</tt:Minute>"
        f"<tt:Second>{t.second}</tt:Second></tt:Time><tt:Date><tt:Year>{t.year}</tt:Year>"
        f"<tt:Month>{t.month}</tt:Month><tt:Day>{t.day}</tt:Day></tt:Date></tt:UTCDateTime>"
        "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
    )


def _device_information(camera: SimCamera, operation: etree._Element, now: float) -> str:
    serial = hashlib.sha1(camera.id.encode(), usedforsecurity=False).hexdigest()[:12].upper()
    return (
        f"<tds:GetDeviceInformationResponse><tds:Manufacturer>{escape(camera.manufacturer)}</tds:Manufacturer>"
        f"<tds:Model>{escape(camera.model)}</tds:Model><tds:FirmwareVersion>V5.7.3 build 260101</tds:FirmwareVersion>"
        f"<tds:SerialNumber>{serial}</tds:SerialNumber><tds:HardwareId>88</tds:HardwareId>"
        "</tds:GetDeviceInformationResponse>"
    )


def _capabilities(camera: SimCamera, operation: etree._Element, now: float) -> str:
    base = _base(camera)
    assert camera.onvif is not None
    return (
        "<tds:GetCapabilitiesResponse><tds:Capabilities>"
        f"<tt:Device><tt:XAddr>{base}{escape(camera.onvif.path)}</tt:XAddr></tt:Device>"
        f"<tt:Media><tt:XAddr>{base}{MEDIA_PATH}</tt:XAddr><tt:StreamingCapabilities>"
        "<tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP>"
        "<tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>"
        "</tds:Capabilities></tds:GetCapabilitiesResponse>"
    )


def _services(camera: SimCamera, operation: etree._Element, now: float) -> str:
    base = _base(camera)
    assert camera.onvif is not None
    entries = ((DEVICE_NS, f"{base}{escape(camera.onvif.path)}"), (MEDIA_NS, f"{base}{MEDIA_PATH}"))
    return (
        "<tds:GetServicesResponse>"
        + "".join(
            f"<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>{addr}</tds:XAddr>"
            "<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>"
            for ns, addr in entries
        )
        + "</tds:GetServicesResponse>"
    )


def _size(camera: SimCamera) -> tuple[int, int, int]:
    if camera.broadcaster is None:
        return 1280, 720, 25
    spec = camera.broadcaster.clip.clip.spec
    return spec.width, spec.height, spec.fps


def _profiles(camera: SimCamera, operation: etree._Element, now: float) -> str:
    width, height, fps = _size(camera)
    return (
        '<trt:GetProfilesResponse><trt:Profiles token="Profile_1" fixed="true"><tt:Name>mainStream</tt:Name>'
        '<tt:VideoSourceConfiguration token="VideoSourceToken"><tt:Name>VideoSource_1</tt:Name>'
        "<tt:UseCount>1</tt:UseCount><tt:SourceToken>VideoSource_1</tt:SourceToken>"
        f'<tt:Bounds x="0" y="0" width="{width}" height="{height}"/></tt:VideoSourceConfiguration>'
        '<tt:VideoEncoderConfiguration token="VideoEncoderToken_1"><tt:Name>VideoEncoder_1</tt:Name>'
        "<tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>"
        f"<tt:Resolution><tt:Width>{width}</tt:Width><tt:Height>{height}</tt:Height></tt:Resolution>"
        "<tt:Quality>4</tt:Quality><tt:RateControl>"
        f"<tt:FrameRateLimit>{fps}</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval>"
        "<tt:BitrateLimit>2048</tt:BitrateLimit></tt:RateControl>"
        "<tt:H264><tt:GovLength>50</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264>"
        "<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address>"
        "<tt:Port>0</tt:Port><tt:TTL>0</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast>"
        "<tt:SessionTimeout>PT60S</tt:SessionTimeout></tt:VideoEncoderConfiguration>"
        "</trt:Profiles></trt:GetProfilesResponse>"
    )


def _media_uri(tag: str, uri: str) -> str:
    return (
        f"<trt:{tag}Response><trt:MediaUri><tt:Uri>{escape(uri)}</tt:Uri>"
        "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>"
        f"<tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:{tag}Response>"
    )


def _check_profile(operation: etree._Element) -> None:
    token = next((c.text for c in operation.iter() if etree.QName(c).localname == "ProfileToken"), None)
    if token is not None and token.strip() != "Profile_1":
        raise SoapFaultError(400, "Sender", "ter:InvalidArgVal", "No such profile")


def _stream_uri(camera: SimCamera, operation: etree._Element, now: float) -> str:
    _check_profile(operation)
    if camera.rtsp is None:
        raise SoapFaultError(400, "Receiver", "ter:ActionNotSupported", "No RTSP stream")
    endpoint = camera.rtsp
    return _media_uri("GetStreamUri", f"rtsp://{endpoint.host}:{endpoint.port}{endpoint.path}")


def _snapshot_uri(camera: SimCamera, operation: etree._Element, now: float) -> str:
    _check_profile(operation)
    if camera.snapshot is None:
        raise SoapFaultError(400, "Receiver", "ter:ActionNotSupported", "No snapshot")
    endpoint = camera.snapshot
    return _media_uri("GetSnapshotUri", f"http://{endpoint.host}:{endpoint.port}{endpoint.path}")


_OPERATIONS = {
    "GetSystemDateAndTime": _system_date_and_time,
    "GetDeviceInformation": _device_information,
    "GetCapabilities": _capabilities,
    "GetServices": _services,
    "GetProfiles": _profiles,
    "GetStreamUri": _stream_uri,
    "GetSnapshotUri": _snapshot_uri,
}
