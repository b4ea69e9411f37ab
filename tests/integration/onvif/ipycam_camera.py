"""Run ipycam (a third-party, pure-Python ONVIF camera) on loopback, for tests. Run as a script.

Credentials come from the environment (``IPYCAM_USER``, ``IPYCAM_PASSWORD``), never argv. The camera is
confined to 127.0.0.1: its WS-Discovery (which joins multicast 239.255.255.250) is replaced by a no-op, its
HTTP/ONVIF and RTSP servers bind 127.0.0.1 on ports the kernel picks, and ``local_ip`` is 127.0.0.1 so every
URL it advertises points at loopback. go2rtc is reported absent, so ipycam uses its native RTSP server.
When ready it prints one JSON line ``{"onvif_port": …, "rtsp_port": …}``; it stops when stdin closes.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any

import ipycam.camera as ipycam_camera
import numpy as np
from ipycam import CameraConfig, IPCamera

LOOPBACK = "127.0.0.1"


class NoDiscovery:
    """Stands in for ipycam's WSDiscoveryServer: never opens a socket, never joins a multicast group."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


def confine(config: CameraConfig) -> None:
    """Patch ipycam's server classes so everything binds 127.0.0.1 on a free port and reports that port."""

    class LoopbackHTTPServer(ipycam_camera.ReusableThreadingTCPServer):  # type: ignore[misc]
        def __init__(self, address: tuple[str, int], handler: Any) -> None:
            super().__init__((LOOPBACK, 0), handler)
            config.onvif_port = self.server_address[1]

    class LoopbackRTSPServer(ipycam_camera.NativeRTSPServer):  # type: ignore[misc]
        def __init__(self, port: int = 0, host: str = LOOPBACK) -> None:
            super().__init__(port=0, host=LOOPBACK)

        def start(self) -> bool:
            started: bool = super().start()
            if started and self._server_socket is not None:
                self.port = self._server_socket.getsockname()[1]
                config.rtsp_port = self.port
            return started

    ipycam_camera.WSDiscoveryServer = NoDiscovery
    ipycam_camera.ReusableThreadingTCPServer = LoopbackHTTPServer
    ipycam_camera.NativeRTSPServer = LoopbackRTSPServer
    ipycam_camera.check_go2rtc_running = lambda *a, **k: False
    ipycam_camera.check_rtsp_port_available = lambda *a, **k: False
    ipycam_camera.is_webrtc_available = lambda: False


def feed(camera: IPCamera, stop: threading.Event) -> None:
    """A small synthetic picture, a few frames a second (ipycam paces to main_fps)."""
    frame = np.zeros((camera.config.main_height, camera.config.main_width, 3), dtype=np.uint8)
    frame[:, :, 1] = 96
    while not stop.is_set():
        camera.stream(frame)


def main() -> None:
    config = CameraConfig(
        name="sharpeyes-test",
        manufacturer="PythonCam",
        model="VirtualCam-1",
        local_ip=LOOPBACK,
        username=os.environ.get("IPYCAM_USER", ""),
        password=os.environ.get("IPYCAM_PASSWORD", ""),
        main_width=1280,
        main_height=720,
        main_fps=2,
        sub_width=640,
        sub_height=360,
        sub_fps=2,
        show_timestamp=False,
        hw_accel="cpu",
    )
    confine(config)
    camera = IPCamera(config)
    camera.start()
    stop = threading.Event()
    feeder = threading.Thread(target=feed, args=(camera, stop), daemon=True)
    feeder.start()
    print(json.dumps({"onvif_port": config.onvif_port, "rtsp_port": config.rtsp_port}), flush=True)
    sys.stdin.read()  # until the test closes our stdin
    stop.set()
    feeder.join(timeout=2)
    camera.stop()


if __name__ == "__main__":
    main()
