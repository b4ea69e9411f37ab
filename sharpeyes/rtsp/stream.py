"""Playing a camera's video over TCP interleaved and taking access units from it (for the frame grabber).

:func:`start_video` runs DESCRIBE (if not done), SETUP of the first video stream and PLAY. :func:`access_units`
then yields the stream's access units in order; :func:`first_keyframe` waits for the first complete IDR/IRAP
unit and prepends the SDP's parameter sets when the camera does not repeat them in band, so the unit decodes
on its own. Everything stays under the client's deadline; nothing here decodes.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from sharpeyes.rtsp.client import RtspClient
from sharpeyes.rtsp.errors import ProtocolError
from sharpeyes.rtsp.h264 import AccessUnit, H264Depacketizer, H265Depacketizer, depacketizer_for, parse_rtp
from sharpeyes.rtsp.sdp import MediaDescription

_H264_PARAMETER_SETS = {7, 8}
_H265_PARAMETER_SETS = {32, 33, 34}


@dataclass(frozen=True, slots=True)
class VideoStream:
    """The playing video stream: its SDP media, codec and the interleaved channel carrying its RTP."""

    media: MediaDescription
    codec: str
    rtp_channel: int
    play_started: float


async def start_video(client: RtspClient) -> VideoStream:
    """SETUP the first H.264/H.265 video stream over TCP interleaved, then PLAY."""
    sdp = client.sdp or await client.describe()
    media = sdp.first_video()
    if media is None or media.codec not in ("h264", "h265"):
        raise ProtocolError("no H.264 or H.265 video stream in the SDP")
    rtp_channel, _ = await client.setup(media.control)
    await client.play()
    return VideoStream(media, media.codec, rtp_channel, time.monotonic())


async def access_units(
    client: RtspClient, stream: VideoStream, depacketizer: H264Depacketizer | H265Depacketizer | None = None
) -> AsyncIterator[AccessUnit]:
    """The stream's access units in order (RTCP and other payload types are skipped)."""
    depack = depacketizer or depacketizer_for(stream.codec)
    payload_type = stream.media.payload_type
    while True:
        frame = await client.read_frame()
        if frame.channel != stream.rtp_channel:
            continue
        packet = parse_rtp(frame.payload)
        if payload_type is not None and packet.payload_type != payload_type:
            continue
        for unit in depack.push(packet):
            yield unit


def with_parameter_sets(unit: AccessUnit, media: MediaDescription) -> AccessUnit:
    """The unit with the SDP's parameter sets in front, unless it already carries its own."""
    wanted = _H265_PARAMETER_SETS if unit.codec == "h265" else _H264_PARAMETER_SETS
    if wanted <= set(unit.nal_types):
        return unit
    return replace(unit, nal_units=(*media.parameter_sets(), *unit.nal_units))


async def first_keyframe(client: RtspClient, stream: VideoStream) -> AccessUnit:
    """The first complete IDR (H.264) or IRAP (H.265) unit, ready to decode on its own."""
    async for unit in access_units(client, stream):
        if unit.is_idr and unit.complete:
            return with_parameter_sets(unit, stream.media)
    raise ProtocolError("stream ended")  # pragma: no cover (access_units never ends by itself)
