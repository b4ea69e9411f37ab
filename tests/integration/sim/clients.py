"""Third-party clients used against the simulator: PyAV, OpenCV, ffprobe (blocking; call from threads)."""

from __future__ import annotations

import json
import os
import subprocess

import av
import cv2
import numpy as np
import numpy.typing as npt

Frame = npt.NDArray[np.uint8]


def pyav_frames(url: str, count: int, timeout: float = 10.0) -> list[Frame]:
    """Decode ``count`` consecutive RGB frames with PyAV over RTSP/TCP."""
    options = {"rtsp_transport": "tcp", "fpsprobesize": "0", "analyzeduration": "0"}
    frames: list[Frame] = []
    with av.open(url, options=options, timeout=timeout) as container:
        for frame in container.decode(video=0):
            frames.append(np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8))
            if len(frames) >= count:
                break
    return frames


def opencv_frame(url: str, timeout_ms: int = 10000) -> Frame | None:
    """Open with OpenCV's FFmpeg backend over TCP and read one frame (BGR)."""
    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = "rtsp_transport;tcp|fpsprobesize;0|analyzeduration;0"
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]
    capture = cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
    try:
        ok, frame = capture.read()
        return np.asarray(frame, dtype=np.uint8) if ok else None
    finally:
        capture.release()


def ffprobe(url: str, timeout: float = 20.0, transport: str = "tcp") -> tuple[int, dict[str, object]]:
    """Run ffprobe (RTSP over ``transport``), decoding frames; returns (exit code, first stream's fields)."""
    argv = [
        "ffprobe", "-v", "error", "-rtsp_transport", transport, "-timeout", "5000000",
        "-count_frames", "-read_intervals", "%+#10", "-select_streams", "v:0",
        "-show_entries", "stream=codec_name,width,height,nb_read_frames,profile", "-of", "json", url,
    ]  # fmt: skip
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return -1, {}
    if proc.returncode != 0:
        return proc.returncode, {}
    streams = json.loads(proc.stdout).get("streams") or [{}]
    return proc.returncode, dict(streams[0])


class RawRtsp:
    """A minimal blocking RTSP client for checking exact server behaviour (Basic auth only)."""

    def __init__(self, host: str, port: int, timeout: float = 3.0) -> None:
        import socket

        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.cseq = 0
        self.buf = b""
        self.session = ""

    def close(self) -> None:
        self.sock.close()

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        self.buf += chunk

    def request(
        self, method: str, url: str, *, auth: tuple[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> tuple[str, dict[str, str], bytes]:
        """Send a request; return (status line, headers, body)."""
        import base64

        self.cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self.cseq}"]
        if auth:
            lines.append("Authorization: Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
        if self.session:
            lines.append(f"Session: {self.session}")
        lines.extend(f"{k}: {v}" for k, v in (headers or {}).items())
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return self.response_after_media()

    def response(self) -> tuple[str, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status, *rest = head.decode().split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in rest)}
        length = int(headers.get("content-length", "0"))
        while len(self.buf) < length:
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        if "session" in headers:
            self.session = headers["session"].split(";")[0]
        return status, headers, body

    def response_after_media(self) -> tuple[str, dict[str, str], bytes]:
        """Skip interleaved media until the next RTSP response, and return it."""
        while True:
            while not self.buf:
                self._fill()
            if self.buf[:1] != b"$":
                return self.response()
            self.interleaved()

    def play(self, url: str, auth: tuple[str, str]) -> str:
        """DESCRIBE, SETUP, PLAY; returns PLAY's status line."""
        self.request("DESCRIBE", url, auth=auth, headers={"Accept": "application/sdp"})
        self.request("SETUP", url + "/trackID=1", auth=auth, headers={"Transport": "RTP/AVP/TCP;interleaved=0-1"})
        return self.request("PLAY", url, auth=auth)[0]

    def interleaved(self) -> tuple[int, bytes]:
        """The next interleaved frame: (channel, RTP packet)."""
        while len(self.buf) < 4:
            self._fill()
        assert self.buf[0:1] == b"$", self.buf[:16]
        channel, length = self.buf[1], int.from_bytes(self.buf[2:4], "big")
        while len(self.buf) < 4 + length:
            self._fill()
        packet, self.buf = self.buf[4 : 4 + length], self.buf[4 + length :]
        return channel, packet
