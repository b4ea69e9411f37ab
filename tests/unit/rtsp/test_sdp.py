from __future__ import annotations

import base64

import pytest

from sharpeyes.rtsp.errors import ProtocolError
from sharpeyes.rtsp.sdp import parse_sdp, resolve_control
from tests.unit.rtsp.encoded import encode, split_annexb


def sdp_with(sprop: str, codec: str = "H264") -> bytes:
    return (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=cam\r\nt=0 0\r\na=control:*\r\n"
        "m=audio 0 RTP/AVP 0\r\na=control:track0\r\n"
        f"m=video 0 RTP/AVP 96\r\na=rtpmap:96 {codec}/90000\r\n"
        f"a=fmtp:96 packetization-mode=1; {sprop}\r\na=control:track1\r\n"
    ).encode()


def b64(nal: bytes) -> str:
    return base64.b64encode(nal).decode()


def test_h264_codec_control_and_size() -> None:
    nals = split_annexb(encode("libx264", 642, 362))
    sps = next(n for n in nals if n[0] & 0x1F == 7)
    pps = next(n for n in nals if n[0] & 0x1F == 8)
    sdp = parse_sdp(sdp_with(f"sprop-parameter-sets={b64(sps)},{b64(pps)}"))
    video = sdp.first_video()
    assert video is not None
    assert (video.codec, video.control, video.payload_type) == ("h264", "track1", 96)
    assert video.picture_size() == (642, 362)
    assert sdp.control == "*"
    assert sdp.media[0].codec is None or sdp.media[0].kind == "audio"


def test_h265_size_from_sprop_sps_and_unpadded_base64() -> None:
    nals = split_annexb(encode("libx265", 98, 66))
    sps = next(n for n in nals if (n[0] >> 1) & 0x3F == 33)
    video = parse_sdp(sdp_with(f"sprop-sps={b64(sps).rstrip('=')}", codec="H265")).first_video()
    assert video is not None
    assert video.codec == "h265"
    assert video.picture_size() == (98, 66)


def test_bad_base64_gives_no_size_not_an_error() -> None:
    video = parse_sdp(sdp_with("sprop-parameter-sets=!!!not-base64,@@")).first_video()
    assert video is not None
    assert video.picture_size() is None


def test_structural_limits() -> None:
    with pytest.raises(ProtocolError):
        parse_sdp(b"no version line")
    with pytest.raises(ProtocolError):
        parse_sdp(b"v=0\r\n" + b"m=video 0 RTP/AVP 96\r\n" * 10_000)


@pytest.mark.parametrize(
    ("base", "control", "expected"),
    [
        ("rtsp://cam:554/live", "track1", "rtsp://cam:554/live/track1"),
        ("rtsp://cam:554/live/", "track1", "rtsp://cam:554/live/track1"),
        ("rtsp://cam/live", "*", "rtsp://cam/live"),
        ("rtsp://cam/live", "rtsp://CAM:8554/other", "rtsp://CAM:8554/other"),
    ],
)
def test_resolve_control(base: str, control: str, expected: str) -> None:
    assert resolve_control(base, control, "cam") == expected


@pytest.mark.parametrize(
    "control",
    [
        "rtsp://evil.example/x",
        "http://cam/x",
        "rtsp://user:pw@cam/x",
        "file:///etc/passwd",
        "rtsp://cam:99999/x",
    ],
)
def test_control_never_leaves_the_camera_host(control: str) -> None:
    with pytest.raises(ProtocolError):
        resolve_control("rtsp://cam/live", control, "cam")
