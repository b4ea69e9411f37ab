"""Where the frame prober keeps each camera's signatures (``last`` and ``reference``) between probes.

The prober talks to a :class:`SignatureStore`; the daemon installs one backed by the ``frame_signatures`` table
(camera_id, kind, data, updated_at) with :func:`set_store`. Without one, signatures live in memory for the life
of the process (enough for ``sharpeyes probe`` and tests).
"""

from __future__ import annotations

from typing import Literal, Protocol

Kind = Literal["last", "reference"]


class SignatureStore(Protocol):
    """Async get/put of a camera's signature bytes by kind."""

    async def get(self, camera_id: str, kind: Kind) -> bytes | None: ...

    async def put(self, camera_id: str, kind: Kind, data: bytes) -> None: ...


class MemorySignatureStore:
    """An in-process store (bounded: the oldest camera is forgotten beyond ``max_cameras``)."""

    def __init__(self, max_cameras: int = 100_000) -> None:
        self.max_cameras = max_cameras
        self._data: dict[tuple[str, Kind], bytes] = {}

    async def get(self, camera_id: str, kind: Kind) -> bytes | None:
        return self._data.get((camera_id, kind))

    async def put(self, camera_id: str, kind: Kind, data: bytes) -> None:
        self._data.pop((camera_id, kind), None)
        self._data[(camera_id, kind)] = data
        while len(self._data) > 2 * self.max_cameras:
            del self._data[next(iter(self._data))]

    def forget(self, camera_id: str) -> None:
        """Drop a camera's signatures (re-baseline: the next healthy frame becomes the reference)."""
        for kind in ("last", "reference"):
            self._data.pop((camera_id, kind), None)


_STORE: SignatureStore = MemorySignatureStore()


def get_store() -> SignatureStore:
    return _STORE


def set_store(store: SignatureStore) -> None:
    """Install the process-wide store (the daemon: one backed by ``frame_signatures``)."""
    global _STORE
    _STORE = store
