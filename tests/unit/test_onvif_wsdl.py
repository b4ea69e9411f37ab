"""WSDLs: parsed off the event loop, cached per process, and loaded from the WSDL directory only."""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from sharpeyes.onvif import wsdl


async def test_wsdl_is_parsed_in_a_worker_thread_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "wsdl"
    shutil.copytree(wsdl.BUNDLED_WSDL_DIR, directory)  # a fresh directory is a fresh cache key
    threads: list[int] = []
    real_load = wsdl._load

    def spy(service: str, where: Path) -> Any:
        threads.append(threading.get_ident())
        return real_load(service, where)

    monkeypatch.setattr(wsdl, "_load", spy)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    tick_task = asyncio.create_task(ticker())
    try:
        first = await wsdl.load_document("devicemgmt", directory)
    finally:
        tick_task.cancel()
    assert threads
    assert threads[0] != threading.get_ident()
    assert ticks >= 3  # the loop kept running while the WSDL was parsed
    again = await wsdl.load_document("devicemgmt", directory)
    assert again is first
    assert len(threads) == 1


def test_loader_refuses_files_outside_the_wsdl_directory(tmp_path: Path) -> None:
    inside = tmp_path / "wsdl"
    inside.mkdir()
    (inside / "ok.xsd").write_text("<x/>")
    (tmp_path / "secret.txt").write_text("secret")
    transport = wsdl.LocalFileTransport(inside)
    assert transport.load(str(inside / "ok.xsd")) == b"<x/>"
    for refused in (str(tmp_path / "secret.txt"), str(inside / ".." / "secret.txt"), "/etc/passwd"):
        with pytest.raises(PermissionError):
            transport.load(refused)
