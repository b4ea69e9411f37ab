"""The demo: the simulator serving the demo city (config/demo) with its seeded fault mix, and the daemon watching it.

Everything runs in one process on one event loop (:func:`run_demo`), so stopping it cannot leave a camera
server or a daemon behind: Ctrl-C / SIGTERM / ``--duration`` stop the daemon first (in-flight probes are
cancelled, transitions flushed), then the simulator, then the loop itself cancels what is left.

The work directory holds ``sharpeyes.yml`` (the daemon config), ``probes/`` (the repository's probe modules,
the liveness interval shortened), the embedded SQLite database the demo registry is imported into, and
``truth.json``: the simulator's fault assignment (camera id → fault, ``null`` when healthy).

:func:`expected_status` says how the daemon's RTSP liveness module sees each simulator fault; with
:func:`sharpeyes.rates.compute_groups` it turns the fault assignment into the rates the daemon must report.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from sharpeyes.errors import UserError
from sharpeyes.probers.base import FaultCode
from sharpeyes.rates import ALL, CameraStatus, GroupCounts, Ratio, compute_groups
from sharpeyes.registry.inventory import Inventory
from sharpeyes.settings import ProbeModule

if TYPE_CHECKING:
    from aiohttp import web

    from sharpeyes.daemon import Daemon
    from sharpeyes.sim.fleet import Fleet

REPO = Path(__file__).resolve().parents[1]
DEMO_DIR = REPO / "config" / "demo"
PROBES_DIR = REPO / "probes"
DEMO_FILES = ("districts.csv", "areas.csv", "cameras.csv")
PASSWORD_ENV = "SHARPEYES_DEMO_PASSWORD"  # noqa: S105 (a variable name)
LIVENESS_PROBER = "rtsp"
FRAME_PROBER = "frame"
TARGETS = {
    "public": {"coverage": 1.0, "connection": 1.0, "good_order": 0.98},
    "sector": {"coverage": 1.0, "connection": 1.0, "good_order": 0.95},
}

_ALWAYS_DOWN = frozenset({"offline", "blackhole", "auth_fail", "not_found", "malformed"})
_DRIP_REPLY_BYTES = 100  # an RTSP reply is at least this long; dripped, it takes this many / rate seconds
_RTSP_REPLIES = 3  # OPTIONS, DESCRIBE (401 challenge), DESCRIBE (200 with the SDP)


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What ``sharpeyes demo`` was asked for."""

    port: int = 9753
    control_port: int = 0
    interval_s: float = 20.0
    frame_interval_s: float = 60.0
    frame: bool = True
    duration_s: float | None = None
    keep_dir: bool = False
    seed: int = 7
    fault_share: float = 0.10
    size: str = "360p"
    demo_dir: Path = DEMO_DIR
    probes_dir: Path = PROBES_DIR


# --- ground truth → expected rates -------------------------------------------------------------------------


def expected_up(fault: str | None, module: ProbeModule) -> bool:
    """Whether the RTSP liveness module (OPTIONS + DESCRIBE) finds a camera with this simulator fault up.

    Picture faults, ``no_media``, ``reset`` (after media starts), ``lockout`` (only wrong passwords lock) and
    ``clock_skew`` (ONVIF only) leave DESCRIBE answered. ``slow:S`` delays every reply by S seconds (default 2)
    and ``drip:R`` sends R bytes a second (default 1): down when the exchange cannot finish in time.
    """
    if fault is None:
        return True
    name, *params = fault.split(":")
    if name in _ALWAYS_DOWN:
        return False
    if name == "slow":
        delay = float(params[0]) if params else 2.0
        return delay < module.read_timeout_s and delay * _RTSP_REPLIES < module.timeout_s
    if name == "drip":
        rate = float(params[0]) if params else 1.0
        return _DRIP_REPLY_BYTES / max(rate, 1e-3) < module.read_timeout_s
    return True


def expected_frame_faults(fault: str | None) -> tuple[FaultCode, ...] | None:
    """What frame health should find on a live camera with this simulator fault (``None``: no verdict).

    A picture fault is found as itself, except ``scene_changed``: it compares with a reference picture, and the
    simulator shows the changed scene from the start, so it becomes the reference. ``no_media`` gives no
    picture, which the daemon records as ``signal_loss``. Whether the analysers find each fault in the simulated
    pictures is the frame-health tests' job; this is what they should find.
    """
    if fault is None:
        return ()
    name = fault.split(":")[0]
    if name == "no_media":
        return (FaultCode.SIGNAL_LOSS,)
    try:
        code = FaultCode(name)
    except ValueError:
        return ()
    return () if code is FaultCode.SCENE_CHANGED else (code,)


def expected_statuses(
    inventory: Inventory, truth: Mapping[str, str | None], module: ProbeModule, now: float, *, frame: bool = False
) -> dict[str, CameraStatus]:
    """Each served camera's status as the daemon should see it once every camera was probed by every module."""
    out: dict[str, CameraStatus] = {}
    for cam in inventory.cameras:
        if cam.id not in truth:
            continue
        up = expected_up(truth[cam.id], module)
        faults = expected_frame_faults(truth[cam.id]) if frame and up else None
        out[cam.id] = CameraStatus(up=up, stream_reached_at=now if up else None, frame_faults=faults)
    return out


def expected_groups(
    inventory: Inventory, truth: Mapping[str, str | None], module: ProbeModule, *, frame: bool = False
) -> dict[tuple[str, str], GroupCounts]:
    """The counts of every scope × district the daemon must export for this fault assignment."""
    now = time.time()
    return compute_groups(inventory, expected_statuses(inventory, truth, module, now, frame=frame), now)


# --- the work directory ------------------------------------------------------------------------------------


def demo_registry(demo_dir: Path) -> list[Path]:
    paths = [demo_dir / name for name in DEMO_FILES]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise UserError(f"demo registry not found: {', '.join(missing)} (run from a sharpeyes checkout)")
    return paths


def _prober_available(name: str) -> bool:
    try:
        importlib.import_module(f"sharpeyes.probers.{name}")
    except ModuleNotFoundError:
        return False
    return True


def write_probe_modules(
    source: Path, target: Path, interval_s: float, *, frame_interval_s: float | None = None
) -> list[ProbeModule]:
    """Copy the repository's probe modules whose prober exists in this build; liveness runs every ``interval_s``,
    frame health every ``frame_interval_s`` (``None``: no frame health)."""
    from sharpeyes.config import load_probe_modules

    modules, _ = load_probe_modules(source)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, module in sorted(modules.items()):
        if not _prober_available(module.prober) or (module.prober == FRAME_PROBER and frame_interval_s is None):
            continue
        if module.prober == FRAME_PROBER and frame_interval_s is not None:
            module = module.model_copy(update={"interval_s": frame_interval_s})
        if module.prober == LIVENESS_PROBER:
            timeout = min(module.timeout_s, max(1.0, interval_s * 0.8))
            module = module.model_copy(
                update={"interval_s": interval_s, "timeout_s": timeout,
                        "read_timeout_s": min(module.read_timeout_s, timeout)}
            )  # fmt: skip
        data = module.model_dump(mode="json", exclude={"name"}, exclude_defaults=True)
        data["prober"] = module.prober
        (target / f"{name}.yml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        written.append(module)
    if not any(m.prober == LIVENESS_PROBER for m in written):
        raise UserError(f"{source}: no RTSP liveness module (prober: rtsp) to run the demo with")
    return written


def write_config(work: Path, registry: list[Path], port: int) -> Path:
    """The daemon config of the demo: embedded SQLite in ``work``, loopback, the demo registry imported at start."""
    config: dict[str, Any] = {
        "database": {"url": f"sqlite:///{work / 'sharpeyes.db'}", "sqlite_synchronous": "normal"},
        "listen": {"host": "127.0.0.1", "port": port},
        "probes_dir": str(work / "probes"),
        "registry": {"files": [str(p.resolve()) for p in registry]},
        "concurrency": {"total": 256, "per_host": 2},
        "targets": TARGETS,
    }
    path = work / "sharpeyes.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (the daemon config needs a number)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the live summary ---------------------------------------------------------------------------------------


def _pct(r: Ratio) -> str:
    v = r.value
    return f"{r.numerator:.0f}/{r.denominator:.0f} " + ("   -  " if v is None else f"{v:6.1%}")


def _target(targets: Mapping[str, Mapping[str, float]], scope: str, rate: str) -> str:
    t = targets.get(scope, {}).get(rate)
    return "" if t is None else f" (target {t:.0%})"


def format_summary(groups: Mapping[tuple[str, str], GroupCounts], targets: Mapping[str, Mapping[str, float]]) -> str:
    """City-wide rates per scope against the targets, one line per scope."""
    lines = []
    for scope in ("public", "sector", ALL):
        g = groups[(scope, ALL)]
        lines.append(
            f"  {scope:<6}  coverage {_pct(g.coverage)}{_target(targets, scope, 'coverage')}"
            f"  connection {_pct(g.connection)}{_target(targets, scope, 'connection')}"
            f"  good order {_pct(g.good_order)}{_target(targets, scope, 'good_order')}"
        )
    return "\n".join(lines)


def camera_line(groups: Mapping[tuple[str, str], GroupCounts]) -> str:
    g = groups[(ALL, ALL)]
    return (
        f"cameras: {g.cameras} registered, {g.in_service} in service: {g.online} up "
        f"({g.healthy} healthy, {g.online - g.healthy} faulty), {g.in_service - g.online} down/unknown"
    )


# --- running it ---------------------------------------------------------------------------------------------


def _build_fleet(inventory: Inventory, options: DemoOptions) -> Fleet:
    """The simulator of the demo city with its seeded fault mix (as ``sharpeyes sim --demo`` builds it)."""
    from sharpeyes.sim.fleet import Fleet, MediaOptions, SimConfig, demo_faults
    from sharpeyes.sim.media import parse_size

    try:
        width, height = parse_size("720p" if options.size == "auto" else options.size)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    mix = demo_faults((c.id for c in inventory.cameras if c.in_service), seed=options.seed, share=options.fault_share)
    media = MediaOptions(width=width, height=height, registry_sizes=options.size == "auto")
    return Fleet(inventory, media, SimConfig.model_validate({"cameras": mix}))


async def _unless_stopped(start: asyncio.Future[Any], stop: asyncio.Event) -> bool:
    """Wait for ``start``; a stop request first cancels it. True when it finished."""
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({start, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if start.done():
        start.result()
        return True
    start.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await start
    return False


@dataclass(slots=True)
class DemoRun:
    """The parts of a running demo, stopped in reverse order by :meth:`close`."""

    work: Path
    fleet: Fleet | None = None
    control: web.AppRunner | None = None
    daemon: Daemon | None = None

    async def close(self) -> None:
        if self.daemon is not None:
            await self.daemon.stop()
        if self.control is not None:
            await self.control.cleanup()
        if self.fleet is not None:
            await self.fleet.stop()
        frame = sys.modules.get("sharpeyes.probers.frame")
        if frame is not None:  # its decode workers; the daemon does not stop them (see the report of issue 6)
            await asyncio.to_thread(frame.close_pool)


def _quiet_cancelled(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """At shutdown, camera sessions still waiting (blackhole, drip) are cancelled; Python 3.11's stream
    callback reports each as an error. Those are expected; anything else is reported as usual."""
    if isinstance(context.get("exception"), asyncio.CancelledError):
        return
    loop.default_exception_handler(context)


class SimNoiseFilter(logging.Filter):
    """Drops two log records the simulator's ``drip`` and ``slow`` cameras cause once a probe gave up on them:
    asyncio's ``socket.send() raised exception.`` (writes to a closed RTSP connection, hundreds a minute) and
    aiohttp's traceback for a dripped HTTP answer to a closed connection. Everything else passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "asyncio" and record.getMessage() == "socket.send() raised exception.":
            return False
        exc = record.exc_info[1] if record.exc_info else None
        return not (record.name == "aiohttp.server" and isinstance(exc, ConnectionResetError))


def quiet_sim_noise() -> None:
    """Install :class:`SimNoiseFilter` on the two loggers concerned."""
    for name in ("asyncio", "aiohttp.server"):
        logging.getLogger(name).addFilter(SimNoiseFilter())


def ensure_password() -> None:
    """Both the simulated cameras and the daemon read the demo password from the environment: set one."""
    if not os.environ.get(PASSWORD_ENV):
        os.environ[PASSWORD_ENV] = secrets.token_urlsafe(12)


async def run_demo(options: DemoOptions, work: Path, echo: Callable[[str], None]) -> None:
    """Start the simulator and the daemon, print the URLs and a summary every liveness sweep, stop on a signal."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    run = DemoRun(work)
    try:
        await _start(options, run, stop, echo)
        if run.daemon is not None and not stop.is_set():
            await _watch(run, options, stop, echo)
    finally:
        echo("stopping …")
        loop.set_exception_handler(_quiet_cancelled)
        await run.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _start(options: DemoOptions, run: DemoRun, stop: asyncio.Event, echo: Callable[[str], None]) -> None:
    from sharpeyes.registry.io import read_inventory
    from sharpeyes.sim.control import serve_control
    from sharpeyes.sim.fleet import raise_nofile

    registry = demo_registry(options.demo_dir)
    inventory = await asyncio.to_thread(read_inventory, registry)
    frame_interval = options.frame_interval_s if options.frame else None
    write_probe_modules(options.probes_dir, run.work / "probes", options.interval_s, frame_interval_s=frame_interval)
    config_path = write_config(run.work, registry, options.port or free_port())
    raise_nofile(len(inventory.cameras) * 2 + 1024)
    fleet = run.fleet = _build_fleet(inventory, options)
    echo(f"starting {len(inventory.cameras)} simulated cameras (the first start encodes video clips) …")
    if not await _unless_stopped(asyncio.ensure_future(fleet.start()), stop):
        return
    run.control = await _serve_control(serve_control, fleet, options.control_port)
    truth = fleet.assignment()
    (run.work / "truth.json").write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    run.daemon = await _start_daemon(config_path)
    _print_banner(run, inventory, truth, echo)


async def _serve_control(serve: Callable[..., Any], fleet: Fleet, port: int) -> web.AppRunner:
    try:
        runner: web.AppRunner = await serve(fleet, "127.0.0.1", port)
    except OSError as exc:
        raise UserError(f"simulator control API: cannot listen on 127.0.0.1:{port} ({exc.strerror})") from None
    return runner


async def _start_daemon(config_path: Path) -> Daemon:
    from sharpeyes.config import load_config
    from sharpeyes.daemon import Daemon
    from sharpeyes.loader import Loader, daemon_options

    loaded = load_config(config_path)
    loader = Loader(loaded.config, None)
    daemon = Daemon(loader, daemon_options(loaded.config), target_for=loader.target_for)
    try:
        await daemon.start()
    except OSError as exc:
        await daemon.stop()
        port = loaded.config.listen.port
        raise UserError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror}); choose another --port") from None
    return daemon


def control_url(run: DemoRun) -> str:
    assert run.control is not None
    host, port = run.control.addresses[0][:2]
    return f"http://{host}:{port}"


def _print_banner(
    run: DemoRun, inventory: Inventory, truth: Mapping[str, str | None], echo: Callable[[str], None]
) -> None:
    assert run.daemon is not None and run.daemon.runtime is not None
    base = f"http://127.0.0.1:{run.daemon.port}"
    first = inventory.cameras[0].id
    faulty = {cid: f for cid, f in truth.items() if f}
    rt = run.daemon.runtime
    live = next(m for m in rt.config.modules.values() if m.prober == LIVENESS_PROBER)
    echo(f"metrics:   {base}/metrics")
    echo(f"API:       {base}/api/v1/cameras/{{camera_id}}   e.g. {base}/api/v1/cameras/{first}")
    echo(f'simulator: {control_url(run)}/cameras   (POST /cameras/{{id}}/fault {{"fault": "offline"}})')
    echo(f"work dir:  {run.work}   (truth.json: the fault assignment)")
    mix = ", ".join(f"{n}×{f}" if n > 1 else f for f, n in sorted(_count(faulty.values()).items()))
    echo(f"fault mix: {len(faulty)} of {len(truth)} simulated cameras faulty: {mix}")
    modules = ", ".join(f"{m.name} every {m.interval_s:g} s" for m in rt.config.modules.values())
    echo(f"modules:   {modules}")
    frame = any(m.prober == FRAME_PROBER for m in rt.config.modules.values())
    expected = expected_groups(inventory, truth, live, frame=frame)
    echo("expected once every camera was probed by every module (from the fault mix):")
    echo(format_summary(expected, rt.config.targets))
    echo("Ctrl-C stops everything.")


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def current_groups(daemon: Daemon) -> dict[tuple[str, str], GroupCounts]:
    rt = daemon.runtime
    assert rt is not None
    config = rt.config
    ids = [c.id for c in config.inventory.cameras]
    return compute_groups(config.inventory, rt.store.statuses(ids), time.time(), config.rate_options)


async def _watch(run: DemoRun, options: DemoOptions, stop: asyncio.Event, echo: Callable[[str], None]) -> None:
    """Print a summary after every liveness sweep until stopped or ``duration_s`` has passed."""
    assert run.daemon is not None and run.daemon.runtime is not None
    rt = run.daemon.runtime
    live = next(m.name for m in rt.config.modules.values() if m.prober == LIVENESS_PROBER)
    deadline = None if options.duration_s is None else time.monotonic() + options.duration_s
    seen = rt.sweeps[live].sweeps
    while not stop.is_set():
        if deadline is not None and time.monotonic() >= deadline:
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
        stats = rt.sweeps[live]
        if stats.sweeps != seen:
            seen = stats.sweeps
            _print_summary(run.daemon, f"sweep {seen} of {live} ({stats.last_duration_s or 0:.1f} s)", echo)
    _print_summary(run.daemon, "final", echo)


def _print_summary(daemon: Daemon, title: str, echo: Callable[[str], None]) -> None:
    assert daemon.runtime is not None
    groups = current_groups(daemon)
    echo(f"[{time.strftime('%H:%M:%S')}] {title} · {camera_line(groups)}")
    echo(format_summary(groups, daemon.runtime.config.targets))
