"""SOAP 1.2 answers an ONVIF camera gives, as text templates for the fake devices in these tests."""

from __future__ import annotations

import datetime as dt

NS = (
    'xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
    'xmlns:trt="http://www.onvif.org/ver10/media/wsdl" '
    'xmlns:tt="http://www.onvif.org/ver10/schema" '
    'xmlns:ter="http://www.onvif.org/ver10/error"'
)


def envelope(body: str, *, prolog: str = "") -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?>{prolog}<s:Envelope {NS}><s:Body>{body}</s:Body></s:Envelope>'


def system_date_and_time(now: dt.datetime, tz_text: str = "UTC0") -> str:
    return (
        "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
        "<tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>"
        f"<tt:TimeZone><tt:TZ>{tz_text}</tt:TZ></tt:TimeZone><tt:UTCDateTime>"
        f"<tt:Time><tt:Hour>{now.hour}</tt:Hour><tt:Minute>{now.minute}</tt:Minute>"
        f"<tt:Second>{now.second}</tt:Second></tt:Time>"
        f"<tt:Date><tt:Year>{now.year}</tt:Year><tt:Month>{now.month}</tt:Month><tt:Day>{now.day}</tt:Day></tt:Date>"
        "</tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
    )


DEVICE_INFORMATION = (
    "<tds:GetDeviceInformationResponse><tds:Manufacturer>Acme</tds:Manufacturer>"
    "<tds:Model>EyeCam 9</tds:Model>"
    "<tds:FirmwareVersion>V5.4.1 build 200101</tds:FirmwareVersion><tds:SerialNumber>SN1</tds:SerialNumber>"
    "<tds:HardwareId>HW1</tds:HardwareId></tds:GetDeviceInformationResponse>"
)


def capabilities(media_xaddr: str) -> str:
    return (
        "<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Media>"
        f"<tt:XAddr>{media_xaddr}</tt:XAddr><tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast>"
        "<tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities>"
        "</tt:Media></tds:Capabilities></tds:GetCapabilitiesResponse>"
    )


def services(media_xaddr: str) -> str:
    return (
        "<tds:GetServicesResponse><tds:Service><tds:Namespace>http://www.onvif.org/ver10/device/wsdl"
        "</tds:Namespace><tds:XAddr>http://127.0.0.1/onvif/device_service</tds:XAddr><tds:Version>"
        "<tt:Major>2</tt:Major><tt:Minor>5</tt:Minor></tds:Version></tds:Service><tds:Service><tds:Namespace>"
        f"http://www.onvif.org/ver10/media/wsdl</tds:Namespace><tds:XAddr>{media_xaddr}</tds:XAddr>"
        "<tds:Version><tt:Major>2</tt:Major><tt:Minor>5</tt:Minor></tds:Version></tds:Service>"
        "</tds:GetServicesResponse>"
    )


NO_PROFILES = "<trt:GetProfilesResponse/>"

NO_MEDIA_CAPABILITIES = "<tds:GetCapabilitiesResponse><tds:Capabilities/></tds:GetCapabilitiesResponse>"

PROFILES = (
    '<trt:GetProfilesResponse><trt:Profiles token="main" fixed="true"><tt:Name>main</tt:Name>'
    '<tt:VideoEncoderConfiguration token="vec0"><tt:Name>h264</tt:Name><tt:UseCount>1</tt:UseCount>'
    "<tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>1920</tt:Width><tt:Height>1080</tt:Height>"
    "</tt:Resolution><tt:Quality>5</tt:Quality></tt:VideoEncoderConfiguration></trt:Profiles>"
    '<trt:Profiles token="sub" fixed="true"><tt:Name>sub</tt:Name></trt:Profiles></trt:GetProfilesResponse>'
)


def media_uri(operation: str, uri: str) -> str:
    return (
        f"<trt:{operation}Response><trt:MediaUri><tt:Uri>{uri}</tt:Uri>"
        "<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>"
        f"<tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:{operation}Response>"
    )


NOT_AUTHORIZED = (
    "<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>ter:NotAuthorized</s:Value></s:Subcode>"
    '</s:Code><s:Reason><s:Text xml:lang="en">Sender not Authorized</s:Text></s:Reason></s:Fault>'
)

ACTION_NOT_SUPPORTED = (
    "<s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>ter:ActionNotSupported</s:Value>"
    '</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">Not supported</s:Text></s:Reason></s:Fault>'
)

BILLION_LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
    + "]>"
)


def external_entity(system_id: str) -> str:
    """A DOCTYPE declaring an external entity ``xxe`` (used in the body as ``&xxe;``)."""
    return f'<!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM "{system_id}">]>'


def external_dtd(system_id: str) -> str:
    return f'<!DOCTYPE s:Envelope SYSTEM "{system_id}">'
