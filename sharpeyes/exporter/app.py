"""The daemon's HTTP side: ``/metrics``, blackbox-style ``/probe``, health, reload and the camera API.

- ``/metrics``: the :class:`SharpeyesCollector` on a registry owned by the app (never the global one).
- ``/probe?camera=ID&module=NAME``: probes one *registered* camera now, like blackbox_exporter: a fresh
  registry per request, the deadline from ``X-Prometheus-Scrape-Timeout-Seconds`` minus 0.5 s (never more
  than the module's own timeout). Unknown camera or module: 404; a bad parameter or header: 400.
- ``/-/healthy`` (the process answers), ``/-/ready`` (config loaded, storage writable).
- ``POST /-/reload``: re-reads registry and modules through the reload hook and swaps them in atomically;
  a failed reload keeps the old config and answers 500 with the reason.
- ``GET /api/v1/cameras/{id}``: the camera's registry entry (URLs redacted, no password), its states and
  last results (whose ``detail`` is already redacted).

An optional bearer token protects everything except ``/metrics`` and the health endpoints; a POST from
another origin (a browser tricked into it) is refused with 403. Bind to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from sharpeyes.exporter import exposition
from sharpeyes.exporter.collector import SharpeyesCollector
from sharpeyes.probers.base import BackPressureError, Deadline, ProbeResult
from sharpeyes.rates import judge_camera
from sharpeyes.redact import Secret, redact_text, redact_url
from sharpeyes.registry.inventory import Camera
from sharpeyes.runtime import Config, Runtime
from sharpeyes.settings import ProbeModule

log = logging.getLogger(__name__)

PROBE_OFFSET_S = 0.5
PUBLIC_PATHS = frozenset({"/metrics", "/-/healthy", "/-/ready"})

ProbeHook = Callable[[Camera, ProbeModule, Deadline], Awaitable[ProbeResult]]
ReloadHook = Callable[[], Awaitable[Config]]
BackgroundTask = Callable[[web.Application], AsyncIterator[None]]


@dataclass(frozen=True, slots=True)
class ApiOptions:
    """How the HTTP side behaves: the optional bearer token and the daemon's hooks."""

    probe: ProbeHook | None = None
    reload: ReloadHook | None = None
    token: Secret | None = None
    on_reloaded: Callable[[], None] | None = None


class _Rendering:
    """The exposition being rendered now, if any."""

    def __init__(self) -> None:
        self.task: asyncio.Future[bytes] | None = None


RUNTIME = web.AppKey("runtime", Runtime)
REGISTRY = web.AppKey("registry", CollectorRegistry)
OPTIONS = web.AppKey("options", ApiOptions)
RELOAD_LOCK = web.AppKey("reload_lock", asyncio.Lock)
RENDERING = web.AppKey("rendering", _Rendering)


def make_app(runtime: Runtime, options: ApiOptions, background: Sequence[BackgroundTask] = ()) -> web.Application:
    """The aiohttp application. ``background`` contexts (scheduler, writer) run for the app's lifetime."""
    app = web.Application(middlewares=[_auth_middleware])
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SharpeyesCollector(runtime))
    app[RUNTIME] = runtime
    app[REGISTRY] = registry
    app[OPTIONS] = options
    app[RELOAD_LOCK] = asyncio.Lock()
    app[RENDERING] = _Rendering()
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/probe", _probe)
    app.router.add_get("/-/healthy", _healthy)
    app.router.add_get("/-/ready", _ready)
    app.router.add_post("/-/reload", _reload)
    app.router.add_put("/-/reload", _reload)
    app.router.add_get("/api/v1/cameras/{camera_id}", _camera)
    app.cleanup_ctx.extend(background)
    return app


@web.middleware
async def _auth_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.method not in ("GET", "HEAD") and not _same_origin(request):
        return web.json_response({"status": "error", "error": "cross-origin request refused"}, status=403)
    token = request.app[OPTIONS].token
    if token and request.path not in PUBLIC_PATHS:
        given = request.headers.get("Authorization", "")
        expected = f"Bearer {token.reveal()}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return web.json_response(
                {"status": "error", "error": "unauthorized"}, status=401, headers={"WWW-Authenticate": "Bearer"}
            )
    return await handler(request)


def _same_origin(request: web.Request) -> bool:
    """A browser's cross-site POST carries an Origin of another host: refuse it (no CSRF on /-/reload)."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.host


async def _metrics(request: web.Request) -> web.Response:
    """Render in a worker thread (the event loop keeps probing); concurrent scrapes share one rendering."""
    shared = request.app[RENDERING]
    if shared.task is None or shared.task.done():
        shared.task = asyncio.ensure_future(asyncio.to_thread(exposition.render, request.app[REGISTRY]))
    body = await asyncio.shield(shared.task)
    return web.Response(body=body, headers={"Content-Type": exposition.CONTENT_TYPE})


async def _healthy(request: web.Request) -> web.Response:
    return web.Response(text="sharpeyes is healthy.\n")


async def _ready(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    if not rt.ready:
        return web.Response(status=503, text="sharpeyes is starting.\n")
    if not rt.storage_ok:
        return web.Response(status=503, text="sharpeyes cannot write to its database.\n")
    return web.Response(text="sharpeyes is ready.\n")


async def reload_config(app: web.Application) -> dict[str, object]:
    """Re-read config and registry through the reload hook and swap atomically; on any problem keep the
    running config. Returns the JSON answer (``status`` ``success`` or ``error`` with the reason). Used by
    ``POST /-/reload`` and by SIGHUP."""
    hook = app[OPTIONS].reload
    rt = app[RUNTIME]
    if hook is None:
        return {"status": "error", "error": "reload is not configured"}
    async with app[RELOAD_LOCK]:
        try:
            config = await hook()
        except Exception as exc:
            reason = redact_text(str(exc) or type(exc).__name__)[:2000]
            rt.last_reload_ok, rt.last_reload_error = False, reason
            log.error("reload failed, keeping the running config: %s", reason)
            return {"status": "error", "error": reason}
        rt.swap(config)
        rt.last_reload_ok, rt.last_reload_error = True, ""
        on_reloaded = app[OPTIONS].on_reloaded
        if on_reloaded is not None:
            on_reloaded()
        rt.last_reload_at = time.time()
    cams = len(config.inventory.cameras)
    log.info("reloaded: %d cameras, %d modules", cams, len(config.modules))
    return {"status": "success", "cameras": cams, "modules": sorted(config.modules)}


async def _reload(request: web.Request) -> web.Response:
    if request.app[OPTIONS].reload is None:
        return web.json_response({"status": "error", "error": "reload is not configured"}, status=501)
    answer = await reload_config(request.app)
    return web.json_response(answer, status=200 if answer["status"] == "success" else 500)


def _probe_deadline(request: web.Request, module: ProbeModule) -> float:
    """Seconds for this probe: the scrape timeout minus the offset, at most the module's timeout."""
    raw = request.headers.get("X-Prometheus-Scrape-Timeout-Seconds")
    if raw is None:
        return module.timeout_s
    try:
        scrape = float(raw)
    except ValueError:
        raise web.HTTPBadRequest(text="bad X-Prometheus-Scrape-Timeout-Seconds\n") from None
    seconds = min(scrape - PROBE_OFFSET_S, module.timeout_s)
    if not math.isfinite(seconds) or seconds <= 0:
        raise web.HTTPBadRequest(text=f"scrape timeout too short (offset {PROBE_OFFSET_S} s)\n")
    return seconds


async def _probe(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    hook = request.app[OPTIONS].probe
    camera_id, module_name = request.query.get("camera"), request.query.get("module")
    if not camera_id or not module_name:
        raise web.HTTPBadRequest(text="camera and module parameters are required\n")
    camera = rt.config.inventory.camera_by_id().get(camera_id)
    module = rt.config.modules.get(module_name)
    if camera is None:
        raise web.HTTPNotFound(text="unknown camera (only registered cameras can be probed)\n")
    if module is None:
        raise web.HTTPNotFound(text="unknown module\n")
    if hook is None:
        raise web.HTTPNotImplemented(text="probing is not configured\n")
    try:
        result = await hook(camera, module, Deadline(_probe_deadline(request, module)))
    except BackPressureError as exc:  # our shortage, not the camera's: the caller may retry later
        raise web.HTTPServiceUnavailable(text=f"{exc.skip_reason}: retry later\n") from None
    return web.Response(body=generate_latest(_probe_registry(result)), headers={"Content-Type": CONTENT_TYPE_LATEST})


def _probe_registry(result: ProbeResult) -> CollectorRegistry:
    """A fresh registry with one probe's outcome, blackbox_exporter style."""
    reg = CollectorRegistry(auto_describe=True)
    Gauge("probe_success", "1 if the probe succeeded.", registry=reg).set(1 if result.ok else 0)
    Gauge("probe_duration_seconds", "How long the probe took.", registry=reg).set(result.duration_s)
    reason = Gauge("sharpeyes_probe_reason", "Why the probe ended (closed set).", ["reason", "phase"], registry=reg)
    reason.labels(result.reason.value, result.phase.value).set(1)
    phases = Gauge("sharpeyes_probe_phase_duration_seconds", "Time per phase.", ["phase"], registry=reg)
    for phase, seconds in result.phase_timings.items():
        phases.labels(phase).set(seconds)
    faults = Gauge("sharpeyes_probe_fault", "1 per frame fault code found.", ["code"], registry=reg)
    for code in result.faults:
        faults.labels(code.value).set(1)
    obs = Gauge("sharpeyes_probe_observation", "Numeric observations of the probe.", ["name"], registry=reg)
    for name, value in result.observations.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            obs.labels(name).set(value)
    return reg


async def _camera(request: web.Request) -> web.Response:
    rt = request.app[RUNTIME]
    camera = rt.config.inventory.camera_by_id().get(request.match_info["camera_id"])
    if camera is None:
        raise web.HTTPNotFound(text="unknown camera\n")
    status = rt.store.camera_status(camera.id)
    verdict = judge_camera(status, time.time(), rt.config.rate_options)
    modules = {
        name: {
            "state": entry.state,
            "since": entry.since,
            "last_success": entry.last_success,
            "last_result": entry.result.to_json() if entry.result else None,
        }
        for name, entry in sorted(rt.store.by_camera.get(camera.id, {}).items())
    }
    return web.json_response(
        {
            "camera": _camera_json(camera),
            "online": verdict.online,
            "healthy": verdict.healthy,
            "connected": verdict.connected,
            "frame_faults": None if status.frame_faults is None else [f.value for f in status.frame_faults],
            "modules": modules,
        }
    )


def _camera_json(camera: Camera) -> dict[str, object]:
    """The registry entry without secrets: URLs redacted, password references reported only as present."""
    return {
        "id": camera.id,
        "name": camera.name,
        "area": camera.area,
        "host": camera.host,
        "rtsp_url": redact_url(camera.rtsp_url) if camera.rtsp_url else None,
        "onvif_url": redact_url(camera.onvif_url) if camera.onvif_url else None,
        "snapshot_url": redact_url(camera.snapshot_url) if camera.snapshot_url else None,
        "username": camera.username,
        "has_password": bool(camera.password_env or camera.password_file),
        "point_class": camera.point_class,
        "in_service": camera.in_service,
    }


async def serve(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, int]:
    """Start the app on ``host:port`` (port 0: any free port). Returns the runner and the bound port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner, int(runner.addresses[0][1])
