"""Job handlers for the worker-pool tests: they run inside worker processes."""

from __future__ import annotations

import os
import signal
import time


def echo(job: object) -> object:
    return job


def hang(job: object) -> object:
    time.sleep(3600)
    return job


def crash(job: object) -> object:
    os.kill(os.getpid(), signal.SIGSEGV)  # what a decoder bug looks like from outside
    return job


def fail(job: object) -> object:
    raise ValueError("bad job")


def pid(job: object) -> int:
    return os.getpid()


def nap(job: float) -> float:
    time.sleep(job)
    return job


def _refuse_to_load() -> None:
    raise ValueError("this answer does not load")


class Unloadable:
    """Pickles in the worker, but fails to unpickle in the parent."""

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (_refuse_to_load, ())


def unloadable(job: object) -> Unloadable:
    return Unloadable()
