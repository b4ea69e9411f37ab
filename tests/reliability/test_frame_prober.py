"""RELIABILITY.md N2, P4 and R4 through the frame prober (probers/frame.py) and its kill-able decode workers.

Cameras are the scripted RTSP cameras of tests/integration/test_frame_hostile.py (a real libx264 stream, or
what a hostile camera makes of it). Besides the usual L5 check (:func:`back_to_baseline`), the whole process
tree is checked: decode workers are the forkserver's children, so a worker killed and not reaped would be a
zombie there; after the test it holds as many processes as before (every killed worker replaced, none leaked).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import numpy as np
import pytest

from sharpeyes.probers import frame, workers
from sharpeyes.probers.base import (
    BackPressureError,
    Deadline,
    FaultCode,
    Phase,
    ProbeResult,
    ProbeTarget,
    Reason,
    run_probe,
)
from sharpeyes.probers.frame_job import FrameJob
from sharpeyes.probers.workers import WorkerPool
from sharpeyes.quality.thresholds import Thresholds
from sharpeyes.settings import FrameOptions, ProbeModule
from tests.integration.fake_rtsp import FakeRtspServer
from tests.integration.test_frame_hostile import _probe, _split_start_codes, camera, stream
from tests.reliability import decoder_handlers
from tests.reliability.contract import back_to_baseline, descendants, within, zombies
from tests.reliability.test_protocol import _hostile_media

__all__ = ["stream"]  # the module-scoped fixture: one real libx264 stream for every test here

MODULE = ProbeModule(
    name="frame_health",
    prober="frame",
    timeout_s=3.0,
    read_timeout_s=1.0,
    frame=FrameOptions(second_frame_after_s=0.0, decode_timeout_s=1.0),
)
Units = list[list[bytes]]


@pytest.fixture
async def analyse_pool() -> AsyncIterator[WorkerPool]:
    """The real decode handler, two warm workers (started before the test's baseline)."""
    async with installed("sharpeyes.probers.frame_job.analyse") as pool:
        yield pool


@pytest.fixture
async def misbehaving_pool() -> AsyncIterator[WorkerPool]:
    """Two warm workers that hang or crash on marked keyframes (tests/reliability/decoder_handlers.py)."""
    async with installed("tests.reliability.decoder_handlers.analyse_or_misbehave") as pool:
        yield pool


WARM_UP = FrameJob(codec="none", units=(b"",), with_second=False, analysis_width=64, thresholds=Thresholds())


@contextlib.asynccontextmanager
async def installed(handler: str) -> AsyncIterator[WorkerPool]:
    """A pool of two for the frame prober, on a forkserver of its own. Another test's pool may have started the
    (process-wide) forkserver without this handler preloaded; every new worker would then import PyAV and
    OpenCV itself, seconds on a loaded machine, which a 1–2 s decode timeout calls a hang. So: stop the helpers
    (no other pool is alive between test modules), start the pool, and run one no-op job per worker."""
    frame.close_pool()
    workers.stop_helpers()
    pool = WorkerPool(handler, size=2)
    pool.start()
    await asyncio.gather(*(pool.run(WARM_UP, 120) for _ in range(pool.size)))
    frame.set_pool(pool)
    try:
        yield pool
    finally:
        await pool.settled()
        frame.close_pool()
    assert pool.alive == 0


@contextlib.asynccontextmanager
async def process_tree_back_to_baseline(pool: WorkerPool) -> AsyncIterator[None]:
    """No new zombie anywhere below this process, and no new process but the pool's current workers (every killed
    worker reaped; its replacement is the only newcomer)."""
    before = descendants()
    zombies_before = zombies(before)
    yield
    await pool.settled()
    end = time.monotonic() + 2.0
    while True:
        now = descendants()
        problems = []
        if zombies(now) - zombies_before:
            problems.append(f"zombies: {zombies(now) - zombies_before}")
        if now - before - pool.pids():
            problems.append(f"leftover processes: {now - before - pool.pids()}")
        if pool.alive != pool.size:
            problems.append(f"{pool.alive} of {pool.size} workers alive")
        if not problems or time.monotonic() > end:
            break
        await asyncio.sleep(0.05)
    assert not problems, "; ".join(problems)


async def probe(units: Units, params: Units, methods: list[str] | None = None) -> tuple[float, ProbeResult]:
    """One frame probe of a scripted camera that streams ``units`` (SDP parameter sets from ``params``)."""
    return await _probe(units, methods if methods is not None else [], params, MODULE)


async def assert_pool_decodes(pool: WorkerPool, units: Units) -> None:
    """The pool is at full strength and a good stream decodes right after the fault."""
    assert pool.alive == pool.size
    _, healthy = await probe(units, units)
    assert healthy.reason in (Reason.OK, Reason.FRAME_FAULT), healthy
    assert healthy.observations["width"] == 320


# --- N2 ----------------------------------------------------------------------------------------------------


async def test_n2_play_then_no_rtp_is_no_media_and_the_decoder_is_free(stream: Units, analyse_pool: WorkerPool) -> None:
    """PLAY answered, then not one RTP packet: ``no_media`` at ``first_byte`` within the deadline, TEARDOWN sent,
    no decode job was ever queued (every worker free: a good stream decodes at once)."""
    units = _split_start_codes(stream)
    methods: list[str] = []
    async with back_to_baseline(), process_tree_back_to_baseline(analyse_pool):
        async with within(MODULE.timeout_s + 0.5):
            elapsed, result = await probe([], units, methods)
        assert (result.reason, result.phase) == (Reason.NO_MEDIA, Phase.FIRST_BYTE), result
        assert elapsed >= MODULE.read_timeout_s  # it waited for media, it did not give up early
        assert methods[-1] == "TEARDOWN"
        assert analyse_pool.replaced == 0
        await assert_pool_decodes(analyse_pool, units)


# --- P4 ----------------------------------------------------------------------------------------------------


def _ue(value: int) -> str:
    """Exp-Golomb code (H.264 §9.1) as a bit string."""
    bits = format(value + 1, "b")
    return "0" * (len(bits) - 1) + bits


def absurd_sps(width_mbs: int, height_mbs: int) -> bytes:
    """A well-formed Baseline SPS claiming ``width_mbs`` × ``height_mbs`` macroblocks (8000 → 128,000 pixels)."""
    bits = format(66, "08b") + "0" * 8 + format(30, "08b") + _ue(0) + _ue(0) + _ue(2) + _ue(1) + "0"
    bits += _ue(width_mbs - 1) + _ue(height_mbs - 1) + "1" + "1" + "0" + "0" + "1"
    bits += "0" * (-len(bits) % 8)
    return b"\x67" + int(bits, 2).to_bytes(len(bits) // 8, "big")


def hostile(units: Units, case: str) -> tuple[Units, Units]:
    """The stream as a hostile camera sends it: (units streamed, units the SDP's parameter sets come from)."""
    rng = np.random.default_rng(7)
    if case == "corrupt_idr":
        bad = [[n if n[0] & 0x1F != 5 else b"\x65" + rng.bytes(len(n) - 1) for n in au] for au in units[:1]]
        return bad, units
    if case == "truncated_idr":
        return [[n if n[0] & 0x1F != 5 else n[: len(n) // 5] for n in au] for au in units[:1]], units
    sps = absurd_sps(8000, 8000) if case == "absurd_sps" else b"\x67" + rng.bytes(20)
    bad = [[sps if n[0] & 0x1F == 7 else n for n in au] for au in units]
    return bad, bad


@pytest.mark.parametrize("case", ["corrupt_idr", "absurd_sps", "garbage_sps", "truncated_idr"])
async def test_p4_hostile_media_is_decode_error_in_the_worker(
    stream: Units, analyse_pool: WorkerPool, case: str
) -> None:
    """Hostile media reaches the decoder only inside a worker process. A corrupt IDR slice, an SPS of
    128,000 × 128,000 pixels and a garbage SPS → ``decode_error`` in ``decode``; a truncated IDR is concealed by
    the decoder into a broken picture → ``frame_fault`` (signal loss), never ``ok``. The daemon's side only waits
    on a pipe; the pool stays at strength and decodes a good stream next."""
    units = _split_start_codes(stream)
    sent, params = hostile(units, case)
    methods: list[str] = []
    async with back_to_baseline(), process_tree_back_to_baseline(analyse_pool):
        async with within(MODULE.timeout_s + 0.5):
            _, result = await probe(sent, params, methods)
        if case == "truncated_idr":
            assert result.reason is Reason.FRAME_FAULT and result.faults, result
        else:
            assert (result.reason, result.phase) == (Reason.DECODE_ERROR, Phase.DECODE), result
            assert "decoder rejected the stream" in result.detail
        assert methods[-1] == "TEARDOWN"
        await assert_pool_decodes(analyse_pool, units)


async def test_p4_garbage_rtp_through_the_frame_prober(stream: Units, analyse_pool: WorkerPool) -> None:
    """2,000 hostile RTP packets (random FU-A, truncated IDR, absurd SPS, noise; test_protocol's server) into the
    frame prober: ``no_media`` or ``decode_error``, or, when FFmpeg conceals the random slices into a broken
    picture (it happens in some runs: the bytes are random), a ``signal_loss`` picture fault; never ``ok``, another
    reason or a traceback, within the deadline."""
    async with back_to_baseline(), process_tree_back_to_baseline(analyse_pool), FakeRtspServer(_hostile_media) as srv:
        target = ProbeTarget(camera_id="hostile", host="127.0.0.1", rtsp_url=srv.url)
        async with within(MODULE.timeout_s + 0.5):
            result = await run_probe(target, MODULE, deadline=Deadline(MODULE.timeout_s))
        concealed = result.reason is Reason.FRAME_FAULT and FaultCode.SIGNAL_LOSS in result.faults
        assert result.reason in (Reason.NO_MEDIA, Reason.DECODE_ERROR) or concealed, result
    await assert_pool_decodes(analyse_pool, _split_start_codes(stream))


# --- R4 ----------------------------------------------------------------------------------------------------

N_HANG, N_CRASH, N_GOOD = 4, 4, 4
R4_MODULE = MODULE.model_copy(
    update={"timeout_s": 8.0, "frame": FrameOptions(second_frame_after_s=0.0, decode_timeout_s=2.0)}
)


def marked(units: Units, marker: bytes) -> Units:
    """The stream with a marker SEI NAL unit in front of every keyframe's slices."""
    sei = b"\x06\x05" + bytes([16 + len(marker)]) + b"\x00" * 16 + marker + b"\x80"
    return [[*(n for n in au if n[0] & 0x1F != 5), sei, *(n for n in au if n[0] & 0x1F == 5)] for au in units]


class Ticker:
    """Measures the event loop's responsiveness: the longest gap between 10 ms sleeps."""

    def __init__(self) -> None:
        self.max_gap = 0.0
        self.ticks = 0

    async def run(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            self.max_gap, last = max(self.max_gap, now - last), now
            self.ticks += 1


async def test_r4_decoders_hanging_and_crashing_en_masse(stream: Units, misbehaving_pool: WorkerPool) -> None:
    """12 cameras probed at once by a pool of two workers: 4 whose keyframes hang the decoder, 4 that crash it,
    4 healthy. Each hang ends as ``decode_error`` at its 2 s decode timeout (a healthy decode takes
    ~50 ms, but the shared 2-core machine may be loaded 7-fold), each crash at once; every such
    worker is SIGKILLed (processes, not threads), reaped and replaced — exactly one restart per failed job, no
    restart storm; the healthy cameras' verdicts still arrive; the event loop keeps ticking; afterwards the
    process tree is as before (no zombie, no leaked worker)."""
    units = _split_start_codes(stream)
    kinds = ["hang"] * N_HANG + ["crash"] * N_CRASH + ["good"] * N_GOOD
    streams = {
        "hang": marked(units, decoder_handlers.HANG),
        "crash": marked(units, decoder_handlers.CRASH),
        "good": units,
    }
    pool = misbehaving_pool
    ticker = Ticker()
    async with (
        back_to_baseline(),
        process_tree_back_to_baseline(misbehaving_pool),
        contextlib.AsyncExitStack() as stack,
    ):
        servers = [await stack.enter_async_context(FakeRtspServer(camera(streams[k], [], units))) for k in kinds]
        tick = asyncio.create_task(ticker.run())
        try:
            async with within(R4_MODULE.timeout_s + 0.5):
                results = await asyncio.gather(
                    *(
                        run_probe(
                            ProbeTarget(camera_id=f"{k}-{i}", host="127.0.0.1", rtsp_url=s.url),
                            R4_MODULE,
                            deadline=Deadline(R4_MODULE.timeout_s),
                        )
                        for i, (k, s) in enumerate(zip(kinds, servers, strict=True))
                    )
                )
        finally:
            tick.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await tick
        await stack.aclose()
        await pool.settled()  # replacements start in threads; the baseline checks wait for none
        by_kind = {k: [r for r, kk in zip(results, kinds, strict=True) if kk == k] for k in streams}
        for r in by_kind["hang"]:
            assert (r.reason, r.phase) == (Reason.DECODE_ERROR, Phase.DECODE), r
            assert (
                "decoder hung until its decode timeout" in r.detail
                and r.phase_timings["decode"] >= R4_MODULE.frame.decode_timeout_s
            ), r
        for r in by_kind["crash"]:
            assert (r.reason, r.phase, r.detail) == (
                Reason.DECODE_ERROR,
                Phase.DECODE,
                "decoder crashed; worker replaced",
            )
        for r in by_kind["good"]:
            assert r.reason in (Reason.OK, Reason.FRAME_FAULT) and r.observations["width"] == 320, r
        assert all(r.duration_s < R4_MODULE.timeout_s + 0.1 for r in results)
        assert pool.replaced == N_HANG + N_CRASH and pool.alive == pool.size
        print(f"R4: {len(results)} probes, longest {max(r.duration_s for r in results):.2f} s, "
              f"loop max gap {ticker.max_gap * 1000:.0f} ms, {pool.replaced} workers replaced")  # fmt: skip
        assert ticker.ticks > 0 and ticker.max_gap < 0.5, ticker.max_gap


async def _probe_or_pressure(target: ProbeTarget, module: ProbeModule) -> ProbeResult | BackPressureError:
    try:
        return await run_probe(target, module, deadline=Deadline(module.timeout_s))
    except BackPressureError as exc:
        return exc


async def test_r4_more_hung_decoders_than_workers_is_back_pressure_for_the_rest(
    stream: Units, misbehaving_pool: WorkerPool
) -> None:
    """The defaults' shape (decode timeout = probe deadline): 4 cameras hang the decoder, 2 workers, 2 healthy
    cameras. The pool is jammed until the deadline, so who gets a worker is luck: a hang that held one for a fair
    chance (≥ 0.5 s) is ``decode_error``; every other camera, hung or healthy, ends as back-pressure
    (``DecodersBusyError``, skipped ``decoders_busy`` by the scheduler): never ``internal``, never ``timeout``,
    never a ``decode_error`` for a healthy camera that only waited for a worker."""
    units = _split_start_codes(stream)
    module = MODULE.model_copy(update={"frame": FrameOptions(second_frame_after_s=0.0, decode_timeout_s=3.0)})
    kinds = ["hang"] * 4 + ["good"] * 2
    streams = {"hang": marked(units, decoder_handlers.HANG), "good": units}
    async with (
        back_to_baseline(),
        process_tree_back_to_baseline(misbehaving_pool),
        contextlib.AsyncExitStack() as stack,
    ):
        servers = [await stack.enter_async_context(FakeRtspServer(camera(streams[k], [], units))) for k in kinds]
        async with within(module.timeout_s + 0.5):
            outcomes = await asyncio.gather(
                *(
                    _probe_or_pressure(ProbeTarget(camera_id=f"{k}-{i}", host="127.0.0.1", rtsp_url=s.url), module)
                    for i, (k, s) in enumerate(zip(kinds, servers, strict=True))
                )
            )
        await stack.aclose()
        await misbehaving_pool.settled()  # replacements start in threads; the baseline checks wait for none
    pressure = [o for o in outcomes if isinstance(o, BackPressureError)]
    results = [(k, o) for k, o in zip(kinds, outcomes, strict=True) if isinstance(o, ProbeResult)]
    assert all(o.skip_reason == "decoders_busy" for o in pressure)
    for kind, r in results:
        if kind == "hang":
            assert r.reason is Reason.DECODE_ERROR and "decoder hung until the probe's deadline" in r.detail, r
        else:
            assert r.reason in (Reason.OK, Reason.FRAME_FAULT), r
    assert 1 <= sum(1 for k, _ in results if k == "hang") <= misbehaving_pool.size  # one hang per worker at most
    assert len(pressure) >= len(kinds) - 2 * misbehaving_pool.size
    assert misbehaving_pool.alive == misbehaving_pool.size
