"""One real-time paced sender per clip, shared by every camera and viewer showing that clip.

The broadcaster keeps a shared timeline: frame ``g`` is due at ``t0 + g / fps`` and carries the RTP timestamp
``base + g * ticks`` of each viewer. A viewer joins at the next keyframe of the timeline (like a real camera), or
with ``at_once`` starts from the clip's first keyframe right away, on its own phase of the loop. One timer runs
per clip while it has viewers; nothing runs for a clip nobody watches.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Protocol

from sharpeyes.sim.rtp import PacketizedClip, stamp

_MAX_BUFFER = 4 * 1024 * 1024  # a viewer this far behind skips to the next keyframe
_MAX_CATCH_UP = 10  # frames sent in one tick after a stall; older ones are skipped


class Sink(Protocol):
    """Where a viewer's RTP goes: a TCP transport (interleaved) or a UDP sender."""

    def write(self, data: bytes | bytearray) -> None: ...

    def is_closing(self) -> bool: ...

    def get_write_buffer_size(self) -> int: ...


@dataclass(slots=True, eq=False)
class Viewer:
    """One playing RTSP session: where to write and its own RTP numbering."""

    transport: Sink
    channel: int
    ssrc: int
    seq: int = field(default_factory=lambda: secrets.randbits(16))
    ts_base: int = field(default_factory=lambda: secrets.randbits(32))
    offset: int = 0  # clip index = (g + offset) % n
    waiting: bool = True  # waiting for a keyframe
    frames_sent: int = 0


class Broadcaster:
    """Paces one packetized clip to its viewers at the clip's frame rate."""

    def __init__(self, clip: PacketizedClip) -> None:
        self.clip = clip
        self.fps = clip.clip.spec.fps
        self.t0 = time.monotonic()
        self.viewers: set[Viewer] = set()
        self._task: asyncio.Task[None] | None = None
        self._next = self._frame_at(self.t0) + 1

    def _frame_at(self, now: float) -> int:
        return int((now - self.t0) * self.fps)

    def next_frame(self) -> int:
        """The timeline index of the next frame to be sent."""
        return max(self._next, self._frame_at(time.monotonic()) + 1)

    def first_timestamp(self, viewer: Viewer, *, at_once: bool) -> int:
        """The RTP timestamp of the first frame ``viewer`` will get (for RTP-Info)."""
        g = self.next_frame()
        if not at_once:
            n = len(self.clip.units)
            while not self.clip.units[g % n].key:
                g += 1
        return (viewer.ts_base + g * self.clip.frame_ticks) & 0xFFFFFFFF

    def add(self, viewer: Viewer, *, at_once: bool = False) -> None:
        """Start sending to ``viewer`` from the next keyframe, or (``at_once``) from the clip's start now."""
        idle = self._task is None or self._task.done()
        if idle:  # resume the shared timeline where the clock is now, without a catch-up burst
            self._next = self._frame_at(time.monotonic()) + 1
        if at_once:
            n = len(self.clip.units)
            viewer.offset = (-self.next_frame()) % n
            viewer.waiting = False
        self.viewers.add(viewer)
        if idle:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def remove(self, viewer: Viewer) -> None:
        self.viewers.discard(viewer)

    async def close(self) -> None:
        self.viewers.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while self.viewers:
            now = time.monotonic()
            due = self._frame_at(now)
            if due - self._next >= _MAX_CATCH_UP:
                self._next = due - _MAX_CATCH_UP + 1
            while self._next <= due:
                self._send(self._next)
                self._next += 1
            await asyncio.sleep(max(0.0, self.t0 + self._next / self.fps - time.monotonic()))

    def _send(self, g: int) -> None:
        units = self.clip.units
        n = len(units)
        ticks = self.clip.frame_ticks
        for viewer in list(self.viewers):
            transport = viewer.transport
            if transport.is_closing():
                self.viewers.discard(viewer)
                continue
            unit = units[(g + viewer.offset) % n]
            if viewer.waiting:
                if not unit.key:
                    continue
                viewer.waiting = False
            if transport.get_write_buffer_size() > _MAX_BUFFER:
                viewer.waiting = True  # a slow reader: drop until the next keyframe, as cameras do
                continue
            data, viewer.seq = stamp(unit, viewer.channel, viewer.seq, viewer.ts_base + g * ticks, viewer.ssrc)
            transport.write(data)
            viewer.frames_sent += 1
