"""A fleet of simulated cameras built from a registry :class:`Inventory`, all in one process.

Every camera listens at the host and ports of its registry URLs (loopback only). Cameras showing the same picture
share one encoded, packetized clip and one paced broadcaster. Faults come from the sim config file, else from the
camera's ``sim.fault=`` tag, and can be switched at run time (:meth:`Fleet.set_fault`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import multiprocessing
import os
import random
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from sharpeyes.errors import UserError
from sharpeyes.registry.inventory import Camera, Inventory
from sharpeyes.sim.auth import AuthMode, Credentials
from sharpeyes.sim.broadcast import Broadcaster
from sharpeyes.sim.camera import Endpoint, SimCamera
from sharpeyes.sim.faults import CATALOGUE, Fault, SimFault, fault_from_tags, parse_fault
from sharpeyes.sim.media import ClipSpec, clip_path, ensure_cached, load_clip
from sharpeyes.sim.picture import SCENES
from sharpeyes.sim.rtp import packetize
from sharpeyes.sim.rtsp import serve_rtsp
from sharpeyes.sim.web import HttpFront

log = logging.getLogger(__name__)
DEMO_PASSWORD_ENV = "SHARPEYES_DEMO_PASSWORD"  # noqa: S105 (a variable name)
DEMO_PASSWORD_DEFAULT = "demo-pass"  # noqa: S105 (the documented demo password)
_OPEN_BATCH = 256
FD_HEADROOM = 512  # open files kept free for client connections, clip files, the control API


class CameraSettings(BaseModel):
    """Per-camera simulator settings (sim config file)."""

    model_config = ConfigDict(extra="forbid")

    fault: str | None = None
    auth: AuthMode | None = None
    start_on_keyframe: bool | None = None
    scene: str | None = None

    @field_validator("fault")
    @classmethod
    def _fault(cls, value: str | None) -> str | None:
        parse_fault(value)
        return value

    @field_validator("scene")
    @classmethod
    def _scene(cls, value: str | None) -> str | None:
        if value is not None and value not in SCENES:
            raise ValueError(f"unknown scene {value!r}; choose one of {', '.join(SCENES)}")
        return value


class SimConfig(BaseModel):
    """The ``--faults`` file: defaults for every camera and per-camera settings (a string is a fault)."""

    model_config = ConfigDict(extra="forbid")

    defaults: CameraSettings = CameraSettings()
    cameras: dict[str, CameraSettings] = {}

    @field_validator("cameras", mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {"fault": v} if isinstance(v, str) or v is None else v for k, v in value.items()}
        return value


def load_sim_config(path: Path) -> SimConfig:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return SimConfig.model_validate(data)
    except OSError as exc:
        raise UserError(f"{path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        raise UserError(f"{path}: {exc}") from None


@dataclass(frozen=True, slots=True)
class MediaOptions:
    """The video every camera serves (frame size etc.) and where encoded clips are cached."""

    width: int = 1280
    height: int = 720
    fps: int = 25
    gop: int = 50
    seconds: int = 4
    profile: str = "main"
    cache_dir: Path | None = None
    registry_sizes: bool = False  # serve each camera at its registry's expected size when it has one

    def spec(self, scene: str, fault: Fault | None, size: tuple[int, int] | None = None) -> ClipSpec:
        picture = fault.picture if fault else None
        strength = fault.number(0, 1.0) if fault and picture else 1.0
        width, height = size if size and self.registry_sizes else (self.width, self.height)
        return ClipSpec(
            width=width,
            height=height,
            fps=self.fps,
            gop=self.gop,
            seconds=self.seconds,
            profile=self.profile,
            scene=scene,
            fault=picture,
            strength=strength,
        )


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _password(camera: Camera) -> str:
    if camera.password_env and os.environ.get(camera.password_env):
        return os.environ[camera.password_env]
    if camera.password_file:
        try:
            return Path(camera.password_file).read_text(encoding="utf-8").strip()
        except OSError:
            pass
    return os.environ.get(DEMO_PASSWORD_ENV) or DEMO_PASSWORD_DEFAULT


def _endpoint(url: str | None, default_port: int, camera_id: str) -> Endpoint | None:
    if not url:
        return None
    try:
        endpoint = Endpoint.from_url(url, default_port)
    except ValueError as exc:
        raise UserError(f"camera {camera_id}: {exc}") from None
    if not _loopback(endpoint.host):
        raise UserError(f"camera {camera_id}: the simulator serves loopback addresses only, not {endpoint.host}")
    return endpoint


def _tag(tags: tuple[str, ...], key: str) -> str | None:
    for tag in tags:
        name, sep, value = tag.partition("=")
        if sep and name.strip() == key:
            return value.strip()
    return None


def _size(camera: Camera) -> tuple[int, int] | None:
    """The registry's expected frame size, when it is one H.264 4:2:0 can carry."""
    w, h = camera.expected_width, camera.expected_height
    if w and h and w % 2 == 0 and h % 2 == 0 and 16 <= w <= 4096 and 16 <= h <= 4096:
        return w, h
    return None


def build_camera(camera: Camera, config: SimConfig) -> SimCamera:
    """The simulated counterpart of one registry camera, with its configured fault."""
    own = config.cameras.get(camera.id, CameraSettings())
    defaults = config.defaults
    try:
        fault = parse_fault(own.fault) if own.fault is not None else fault_from_tags(camera.tags)
    except ValueError as exc:
        raise UserError(f"camera {camera.id}: {exc}") from None
    fault = fault if (own.fault is not None or fault is not None) else parse_fault(defaults.fault)
    auth = own.auth or defaults.auth or AuthMode(_tag(camera.tags, "sim.auth") or AuthMode.DIGEST)
    sim = SimCamera(
        id=camera.id,
        credentials=Credentials(camera.username or "admin", _password(camera)),
        rtsp=_endpoint(camera.rtsp_url, 554, camera.id),
        onvif=_endpoint(camera.onvif_url, 80, camera.id),
        snapshot=_endpoint(camera.snapshot_url, 80, camera.id),
        auth=auth,
        start_on_keyframe=bool(
            own.start_on_keyframe if own.start_on_keyframe is not None else defaults.start_on_keyframe
        ),
        scene=own.scene or defaults.scene or _tag(camera.tags, "sim.scene") or "rocket",
        size=_size(camera),
    )
    sim.set_fault(fault)
    return sim


def demo_faults(camera_ids: Iterable[str], *, seed: int = 7, share: float = 0.10) -> dict[str, str]:
    """A realistic fault mix: ``share`` of the cameras faulty, spread evenly over the whole catalogue."""
    ids = sorted(camera_ids)
    rng = random.Random(seed)
    faulty = rng.sample(ids, max(1, round(len(ids) * share))) if ids else []
    catalogue = list(CATALOGUE)
    rng.shuffle(catalogue)
    return {camera_id: catalogue[i % len(catalogue)] for i, camera_id in enumerate(sorted(faulty))}


@dataclass(slots=True)
class Fleet:
    """Every camera of an inventory, served from this process."""

    inventory: Inventory
    media: MediaOptions = field(default_factory=MediaOptions)
    config: SimConfig = field(default_factory=SimConfig)
    cameras: dict[str, SimCamera] = field(default_factory=dict)
    broadcasters: dict[ClipSpec, Broadcaster] = field(default_factory=dict)
    rtsp_servers: dict[str, asyncio.Server] = field(default_factory=dict)
    http: HttpFront = field(default_factory=HttpFront)
    _loading: dict[ClipSpec, asyncio.Task[Broadcaster]] = field(default_factory=dict)

    async def start(self) -> None:
        """Build the cameras, encode (or read cached) clips, and open every listener."""
        for camera in self.inventory.cameras:
            if camera.in_service and camera.id not in self.cameras:
                self.cameras[camera.id] = build_camera(camera, self.config)
        self._check_fd_budget()
        specs = {self._spec(c, c.fault) for c in self.cameras.values()}
        await self._encode_missing(specs)
        await asyncio.gather(*(self._broadcaster(spec) for spec in specs))
        for sim in self.cameras.values():
            sim.broadcaster = self.broadcasters[self._spec(sim, sim.fault)]
        await self.http.start()
        online = [c for c in self.cameras.values() if not c.has(SimFault.OFFLINE)]
        for i in range(0, len(online), _OPEN_BATCH):
            await asyncio.gather(*(self._open(c) for c in online[i : i + _OPEN_BATCH]))

    def _spec(self, sim: SimCamera, fault: Fault | None) -> ClipSpec:
        return self.media.spec(sim.scene, fault, sim.size)

    def listeners_needed(self) -> int:
        """Listening sockets for every camera: one per RTSP endpoint and one per distinct HTTP host:port."""
        http = {key for c in self.cameras.values() for key in self.http.endpoints(c)}
        return sum(1 for c in self.cameras.values() if c.rtsp is not None) + len(http)

    def _check_fd_budget(self) -> None:
        """Fail clearly when the open-file limit cannot hold every listener (asyncio would skip them silently)."""
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        needed = self.listeners_needed() + FD_HEADROOM
        if needed > soft:
            raise UserError(
                f"{len(self.cameras)} cameras need {needed} open files ({self.listeners_needed()} listeners + "
                f"{FD_HEADROOM} for connections) but this process may open {soft} (hard limit {hard}); "
                "raise the limit (ulimit -n) or serve fewer cameras"
            )

    async def stop(self) -> None:
        """Close every listener and connection."""
        for sim in self.cameras.values():
            sim.drop_sessions()
        for server in self.rtsp_servers.values():
            server.close()
        self.rtsp_servers.clear()
        await self.http.stop()
        for broadcaster in self.broadcasters.values():
            await broadcaster.close()

    async def _broadcaster(self, spec: ClipSpec) -> Broadcaster:
        """The broadcaster of ``spec``'s clip; clips load concurrently, each only once."""
        task = self._loading.get(spec)
        if task is None:
            task = self._loading[spec] = asyncio.create_task(self._load(spec))
        return await task

    async def _encode_missing(self, specs: set[ClipSpec]) -> None:
        """Encode clips missing from the cache in worker processes, one per core (rendering holds the GIL)."""
        missing = [s for s in specs if not clip_path(s, self.media.cache_dir).exists()]
        if len(missing) < 2:
            return
        log.info("encoding %d clips (cached for the next start)", len(missing))
        workers = min(len(missing), os.cpu_count() or 1)
        loop = asyncio.get_running_loop()
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_die_with_parent)
        try:
            await asyncio.gather(*(loop.run_in_executor(pool, ensure_cached, s, self.media.cache_dir) for s in missing))
        except BrokenProcessPool:
            raise UserError("encoding the clips was interrupted (a worker process died)") from None
        finally:
            _terminate_workers(pool)  # before shutdown, which forgets the processes
            pool.shutdown(wait=False, cancel_futures=True)

    async def _load(self, spec: ClipSpec) -> Broadcaster:
        clip = await asyncio.to_thread(load_clip, spec, self.media.cache_dir)
        broadcaster = self.broadcasters[spec] = Broadcaster(packetize(clip))
        return broadcaster

    async def _open(self, sim: SimCamera) -> None:
        if sim.rtsp is not None and sim.id not in self.rtsp_servers:
            try:
                server = await serve_rtsp(sim)
            except OSError as exc:
                raise UserError(f"camera {sim.id}: cannot listen at {sim.rtsp.host}:{sim.rtsp.port}: {exc}") from None
            if not server.sockets:  # asyncio skips sockets it could not create (e.g. out of file descriptors)
                raise UserError(f"camera {sim.id}: cannot listen at {sim.rtsp.host}:{sim.rtsp.port}")
            self.rtsp_servers[sim.id] = server
        try:
            await self.http.open(sim)
        except OSError as exc:
            raise UserError(f"camera {sim.id}: cannot listen for ONVIF/snapshot: {exc}") from None

    async def _close(self, sim: SimCamera) -> None:
        server = self.rtsp_servers.pop(sim.id, None)
        if server is not None:
            server.close()
        await self.http.close(sim)
        sim.drop_sessions()

    async def set_fault(self, camera_id: str, fault: Fault | None) -> SimCamera:
        """Switch one camera's fault now. A picture change restarts its streams (viewers reconnect; a client in the
        middle of OPTIONS/DESCRIBE keeps its connection)."""
        sim = self.cameras[camera_id]
        was_offline = sim.has(SimFault.OFFLINE)
        old_spec = self._spec(sim, sim.fault)
        new_spec = self._spec(sim, fault)
        if new_spec != old_spec:
            sim.broadcaster = await self._broadcaster(new_spec)
            sim.drop_streams()
        sim.set_fault(fault)
        if fault is not None and fault.kind in (SimFault.OFFLINE, SimFault.BLACKHOLE, SimFault.RESET):
            sim.drop_sessions()
        if fault is not None and fault.kind is SimFault.OFFLINE:
            await self._close(sim)
        elif was_offline:
            await self._open(sim)
        return sim

    def assignment(self) -> dict[str, str | None]:
        """The ground truth: each camera's active fault (None when healthy)."""
        return {cid: str(c.fault) if c.fault else None for cid, c in sorted(self.cameras.items())}

    def listening(self) -> int:
        """Cameras with at least one open listener."""
        return sum(
            1
            for c in self.cameras.values()
            if c.id in self.rtsp_servers or any(k in self.http.sites for k in self.http.endpoints(c))
        )


def _die_with_parent() -> None:
    """In an encoder worker: ask Linux to end this process when the simulator dies (PR_SET_PDEATHSIG)."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: workers are still terminated on a clean stop


def _terminate_workers(pool: ProcessPoolExecutor) -> None:
    """Stop encoder processes still running (start-up was cancelled), so that exit does not wait for them.

    Python 3.11 has no public way to do this (3.14 adds ``terminate_workers``); ``_processes`` is stable since 3.2.
    """
    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        if process.is_alive():
            process.terminate()


def demo_host(index: int) -> str:
    """The demo address convention: camera number ``index`` lives at ``127.20.{i // 250}.{i % 250 + 1}``."""
    return f"127.20.{index // 250}.{index % 250 + 1}"


def synthetic_inventory(
    count: int, *, first: int = 0, tags: tuple[str, ...] = (), rtsp_only: bool = False
) -> Inventory:
    """``count`` cameras at the demo addresses (for tests and benchmarks when no registry file is at hand)."""
    cameras = []
    for i in range(first, first + count):
        host = demo_host(i)
        cameras.append(
            Camera(
                id=f"SIM-{i:05d}",
                name=f"simulated camera {i}",
                area="SIM-AREA",
                host=host,
                rtsp_url=f"rtsp://{host}:8554/Streaming/Channels/101",
                onvif_url=None if rtsp_only else f"http://{host}:8080/onvif/device_service",
                snapshot_url=None if rtsp_only else f"http://{host}:8080/snapshot.jpg",
                username="admin",
                password_env=DEMO_PASSWORD_ENV,
                tags=tags,
            )
        )
    return Inventory(cameras=tuple(cameras))


def raise_nofile(wanted: int) -> tuple[int, int]:
    """Raise this process's open-file limit toward ``wanted`` (as far as allowed); returns (soft, hard)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for new_soft, new_hard in ((max(wanted, soft), max(wanted, hard)), (max(soft, min(wanted, hard)), hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, new_hard))
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)
