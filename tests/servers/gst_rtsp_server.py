"""A third-party RTSP camera for tests: Debian's gst-rtsp-server, driven from ``/usr/bin/python3``.

Run by the system interpreter (it has python3-gi; the project's venv does not). Each ``--mount NAME AUTH
PATTERN`` adds ``/NAME`` serving ``videotestsrc pattern=PATTERN`` as live H.264 (H.265 with ``--h265
NAME``); AUTH is ``open``, ``basic`` or ``digest``. Gst's authentication is per server, so each auth kind
gets its own server (and port), all bound to ``--address`` (loopback). Credentials come from the environment
(``GST_RTSP_USER``/``GST_RTSP_PASSWORD``), never argv. When every server listens the script prints one line
``READY {json}`` mapping each mount to its URL, then serves until stdin closes (so it never outlives its
parent) or it gets SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

ROLE = "user"


def pipeline(pattern: str, width: int, height: int, fps: int, blur: bool, h265: bool) -> str:
    """The launch line of one mount: a live test source encoded like a camera (GOP 50)."""
    blur_el = " ! videoconvert ! gaussianblur sigma=8" if blur else ""
    encoder = (
        "x265enc tune=zerolatency speed-preset=ultrafast key-int-max=50 ! rtph265pay name=pay0 pt=96"
        if h265
        else "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=50 ! rtph264pay name=pay0 pt=96"
    )
    return (
        f"( videotestsrc is-live=true pattern={pattern}"
        f" ! video/x-raw,width={width},height={height},framerate={fps}/1{blur_el}"
        f" ! videoconvert ! {encoder} config-interval=1 )"
    )


def make_auth(kind: str, user: str, password: str) -> GstRtspServer.RTSPAuth:
    """A Basic-only or Digest-only authenticator with one user."""
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", ROLE)
    if kind == "basic":
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    else:
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        auth.add_digest(user, password, token)
    return auth


def make_server(address: str, kind: str, user: str, password: str) -> GstRtspServer.RTSPServer:
    server = GstRtspServer.RTSPServer()
    server.set_address(address)
    server.set_service("0")
    server.set_backlog(256)
    if kind != "open":
        server.set_auth(make_auth(kind, user, password))
    return server


def add_mount(server: GstRtspServer.RTSPServer, name: str, launch: str, protected: bool, shared: bool) -> None:
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(shared)
    if protected:
        role = Gst.Structure.from_string(
            f"{ROLE}, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
        )[0]
        factory.add_role_from_structure(role)
    server.get_mount_points().add_factory(f"/{name}", factory)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--mount", nargs=3, action="append", metavar=("NAME", "AUTH", "PATTERN"), default=[])
    ap.add_argument("--blur", action="append", default=[], metavar="NAME", help="blur this mount")
    ap.add_argument("--h265", action="append", default=[], metavar="NAME", help="encode this mount as H.265")
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=240)
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--shared", action="store_true", help="one media per mount shared by all clients")
    args = ap.parse_args()
    if not args.address.startswith("127.") and args.address != "::1":
        sys.exit("gst_rtsp_server: loopback addresses only")
    Gst.init(None)
    user = os.environ.get("GST_RTSP_USER", "admin")
    password = os.environ.get("GST_RTSP_PASSWORD", "admin")
    servers: dict[str, GstRtspServer.RTSPServer] = {}
    for name, kind, pattern in args.mount or [["open", "open", "ball"]]:
        if kind not in ("open", "basic", "digest"):
            sys.exit(f"gst_rtsp_server: unknown auth {kind!r}")
        server = servers.get(kind) or servers.setdefault(kind, make_server(args.address, kind, user, password))
        launch = pipeline(pattern, args.width, args.height, args.fps, name in args.blur, name in args.h265)
        add_mount(server, name, launch, kind != "open", args.shared)
    urls: dict[str, str] = {}
    for kind, server in servers.items():
        if server.attach(None) == 0:
            sys.exit(f"gst_rtsp_server: cannot listen for {kind}")
    host = f"[{args.address}]" if ":" in args.address else args.address
    for name, kind, _ in args.mount or [["open", "open", "ball"]]:
        urls[name] = f"rtsp://{host}:{servers[kind].get_bound_port()}/{name}"
    loop = GLib.MainLoop()
    GLib.io_add_watch(sys.stdin.fileno(), GLib.IO_HUP | GLib.IO_IN | GLib.IO_ERR, lambda *_: loop.quit())
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    print("READY " + json.dumps(urls), flush=True)
    loop.run()


if __name__ == "__main__":
    main()
