"""ONVIF WSDL documents: loaded only from onvif-zeep-async's bundled directory, off the event loop, once.

Parsing devicemgmt.wsdl or media.wsdl (with onvif.xsd) takes a few hundred milliseconds of CPU and file I/O,
so it runs in a worker thread and the parsed :class:`zeep.wsdl.Document` is kept for the process's lifetime.
The loader transport reads local files under the WSDL directory and nothing else.
"""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path
from typing import Any

import onvif.client
from onvif.definition import SERVICES
from onvif.types import FastDateTime, ForgivingTime
from zeep.transports import Transport

from sharpeyes.onvif.settings import schema_settings

BUNDLED_WSDL_DIR = Path(str(onvif.client.__file__)).parent / "wsdl"

_XSD_NS = "http://www.w3.org/2001/XMLSchema"
_cache: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


class LocalFileTransport(Transport):
    """A zeep transport that loads schema files from one directory and refuses everything else."""

    def __init__(self, root: Path) -> None:
        super().__init__(cache=None)  # type: ignore[no-untyped-call]
        self._root = root.resolve()

    def load(self, url: str) -> bytes:
        path = Path(url.removeprefix("file://")).resolve()
        if not path.is_relative_to(self._root) or not path.is_file():
            raise PermissionError(f"schema outside the WSDL directory: {path.name}")
        return path.read_bytes()


def binding_name(service: str) -> str:
    """The qualified binding name of an ONVIF service (``devicemgmt``, ``media``…)."""
    spec = SERVICES[service]
    return f"{{{spec['ns']}}}{spec['binding']}"


def _load(service: str, wsdl_dir: Path) -> Any:
    """Parse one service's WSDL with hardened settings and onvif-zeep-async's forgiving date/time types."""
    deferred = onvif.client.DocumentWithDeferredLoad
    location = os.fspath(wsdl_dir / SERVICES[service]["wsdl"])
    document = deferred(location, LocalFileTransport(wsdl_dir), settings=schema_settings())
    schema = document.types.documents.get_by_namespace(_XSD_NS, False)[0]
    schema.register_type(FastDateTime._default_qname, FastDateTime(is_global=True))
    schema.register_type(ForgivingTime._default_qname, ForgivingTime(is_global=True))
    document.types.add_documents([None], location)
    document.original_load(location)
    return document


def load_document_sync(service: str, wsdl_dir: Path | None = None) -> Any:
    """The cached document for ``service``; parses it on first use (blocking: call from a thread)."""
    directory = wsdl_dir or BUNDLED_WSDL_DIR
    key = (service, os.fspath(directory))
    with _lock:
        if key not in _cache:
            _cache[key] = _load(service, directory.resolve())
        return _cache[key]


async def load_document(service: str, wsdl_dir: Path | None = None) -> Any:
    """The cached document for ``service``, parsed in a worker thread the first time.

    If the caller is cancelled (deadline) the thread still finishes and fills the cache for the next probe.
    """
    directory = wsdl_dir or BUNDLED_WSDL_DIR
    cached = _cache.get((service, os.fspath(directory)))
    if cached is not None:
        return cached
    return await asyncio.to_thread(load_document_sync, service, directory)


async def preload(services: tuple[str, ...] = ("devicemgmt", "media"), wsdl_dir: Path | None = None) -> None:
    """Warm the cache (daemon start-up, test session) so the first probe does not pay for parsing."""
    for service in services:
        await load_document(service, wsdl_dir)
