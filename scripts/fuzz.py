#!/usr/bin/env python3
"""Long fuzzing campaign over sharpeyes' parsers with atheris (coverage-guided libFuzzer for Python).

    .venv/bin/python scripts/fuzz.py campaign --runs 1000000 --jobs 2      # every target, 10^6 inputs each
    .venv/bin/python scripts/fuzz.py campaign --seconds 600 --targets sdp  # or a time budget per target
    .venv/bin/python scripts/fuzz.py run sdp -runs=1000                    # one target, libFuzzer flags

Targets (scripts/fuzz/targets.py): the RTSP response parser, the SDP parser, the H.264/H.265 depacketizer and
SPS parsers, the Digest challenge parser, URL/credential redaction, the registry CSV/YAML reader (in memory)
and the whole registry import (file, parse, SQLite). Each must raise only its documented error. The campaign
runs one process per target, prints a table (inputs, seconds, inputs/s, CPU seconds, inputs per CPU second,
result) and writes it as JSON; each target's log grows live in WORK/TARGET.log; crashing inputs are kept under
the artifacts folder.
Needs atheris (``pip install -e '.[fuzz]'``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRATCH_ENV = "SHARPEYES_FUZZ_SCRATCH"  # the registry targets' files and database (scripts/fuzz/targets.py)
SEEDS: dict[str, list[bytes]] = {
    "rtsp_message": [
        b"\x07RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 3\r\n\r\nabc$\x00\x00\x02ab",
        b'\x01RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nWWW-Authenticate: Digest realm="r", nonce="n"\r\n\r\n',
        b"\x03GET_PARAMETER rtsp://h/x RTSP/1.0\r\nCSeq: 9\r\n\r\n",
    ],
    "sdp": [
        b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=x\r\nt=0 0\r\na=control:*\r\nm=video 0 RTP/AVP 96\r\n"
        b"a=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0IAHpWoLQSZ,aM48gA==\r\n"
        b"a=control:track1\r\n",
        b"v=0\r\nm=video 0 RTP/AVP 97\r\na=rtpmap:97 H265/90000\r\n"
        b"a=fmtp:97 sprop-sps=QgEBAWAAAAMAAAMAAAMAAAMAlqAFAgFx\r\n",
    ],
    "h264": [
        bytes([0x67, 66, 0, 30, 0x95, 0xA8, 0x2D, 0x04, 0x99]),
        b"\x05\x01\x7c\x85abcd\x05\x01\x7c\x45efgh\x03\x01\x78\x00\x01\x65",
    ],
    "digest": [
        b'Digest realm="cam", nonce="abc", qop="auth", algorithm=MD5, stale=TRUE\nBasic realm="x"',
        b'Digest realm="r", nonce="n", opaque="o", algorithm=SHA-256',
    ],
    "redaction": [b"p@ss:w/o#r?d%\xe5\xaf\x86\xe7\xa0\x81\nlog line rtsp://admin:x@h/ and more", b"@:#/?%\nx"],
    "registry_csv": [
        b"\x02id,name,area_id,host,rtsp_url\nc1,cam,a1,127.0.0.1,rtsp://127.0.0.1/x\n",
        b"\x00code,name,level,parent\n110000,city,city,\n",
        b"\x01id,name,district,scope,kind,lat,lon\na1,A,110000,public,square,39.9,116.4\n",
        b"\x03districts:\n  - {code: '110000', name: city, level: city}\nareas:\n  - {id: a1, name: A, "
        b"district: '110000', scope: public, kind: square}\ncameras:\n  - {id: c1, name: C, area_id: a1, "
        b"host: 127.0.0.1, rtsp_url: 'rtsp://127.0.0.1:554/x', tags: [a, b]}\n",
    ],
}
SEEDS["registry_import"] = SEEDS["registry_csv"]


def run_one(target: str, args: list[str]) -> None:
    """Fuzz one target in this process (never returns: libFuzzer exits)."""
    import atheris

    with atheris.instrument_imports(include=["sharpeyes"]):
        sys.path.insert(0, str(ROOT / "scripts"))
        from fuzz.targets import TARGETS

    fn = TARGETS[target]
    atheris.Setup([sys.argv[0], *args], fn)
    atheris.Fuzz()


def _corpus(work: Path, target: str) -> Path:
    folder = work / "corpus" / target
    folder.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(SEEDS[target]):
        (folder / f"seed{i}").write_bytes(seed)
    return folder


_DONE = re.compile(r"Done (\d+) runs in (\d+) second")
_UNITS = re.compile(r"stat::number_of_executed_units:\s*(\d+)")


def _tail(path: Path, size: int = 200_000) -> str:
    with path.open("rb") as fh:
        fh.seek(max(0, path.stat().st_size - size))
        return fh.read().decode("utf-8", "replace")


def campaign_one(target: str, runs: int, seconds: int, work: Path) -> dict[str, object]:
    """One target in a child process; returns its figures."""
    artifacts = work / "artifacts" / target
    artifacts.mkdir(parents=True, exist_ok=True)
    flags = [f"-runs={runs}", "-max_len=4096", "-print_final_stats=1", f"-artifact_prefix={artifacts}/"]
    if seconds:
        flags.append(f"-max_total_time={seconds}")
    cmd = [sys.executable, str(Path(__file__).resolve()), "run", target, *flags, str(_corpus(work, target))]
    env = {**os.environ, SCRATCH_ENV: str(work / "scratch" / target)}
    log_path = work / f"{target}.log"
    started = time.monotonic()
    with log_path.open("w") as log_file:  # written as it runs: `tail -f WORK/TARGET.log` shows progress
        proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own CPU time, even with other jobs running
        proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.monotonic() - started
    cpu_s = usage.ru_utime + usage.ru_stime
    log = _tail(log_path)
    units = _UNITS.search(log)
    done = _DONE.search(log)
    executed = int(units[1]) if units else int(done[1]) if done else 0
    crashed = proc.returncode != 0
    return {
        "target": target,
        "inputs": executed,
        "seconds": round(elapsed, 1),
        "inputs_per_s": round(executed / elapsed) if elapsed else 0,
        "cpu_s": round(cpu_s, 1),
        "inputs_per_cpu_s": round(executed / cpu_s) if cpu_s else 0,
        "result": "crash (see log and artifacts)" if crashed else "no finding",
        "exit": proc.returncode,
    }


def campaign(targets: list[str], runs: int, seconds: int, jobs: int, work: Path) -> list[dict[str, object]]:
    work.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(jobs) as pool:
        rows = list(pool.map(lambda t: campaign_one(t, runs, seconds, work), targets))
    print(f"{'target':16} {'inputs':>10} {'seconds':>8} {'inputs/s':>9} {'cpu s':>8} {'inputs/cpu s':>12}  result")
    for r in rows:
        print(
            f"{r['target']:16} {r['inputs']:>10} {r['seconds']:>8} {r['inputs_per_s']:>9} {r['cpu_s']:>8} "
            f"{r['inputs_per_cpu_s']:>12}  {r['result']}"
        )
    (work / "results.json").write_text(json.dumps(rows, indent=2))
    return rows


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "run":
        run_one(sys.argv[2], sys.argv[3:])
        return 0
    from fuzz.targets import TARGETS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["campaign"])
    parser.add_argument("--runs", type=int, default=1_000_000, help="inputs per target (libFuzzer -runs)")
    parser.add_argument("--seconds", type=int, default=0, help="time budget per target (0: none)")
    parser.add_argument("--jobs", type=int, default=2, help="targets fuzzed at once")
    parser.add_argument("--targets", nargs="*", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--work", type=Path, default=ROOT / ".fuzz", help="corpus, logs, artifacts, results")
    args = parser.parse_args()
    rows = campaign(args.targets, args.runs, args.seconds, args.jobs, args.work)
    return 1 if any(r["exit"] for r in rows) else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
