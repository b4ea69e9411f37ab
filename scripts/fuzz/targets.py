"""Fuzz targets: each takes raw bytes and must raise nothing but the parser's documented error.

Used by scripts/fuzz.py (atheris, coverage-guided) and importable on its own. A target returns normally for
every input it accepts or rejects properly; any other exception, or a broken invariant (an ``AssertionError``),
is a finding.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

from sqlalchemy import Engine

from sharpeyes.errors import InputError
from sharpeyes.probers.base import AuthPolicy
from sharpeyes.redact import MASK, Secret, redact_text, redact_url
from sharpeyes.registry.db import make_engine, upgrade
from sharpeyes.registry.io import parse_content, parse_files, validated
from sharpeyes.registry.store import import_inventory, load_inventory
from sharpeyes.rtsp.auth import MAX_CHALLENGES, Authenticator, parse_challenges
from sharpeyes.rtsp.errors import AuthError, ProtocolError
from sharpeyes.rtsp.h264 import H264Depacketizer, H265Depacketizer, RtpPacket, h264_sps_size, h265_sps_size
from sharpeyes.rtsp.message import Limits, MessageParser, Response
from sharpeyes.rtsp.sdp import parse_sdp, resolve_control

LIMITS = Limits(max_line_bytes=256, max_header_count=16, max_header_bytes=2048, max_body_bytes=4096)


def chunk_sizes(seed: int, largest: int = 64) -> Iterator[int]:
    """Chunk sizes 1..``largest`` that change at every step, from a small linear congruential generator."""
    state = seed
    while True:
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        yield (state >> 8) % largest + 1


def rtsp_message(data: bytes) -> None:
    """The RTSP response/interleaved-frame parser, fed in chunks of changing sizes (1..64 bytes) drawn from a
    sequence the first byte seeds: every split point, one call per chunk (a fixed size of 1 cost one parser
    call per byte of a 4 kB input)."""
    if not data:
        return
    body, sizes = data[1:], chunk_sizes(data[0])
    parser = MessageParser(LIMITS)
    try:
        pos = 0
        while pos < len(body):
            chunk = next(sizes)
            parser.feed(body[pos : pos + chunk])
            pos += chunk
            while (event := parser.next_event()) is not None:
                if isinstance(event, Response):
                    assert 100 <= event.status <= 999
                    assert len(event.body) <= LIMITS.max_body_bytes
            assert parser.buffered <= LIMITS.max_head_bytes + LIMITS.max_body_bytes + 4 + chunk
    except ProtocolError:
        return


def sdp(data: bytes) -> None:
    """The SDP parser, then everything the prober reads from it, and control URLs pinned to the host."""
    try:
        session = parse_sdp(data)
        for media in session.media:
            _ = media.codec, media.payload_type
            media.parameter_sets()
            media.picture_size()
            url = resolve_control("rtsp://127.0.0.1:554/cam/", media.control, "127.0.0.1")
            assert url.startswith("rtsp://127.0.0.1") or url.startswith("rtsps://127.0.0.1"), url
    except ProtocolError:
        return


def h264(data: bytes) -> None:
    """RTP payloads through the H.264 and H.265 depacketizers (bounded), and the SPS size parsers."""
    for parse in (h264_sps_size, h265_sps_size):
        try:
            w, h = parse(data)
            assert 0 < w <= 16384 and 0 < h <= 16384
        except ProtocolError:
            pass
    packets, seq, pos = [], 0, 0
    while pos < len(data):
        size = data[pos] % 120 + 1
        flags = data[pos + 1] if pos + 1 < len(data) else 0
        payload = data[pos + 2 : pos + 2 + size]
        pos += 2 + size
        seq = (seq + 1 + (flags >> 6 == 3)) & 0xFFFF  # now and then a lost packet
        packets.append(RtpPacket(96, bool(flags & 1), seq, flags >> 4, 1, payload))
    for depack in (
        H264Depacketizer(max_au_bytes=2000, max_nal_units=16),
        H265Depacketizer(max_au_bytes=2000, max_nal_units=16),
    ):
        try:
            for packet in packets:
                for unit in depack.push(packet):
                    assert unit.size <= 2000 and 0 < len(unit.nal_units) <= 16
                    unit.annexb()
        except ProtocolError:
            pass


def digest(data: bytes) -> None:
    """WWW-Authenticate values through the challenge parser and the authenticator."""
    values = data.decode("utf-8", "replace").split("\n")[:4]
    try:
        challenges = parse_challenges(values)
    except ProtocolError:
        return
    assert len(challenges) <= MAX_CHALLENGES
    auth = Authenticator("u", Secret("p@ss:w/o#r?d%"), AuthPolicy.BASIC_ALLOWED)
    try:
        auth.accept_challenge(values)
    except (AuthError, ProtocolError):
        return
    header = auth.authorization("DESCRIBE", "rtsp://127.0.0.1/x")
    assert header is not None
    assert "p@ss:w/o#r?d%" not in header


def _forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}


def redaction(data: bytes) -> None:
    """A secret (no ``*``, at least 4 characters) hidden in text and in URL userinfo never survives."""
    text = data.decode("utf-8", "replace")
    secret, _, rest = text.partition("\n")
    secret = secret.replace("*", "")
    if len(secret) < 4:
        return
    url = f"rtsp://admin:{quote(secret, safe='')}@127.0.0.1:554/x"
    out_url = redact_url(url)
    assert f":{quote(secret, safe='')}@" not in out_url
    blob = f"{rest} {secret} {quote(secret, safe='')} {quote_plus(secret)} {url} {quote(secret)}"
    out = redact_text(blob, [Secret(secret)])
    for form in _forms(secret):
        assert form not in out, (secret, form)
    assert MASK in out


REGISTRY_NAMES = ("districts.csv", "areas.csv", "cameras.csv", "registry.yml")
SCRATCH_ENV = "SHARPEYES_FUZZ_SCRATCH"
_scratch: list[Path] = []


def scratch_dir() -> Path:
    """One folder per process for the registry file, made once: a folder per input (mkdir + rmdir) cost more
    than the parsing. ``SHARPEYES_FUZZ_SCRATCH`` (set by the campaign, under its work folder) or a temp folder."""
    if not _scratch:
        given = os.environ.get(SCRATCH_ENV)
        folder = Path(given) if given else Path(tempfile.mkdtemp(prefix="sharpeyes-fuzz-"))
        folder.mkdir(parents=True, exist_ok=True)
        _scratch.append(folder)
    return _scratch[0]


def registry_csv(data: bytes) -> None:
    """The registry parser and validator on one file's content (in memory) whose name (districts/areas/cameras
    CSV, YAML) the first byte picks: only ``InputError`` with non-empty problems, or an inventory."""
    if not data:
        return
    parsed = parse_content(Path(REGISTRY_NAMES[data[0] % len(REGISTRY_NAMES)]), data[1:])
    try:
        validated(parsed)
    except InputError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)


def _registry_db() -> Engine:
    if not _engine:
        engine = make_engine(f"sqlite:///{scratch_dir() / 'registry.db'}", sqlite_synchronous="NORMAL")
        upgrade(engine)
        _engine.append(engine)
    return _engine[0]


_engine: list[Engine] = []


def registry_import(data: bytes) -> None:
    """The whole import: a real file read from disk, parsed, validated and, when valid, merged into a SQLite
    registry (one per process, kept between inputs, ``prune`` on); what is read back equals what was imported."""
    if not data:
        return
    path = scratch_dir() / REGISTRY_NAMES[data[0] % len(REGISTRY_NAMES)]
    path.write_bytes(data[1:])
    try:
        report = import_inventory(_registry_db(), parse_files([path]), prune=True)
    except InputError as exc:
        assert exc.problems and all(isinstance(p, str) and p for p in exc.problems)
        return
    stored, imported = load_inventory(_registry_db()), report.inventory
    for kind in ("districts", "areas", "cameras"):
        assert set(getattr(stored, kind)) == set(getattr(imported, kind)), kind


TARGETS: dict[str, Callable[[bytes], None]] = {
    "rtsp_message": rtsp_message,
    "sdp": sdp,
    "h264": h264,
    "digest": digest,
    "redaction": redaction,
    "registry_csv": registry_csv,
    "registry_import": registry_import,
}
