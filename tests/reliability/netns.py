"""A private network for the reliability tests: a network namespace joined to this one by a veth pair on a /30,
the simulator serving inside it, and kernel-level faults on that link (nftables drops and random loss, a tc tbf
rate limit). Everything is created by :func:`private_link` and deleted when it ends, even on failure.

Why not ``tc netem``: this machine's kernel is built without ``CONFIG_NET_SCH_NETEM`` and without loadable
modules, so netem cannot exist here. nftables (``numgen random``) gives real random packet loss, a drop rule gives
a real blackhole (the peer vanishes: no FIN, no RST, no ICMP), and ``tbf`` gives a real slow link (queueing delay
that grows with the bytes sent). A fixed added delay with jitter (netem's ``delay 300ms 100ms``) has no kernel
equivalent here.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

CAP_NET_ADMIN = 12
FAULT_TABLE = "sharpeyes_fault"
NAT_TABLE = "sharpeyes_nat"
SIM_HOST = "127.20.0.1"  # camera 0 of `sim --synthetic`, inside the namespace's own loopback
SIM_PORTS = (8554, 8080)  # RTSP; ONVIF and snapshot
TOOLS = ("ip", "nft", "tc")


def netns_missing(reason: str) -> NoReturn:
    """Skip, except under CI=true, where the capability is part of the machine and its absence is a failure."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true requires network namespaces: {reason}")
    pytest.skip(reason)


def has_net_admin() -> bool:
    """CAP_NET_ADMIN in this process's effective set (root in a container may lack it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> CAP_NET_ADMIN & 1)
    return False


def missing_capability() -> str | None:
    """Why this machine cannot run the namespace tests, or ``None``."""
    absent = [t for t in TOOLS if shutil.which(t) is None]
    if absent:
        return f"{', '.join(absent)} not installed (Debian: iproute2, nftables; scripts/setup.sh installs them)"
    if not has_net_admin():
        return "no CAP_NET_ADMIN in this process (namespaces, veth and nftables need it)"
    return None


def run(*argv: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, check=check, timeout=30)


def used_ipv4_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 network on this machine's interfaces and routes (a new /30 must overlap none of them)."""
    nets: list[ipaddress.IPv4Network] = []
    for line in run("ip", "-4", "-o", "addr", "show").stdout.splitlines():
        nets.append(ipaddress.IPv4Interface(line.split()[3]).network)
    for line in run("ip", "-4", "route", "show", "table", "all").stdout.splitlines():
        first = line.split()[0] if line.split() else ""
        if first[:1].isdigit():
            with contextlib.suppress(ValueError):
                nets.append(ipaddress.IPv4Network(first, strict=False))
    return nets


def free_slash30(seed: int) -> ipaddress.IPv4Network:
    """A /30 in 10.201.0.0/16 that collides with nothing configured here, starting at a pid-derived slot."""
    used = used_ipv4_networks()
    for step in range(16384):
        n = (seed + step) % 16384
        net = ipaddress.IPv4Network(f"10.201.{n // 64}.{(n % 64) * 4}/30")
        if not any(net.overlaps(u) for u in used):
            return net
    raise RuntimeError("no free /30 in 10.201.0.0/16")


@dataclass
class Link:
    """The namespace, its veth pair and addresses; methods put kernel faults on the link and take them off."""

    ns: str
    host_if: str
    ns_if: str
    host_ip: str
    ns_ip: str

    def in_ns(self, *argv: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run("ip", "netns", "exec", self.ns, *argv, check=check, stdin=stdin)

    def blackhole(self) -> None:
        """Drop every packet on the namespace's side of the link, both ways: the peer vanishes silently."""
        self._fault_rules("drop")

    def lose(self, percent: int) -> None:
        """Drop a random ``percent`` of the packets, each way, independently (nftables ``numgen random``)."""
        self._fault_rules(f"numgen random mod 100 < {percent} drop")

    def _fault_rules(self, verdict: str) -> None:
        self.in_ns(
            "nft",
            "-f",
            "-",
            stdin=(
                f"table inet {FAULT_TABLE} {{\n"
                f"  chain incoming {{\n    type filter hook input priority 0;\n"
                f'    iifname "{self.ns_if}" counter {verdict}\n  }}\n'
                f"  chain outgoing {{\n    type filter hook output priority 0;\n"
                f'    oifname "{self.ns_if}" counter {verdict}\n  }}\n'
                "}\n"
            ),
        )

    def dropped_packets(self) -> int:
        """Packets the fault rules matched (dropped, for a blackhole; the lost ones, for loss)."""
        out = self.in_ns("nft", "list", "table", "inet", FAULT_TABLE).stdout
        return sum(int(part.split()[0]) for part in out.split("counter packets")[1:])

    def shape(self, rate_kbit: int, burst_bytes: int, mtu: int) -> None:
        """A slow link: both ends limited to ``rate_kbit`` by tbf, with a small MTU and burst so that even a short
        exchange queues (the delay grows with the bytes sent, ≈ 8 × bytes / rate)."""
        for prefix, dev in ((("ip",), self.host_if), (("ip", "netns", "exec", self.ns, "ip"), self.ns_if)):
            run(*prefix, "link", "set", dev, "mtu", str(mtu))
        spec = ("root", "tbf", "rate", f"{rate_kbit}kbit", "burst", str(burst_bytes), "latency", "5s")
        run("tc", "qdisc", "replace", "dev", self.host_if, *spec)
        self.in_ns("tc", "qdisc", "replace", "dev", self.ns_if, *spec)

    def clear(self) -> None:
        """Take every fault off: no fault table, default qdiscs, MTU 1500."""
        self.in_ns("nft", "delete", "table", "inet", FAULT_TABLE, check=False)
        run("tc", "qdisc", "del", "dev", self.host_if, "root", check=False)
        self.in_ns("tc", "qdisc", "del", "dev", self.ns_if, "root", check=False)
        run("ip", "link", "set", self.host_if, "mtu", "1500", check=False)
        self.in_ns("ip", "link", "set", self.ns_if, "mtu", "1500", check=False)


def leftovers(link: Link) -> list[str]:
    """What of ``link`` still exists on this machine (empty once it is deleted)."""
    found = []
    if link.ns in run("ip", "netns", "list").stdout.split():
        found.append(f"namespace {link.ns}")
    for dev in (link.host_if, link.ns_if):
        if run("ip", "link", "show", dev, check=False).returncode == 0:
            found.append(f"interface {dev}")
    if link.host_ip in run("ip", "-4", "-o", "addr", "show").stdout:
        found.append(f"address {link.host_ip}")
    return found


def _create(link: Link, prefix: int) -> None:
    run("ip", "netns", "add", link.ns)
    run("ip", "link", "add", link.host_if, "type", "veth", "peer", "name", link.ns_if)
    run("ip", "link", "set", link.ns_if, "netns", link.ns)
    run("ip", "addr", "add", f"{link.host_ip}/{prefix}", "dev", link.host_if)
    run("ip", "link", "set", link.host_if, "up")
    link.in_ns("ip", "addr", "add", f"{link.ns_ip}/{prefix}", "dev", link.ns_if)
    link.in_ns("ip", "link", "set", link.ns_if, "up")
    link.in_ns("ip", "link", "set", "lo", "up")
    # The simulator serves loopback only: inside the namespace, the link's address is forwarded to the camera's
    # loopback address (DNAT), which the kernel allows on this interface with route_localnet.
    for dev in ("all", link.ns_if):
        link.in_ns("sh", "-c", f"echo 1 > /proc/sys/net/ipv4/conf/{dev}/route_localnet")
    ports = ", ".join(str(p) for p in SIM_PORTS)
    link.in_ns(
        "nft",
        "-f",
        "-",
        stdin=(
            f"table ip {NAT_TABLE} {{\n  chain prerouting {{\n    type nat hook prerouting priority dstnat;\n"
            f"    ip daddr {link.ns_ip} tcp dport {{ {ports} }} dnat to {SIM_HOST}\n  }}\n}}\n"
        ),
    )


def _delete(link: Link) -> None:
    run("ip", "link", "del", link.host_if, check=False)  # deleting one end deletes the pair, at once
    run("ip", "netns", "del", link.ns, check=False)  # the kernel frees the namespace itself asynchronously


def _gone(link: Link, wait_s: float = 10.0) -> list[str]:
    end = time.monotonic() + wait_s
    while (left := leftovers(link)) and time.monotonic() < end:
        time.sleep(0.1)
    return left


@contextlib.contextmanager
def private_link() -> Iterator[Link]:
    """A fresh namespace and veth pair on a free /30; deleted afterwards, and checked to be gone."""
    reason = missing_capability()
    if reason:
        netns_missing(reason)
    tag = f"se{os.getpid() % 1_000_000}"
    net = free_slash30(os.getpid())
    host_ip, ns_ip = (str(a) for a in net.hosts())
    link = Link(ns=f"sharpeyes-{tag}", host_if=f"{tag}h", ns_if=f"{tag}n", host_ip=host_ip, ns_ip=ns_ip)
    try:
        try:
            _create(link, net.prefixlen)
        except subprocess.CalledProcessError as exc:
            netns_missing(f"cannot set up the namespace: {' '.join(exc.cmd)}: {exc.stderr.strip()}")
        yield link
    finally:
        _delete(link)
    left = _gone(link)
    assert not left, f"left behind: {left}"


@dataclass
class Sim:
    """``sharpeyes sim`` serving one healthy camera inside the namespace."""

    proc: subprocess.Popen[str]
    password: str


def wait_ready(proc: subprocess.Popen[str], timeout_s: float) -> str:
    """The simulator's first stdout line (``READY n cameras``), or a failure naming what it said on stderr."""
    assert proc.stdout is not None
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        readable, _, _ = select.select([proc.stdout], [], [], 0.2)
        if readable:
            return proc.stdout.readline()
        if proc.poll() is not None:
            break
    return ""


@contextlib.contextmanager
def sim_in(link: Link, work: Path, password: str, timeout_s: float = 120.0) -> Iterator[Sim]:
    """One healthy simulated camera (Digest, starts viewers on a keyframe) in the namespace; stopped after."""
    faults = work / "faults.yml"
    faults.write_text("defaults:\n  start_on_keyframe: true\ncameras:\n  SIM-00000: healthy\n", encoding="utf-8")
    argv = [
        "ip", "netns", "exec", link.ns, sys.executable, "-m", "sharpeyes", "sim", "--synthetic", "1",
        "--size", "180p", "--faults", str(faults), "--control-port", "0", "--cache-dir", str(work / "cache"),
    ]  # fmt: skip
    env = {**os.environ, "SHARPEYES_DEMO_PASSWORD": password}
    with (work / "sim-stderr.txt").open("w") as stderr:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)
    try:
        line = wait_ready(proc, timeout_s)
        assert line == "READY 1 cameras\n", f"sim: {line!r}; stderr: {(work / 'sim-stderr.txt').read_text()[-2000:]}"
        yield Sim(proc, password)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
