"""The simulator and the daemon as separate processes, on a loopback range of their own, for the soak
(``benchmarks/soak.py``) and the R1 reliability test; plus per-process resource samples read from /proc.

A fleet lives at ``127.{octet}.{i // 250}.{i % 250 + 1}`` (camera *i*), RTSP on ``port``, no ONVIF or snapshot
URL (RTSP only: a camera costs the simulator one listening socket, so 10,000 fit the 20,000-file limit). The
registry is written as CSV files that both processes read: ``sharpeyes sim --registry …`` serves exactly the
cameras ``sharpeyes run`` probes. Each user picks its own second octet, so it never meets the demo addresses
(127.20.x.y) that other tests and benchmarks use.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from sharpeyes.registry.inventory import Area, Camera, District, DistrictLevel, Inventory, Scope
from sharpeyes.registry.io import write_csv_dir

ROOT = Path(__file__).resolve().parents[1]
PASSWORD_ENV = "SHARPEYES_FLEET_PASSWORD"
PASSWORD = "fleet-pass"  # test-only credential, given to both processes by environment
CAMERAS_PER_AREA = 4
PAGE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def fleet_host(octet: int, index: int) -> str:
    return f"127.{octet}.{index // 250}.{index % 250 + 1}"


def camera_id(index: int) -> str:
    return f"FLEET-{index:05d}"


def fleet_inventory(count: int, octet: int, port: int = 8554) -> Inventory:
    """``count`` RTSP-only cameras, four per area, the areas under one district of one city."""
    districts = (
        District("900000", "fleet city", DistrictLevel.CITY),
        District("900001", "d", DistrictLevel.DISTRICT, "900000"),
    )
    n_areas = (count + CAMERAS_PER_AREA - 1) // CAMERAS_PER_AREA
    areas = tuple(Area(f"FA-{a:05d}", f"area {a}", "900001", Scope.PUBLIC, "square", 1) for a in range(n_areas))
    cameras = tuple(
        Camera(
            id=camera_id(i),
            name=f"fleet camera {i}",
            area=f"FA-{i // CAMERAS_PER_AREA:05d}",
            host=fleet_host(octet, i),
            rtsp_url=f"rtsp://{fleet_host(octet, i)}:{port}/Streaming/Channels/101",
            username="admin",
            password_env=PASSWORD_ENV,
        )
        for i in range(count)
    )
    return Inventory(districts, areas, cameras)


def write_registry(inventory: Inventory, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return write_csv_dir(inventory, folder)


def fleet_env() -> dict[str, str]:
    return {**os.environ, PASSWORD_ENV: PASSWORD}


# --- the simulator ----------------------------------------------------------------------------------------


@dataclass
class SimProcess:
    """``sharpeyes sim --registry …`` in its own process, with its control API on ``control_port``."""

    proc: subprocess.Popen[str]
    control_port: int

    @classmethod
    def start(
        cls, registry: list[Path], faults: Path, control_port: int, *, size: str = "180p",
        cache_dir: Path | None = None, log: Path | None = None, timeout_s: float = 600.0, truth: Path | None = None,
    ) -> SimProcess:  # fmt: skip
        """Start it and wait for its ``READY`` line (encoding missing clips can take minutes on a loaded machine);
        with ``truth``, the simulator writes its fault assignment there (JSON) before that line."""
        argv = [
            sys.executable, "-m", "sharpeyes", "sim", "--registry", *map(str, registry), "--faults", str(faults),
            "--control-port", str(control_port), "--size", size,
            *(["--cache-dir", str(cache_dir)] if cache_dir else []), *(["--truth", str(truth)] if truth else []),
        ]  # fmt: skip
        err = log.open("ab") if log else subprocess.DEVNULL
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True, env=fleet_env())
        if log:
            err.close()  # type: ignore[union-attr]
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        line = ""
        while time.monotonic() < deadline and proc.poll() is None:
            line = proc.stdout.readline()
            if line.startswith("READY"):
                return cls(proc, control_port)
        proc.kill()
        proc.wait()
        proc.stdout.close()
        raise RuntimeError(f"simulator did not start: {line!r} (exit {proc.returncode})")

    def set_fault(self, camera: str, fault: str | None) -> str | None:
        """Switch one camera's fault through the control API (blocking; call it from a thread in async code);
        returns the fault the simulator reports active once it answered."""
        body = json.dumps({"fault": fault}).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.control_port}/cameras/{camera}/fault", data=body, method="POST"
        )
        with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310 (http, loopback)
            active: str | None = json.loads(response.read())["fault"]
        return active

    def stop(self) -> int:
        code = stop_process(self.proc)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return code


# --- the daemon -------------------------------------------------------------------------------------------


def probe_module_file(source: Path, folder: Path, name: str, overrides: Mapping[str, object]) -> Path:
    """A copy of a shipped probe module (``probes/*.yml``) with some keys changed; the file name is the module."""
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    data.update(overrides)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def daemon_config(
    folder: Path, db_url: str, port: int, registry: list[Path], probes_dir: Path, *, concurrency: int = 256
) -> Path:  # fmt: skip
    config = {
        "database": {"url": db_url, "sqlite_synchronous": "full"},
        "listen": {"host": "127.0.0.1", "port": port},
        "probes_dir": str(probes_dir),
        "registry": {"files": [str(p) for p in registry]},
        "concurrency": {"total": concurrency, "per_host": 2},
    }
    path = folder / "sharpeyes.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class DaemonProcess:
    """``sharpeyes run --config …`` in its own process; ``port`` serves /metrics and /-/ready."""

    proc: subprocess.Popen[bytes]
    port: int

    @classmethod
    def start(cls, config: Path, port: int, log: Path, *, timeout_s: float = 120.0) -> DaemonProcess:
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "sharpeyes", "run", "--config", str(config)],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=fleet_env(),
            )  # fmt: skip
        daemon = cls(proc, port)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {proc.returncode}; see {log}")
            with contextlib.suppress(OSError):
                if daemon.get("/-/ready")[0] == 200:
                    return daemon
            time.sleep(0.2)
        stop_process(proc)
        raise RuntimeError(f"daemon not ready in {timeout_s:.0f} s; see {log}")

    def get(self, path: str, timeout_s: float = 30.0) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=timeout_s) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, ""

    def metrics(self) -> dict[tuple[str, str], float]:
        """The unlabelled-or-``module``-labelled samples of ``/metrics`` as {(name, module): value}."""
        return parse_module_samples(self.get("/metrics")[1])

    def stop(self) -> int:
        return stop_process(self.proc)


def parse_module_samples(text: str) -> dict[tuple[str, str], float]:
    """Samples that carry no label or only ``module="…"`` (the sweep and process series), keyed (name, module);
    ``…{module="m",reason="r"}`` (skipped probes by reason) is keyed (``name:r``, module)."""
    out: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        name_labels, _, value = line.rpartition(" ")
        name, _, labels = name_labels.partition("{")
        found = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if set(found) - {"module", "reason"} or ("reason" in found and "module" not in found):
            continue
        if "reason" in found:
            name = f"{name}:{found['reason']}"
        with contextlib.suppress(ValueError):
            out[(name, found.get("module", ""))] = float(value)
    return out


def stop_process(proc: subprocess.Popen[str] | subprocess.Popen[bytes], timeout_s: float = 60.0) -> int:
    """SIGTERM, then SIGKILL after ``timeout_s``; returns the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


# --- resource samples -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProcSample:
    """One process's resources: resident MB, open fds, threads, CPU seconds (user + system)."""

    pid: int
    name: str
    rss_mb: float
    fds: int
    threads: int
    zombie: bool
    cpu_s: float


def _stat_fields(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return [text[text.index("(") + 1 : text.rindex(")")], *text[text.rindex(")") + 2 :].split()]


def descendants(pid: int) -> list[int]:
    """Every live or zombie descendant of ``pid`` (children of children too), from /proc."""
    parent_of: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                parent_of[int(entry.name)] = int(_stat_fields(int(entry.name))[2])
    out: list[int] = []
    frontier = [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent_of.items() if pp == p]
        out += kids
        frontier += kids
    return sorted(out)


def sample_process(pid: int) -> ProcSample | None:
    """``None`` when the process is gone."""
    try:
        fields = _stat_fields(pid)
        rss_mb = int(fields[22]) * PAGE / 2**20
        zombie = fields[1] == "Z"
        fds = 0 if zombie else sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())
        cpu_s = (int(fields[12]) + int(fields[13])) / CLOCK_TICKS
        return ProcSample(pid, fields[0], rss_mb, fds, int(fields[18]), zombie, cpu_s)
    except (OSError, ValueError, IndexError):
        return None


def sample_tree(pid: int) -> tuple[ProcSample | None, list[ProcSample]]:
    """The process and its descendants."""
    kids = [s for s in (sample_process(c) for c in descendants(pid)) if s is not None]
    return sample_process(pid), kids
