"""Session descriptions (SDP, RFC 4566) as RTSP cameras send them: codec, control URLs, parameter sets.

Bounded (line and media counts) and tolerant of what does not matter for probing; structural nonsense raises
:class:`~sharpeyes.rtsp.errors.ProtocolError`. The picture size comes from the SPS in ``sprop-parameter-sets``
(H.264) or ``sprop-sps`` (H.265). Control URLs resolve only to ``rtsp``/``rtsps`` on the camera's own host.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from sharpeyes.rtsp.errors import ProtocolError
from sharpeyes.rtsp.h264 import h264_sps_size, h265_sps_size

MAX_LINES = 4096
MAX_MEDIA = 16
MAX_FMTP_PARAMS = 64
ALLOWED_SCHEMES = ("rtsp", "rtsps")
_CODEC_NAMES = {"h264": "h264", "h265": "h265", "hevc": "h265", "jpeg": "mjpeg", "mp4v-es": "mpeg4"}
_STATIC_PAYLOADS = {26: "mjpeg", 32: "mpeg2", 33: "mp2t"}


@dataclass(slots=True)
class MediaDescription:
    """One ``m=`` section."""

    kind: str
    payload_types: tuple[int, ...]
    control: str | None = None
    rtpmap: dict[int, tuple[str, int]] = field(default_factory=dict)
    fmtp: dict[int, dict[str, str]] = field(default_factory=dict)

    @property
    def payload_type(self) -> int | None:
        return self.payload_types[0] if self.payload_types else None

    @property
    def codec(self) -> str | None:
        """Normalised codec name of the first payload type (``h264``, ``h265``, ``mjpeg`` …)."""
        pt = self.payload_type
        if pt is None:
            return None
        if pt in self.rtpmap:
            name = self.rtpmap[pt][0].lower()
            return _CODEC_NAMES.get(name, name[:32])
        return _STATIC_PAYLOADS.get(pt)

    def parameter_sets(self) -> list[bytes]:
        """The NAL units in the fmtp of the first payload type; undecodable base64 is ignored."""
        params = self.fmtp.get(self.payload_type or -1, {})
        if self.codec == "h265":
            values = [params.get(k, "") for k in ("sprop-vps", "sprop-sps", "sprop-pps")]
        else:
            values = [params.get("sprop-parameter-sets", "")]
        return [nal for v in values for nal in _b64_list(v)]

    def picture_size(self) -> tuple[int, int] | None:
        """Width and height from the SPS, or ``None`` if there is no usable SPS."""
        for nal in self.parameter_sets():
            try:
                if self.codec == "h264" and nal[0] & 0x1F == 7:
                    return h264_sps_size(nal)
                if self.codec == "h265" and len(nal) > 1 and (nal[0] >> 1) & 0x3F == 33:
                    return h265_sps_size(nal)
            except ProtocolError:
                return None
        return None


@dataclass(slots=True)
class SessionDescription:
    """A parsed SDP: the session-level control attribute and the media sections."""

    control: str | None = None
    media: list[MediaDescription] = field(default_factory=list)

    def first_video(self) -> MediaDescription | None:
        return next((m for m in self.media if m.kind == "video"), None)


def _b64_list(value: str) -> list[bytes]:
    out = []
    for item in value.split(",")[:8]:
        item = item.strip()
        if not item:
            continue
        try:
            nal = base64.b64decode(item + "=" * (-len(item) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        if nal:
            out.append(nal)
    return out


def parse_sdp(body: bytes) -> SessionDescription:
    """Parse an SDP body. At most :data:`MAX_LINES` lines and :data:`MAX_MEDIA` media sections."""
    lines = body.decode("utf-8", errors="replace").splitlines()
    if len(lines) > MAX_LINES:
        raise ProtocolError("SDP has too many lines")
    if not lines or not lines[0].startswith("v="):
        raise ProtocolError("SDP does not start with v=")
    session = SessionDescription()
    for line in lines:
        key, sep, value = line.partition("=")
        if not sep or len(key) != 1:
            continue
        if key == "m":
            if len(session.media) >= MAX_MEDIA:
                raise ProtocolError("SDP has too many media sections")
            session.media.append(_parse_media_line(value))
        elif key == "a":
            _apply_attribute(session, session.media[-1] if session.media else None, value)
    return session


def _parse_media_line(value: str) -> MediaDescription:
    parts = value.split()
    if len(parts) < 3:
        raise ProtocolError("malformed m= line")
    pts = tuple(int(p) for p in parts[3:20] if p.isdigit() and int(p) < 128)
    return MediaDescription(kind=parts[0].lower()[:32], payload_types=pts)


def _apply_attribute(session: SessionDescription, media: MediaDescription | None, value: str) -> None:
    name, _, arg = value.partition(":")
    name = name.strip().lower()
    if name == "control":
        if media is None:
            session.control = arg.strip()
        else:
            media.control = arg.strip()
    elif media is not None and name in ("rtpmap", "fmtp"):
        pt_text, _, rest = arg.strip().partition(" ")
        if not pt_text.isdigit() or int(pt_text) > 127:
            return
        if name == "rtpmap":
            media.rtpmap[int(pt_text)] = _parse_rtpmap(rest)
        else:
            media.fmtp[int(pt_text)] = _parse_fmtp(rest)


def _parse_rtpmap(rest: str) -> tuple[str, int]:
    encoding, _, clock = rest.strip().partition("/")
    rate = clock.partition("/")[0]
    return encoding.strip()[:64], int(rate) if rate.isdigit() and len(rate) < 10 else 0


def _parse_fmtp(rest: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in rest.split(";")[:MAX_FMTP_PARAMS]:
        key, sep, value = item.strip().partition("=")
        if sep:
            out[key.strip().lower()] = value.strip()
    return out


def resolve_control(base_url: str, control: str | None, host: str) -> str:
    """The absolute URL for a control attribute, relative to ``base_url`` (Content-Base or request URL).

    Absolute controls must use ``rtsp``/``rtsps`` and point at ``host``; otherwise :class:`ProtocolError`.
    """
    if control is None or control in ("", "*"):
        return base_url
    if "://" in control:
        url = control
    else:
        base = base_url if base_url.endswith("/") else base_url + "/"
        url = urljoin(base, control)
    check_same_host(url, host)
    return url


def check_same_host(url: str, host: str) -> None:
    """Raise :class:`ProtocolError` unless ``url`` is rtsp/rtsps, has no userinfo and targets ``host``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ProtocolError("malformed URL from the camera") from exc
    del port
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise ProtocolError("URL scheme is not rtsp or rtsps")
    if "@" in parts.netloc:
        raise ProtocolError("URL from the camera carries userinfo")
    if (parts.hostname or "").lower() != host.lower().strip("[]"):
        raise ProtocolError("URL points at another host than the registered one")
